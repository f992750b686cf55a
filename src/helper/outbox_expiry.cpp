#include "outbox_expiry.hpp"

namespace chatwoot::helper {

namespace {

constexpr size_t kBatch = 200;
constexpr const char* kReason = "DEVICE_NOT_AVAILABLE";

}  // namespace

void OutboxExpiry::tick(int64_t now)
{
    for (const auto& inbox : inboxes_) {
        if (inbox.has_device) {
            continue;
        }
        for (const auto& p :
             outbox_.pending_before(inbox.name, now - inbox.timeout_seconds, kBatch)) {
            if (in_flight_.contains(p.id)) {
                continue;
            }
            if (p.action != "send" || !p.chatwoot_message_id) {
                // A deletion or status change for a chat no device serves
                // has nothing to undo on WhatsApp.
                outbox_.settle(p.id, "failed");
                continue;
            }
            report(inbox, p);
        }
    }
}

void OutboxExpiry::report(const InboxBinding& inbox,
                          const store::OutboxRepository::Pending& p)
{
    in_flight_.insert(p.id);
    const int64_t id = p.id;
    const int64_t conversation = p.conversation_id;
    const int64_t message = *p.chatwoot_message_id;
    std::string key = inbox.name + "/" + std::to_string(conversation);
    inbox.client->submit(
        std::move(key),
        inbox.api.update_message_status(conversation, message, "failed", kReason),
        [this, id, conversation, message, name = inbox.name](
            const ChatwootClient::Reply& reply) {
            in_flight_.erase(id);
            if (reply.classification.outcome == rest::Outcome::retry) {
                return;  // given up for now: the next tick tries again
            }
            // Reported, or Chatwoot refused for good (the message is gone):
            // either way nothing more can be done for it.
            outbox_.settle(id, "failed");
            if (stats_ != nullptr) {
                cw_add(&stats_->replies_failed, 1);
            }
            if (reply.classification.outcome == rest::Outcome::success) {
                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "chatwoot helper: inbox \"%s\": no WhatsApp device "
                              "took message %L of conversation %L in time; "
                              "marked failed in Chatwoot",
                              name.c_str(), message, conversation);
            } else {
                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "chatwoot helper: inbox \"%s\": marking message %L "
                              "failed in Chatwoot was refused: %s",
                              name.c_str(), message,
                              reply.classification.reason.c_str());
            }
        });
}

}  // namespace chatwoot::helper
