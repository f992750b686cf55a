// The helper's reading of a queued webhook record (what the worker wrote in
// cw_webhook_inspect: {"inbox":..,"delivery":..,"received_at":..,
// "accepted_msec":.. (newer records),"event":{"type":..,...}}): the few keys
// it files the record under.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatwoot::webhook {

struct QueuedWebhook {
    std::string inbox;
    std::string delivery;            // empty when Chatwoot sent none
    std::string action;              // send, delete, status, typing
    int64_t conversation_id = 0;
    std::optional<int64_t> message_id;   // send and delete
    bool typing_on = false;              // typing: "on"
    std::optional<int64_t> accepted_msec;   // the worker's arrival time, unix ms
    // send: the conversation's contact_inbox source id ("bridge:<inbox>"
    // is the control conversation's), empty when the record has none.
    std::string contact_source_id;
};

// nullopt for bytes that are not such a record (a broken invariant: the
// worker wrote it).
std::optional<QueuedWebhook> read_queued_webhook(std::string_view record);

// The same envelope written around a normalised event (webhook::parse's
// record), for records the helper files itself (start-up reconciliation).
// The worker writes it straight into shared memory in webhook_inspect.cpp.
std::string make_queued_webhook(std::string_view inbox, std::string_view delivery,
                                int64_t received_at, std::string_view event_record);

}  // namespace chatwoot::webhook
