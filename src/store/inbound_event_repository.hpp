// Durable copies of what the workers queued, keyed by ring position.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace chatwoot::store {

struct InboundEvent {
    uint64_t ring_epoch = 0;
    uint64_t ring_seq = 0;
    uint32_t kind = 0;
    int64_t received_at = 0;
    std::vector<unsigned char> payload;
    std::string delivery_id;   // empty: none (stored as NULL)
};

class InboundEventRepository {
public:
    explicit InboundEventRepository(Database& db);

    // Called for each new row inside the batch's transaction, so that what
    // the caller files with it commits (or not) together with the row.
    // The second argument is the new row's id.
    using OnInserted = std::function<void(const InboundEvent&, int64_t)>;

    // Stores the batch in one transaction; events already stored (same
    // epoch and seq, or same delivery id) are skipped.  Returns how many
    // rows are new.
    size_t insert_batch(std::span<const InboundEvent> events,
                        const OnInserted& on_inserted = {});

    uint64_t count();

private:
    Database& db_;
    Statement insert_;
    Statement count_;
};

}  // namespace chatwoot::store
