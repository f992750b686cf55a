#include "inbound_event_repository.hpp"

namespace chatwoot::store {

InboundEventRepository::InboundEventRepository(Database& db)
    : db_(db),
      insert_(db.prepare(
          // OR IGNORE: a repeat by ring position (a helper killed between
          // commit and pop) or by delivery id (Chatwoot, or a replay after
          // the shared filter was lost) is skipped, not an error.
          "INSERT OR IGNORE INTO inbound_events"
          " (ring_epoch, ring_seq, kind, received_at, payload, delivery_id)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)")),
      count_(db.prepare("SELECT count(*) FROM inbound_events"))
{
}

size_t InboundEventRepository::insert_batch(std::span<const InboundEvent> events,
                                            const OnInserted& on_inserted)
{
    size_t added = 0;
    Transaction tx(db_);
    for (const auto& e : events) {
        if (e.delivery_id.empty()) {
            insert_.bind_null(6);
        } else {
            insert_.bind(6, std::string_view(e.delivery_id));
        }
        // SQLite integers are signed; epochs use all 64 bits, so store the
        // same bit pattern.
        insert_.bind(1, static_cast<int64_t>(e.ring_epoch))
            .bind(2, static_cast<int64_t>(e.ring_seq))
            .bind(3, static_cast<int64_t>(e.kind))
            .bind(4, e.received_at)
            .bind_blob_view(5, e.payload);
        insert_.run();  // resets the statement: the view is released here
        if (db_.changes() > 0) {
            added++;
            if (on_inserted) {
                on_inserted(e, db_.last_insert_id());
            }
        }
    }
    tx.commit();
    return added;
}

uint64_t InboundEventRepository::count()
{
    return static_cast<uint64_t>(count_.scalar());
}

}  // namespace chatwoot::store
