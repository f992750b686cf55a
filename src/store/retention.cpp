#include "retention.hpp"

#include <algorithm>
#include <string_view>

namespace chatwoot::store {

namespace {

struct SweepSql {
    bool compacts;
    std::string_view act;
    std::string_view remaining;
    std::string_view young;
    std::string_view last;
    std::string_view follow_up;   // empty: none
};

// Every statement takes the window (?1, ?2] of the table's primary key.
constexpr std::string_view kSettled = "state IN ('sent', 'failed')";

}  // namespace

Retention::Retention(Database& db, RetentionPolicy policy) : db_(db), policy_(policy)
{
    const std::string settled(kSettled);
    auto add = [&](Cutoff cutoff, const SweepSql& sql) {
        Sweep s{cutoff,
                sql.compacts,
                db.prepare(sql.act),
                db.prepare(sql.remaining),
                db.prepare(sql.young),
                db.prepare(sql.last),
                std::nullopt,
                0,
                std::nullopt};
        if (!sql.follow_up.empty()) {
            s.follow_up.emplace(db.prepare(sql.follow_up));
        }
        sweeps_.push_back(std::move(s));
    };

    // Inbound events that filed nothing: typing, unreadable records.
    add(Cutoff::compact,
        {false,
         "DELETE FROM inbound_events WHERE id > ?1 AND id <= ?2 AND received_at < ?3"
         " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.inbound_id = inbound_events.id)",
         "SELECT min(id) FROM inbound_events i WHERE id > ?1 AND id <= ?2"
         " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.inbound_id = i.id)",
         "SELECT count(*) FROM inbound_events WHERE id > ?1 AND id <= ?2 AND received_at >= ?3",
         "SELECT coalesce(max(id), 0) FROM inbound_events", ""});

    // Settled outbox entries: their webhook bodies.
    const std::string compact_outbox =
        "UPDATE inbound_events SET payload = x'' WHERE id IN (SELECT inbound_id FROM outbox"
        " WHERE id > ?1 AND id <= ?2 AND " + settled + " AND created_at < ?3)"
        " AND length(payload) > 0";
    const std::string outbox_remaining =
        "SELECT min(o.id) FROM outbox o JOIN inbound_events i ON i.id = o.inbound_id"
        " WHERE o.id > ?1 AND o.id <= ?2 AND NOT (o." + settled + " AND length(i.payload) = 0)";
    add(Cutoff::compact,
        {true, compact_outbox, outbox_remaining,
         "SELECT count(*) FROM outbox WHERE id > ?1 AND id <= ?2 AND created_at >= ?3",
         "SELECT coalesce(max(id), 0) FROM outbox", ""});

    // Settled outbox entries' keys, once reconciliation is past them; then
    // the inbound rows they pointed at.
    const std::string forget_outbox =
        "DELETE FROM outbox WHERE id > ?1 AND id <= ?2 AND " + settled
        + " AND created_at < ?3 AND created_at < (SELECT r.reconciled_until"
          " FROM reconciliations r WHERE r.inbox = outbox.inbox) - ?4"
          " RETURNING inbound_id";
    add(Cutoff::forget,
        {false, forget_outbox, "SELECT min(id) FROM outbox WHERE id > ?1 AND id <= ?2",
         "SELECT count(*) FROM outbox WHERE id > ?1 AND id <= ?2 AND created_at >= ?3",
         "SELECT coalesce(max(id), 0) FROM outbox",
         "DELETE FROM inbound_events WHERE id = ?1"
         " AND NOT EXISTS (SELECT 1 FROM outbox WHERE inbound_id = ?1)"});

    // WhatsApp messages in Chatwoot (or given up): the record, later the key.
    add(Cutoff::compact,
        {true,
         "UPDATE wa_inbound SET record = '' WHERE id > ?1 AND id <= ?2"
         " AND state IN ('posted', 'failed') AND created_at < ?3 AND record <> ''",
         "SELECT min(id) FROM wa_inbound WHERE id > ?1 AND id <= ?2"
         " AND NOT (state IN ('posted', 'failed') AND record = '')",
         "SELECT count(*) FROM wa_inbound WHERE id > ?1 AND id <= ?2 AND created_at >= ?3",
         "SELECT coalesce(max(id), 0) FROM wa_inbound", ""});
    add(Cutoff::forget,
        {false,
         "DELETE FROM wa_inbound WHERE id > ?1 AND id <= ?2"
         " AND state IN ('posted', 'failed') AND created_at < ?3",
         "SELECT min(id) FROM wa_inbound WHERE id > ?1 AND id <= ?2",
         "SELECT count(*) FROM wa_inbound WHERE id > ?1 AND id <= ?2 AND created_at >= ?3",
         "SELECT coalesce(max(id), 0) FROM wa_inbound", ""});

    // The send API's sends (schema step 17): a settled send's text goes
    // after compact_after, the row (its id for GET, its key) after
    // forget_after.  Idempotency keys need a day; GET shows the last 1024.
    add(Cutoff::compact,
        {true,
         "UPDATE api_sends SET text = '' WHERE row > ?1 AND row <= ?2"
         " AND state IN ('sent', 'failed') AND updated_at < ?3 AND text <> ''",
         "SELECT min(row) FROM api_sends WHERE row > ?1 AND row <= ?2"
         " AND NOT (state IN ('sent', 'failed') AND text = '')",
         "SELECT count(*) FROM api_sends WHERE row > ?1 AND row <= ?2 AND updated_at >= ?3",
         "SELECT coalesce(max(row), 0) FROM api_sends", ""});
    add(Cutoff::forget,
        {false,
         "DELETE FROM api_sends WHERE row > ?1 AND row <= ?2"
         " AND (state IN ('sent', 'failed') OR duplicate_of IS NOT NULL) AND updated_at < ?3",
         "SELECT min(row) FROM api_sends WHERE row > ?1 AND row <= ?2",
         "SELECT count(*) FROM api_sends WHERE row > ?1 AND row <= ?2 AND updated_at >= ?3",
         "SELECT coalesce(max(row), 0) FROM api_sends", ""});

    // WhatsApp stanzas handled: the bytes go first; the key stays (a
    // redelivery is skipped, not decrypted again) until forget_after.  A
    // stanza whose receipt is still owed keeps its bytes (the receipt is
    // addressed from them).
    add(Cutoff::compact,
        {true,
         "UPDATE wa_stanzas SET node = x'' WHERE id > ?1 AND id <= ?2"
         " AND done_at IS NOT NULL AND receipt IS NULL AND done_at < ?3 AND length(node) > 0",
         "SELECT min(id) FROM wa_stanzas WHERE id > ?1 AND id <= ?2"
         " AND NOT (done_at IS NOT NULL AND receipt IS NULL AND length(node) = 0)",
         "SELECT count(*) FROM wa_stanzas WHERE id > ?1 AND id <= ?2"
         " AND (done_at IS NULL OR done_at >= ?3)",
         "SELECT coalesce(max(id), 0) FROM wa_stanzas", ""});
    add(Cutoff::forget,
        {false,
         "DELETE FROM wa_stanzas WHERE id > ?1 AND id <= ?2"
         " AND done_at IS NOT NULL AND receipt IS NULL AND done_at < ?3",
         "SELECT min(id) FROM wa_stanzas WHERE id > ?1 AND id <= ?2",
         "SELECT count(*) FROM wa_stanzas WHERE id > ?1 AND id <= ?2"
         " AND (done_at IS NULL OR done_at >= ?3)",
         "SELECT coalesce(max(id), 0) FROM wa_stanzas", ""});

    // Plaintexts of our sends, kept for recipients' retry receipts: those
    // come within minutes or hours; a week is plenty.
    add(Cutoff::compact,
        {false, "DELETE FROM wa_recent_sends WHERE rowid > ?1 AND rowid <= ?2 AND sent_at < ?3",
         "SELECT min(rowid) FROM wa_recent_sends WHERE rowid > ?1 AND rowid <= ?2",
         "SELECT count(*) FROM wa_recent_sends WHERE rowid > ?1 AND rowid <= ?2"
         " AND sent_at >= ?3",
         "SELECT coalesce(max(rowid), 0) FROM wa_recent_sends", ""});

    // Our sends' WhatsApp ids.
    add(Cutoff::forget,
        {false, "DELETE FROM wa_sent WHERE rowid > ?1 AND rowid <= ?2 AND sent_at < ?3",
         "SELECT min(rowid) FROM wa_sent WHERE rowid > ?1 AND rowid <= ?2",
         "SELECT count(*) FROM wa_sent WHERE rowid > ?1 AND rowid <= ?2 AND sent_at >= ?3",
         "SELECT coalesce(max(rowid), 0) FROM wa_sent", ""});
}

Retention::Report Retention::prune(int64_t now, size_t limit)
{
    Report report;
    const auto window = static_cast<int64_t>(limit > 0 ? limit : 1);
    for (Sweep& sweep : sweeps_) {
        const int64_t cutoff =
            now - (sweep.cutoff == Cutoff::compact ? policy_.compact_after : policy_.forget_after);
        // Windows with nothing to do cost a read each: go on to the next
        // one at once, a few times, rather than leave a stretch of pending
        // or finished rows to the next call.
        for (int i = 0;; i++) {
            bool pass_over = false;
            const size_t changed = step(sweep, cutoff, window, pass_over);
            (sweep.compacts ? report.compacted : report.deleted) += changed;
            if (pass_over) {
                // Whatever was eligible in this pass is done.
                break;
            }
            if (changed > 0 || i + 1 == kWindowsPerStep) {
                report.more = true;
                break;
            }
        }
    }
    return report;
}

size_t Retention::step(Sweep& sweep, int64_t cutoff, int64_t limit, bool& pass_over)
{
    const int64_t lo = sweep.cursor;
    const int64_t hi = lo + limit;

    UnitOfWork unit(db_);
    size_t changed = 0;
    sweep.act.bind(1, lo).bind(2, hi).bind(3, cutoff);
    if (sqlite3_bind_parameter_count(sweep.act.raw()) >= 4) {
        sweep.act.bind(4, policy_.reconciliation_margin);
    }
    if (sweep.follow_up) {
        returned_.clear();
        sweep.act.each_row([&](const Statement& st) { returned_.push_back(st.column_int(0)); });
        changed = returned_.size();
        for (int64_t id : returned_) {
            sweep.follow_up->bind(1, id);
            sweep.follow_up->run();
            changed += static_cast<size_t>(db_.changes());
        }
    } else {
        sweep.act.run();
        changed = static_cast<size_t>(db_.changes());
    }

    sweep.remaining.bind(1, lo).bind(2, hi);
    std::optional<int64_t> unfinished;
    sweep.remaining.each_row(
        [&](const Statement& st) { unfinished = st.column_optional_int(0); });
    sweep.young.bind(1, lo).bind(2, hi).bind(3, cutoff);
    const bool young = sweep.young.scalar() > 0;
    const int64_t last = sweep.last.scalar();
    unit.commit();

    if (unfinished && !sweep.first_unfinished) {
        sweep.first_unfinished = unfinished;
    }
    // Rows come in time order, roughly: past a young row, the rest of the
    // table is younger still.  The next pass starts at the first row this
    // one could not finish.
    pass_over = young || hi >= last;
    if (pass_over) {
        // Nothing unfinished: all is done up to the newest row, and new
        // rows get larger ids.
        sweep.cursor = sweep.first_unfinished ? *sweep.first_unfinished - 1 : std::min(hi, last);
        sweep.first_unfinished.reset();
    } else {
        sweep.cursor = hi;
    }
    return changed;
}

}  // namespace chatwoot::store
