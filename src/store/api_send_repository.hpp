// What applications asked to send through the send API (schema step 17,
// helper/send_api/send_desk.hpp): one row per send command, and the few
// facts of other tables its steps wait on (the forwarder's row, the
// chat's conversation, the outbox entry), read here so that the desk
// needs no other repository's internals.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

struct ApiSend {
    int64_t row = 0;                  // stable: the published table's slot
    std::string id;                   // the command's id
    std::string inbox;
    std::string chat;                 // chat JID (the identity once chosen)
    std::string text;                 // WhatsApp formatting
    std::string idem_key;             // "<scope>:<key>", "" for none
    std::string duplicate_of;         // a repeated key: the first send's id
    std::string wa_id;                // chosen before anything goes out
    std::string state = "queued";     // queued, posting, sending, sent, failed
    std::optional<int64_t> outbox_id;
    std::optional<int64_t> chatwoot_message_id;
    std::string reason;               // failed: why, for the application
    int64_t created_at = 0;
    int64_t updated_at = 0;
};

class ApiSendRepository {
public:
    explicit ApiSendRepository(Database& db);

    Database& database() { return db_; }

    // Files a send unless one with its id is there (a command taken again
    // after a crash).  Inside the caller's unit of work.  True when new.
    bool add(const ApiSend& send);
    std::optional<ApiSend> find(std::string_view id);
    // The first send (not itself a duplicate) filed with this key at or
    // after `since`, unix seconds.
    std::optional<ApiSend> first_with_key(std::string_view key, int64_t since);
    // Sends still on their way (not duplicates), oldest first.
    std::vector<ApiSend> open(size_t limit);
    // The newest sends, newest first.
    std::vector<ApiSend> recent(size_t limit);
    // Writes state, chat, wa_id, outbox_id, chatwoot_message_id, reason and
    // updated_at back.
    void update(const ApiSend& send);

    // The forwarder's row of a WhatsApp message: its state (pending,
    // posted, failed), its Chatwoot id, and why it failed.
    struct Forwarded {
        std::string state;
        std::optional<int64_t> chatwoot_message_id;
        std::string failure;
    };
    std::optional<Forwarded> forwarded(std::string_view inbox, std::string_view wa_id);
    std::optional<int64_t> conversation_of(std::string_view inbox, std::string_view chat);
    // The outbox entry of an agent message (action send).
    std::optional<int64_t> outbox_entry(std::string_view inbox, int64_t chatwoot_message_id);
    struct OutboxFacts {
        std::string state;            // pending, in_flight, failing, sent, failed
        std::string failure;
    };
    std::optional<OutboxFacts> outbox_facts(int64_t outbox_id);
    // A person's LID user for their phone-number user, as the device
    // learned it (wa_lid_map).
    std::optional<std::string> lid_for_pn(std::string_view device, std::string_view pn_user);
    std::optional<std::string> pn_for_lid(std::string_view device, std::string_view lid_user);

private:
    static ApiSend read(const Statement& row);

    Database& db_;
    Statement add_;
    Statement find_;
    Statement by_key_;
    Statement open_;
    Statement recent_;
    Statement update_;
    Statement forwarded_;
    Statement conversation_;
    Statement outbox_entry_;
    Statement outbox_facts_;
    Statement lid_for_pn_;
    Statement pn_for_lid_;
};

}  // namespace chatwoot::store
