// What of a chat we told WhatsApp the agents have read: per chat, the last
// wa_inbound row up to which its contact's messages are marked read.  An
// agent's reply marks what came before it; the mark moves only forward,
// so nothing is marked read twice.
// Its table, wa_read_marks, is schema step 11's.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

class ReadMarkRepository {
public:
    explicit ReadMarkRepository(Database& db);

    struct Message {
        std::string wa_id;
        std::string sender;   // who wrote it (a group's member)
        std::string wa_chat;     // the chat as WhatsApp addressed the message
        std::string wa_sender;   // its author, likewise
    };
    struct Unread {
        // The contact's messages past the mark that are in Chatwoot (or
        // settled failed): plain messages, not the owner's own, oldest
        // first, at most the newest `limit`.
        std::vector<Message> messages;
        // Where the mark goes once they are marked read: the newest
        // settled row of the chat past the mark (0 when there is none), so
        // reactions, edits and our own messages are passed over too.
        int64_t up_to = 0;
    };
    Unread unread(std::string_view inbox, std::string_view chat, size_t limit);

    // Moves the chat's mark to up_to (never back).
    void mark(std::string_view inbox, std::string_view chat, int64_t up_to);

private:
    Database& db_;
    Statement mark_of_;
    Statement newest_;
    Statement messages_;
    Statement mark_;
};

}  // namespace chatwoot::store
