#include "inbound_event_repository.hpp"

namespace chatwoot::store {

InboundEventRepository::InboundEventRepository(Database& db)
    : db_(db),
      insert_(db.prepare(
          "INSERT INTO inbound_events"
          " (ring_epoch, ring_seq, kind, received_at, payload)"
          " VALUES (?1, ?2, ?3, ?4, ?5)"
          " ON CONFLICT (ring_epoch, ring_seq) DO NOTHING")),
      count_(db.prepare("SELECT count(*) FROM inbound_events"))
{
}

size_t InboundEventRepository::insert_batch(std::span<const InboundEvent> events)
{
    size_t added = 0;
    Transaction tx(db_);
    for (const auto& e : events) {
        // SQLite integers are signed; epochs use all 64 bits, so store the
        // same bit pattern.
        insert_.bind(1, static_cast<int64_t>(e.ring_epoch))
            .bind(2, static_cast<int64_t>(e.ring_seq))
            .bind(3, static_cast<int64_t>(e.kind))
            .bind(4, e.received_at)
            .bind_blob_view(5, e.payload);
        insert_.run();  // resets the statement: the view is released here
        added += static_cast<size_t>(db_.changes());
    }
    tx.commit();
    return added;
}

uint64_t InboundEventRepository::count()
{
    count_.step();
    auto n = static_cast<uint64_t>(count_.column_int(0));
    count_.reset();
    return n;
}

}  // namespace chatwoot::store
