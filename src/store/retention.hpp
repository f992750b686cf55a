// Retention: rows that are done are pruned on a schedule, so the store does
// not grow forever, while every key a duplicate check needs outlives the
// window in which the duplicate can come.
//
// Two horizons (README, "Retention"):
//
//   compact_after (7 days)  what is done is emptied or dropped:
//     - inbound events that filed no outbox entry (typing, unreadable
//       records) are deleted: their dedup keys (delivery id, ring position)
//       guard against replays of minutes (the signature's age limit, a
//       helper killed between commit and pop);
//     - a settled outbox entry's webhook body (sent or failed) is emptied;
//       the inbound row stays as a compact key (delivery id, ring
//       position), the outbox row as the Chatwoot message id's key;
//     - a settled wa_inbound row's record is emptied; the row stays as the
//       WhatsApp id's key (redelivery dedup) and its Chatwoot mapping
//       (reply links, history import);
//     - a handled WhatsApp stanza's bytes are emptied (once its receipt
//       went); the row stays as the key that skips a redelivery;
//     - the plaintexts of our WhatsApp sends (kept for retry receipts) are
//       deleted.
//     - a settled send API send's text is emptied.
//   forget_after (400 days)  the compact keys go too:
//     - settled outbox rows and their inbound rows, once the inbox's
//       start-up reconciliation mark is past them by a day (a
//       reconciliation looking further back would send them again);
//     - settled wa_inbound rows, handled WhatsApp stanzas;
//     - wa_sent rows (echo suppression needs seconds; WhatsApp accepts a
//       revoke for about two days).
//     - settled send API sends (and duplicates of a key).
//   Never pruned: pending work, dead letters, chats, reconciliation marks,
//   inbox keys.
//
// prune() does one bounded step: each table is swept by primary-key
// windows of `limit` rows, each window in its own short unit of work, so
// the write lock is held for milliseconds.  A sweep remembers where it is
// and, at the end of a pass, restarts from the first row it could not
// finish yet (pending, or too young), so done rows are not looked at again.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace chatwoot::store {

struct RetentionPolicy {
    int64_t compact_after = 7 * 86400;
    int64_t forget_after = 400 * 86400;
    // How far behind an inbox's reconciliation mark an outbox key must be.
    int64_t reconciliation_margin = 86400;
};

class Retention {
public:
    explicit Retention(Database& db, RetentionPolicy policy = {});

    struct Report {
        size_t compacted = 0;   // bodies emptied
        size_t deleted = 0;     // rows deleted
        // Call again soon: some sweep did work and is not through its
        // pass, or met only windows with nothing to do before its end.
        bool more = false;
    };

    // One bounded step at unix time `now`: per table, at most `limit` rows
    // changed, and at most kWindowsPerStep windows of `limit` rows read.
    // Throws StoreError; a failed window is retried at the next call.
    Report prune(int64_t now, size_t limit);

    const RetentionPolicy& policy() const { return policy_; }

private:
    enum class Cutoff { compact, forget };
    struct Sweep {
        Cutoff cutoff;
        bool compacts;               // counted as compacted, not deleted
        Statement act;               // ?1 lo, ?2 hi, ?3 cutoff, ?4 margin
        Statement remaining;         // first unfinished id in (?1, ?2]
        Statement young;             // a row in (?1, ?2] at/after ?3?
        Statement last;              // the table's largest id
        std::optional<Statement> follow_up;   // per id `act` returned
        int64_t cursor = 0;
        std::optional<int64_t> first_unfinished;
    };

    // One window of one sweep in one unit of work; returns the rows changed.
    size_t step(Sweep& sweep, int64_t cutoff, int64_t limit, bool& pass_over);

    // Windows one prune() call looks at per sweep when they hold nothing
    // to do.
    static constexpr int kWindowsPerStep = 8;

    Database& db_;
    RetentionPolicy policy_;
    std::vector<Sweep> sweeps_;
    std::vector<int64_t> returned_;
};

}  // namespace chatwoot::store
