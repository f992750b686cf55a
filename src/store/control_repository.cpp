#include "control_repository.hpp"

namespace chatwoot::store {

namespace {

ControlNotice notice_of(const Statement& row)
{
    ControlNotice n;
    n.id = row.column_int(0);
    n.kind = row.column_text(1);
    n.text = row.column_text(2);
    n.qr = row.column_int(3) != 0;
    n.created_at = row.column_int(4);
    n.chatwoot_message_id = row.column_optional_int(5);
    return n;
}

constexpr const char* kNoticeColumns =
    "SELECT id, kind, text, qr, created_at, chatwoot_message_id FROM control_notices ";

}  // namespace

ControlRepository::ControlRepository(Database& db)
    : db_(db),
      place_(db.prepare("SELECT contact_id, conversation_id FROM control_conversations"
                        " WHERE inbox = ?1")),
      save_place_(db.prepare("INSERT INTO control_conversations (inbox, contact_id,"
                             " conversation_id) VALUES (?1, ?2, ?3) ON CONFLICT (inbox)"
                             " DO UPDATE SET contact_id = ?2, conversation_id = ?3")),
      inbox_of_(db.prepare("SELECT inbox FROM control_conversations"
                           " WHERE conversation_id = ?1")),
      add_notice_(db.prepare("INSERT INTO control_notices (inbox, kind, text, qr, created_at)"
                             " VALUES (?1, ?2, ?3, ?4, ?5)")),
      next_pending_(db.prepare(std::string(kNoticeColumns)
                               + "WHERE inbox = ?1 AND state = 'pending' ORDER BY id LIMIT 1")),
      // A pairing code is a secret of the moment: once posted (or never to
      // be), its row keeps no copy.
      settle_notice_(db.prepare("UPDATE control_notices SET state = ?2,"
                                " chatwoot_message_id = ?3,"
                                " text = CASE WHEN kind = 'code' THEN '' ELSE text END"
                                " WHERE id = ?1")),
      drop_qr_(db.prepare("UPDATE control_notices SET state = 'dropped'"
                          " WHERE inbox = ?1 AND state = 'pending' AND qr = 1")),
      qr_to_delete_(db.prepare(std::string(kNoticeColumns)
                               + "WHERE inbox = ?1 AND state = 'posted' AND qr = 1"
                                 " AND deleted = 0 AND id != ?2 ORDER BY id")),
      mark_deleted_(db.prepare("UPDATE control_notices SET deleted = 1 WHERE id = ?1")),
      count_notices_(db.prepare("SELECT count(*) FROM control_notices"
                                " WHERE inbox = ?1 AND state = ?2")),
      waiting_chatwoot_(db.prepare("SELECT count(*) FROM wa_inbound"
                                   " WHERE inbox = ?1 AND state = 'pending'")),
      waiting_whatsapp_(db.prepare("SELECT count(*) FROM outbox WHERE inbox = ?1"
                                   " AND state IN ('pending', 'in_flight', 'failing')")),
      add_command_(db.prepare("INSERT OR IGNORE INTO control_commands (inbox,"
                              " chatwoot_message_id, conversation_id, content, received_at)"
                              " VALUES (?1, ?2, ?3, ?4, ?5)")),
      pending_commands_(db.prepare("SELECT chatwoot_message_id, conversation_id, content,"
                                   " received_at FROM control_commands WHERE inbox = ?1"
                                   " AND handled_at IS NULL ORDER BY received_at,"
                                   " chatwoot_message_id LIMIT ?2")),
      handled_(db.prepare("UPDATE control_commands SET handled_at = ?3"
                          " WHERE inbox = ?1 AND chatwoot_message_id = ?2"))
{
}

ControlPlace ControlRepository::place(std::string_view inbox)
{
    ControlPlace p;
    place_.bind(1, inbox);
    place_.each_row([&](const Statement& row) {
        p.contact_id = row.column_optional_int(0);
        p.conversation_id = row.column_optional_int(1);
    });
    return p;
}

void ControlRepository::save_place(std::string_view inbox, const ControlPlace& place)
{
    save_place_.bind(1, inbox);
    if (place.contact_id) save_place_.bind(2, *place.contact_id);
    else save_place_.bind_null(2);
    if (place.conversation_id) save_place_.bind(3, *place.conversation_id);
    else save_place_.bind_null(3);
    save_place_.run();
}

std::optional<std::string> ControlRepository::inbox_of_conversation(int64_t conversation_id)
{
    std::optional<std::string> out;
    inbox_of_.bind(1, conversation_id);
    inbox_of_.each_row([&](const Statement& row) { out = row.column_text(0); });
    return out;
}

int64_t ControlRepository::add_notice(std::string_view inbox, std::string_view kind,
                                      std::string_view text, bool qr, int64_t now)
{
    add_notice_.bind(1, inbox).bind(2, kind).bind(3, text).bind(4, int64_t{qr ? 1 : 0})
        .bind(5, now);
    add_notice_.run();
    return db_.last_insert_id();
}

std::optional<ControlNotice> ControlRepository::next_pending(std::string_view inbox)
{
    std::optional<ControlNotice> out;
    next_pending_.bind(1, inbox);
    next_pending_.each_row([&](const Statement& row) { out = notice_of(row); });
    return out;
}

void ControlRepository::settle_notice(int64_t id, std::string_view state,
                                      std::optional<int64_t> chatwoot_message_id)
{
    settle_notice_.bind(1, id).bind(2, state);
    if (chatwoot_message_id) settle_notice_.bind(3, *chatwoot_message_id);
    else settle_notice_.bind_null(3);
    settle_notice_.run();
}

void ControlRepository::drop_pending_qr(std::string_view inbox)
{
    drop_qr_.bind(1, inbox);
    drop_qr_.run();
}

std::vector<ControlNotice> ControlRepository::qr_to_delete(std::string_view inbox, int64_t keep)
{
    std::vector<ControlNotice> out;
    qr_to_delete_.bind(1, inbox).bind(2, keep);
    qr_to_delete_.each_row([&](const Statement& row) { out.push_back(notice_of(row)); });
    return out;
}

void ControlRepository::mark_deleted(int64_t id)
{
    mark_deleted_.bind(1, id);
    mark_deleted_.run();
}

uint64_t ControlRepository::count_notices(std::string_view inbox, std::string_view state)
{
    count_notices_.bind(1, inbox).bind(2, state);
    return static_cast<uint64_t>(count_notices_.scalar());
}

ControlRepository::Waiting ControlRepository::waiting(std::string_view inbox)
{
    Waiting w;
    waiting_chatwoot_.bind(1, inbox);
    w.to_chatwoot = static_cast<uint64_t>(waiting_chatwoot_.scalar());
    waiting_whatsapp_.bind(1, inbox);
    w.to_whatsapp = static_cast<uint64_t>(waiting_whatsapp_.scalar());
    return w;
}

bool ControlRepository::add_command(std::string_view inbox, const ControlCommandRow& row)
{
    add_command_.bind(1, inbox).bind(2, row.chatwoot_message_id).bind(3, row.conversation_id)
        .bind(4, std::string_view(row.content)).bind(5, row.received_at);
    add_command_.run();
    return db_.changes() > 0;
}

std::vector<ControlCommandRow> ControlRepository::pending_commands(std::string_view inbox,
                                                                   size_t limit)
{
    std::vector<ControlCommandRow> out;
    pending_commands_.bind(1, inbox).bind(2, static_cast<int64_t>(limit));
    pending_commands_.each_row([&](const Statement& row) {
        ControlCommandRow c;
        c.chatwoot_message_id = row.column_int(0);
        c.conversation_id = row.column_int(1);
        c.content = row.column_text(2);
        c.received_at = row.column_int(3);
        out.push_back(std::move(c));
    });
    return out;
}

void ControlRepository::command_handled(std::string_view inbox, int64_t chatwoot_message_id,
                                        int64_t now)
{
    handled_.bind(1, inbox).bind(2, chatwoot_message_id).bind(3, now);
    handled_.run();
}

}  // namespace chatwoot::store
