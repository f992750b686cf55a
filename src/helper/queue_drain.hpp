// Moves records from the shared-memory ring into the store: peek under the
// zone lock, commit to SQLite, pop under the zone lock.  Nothing leaves the
// ring before it is durable; a repeat after a crash is ignored by the store.
#pragma once

#include "chatwoot_shared.h"
#include "ngx.hpp"

#include "../chatwoot/webhook_record.hpp"
#include "../store/inbound_event_repository.hpp"
#include "../store/outbox_repository.hpp"

#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace chatwoot::helper {

class QueueDrain {
public:
    QueueDrain(cw_shared_t* shared, ngx_slab_pool_t* shpool,
               store::InboundEventRepository& repository,
               store::OutboxRepository& outbox);

    enum class Outcome { empty, more, failed };

    // Commits up to one batch.  `more` means records are still waiting.
    Outcome drain_batch();

private:
    cw_shared_t* shared_;
    ngx_slab_pool_t* shpool_;
    void file(const store::InboundEvent& event, size_t index, int64_t row_id);
    // The batch failed for a reason one of its records carries: store the
    // records one by one, setting aside (dead_letters, logged, counted)
    // those the store refuses.  Returns how many rows are new.
    size_t set_aside_bad_records(std::span<const store::InboundEvent> batch,
                                 int64_t now, std::string_view batch_error);
    // The next batch entry; entries are reused from batch to batch, so a
    // record's copy usually lands in memory the previous one had.
    store::InboundEvent& next_entry();

    store::InboundEventRepository& repository_;
    store::OutboxRepository& outbox_;
    std::vector<store::InboundEvent> batch_;   // [0, batch_n_) is this batch
    size_t batch_n_ = 0;
    // What each batch entry says, read once while copying it.
    std::vector<std::optional<webhook::QueuedWebhook>> readings_;
    // The outbox entries of the new rows, written just before the commit.
    std::vector<store::OutboxEntry> filed_;
};

}  // namespace chatwoot::helper
