#include "outbox_repository.hpp"

namespace chatwoot::store {

OutboxRepository::OutboxRepository(Database& db)
    : db_(db),
      insert_(db.prepare(
          "INSERT INTO outbox (inbox, action, conversation_id,"
          " chatwoot_message_id, inbound_id, created_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
          " ON CONFLICT (inbox, action, chatwoot_message_id) DO NOTHING")),
      pending_(db.prepare("SELECT count(*) FROM outbox WHERE state = 'pending'"))
{
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
