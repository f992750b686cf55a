// Hands the outbox of one inbox to its WhatsApp device: agent replies are
// sent (signed, in WhatsApp formatting) and their WhatsApp ids kept with
// the entry in one commit; deletions revoke what we sent; a reply that
// cannot go to WhatsApp is marked failed in Chatwoot with the reason.
#pragma once

#include "chatwoot_client.hpp"
#include "synthetic_device.hpp"

#include "../bridge/agent_reply.hpp"
#include "../chatwoot/api_requests.hpp"
#include "../store/outbox_repository.hpp"

#include <string>

namespace chatwoot::helper {

class OutboxSender {
public:
    OutboxSender(std::string inbox, store::OutboxRepository& outbox,
                 SyntheticDevice& device, ChatwootClient& client, rest::Api api,
                 bridge::SignatureOptions signature, int64_t timeout_seconds)
        : inbox_(std::move(inbox)),
          outbox_(outbox),
          device_(device),
          client_(client),
          api_(api),
          signature_(std::move(signature)),
          timeout_(timeout_seconds)
    {
    }

    // Does nothing while held (see OutboxReconciler).
    void tick(int64_t now);
    void hold(bool held) { held_ = held; }

    void count_into(cw_bridge_stats_t* stats) { stats_ = stats; }

private:
    void send(const store::OutboxRepository::Job& job, int64_t now);
    void report_failure(const store::OutboxRepository::Job& job, const std::string& why);

    std::string inbox_;
    store::OutboxRepository& outbox_;
    SyntheticDevice& device_;
    ChatwootClient& client_;
    rest::Api api_;
    bridge::SignatureOptions signature_;
    int64_t timeout_;
    cw_bridge_stats_t* stats_ = nullptr;
    bool held_ = false;
};

}  // namespace chatwoot::helper
