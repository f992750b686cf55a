// Agent replies no WhatsApp device took in time: after the inbox's
// device_timeout they are marked failed in Chatwoot (status "failed",
// external_error "DEVICE_NOT_AVAILABLE"), so the agent sees it on the
// message instead of a reply that silently never arrives.  Until the
// WhatsApp session lands, no device takes anything: this is the path every
// reply takes.
#pragma once

#include "chatwoot_client.hpp"

#include "../chatwoot/api_requests.hpp"
#include "../store/outbox_repository.hpp"

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace chatwoot::helper {

struct InboxBinding {
    std::string name;
    int64_t timeout_seconds = 0;
    rest::Api api{0};
    ChatwootClient* client = nullptr;
    // With a device, its sender owns the pending replies, deadline included.
    bool has_device = false;
};

class OutboxExpiry {
public:
    OutboxExpiry(store::OutboxRepository& outbox, std::vector<InboxBinding> inboxes)
        : outbox_(outbox), inboxes_(std::move(inboxes))
    {
    }

    // Hands every due entry to Chatwoot once (entries already in flight
    // are skipped).  `now` in unix seconds.
    void tick(int64_t now);

    void count_into(cw_bridge_stats_t* stats) { stats_ = stats; }

private:
    void report(const InboxBinding& inbox, const store::OutboxRepository::Pending& p);

    store::OutboxRepository& outbox_;
    std::vector<InboxBinding> inboxes_;
    std::unordered_set<int64_t> in_flight_;
    cw_bridge_stats_t* stats_ = nullptr;
};

}  // namespace chatwoot::helper
