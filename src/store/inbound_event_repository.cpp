#include "inbound_event_repository.hpp"

#include <limits>
#include <string>

namespace chatwoot::store {

InboundEventRepository::InboundEventRepository(Database& db)
    : db_(db),
      count_(db.prepare("SELECT count(*) FROM inbound_events")),
      max_id_(db.prepare("SELECT max(id) FROM inbound_events")),
      new_rows_(db.prepare("SELECT id, ring_epoch, ring_seq FROM inbound_events"
                           " WHERE ring_epoch = ?1 AND ring_seq BETWEEN ?2 AND ?3"
                           " AND id > ?4"))
{
    returned_.reserve(kRowsPerInsert);
    // The usual ones; a schema they do not fit fails here, not under load.
    insert_rows(kRowsPerInsert, false);
    insert_rows(1, false);
}

Statement& InboundEventRepository::insert_rows(size_t n, bool returning)
{
    std::optional<Statement>& st = returning ? insert_returning_[n] : insert_[n];
    if (!st) {
        // OR IGNORE: a repeat by ring position (a helper killed between
        // commit and pop) or by delivery id (Chatwoot, or a replay after
        // the shared filter was lost) is skipped, not an error.  RETURNING
        // lists the rows written, not the ones skipped.
        std::string sql =
            "INSERT OR IGNORE INTO inbound_events"
            " (ring_epoch, ring_seq, kind, received_at, payload, delivery_id) VALUES ";
        for (size_t i = 0; i < n; i++) {
            sql += i == 0 ? "(?,?,?,?,?,?)" : ",(?,?,?,?,?,?)";
        }
        if (returning) {
            sql += " RETURNING id, ring_epoch, ring_seq";
        }
        st.emplace(db_.prepare(sql));
    }
    return *st;
}

size_t InboundEventRepository::chunk_length(std::span<const InboundEvent> events)
{
    // The ring gives increasing sequence numbers in one epoch.
    size_t n = 1;
    while (n < events.size() && n < kRowsPerInsert
           && events[n].ring_epoch == events[0].ring_epoch
           && events[n].ring_seq > events[n - 1].ring_seq)
    {
        n++;
    }
    return n;
}

void InboundEventRepository::read_new_rows(std::span<const InboundEvent> chunk, int64_t above)
{
    // Rows with a larger id than the table had before the statement are
    // the statement's; the chunk's (epoch, seq) range holds all of them.
    returned_.clear();
    new_rows_.bind(1, static_cast<int64_t>(chunk.front().ring_epoch))
        .bind(2, static_cast<int64_t>(chunk.front().ring_seq))
        .bind(3, static_cast<int64_t>(chunk.back().ring_seq))
        .bind(4, above);
    new_rows_.each_row([&](const Statement& st) {
        returned_.push_back(Returned{st.column_int(0), st.column_int(1), st.column_int(2)});
    });
}

size_t InboundEventRepository::insert_chunk(std::span<const InboundEvent> chunk,
                                            const OnInserted& on_inserted,
                                            bool sequential_ids)
{
    const size_t n = chunk.size();
    Statement& insert = insert_rows(n, !sequential_ids);
    int p = 0;
    for (const auto& e : chunk) {
        // SQLite integers are signed; epochs use all 64 bits, so store the
        // same bit pattern.
        insert.bind(p + 1, static_cast<int64_t>(e.ring_epoch))
            .bind(p + 2, static_cast<int64_t>(e.ring_seq))
            .bind(p + 3, static_cast<int64_t>(e.kind))
            .bind(p + 4, e.received_at)
            .bind_blob_view(p + 5, e.payload);
        if (e.delivery_id.empty()) {
            insert.bind_null(p + 6);
        } else {
            insert.bind(p + 6, std::string_view(e.delivery_id));
        }
        p += 6;
    }

    size_t added = 0;
    if (sequential_ids) {
        // run() resets the statement, which releases the payload views.
        insert.run();
        added = static_cast<size_t>(db_.changes());
        const int64_t last = db_.last_insert_id();
        if (added == n) {
            // Each new row got one more than the largest id before it, in
            // the order of the VALUES: last - n + 1 .. last.
            if (on_inserted) {
                int64_t id = last - static_cast<int64_t>(n);
                for (const auto& e : chunk) {
                    on_inserted(e, ++id);
                }
            }
            return added;
        }
        if (added == 0 || !on_inserted) {
            return added;
        }
        read_new_rows(chunk, last - static_cast<int64_t>(added));
        if (returned_.size() != added) {
            throw StoreError("inbound_events: the new rows of a batch were not found", 0);
        }
    } else {
        returned_.clear();
        // All rows are written by the first step; each_row resets the
        // statement, which releases the payload views.
        insert.each_row([&](const Statement& st) {
            returned_.push_back(Returned{st.column_int(0), st.column_int(1), st.column_int(2)});
        });
        added = returned_.size();
    }
    if (on_inserted) {
        for (const auto& e : chunk) {
            for (const Returned& r : returned_) {
                if (r.seq == static_cast<int64_t>(e.ring_seq)
                    && r.epoch == static_cast<int64_t>(e.ring_epoch))
                {
                    on_inserted(e, r.id);
                    break;
                }
            }
        }
    }
    return added;
}

size_t InboundEventRepository::insert_batch(std::span<const InboundEvent> events,
                                            const OnInserted& on_inserted,
                                            const std::function<void()>& before_commit)
{
    size_t added = 0;
    Transaction tx(db_);
    // SQLite gives a new row one more than the largest id in the table,
    // unless that is the largest integer; then it picks ids at random, and
    // the statements must say which ids they gave (RETURNING, slower).
    const bool sequential_ids =
        max_id_.scalar()
        < std::numeric_limits<int64_t>::max() - static_cast<int64_t>(events.size());
    while (!events.empty()) {
        const size_t n = chunk_length(events);
        added += insert_chunk(events.first(n), on_inserted, sequential_ids);
        events = events.subspan(n);
    }
    if (before_commit) {
        before_commit();
    }
    tx.commit();
    return added;
}

InboundEventRepository::Sorted InboundEventRepository::insert_each(
    std::span<const InboundEvent> events, int64_t now, const OnInserted& on_inserted,
    const std::function<void()>& after_each)
{
    Sorted out;
    UnitOfWork batch(db_);
    for (size_t i = 0; i < events.size(); i++) {
        try {
            UnitOfWork record(db_);
            const size_t added = insert_batch(events.subspan(i, 1), on_inserted);
            if (after_each) {
                after_each();
            }
            record.commit();
            out.added += added;
            continue;
        } catch (const StoreError& e) {
            if (!is_record_error(e.code())) {
                throw;
            }
            out.set_aside.push_back(SetAside{i, e.what()});
        }
        // The record's unit is rolled back: keep it aside, verbatim.
        if (!dead_letter_) {
            dead_letter_.emplace(db_.prepare(
                "INSERT OR IGNORE INTO dead_letters (ring_epoch, ring_seq, kind,"
                " received_at, payload, error, set_aside_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
        }
        const InboundEvent& e = events[i];
        dead_letter_->bind(1, static_cast<int64_t>(e.ring_epoch))
            .bind(2, static_cast<int64_t>(e.ring_seq))
            .bind(3, static_cast<int64_t>(e.kind))
            .bind(4, e.received_at)
            .bind_blob_view(5, e.payload)
            .bind(6, std::string_view(out.set_aside.back().error))
            .bind(7, now);
        dead_letter_->run();
    }
    batch.commit();
    return out;
}

uint64_t InboundEventRepository::count_dead_letters()
{
    return static_cast<uint64_t>(
        db_.prepare("SELECT count(*) FROM dead_letters").scalar());
}

uint64_t InboundEventRepository::count()
{
    return static_cast<uint64_t>(count_.scalar());
}

}  // namespace chatwoot::store
