// Durable copies of what the workers queued, keyed by ring position.
#pragma once

#include "sqlite_handle.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
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
    // rows are new.  on_inserted is called for the new rows in batch order
    // (a few rows after each is written: rows go in kRowsPerInsert to a
    // statement); then before_commit, still inside the transaction, so a
    // caller that buffers what it files in on_inserted can write it there.
    size_t insert_batch(std::span<const InboundEvent> events,
                        const OnInserted& on_inserted = {},
                        const std::function<void()>& before_commit = {});

    uint64_t count();

    // The connection, for what the caller writes in the same transaction.
    Database& database() { return db_; }

    // A record insert_each() set aside, with the error that refused it.
    struct SetAside {
        size_t index;        // in the batch
        std::string error;
    };
    struct Sorted {
        size_t added = 0;    // new rows, as insert_batch counts them
        std::vector<SetAside> set_aside;
    };

    // insert_batch() for a batch that failed with is_record_error(): the
    // records go one at a time, each in its own unit of work inside the
    // batch's, with on_inserted and then after_each for its new row.  A
    // record whose row or filing fails with a record error is rolled back
    // alone and kept in dead_letters (its bytes and the error; once per
    // ring position); the rest commit together.  Any other error throws
    // and nothing commits: the caller retries the batch later.
    Sorted insert_each(std::span<const InboundEvent> events, int64_t now,
                       const OnInserted& on_inserted,
                       const std::function<void()>& after_each);

    uint64_t count_dead_letters();

    // Rows per INSERT statement: one statement per row costs SQLite a
    // statement start, cursors opened on the table and both indexes, and
    // their positioning, for every webhook.
    static constexpr size_t kRowsPerInsert = 32;

private:
    struct Returned {
        int64_t id;
        int64_t epoch;
        int64_t seq;
    };

    // The statement inserting n rows (1..kRowsPerInsert), prepared on first
    // use; `returning` lists the rows it wrote.
    Statement& insert_rows(size_t n, bool returning);
    // A run of events that one statement can take: the same epoch and
    // increasing sequence numbers, so that (epoch, seq) names one event.
    static size_t chunk_length(std::span<const InboundEvent> events);
    size_t insert_chunk(std::span<const InboundEvent> chunk, const OnInserted& on_inserted,
                        bool sequential_ids);
    // The new rows of a chunk, when only some of it was new.
    void read_new_rows(std::span<const InboundEvent> chunk, int64_t above);

    Database& db_;
    std::array<std::optional<Statement>, kRowsPerInsert + 1> insert_;
    std::array<std::optional<Statement>, kRowsPerInsert + 1> insert_returning_;
    Statement count_;
    Statement max_id_;
    Statement new_rows_;
    std::optional<Statement> dead_letter_;
    std::vector<Returned> returned_;
};

}  // namespace chatwoot::store
