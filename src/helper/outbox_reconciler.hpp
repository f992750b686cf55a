// Runs the start-up reconciliation of agent replies for one inbox
// (bridge/outbox_reconciliation.hpp) and files what it finds exactly as a
// drained webhook is filed: an inbound_events row (keyed by the inbox's
// reconciliation epoch and the Chatwoot message id, delivery id
// "reconciled-<inbox>-<id>") and an outbox entry, in one transaction
// (store::ReconciliationRepository::file_replies).  The outbox keeps one
// entry per Chatwoot message, so a reply whose webhook did arrive is not
// sent twice.
//
// The inbox's sender is held until the first attempt ends, so a reply
// found here goes out before newer ones of the same conversation.
#pragma once

#include "ngx.hpp"

#include "chatwoot_client.hpp"

#include "../bridge/outbox_reconciliation.hpp"
#include "../store/inbound_event_repository.hpp"
#include "../store/outbox_repository.hpp"
#include "../store/reconciliation_repository.hpp"

#include <functional>
#include <memory>
#include <string>

namespace chatwoot::helper {

class OutboxReconciler {
public:
    // finished(): the first attempt is over (done or failed).
    OutboxReconciler(std::string inbox, int64_t account_id, ChatwootClient& client,
                     rest::Api api, store::Database& db,
                     store::InboundEventRepository& inbound, store::OutboxRepository& outbox,
                     std::function<void()> finished);
    ~OutboxReconciler();
    OutboxReconciler(const OutboxReconciler&) = delete;
    OutboxReconciler& operator=(const OutboxReconciler&) = delete;

    void start(int64_t inbox_id);

private:
    void run();
    void send();
    void file_found();
    void first_attempt_over();
    static void on_retry_timer(ngx_event_t* ev) noexcept;

    std::string inbox_;
    int64_t account_id_;
    int64_t inbox_id_ = 0;
    ChatwootClient& client_;
    rest::Api api_;
    store::Database& db_;
    store::InboundEventRepository& inbound_;
    store::OutboxRepository& outbox_;
    store::ReconciliationRepository marks_;
    std::function<void()> finished_;
    std::unique_ptr<bridge::OutboxReconciliation> job_;
    int64_t started_at_ = 0;
    ngx_event_t retry_timer_{};
};

}  // namespace chatwoot::helper
