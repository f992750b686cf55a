#include "outbox_repository.hpp"

namespace chatwoot::store {

OutboxRepository::OutboxRepository(Database& db)
    : db_(db),
      insert_(db.prepare(
          "INSERT INTO outbox (inbox, action, conversation_id,"
          " chatwoot_message_id, inbound_id, created_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
          " ON CONFLICT (inbox, action, chatwoot_message_id) DO NOTHING")),
      pending_(db.prepare("SELECT count(*) FROM outbox WHERE state = 'pending'")),
      pending_before_(db.prepare(
          "SELECT id, action, conversation_id, chatwoot_message_id FROM outbox"
          " WHERE state = 'pending' AND inbox = ?1 AND created_at <= ?2"
          " ORDER BY id LIMIT ?3")),
      settle_(db.prepare(
          "UPDATE outbox SET state = ?2 WHERE id = ?1 AND state = 'pending'"))
{
}

std::vector<OutboxRepository::Pending>
OutboxRepository::pending_before(std::string_view inbox, int64_t filed_before,
                                 size_t limit)
{
    std::vector<Pending> out;
    pending_before_.bind(1, inbox).bind(2, filed_before)
        .bind(3, static_cast<int64_t>(limit));
    try {
        while (pending_before_.step()) {
            Pending p;
            p.id = pending_before_.column_int(0);
            p.action = pending_before_.column_text(1);
            p.conversation_id = pending_before_.column_int(2);
            if (!pending_before_.column_is_null(3)) {
                p.chatwoot_message_id = pending_before_.column_int(3);
            }
            out.push_back(std::move(p));
        }
    } catch (...) {
        pending_before_.reset();
        throw;
    }
    pending_before_.reset();
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

uint64_t OutboxRepository::count_pending()
{
    pending_.step();
    auto n = static_cast<uint64_t>(pending_.column_int(0));
    pending_.reset();
    return n;
}

}  // namespace chatwoot::store
