// Durable copies of what the workers queued, keyed by ring position.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
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
};

class InboundEventRepository {
public:
    explicit InboundEventRepository(Database& db);

    // Stores the batch in one transaction; events already stored (same
    // epoch and seq) are skipped.  Returns how many rows are new.
    size_t insert_batch(std::span<const InboundEvent> events);

    uint64_t count();

private:
    Database& db_;
    Statement insert_;
    Statement count_;
};

}  // namespace chatwoot::store
