// The control conversation's rows (schema step 16): where the "WhatsApp
// bridge" conversation of each inbox is in Chatwoot, the notices the helper
// decided to post there (a row first, posted once: the row id is in the
// message's source id, so a post whose answer was lost is looked up, not
// made twice), and the commands agents typed there (one row per Chatwoot
// message id, so a redelivered webhook is handled once).
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

struct ControlPlace {
    std::optional<int64_t> contact_id;
    std::optional<int64_t> conversation_id;
};

struct ControlNotice {
    int64_t id = 0;
    std::string kind;          // "connected", "qr", "summary", "answer", ...
    std::string text;
    bool qr = false;           // the QR image goes with it (rendered at post time)
    int64_t created_at = 0;
    std::optional<int64_t> chatwoot_message_id;
};

struct ControlCommandRow {
    int64_t chatwoot_message_id = 0;
    int64_t conversation_id = 0;
    std::string content;
    int64_t received_at = 0;
};

class ControlRepository {
public:
    explicit ControlRepository(Database& db);

    ControlPlace place(std::string_view inbox);
    void save_place(std::string_view inbox, const ControlPlace& place);
    // The inbox whose control conversation this is, if any.
    std::optional<std::string> inbox_of_conversation(int64_t conversation_id);

    // A notice decided: its row id.  Inside the caller's unit, if any.
    int64_t add_notice(std::string_view inbox, std::string_view kind, std::string_view text,
                       bool qr, int64_t now);
    // The oldest notice not posted yet.
    std::optional<ControlNotice> next_pending(std::string_view inbox);
    // posted (with its Chatwoot id), or failed / dropped (never to go).
    void settle_notice(int64_t id, std::string_view state,
                       std::optional<int64_t> chatwoot_message_id);
    // QR notices not posted yet: superseded by a newer QR (or pairing over).
    void drop_pending_qr(std::string_view inbox);
    // QR images posted and not deleted yet, oldest first, except `keep`.
    std::vector<ControlNotice> qr_to_delete(std::string_view inbox, int64_t keep);
    void mark_deleted(int64_t id);
    uint64_t count_notices(std::string_view inbox, std::string_view state);

    // What the inbox has waiting, for "status": WhatsApp messages not yet
    // in Chatwoot, and agents' actions not yet through on WhatsApp.
    struct Waiting {
        uint64_t to_chatwoot = 0;
        uint64_t to_whatsapp = 0;
    };
    Waiting waiting(std::string_view inbox);

    // A command typed in the control conversation; false when that
    // Chatwoot message is stored already.  Inside the caller's unit.
    bool add_command(std::string_view inbox, const ControlCommandRow& row);
    std::vector<ControlCommandRow> pending_commands(std::string_view inbox, size_t limit);
    void command_handled(std::string_view inbox, int64_t chatwoot_message_id, int64_t now);

private:
    Database& db_;
    Statement place_;
    Statement save_place_;
    Statement inbox_of_;
    Statement add_notice_;
    Statement next_pending_;
    Statement settle_notice_;
    Statement drop_qr_;
    Statement qr_to_delete_;
    Statement mark_deleted_;
    Statement count_notices_;
    Statement waiting_chatwoot_;
    Statement waiting_whatsapp_;
    Statement add_command_;
    Statement pending_commands_;
    Statement handled_;
};

}  // namespace chatwoot::store
