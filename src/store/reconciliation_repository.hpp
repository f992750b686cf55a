// How far back each inbox's agent replies have been checked against
// Chatwoot (bridge/outbox_reconciliation.hpp): the next start looks only
// at what came after, and a store that never had the mark starts it now
// instead of sending an install's whole history.  And the filing of the
// replies a reconciliation found, exactly as a drained webhook is filed.
#pragma once

#include "inbound_event_repository.hpp"
#include "outbox_repository.hpp"
#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace chatwoot::store {

// An agent reply found in Chatwoot whose webhook never reached us.
struct ReconciledReply {
    int64_t message_id = 0;        // Chatwoot's
    std::string action;            // as the queued record says (send, ...)
    int64_t conversation_id = 0;
    uint32_t kind = 0;             // the ring record kind of `record`
    std::string record;            // the queued webhook record, made with
                                   // delivery_id(inbox, message_id)
};

class ReconciliationRepository {
public:
    explicit ReconciliationRepository(Database& db);

    std::optional<int64_t> reconciled_until(std::string_view inbox);

    // Only ever moves forward.
    void set_reconciled_until(std::string_view inbox, int64_t until);

    // The delivery id a reconciled reply is filed under: per inbox, so a
    // webhook replayed with it, or the next reconciliation's overlap, is
    // a repeat only in its own inbox.
    static std::string delivery_id(std::string_view inbox, int64_t message_id);

    // Files the replies in one unit of work (joining the caller's): an
    // inbound_events row each, keyed (reply_epoch(inbox), message id),
    // and an outbox entry each.  What is already there (same delivery id,
    // or the same outbox key) is skipped.  Returns how many outbox entries
    // are new.
    size_t file_replies(InboundEventRepository& inbound, OutboxRepository& outbox,
                        std::string_view inbox, std::span<const ReconciledReply> replies,
                        int64_t now);

    // The inbound_events epoch of the inbox's reconciled replies: negative
    // (minus the inbox's inbox_keys id), so it never meets a ring's epoch
    // (the current time in the high 32 bits, schema.cpp) nor another
    // inbox's.  Assigned on first use, inside the caller's unit of work.
    int64_t reply_epoch(std::string_view inbox);

private:
    Database& db_;
    Statement get_;
    Statement set_;
    Statement key_insert_;
    Statement key_get_;
};

}  // namespace chatwoot::store
