#include "outbox_repository.hpp"

#include <algorithm>

namespace chatwoot::store {

OutboxRepository::OutboxRepository(Database& db)
    : db_(db),
      insert_(db.prepare(
          "INSERT INTO outbox (inbox, action, conversation_id,"
          " chatwoot_message_id, inbound_id, created_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
          " ON CONFLICT (inbox, action, chatwoot_message_id) DO NOTHING")),
      pending_(db.prepare("SELECT count(*) FROM outbox"
                          " WHERE state IN ('pending', 'in_flight', 'failing')")),
      pending_before_(db.prepare(
          "SELECT id, action, conversation_id, chatwoot_message_id FROM outbox"
          " WHERE state = 'pending' AND inbox = ?1 AND created_at <= ?2"
          " ORDER BY id LIMIT ?3")),
      settle_(db.prepare(
          "UPDATE outbox SET state = ?2 WHERE id = ?1"
          " AND state IN ('pending', 'in_flight', 'failing')")),
      jobs_(db.prepare(
          "SELECT o.id, o.action, o.conversation_id, o.chatwoot_message_id, i.payload,"
          " o.created_at, o.state, coalesce(o.wa_id, ''), o.attempts, o.next_attempt_at,"
          " coalesce(o.failure, '')"
          " FROM outbox o JOIN inbound_events i ON i.id = o.inbound_id"
          " WHERE o.state IN ('pending', 'in_flight', 'failing') AND o.inbox = ?1"
          " ORDER BY o.id LIMIT ?2")),
      heads_(db.prepare(
          "SELECT o.id, o.action, o.conversation_id, o.chatwoot_message_id, '',"
          " o.created_at, o.state, coalesce(o.wa_id, ''), o.attempts, o.next_attempt_at,"
          " coalesce(o.failure, '')"
          " FROM outbox o"
          " WHERE o.state IN ('pending', 'in_flight', 'failing') AND o.inbox = ?1"
          " ORDER BY o.id LIMIT ?2")),
      record_of_(db.prepare(
          "SELECT i.payload FROM outbox o JOIN inbound_events i ON i.id = o.inbound_id"
          " WHERE o.id = ?1")),
      begin_send_(db.prepare(
          "UPDATE outbox SET state = 'in_flight', wa_id = ?2"
          " WHERE id = ?1 AND state = 'pending'")),
      defer_(db.prepare(
          "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3"
          " WHERE id = ?1 AND state IN ('pending', 'in_flight')")),
      begin_failing_(db.prepare(
          "UPDATE outbox SET state = 'failing', failure = ?2"
          " WHERE id = ?1 AND state IN ('pending', 'in_flight')")),
      sent_insert_(db.prepare(
          "INSERT OR IGNORE INTO wa_sent (inbox, wa_id, chat, chatwoot_message_id, sent_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5)")),
      sent_as_(db.prepare("SELECT wa_id, chat FROM wa_sent"
                          " WHERE inbox = ?1 AND chatwoot_message_id = ?2 LIMIT 1")),
      sent_ids_(db.prepare("SELECT wa_id FROM wa_sent"
                           " WHERE inbox = ?1 AND chatwoot_message_id = ?2 ORDER BY rowid")),
      ours_(db.prepare("SELECT 1 FROM wa_sent WHERE inbox = ?1 AND wa_id = ?2")),
      // The records are the devices' JSON (bridge/wa_message_json.hpp), or
      // '' once retention emptied them (json_extract would fail on those).
      revoked_(db.prepare("SELECT 1 FROM wa_inbound WHERE inbox = ?1 AND chat = ?2"
                          " AND CASE WHEN record = '' THEN 0"
                          "  ELSE json_extract(record, '$.kind') = 'revoke'"
                          "   AND json_extract(record, '$.target') = ?3 END"
                          " LIMIT 1"))
{
}

namespace {

std::vector<OutboxRepository::Job> jobs_of(Statement& jobs, std::string_view inbox, size_t limit)
{
    std::vector<OutboxRepository::Job> out;
    jobs.bind(1, inbox).bind(2, static_cast<int64_t>(limit));
    jobs.each_row([&](const Statement& st) {
        out.push_back(OutboxRepository::Job{st.column_int(0), st.column_text(1), st.column_int(2),
                          st.column_optional_int(3), st.column_text(4), st.column_int(5),
                          st.column_text(6), st.column_text(7), st.column_int(8),
                          st.column_int(9), st.column_text(10)});
    });
    return out;
}

}  // namespace

std::vector<OutboxRepository::Job> OutboxRepository::unsettled_jobs(std::string_view inbox,
                                                                    size_t limit)
{
    return jobs_of(jobs_, inbox, limit);
}

std::vector<OutboxRepository::Job> OutboxRepository::unsettled_heads(std::string_view inbox,
                                                                     size_t limit)
{
    return jobs_of(heads_, inbox, limit);
}

std::optional<std::string> OutboxRepository::record_of(int64_t id)
{
    record_of_.bind(1, id);
    std::optional<std::string> out;
    record_of_.each_row([&](const Statement& st) { out = st.column_text(0); });
    return out;
}

bool OutboxRepository::begin_send(int64_t id, std::string_view wa_id)
{
    begin_send_.bind(1, id).bind(2, wa_id);
    begin_send_.run();
    return db_.changes() > 0;
}

std::vector<bool> OutboxRepository::begin_sends(std::span<const Begin> entries)
{
    std::vector<bool> began;
    if (entries.empty()) return began;
    began.reserve(entries.size());
    Transaction tx(db_);
    for (const Begin& e : entries) began.push_back(begin_send(e.id, e.wa_id));
    tx.commit();
    return began;
}

void OutboxRepository::defer(int64_t id, int64_t attempts, int64_t next_attempt_at)
{
    defer_.bind(1, id).bind(2, attempts).bind(3, next_attempt_at);
    defer_.run();
}

bool OutboxRepository::begin_failing(int64_t id, std::string_view reason)
{
    begin_failing_.bind(1, id).bind(2, reason);
    begin_failing_.run();
    return db_.changes() > 0;
}

void OutboxRepository::settle_sent(int64_t id, std::string_view inbox,
                                   std::string_view wa_id, std::string_view chat,
                                   int64_t chatwoot_message_id, int64_t now)
{
    Transaction tx(db_);
    sent_insert_.bind(1, inbox).bind(2, wa_id).bind(3, chat).bind(4, chatwoot_message_id)
        .bind(5, now);
    sent_insert_.run();
    settle(id, "sent");
    tx.commit();
}

std::vector<std::string> OutboxRepository::sent_ids(std::string_view inbox,
                                                   int64_t chatwoot_message_id)
{
    std::vector<std::string> out;
    sent_ids_.bind(1, inbox).bind(2, chatwoot_message_id);
    sent_ids_.each_row([&](const Statement& st) { out.push_back(st.column_text(0)); });
    return out;
}

std::optional<std::pair<std::string, std::string>>
OutboxRepository::sent_as(std::string_view inbox, int64_t chatwoot_message_id)
{
    sent_as_.bind(1, inbox).bind(2, chatwoot_message_id);
    std::optional<std::pair<std::string, std::string>> out;
    sent_as_.each_row([&](const Statement& st) {
        out.emplace(st.column_text(0), st.column_text(1));
    });
    return out;
}

bool OutboxRepository::revoked_on_whatsapp(std::string_view inbox, std::string_view chat,
                                           std::string_view wa_id)
{
    revoked_.bind(1, inbox).bind(2, chat).bind(3, wa_id);
    return revoked_.scalar() != 0;
}

bool OutboxRepository::is_our_send(std::string_view inbox, std::string_view wa_id)
{
    ours_.bind(1, inbox).bind(2, wa_id);
    return ours_.scalar() != 0;
}

std::vector<OutboxRepository::Pending>
OutboxRepository::pending_before(std::string_view inbox, int64_t filed_before,
                                 size_t limit)
{
    std::vector<Pending> out;
    pending_before_.bind(1, inbox).bind(2, filed_before)
        .bind(3, static_cast<int64_t>(limit));
    pending_before_.each_row([&](const Statement& st) {
        out.push_back(Pending{st.column_int(0), st.column_text(1), st.column_int(2),
                              st.column_optional_int(3)});
    });
    return out;
}

bool OutboxRepository::settle(int64_t id, std::string_view state)
{
    settle_.bind(1, id).bind(2, state);
    settle_.run();
    return db_.changes() > 0;
}

bool OutboxRepository::add(const OutboxEntry& e)
{
    insert_.bind(1, std::string_view(e.inbox))
        .bind(2, std::string_view(e.action))
        .bind(3, e.conversation_id);
    if (e.chatwoot_message_id) {
        insert_.bind(4, *e.chatwoot_message_id);
    } else {
        insert_.bind_null(4);
    }
    insert_.bind(5, e.inbound_id).bind(6, e.created_at);
    insert_.run();
    return db_.changes() > 0;
}

Statement& OutboxRepository::insert_rows(size_t n)
{
    std::optional<Statement>& st = insert_rows_[n];
    if (!st) {
        std::string sql =
            "INSERT INTO outbox (inbox, action, conversation_id,"
            " chatwoot_message_id, inbound_id, created_at) VALUES ";
        for (size_t i = 0; i < n; i++) {
            sql += i == 0 ? "(?,?,?,?,?,?)" : ",(?,?,?,?,?,?)";
        }
        sql += " ON CONFLICT (inbox, action, chatwoot_message_id) DO NOTHING";
        st.emplace(db_.prepare(sql));
    }
    return *st;
}

size_t OutboxRepository::add_all(std::span<const OutboxEntry> entries)
{
    size_t added = 0;
    while (!entries.empty()) {
        const size_t n = std::min(entries.size(), kRowsPerInsert);
        Statement& insert = insert_rows(n);
        int p = 0;
        for (const OutboxEntry& e : entries.first(n)) {
            insert.bind(p + 1, std::string_view(e.inbox))
                .bind(p + 2, std::string_view(e.action))
                .bind(p + 3, e.conversation_id);
            if (e.chatwoot_message_id) {
                insert.bind(p + 4, *e.chatwoot_message_id);
            } else {
                insert.bind_null(p + 4);
            }
            insert.bind(p + 5, e.inbound_id).bind(p + 6, e.created_at);
            p += 6;
        }
        insert.run();
        added += static_cast<size_t>(db_.changes());
        entries = entries.subspan(n);
    }
    return added;
}

uint64_t OutboxRepository::count_pending()
{
    return static_cast<uint64_t>(pending_.scalar());
}

std::vector<OutboxRepository::InboxCounts> OutboxRepository::count_unsettled_by_inbox()
{
    if (!by_inbox_) {
        // The predicate of the outbox_unsettled index: only unsettled rows are read.
        by_inbox_.emplace(db_.prepare(
            "SELECT inbox, state, count(*) FROM outbox"
            " WHERE state IN ('pending', 'in_flight', 'failing') GROUP BY inbox, state"));
    }
    std::vector<InboxCounts> out;
    by_inbox_->each_row([&](Statement& st) {
        const std::string inbox = st.column_text(0);
        if (out.empty() || out.back().inbox != inbox) {
            out.push_back({inbox});
        }
        const std::string state = st.column_text(1);
        const auto n = static_cast<uint64_t>(st.column_int(2));
        if (state == "pending") {
            out.back().pending += n;
        } else if (state == "in_flight") {
            out.back().in_flight += n;
        }
    });
    return out;
}

}  // namespace chatwoot::store
