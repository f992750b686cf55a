// What an import job reads of the stored history (schema step 14): the
// chats with messages in its window, a chat's messages a page at a time
// after a cursor (oldest first, never the whole history in memory), the
// names people gave themselves, and the PN <-> LID pairs the device learned.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

struct HistoryChat {
    std::string jid;            // as the phone named it (PN, LID or group)
    std::string name;
    std::string pn_jid;         // the other form, when the chunk said
    std::string lid_jid;
    int64_t messages = 0;       // in the window
    int64_t oldest = 0;         // the oldest one's timestamp
};

struct HistoryMessage {
    std::string id;
    bool from_me = false;
    std::string participant;    // groups: who wrote it
    int64_t timestamp = 0;
    std::string push_name;
    std::optional<std::string> text;
    std::string kind;           // "image", "location"... when not text
    std::string caption;
    std::optional<std::string> media;   // keys and path as JSON
};

class HistoryReader {
public:
    HistoryReader(Database& db, std::string inbox);

    // Chats with at least one message at or after `since`, those whose
    // oldest message in the window is oldest first; groups only when asked.
    std::vector<HistoryChat> chats_in_window(int64_t since, bool groups);

    // The chat's row, if a chunk named it.
    std::optional<HistoryChat> chat(std::string_view jid);

    // Every chat the history named (for the contacts import).
    std::vector<HistoryChat> all_chats();

    // Up to limit messages of the chat (one or two JIDs: a person's phone
    // number and LID chats read as one) at or after `since` and after the
    // cursor (timestamp, id), in (timestamp, id) order.
    std::vector<HistoryMessage> page(const std::vector<std::string>& chats, int64_t since,
                                     int64_t after_timestamp, std::string_view after_id,
                                     size_t limit);

    // The name a person gave themselves ("" when unknown).
    std::string push_name(std::string_view jid);

    // The device's PN <-> LID map (user parts, no server).
    std::optional<std::string> lid_for_pn(std::string_view pn_user);
    std::optional<std::string> pn_for_lid(std::string_view lid_user);

private:
    Database& db_;
    std::string inbox_;
    Statement window_;
    Statement window_groups_;
    Statement all_;
    Statement one_;
    Statement page_;
    Statement push_name_;
    Statement lid_for_pn_;
    Statement pn_for_lid_;
};

}  // namespace chatwoot::store
