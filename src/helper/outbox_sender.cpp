#include "outbox_sender.hpp"

#include <exception>

namespace chatwoot::helper {

namespace {

constexpr size_t kBatch = 100;

}  // namespace

void OutboxSender::tick(int64_t now)
{
    if (held_) {
        return;
    }
    for (const auto& job : outbox_.pending_jobs(inbox_, kBatch)) {
        if (job.action == "send") {
            send(job, now);
        } else if (job.action == "delete") {
            auto sent = job.chatwoot_message_id
                            ? outbox_.sent_as(inbox_, *job.chatwoot_message_id)
                            : std::nullopt;
            if (!sent) {
                // Not ours to revoke (a contact's message, or never sent).
                outbox_.settle(job.id, "failed");
                continue;
            }
            device_.revoke(sent->second, sent->first, job.id);
            outbox_.settle(job.id, "sent");
        } else {
            // Conversation status: nothing to do on WhatsApp.
            outbox_.settle(job.id, "sent");
        }
    }
}

void OutboxSender::send(const store::OutboxRepository::Job& job, int64_t now)
{
    std::string error;
    auto reply = bridge::agent_reply(job.record, signature_, &error);
    if (!reply || !job.chatwoot_message_id) {
        outbox_.settle(job.id, "failed");
        report_failure(job, reply ? "no Chatwoot message id" : error);
        return;
    }
    std::string wa_id;
    try {
        wa_id = device_.send(*reply, job.id);
    } catch (const std::exception& e) {
        // Stays pending: the next tick tries again, until device_timeout.
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": sending to WhatsApp failed: %s",
                      inbox_.c_str(), e.what());
        if (now - job.created_at >= timeout_) {
            outbox_.settle(job.id, "failed");
            report_failure(job, "DEVICE_NOT_AVAILABLE");
        }
        return;
    }
    outbox_.settle_sent(job.id, inbox_, wa_id, reply->chat, *job.chatwoot_message_id, now);
    if (stats_ != nullptr) {
        cw_add(&stats_->replies_sent, 1);
    }
}

void OutboxSender::report_failure(const store::OutboxRepository::Job& job,
                                  const std::string& why)
{
    if (stats_ != nullptr) {
        cw_add(&stats_->replies_failed, 1);
    }
    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "chatwoot helper: inbox \"%s\": a reply in conversation %L cannot go "
                  "to WhatsApp: %s", inbox_.c_str(), job.conversation_id, why.c_str());
    if (!job.chatwoot_message_id) {
        return;
    }
    client_.submit(inbox_ + "/" + std::to_string(job.conversation_id),
                   api_.update_message_status(job.conversation_id, *job.chatwoot_message_id,
                                              "failed", why),
                   [](const ChatwootClient::Reply&) {});
}

}  // namespace chatwoot::helper
