#include "api_send_repository.hpp"

namespace chatwoot::store {

namespace {

constexpr const char* kColumns =
    "row, id, inbox, chat, text, idem_key, duplicate_of, wa_id, state, outbox_id,"
    " chatwoot_message_id, reason, created_at, updated_at";

std::string select(std::string_view rest)
{
    return std::string("SELECT ") + kColumns + " FROM api_sends " + std::string(rest);
}

void bind_text_or_null(Statement& st, int index, std::string_view v)
{
    if (v.empty()) {
        st.bind_null(index);
    } else {
        st.bind(index, v);
    }
}

void bind_int_or_null(Statement& st, int index, const std::optional<int64_t>& v)
{
    if (v) {
        st.bind(index, *v);
    } else {
        st.bind_null(index);
    }
}

}  // namespace

ApiSendRepository::ApiSendRepository(Database& db)
    : db_(db),
      add_(db.prepare("INSERT OR IGNORE INTO api_sends"
                      " (id, inbox, chat, text, idem_key, duplicate_of, wa_id, state,"
                      "  outbox_id, chatwoot_message_id, reason, created_at, updated_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")),
      find_(db.prepare(select("WHERE id = ?1"))),
      by_key_(db.prepare(select("WHERE idem_key = ?1 AND duplicate_of IS NULL"
                                " AND created_at >= ?2 ORDER BY row LIMIT 1"))),
      open_(db.prepare(select("WHERE (state = 'queued' OR state = 'posting'"
                              " OR state = 'sending') AND duplicate_of IS NULL"
                              " ORDER BY row LIMIT ?1"))),
      recent_(db.prepare(select("ORDER BY row DESC LIMIT ?1"))),
      update_(db.prepare("UPDATE api_sends SET chat = ?2, wa_id = ?3, state = ?4,"
                         " outbox_id = ?5, chatwoot_message_id = ?6, reason = ?7,"
                         " updated_at = ?8 WHERE row = ?1")),
      forwarded_(db.prepare("SELECT state, chatwoot_message_id, failure FROM wa_inbound"
                            " WHERE inbox = ?1 AND wa_id = ?2")),
      conversation_(db.prepare("SELECT conversation_id FROM chats"
                               " WHERE inbox = ?1 AND chat = ?2")),
      outbox_entry_(db.prepare("SELECT id FROM outbox WHERE inbox = ?1 AND action = 'send'"
                               " AND chatwoot_message_id = ?2")),
      outbox_facts_(db.prepare("SELECT state, failure FROM outbox WHERE id = ?1")),
      lid_for_pn_(db.prepare("SELECT lid FROM wa_lid_map WHERE device = ?1 AND pn = ?2")),
      pn_for_lid_(db.prepare("SELECT pn FROM wa_lid_map WHERE device = ?1 AND lid = ?2"))
{
}

ApiSend ApiSendRepository::read(const Statement& r)
{
    ApiSend s;
    s.row = r.column_int(0);
    s.id = r.column_text(1);
    s.inbox = r.column_text(2);
    s.chat = r.column_text(3);
    s.text = r.column_text(4);
    s.idem_key = r.column_text(5);
    s.duplicate_of = r.column_text(6);
    s.wa_id = r.column_text(7);
    s.state = r.column_text(8);
    s.outbox_id = r.column_optional_int(9);
    s.chatwoot_message_id = r.column_optional_int(10);
    s.reason = r.column_text(11);
    s.created_at = r.column_int(12);
    s.updated_at = r.column_int(13);
    return s;
}

bool ApiSendRepository::add(const ApiSend& s)
{
    add_.bind(1, std::string_view(s.id)).bind(2, std::string_view(s.inbox));
    add_.bind(3, std::string_view(s.chat)).bind(4, std::string_view(s.text));
    bind_text_or_null(add_, 5, s.idem_key);
    bind_text_or_null(add_, 6, s.duplicate_of);
    bind_text_or_null(add_, 7, s.wa_id);
    add_.bind(8, std::string_view(s.state));
    bind_int_or_null(add_, 9, s.outbox_id);
    bind_int_or_null(add_, 10, s.chatwoot_message_id);
    bind_text_or_null(add_, 11, s.reason);
    add_.bind(12, s.created_at).bind(13, s.updated_at);
    add_.run();
    return db_.changes() > 0;
}

std::optional<ApiSend> ApiSendRepository::find(std::string_view id)
{
    std::optional<ApiSend> out;
    find_.bind(1, id);
    find_.each_row([&](const Statement& r) { out = read(r); });
    return out;
}

std::optional<ApiSend> ApiSendRepository::first_with_key(std::string_view key, int64_t since)
{
    std::optional<ApiSend> out;
    by_key_.bind(1, key).bind(2, since);
    by_key_.each_row([&](const Statement& r) { out = read(r); });
    return out;
}

std::vector<ApiSend> ApiSendRepository::open(size_t limit)
{
    std::vector<ApiSend> out;
    open_.bind(1, static_cast<int64_t>(limit));
    open_.each_row([&](const Statement& r) { out.push_back(read(r)); });
    return out;
}

std::vector<ApiSend> ApiSendRepository::recent(size_t limit)
{
    std::vector<ApiSend> out;
    recent_.bind(1, static_cast<int64_t>(limit));
    recent_.each_row([&](const Statement& r) { out.push_back(read(r)); });
    return out;
}

void ApiSendRepository::update(const ApiSend& s)
{
    update_.bind(1, s.row).bind(2, std::string_view(s.chat));
    bind_text_or_null(update_, 3, s.wa_id);
    update_.bind(4, std::string_view(s.state));
    bind_int_or_null(update_, 5, s.outbox_id);
    bind_int_or_null(update_, 6, s.chatwoot_message_id);
    bind_text_or_null(update_, 7, s.reason);
    update_.bind(8, s.updated_at);
    update_.run();
}

std::optional<ApiSendRepository::Forwarded> ApiSendRepository::forwarded(std::string_view inbox,
                                                                         std::string_view wa_id)
{
    std::optional<Forwarded> out;
    forwarded_.bind(1, inbox).bind(2, wa_id);
    forwarded_.each_row([&](const Statement& r) {
        out = Forwarded{r.column_text(0), r.column_optional_int(1), r.column_text(2)};
    });
    return out;
}

std::optional<int64_t> ApiSendRepository::conversation_of(std::string_view inbox,
                                                          std::string_view chat)
{
    std::optional<int64_t> out;
    conversation_.bind(1, inbox).bind(2, chat);
    conversation_.each_row([&](const Statement& r) { out = r.column_optional_int(0); });
    return out;
}

std::optional<int64_t> ApiSendRepository::outbox_entry(std::string_view inbox,
                                                       int64_t chatwoot_message_id)
{
    std::optional<int64_t> out;
    outbox_entry_.bind(1, inbox).bind(2, chatwoot_message_id);
    outbox_entry_.each_row([&](const Statement& r) { out = r.column_int(0); });
    return out;
}

std::optional<ApiSendRepository::OutboxFacts> ApiSendRepository::outbox_facts(int64_t outbox_id)
{
    std::optional<OutboxFacts> out;
    outbox_facts_.bind(1, outbox_id);
    outbox_facts_.each_row(
        [&](const Statement& r) { out = OutboxFacts{r.column_text(0), r.column_text(1)}; });
    return out;
}

std::optional<std::string> ApiSendRepository::lid_for_pn(std::string_view device,
                                                         std::string_view pn_user)
{
    std::optional<std::string> out;
    lid_for_pn_.bind(1, device).bind(2, pn_user);
    lid_for_pn_.each_row([&](const Statement& r) { out = r.column_text(0); });
    return out;
}

std::optional<std::string> ApiSendRepository::pn_for_lid(std::string_view device,
                                                         std::string_view lid_user)
{
    std::optional<std::string> out;
    pn_for_lid_.bind(1, device).bind(2, lid_user);
    pn_for_lid_.each_row([&](const Statement& r) { out = r.column_text(0); });
    return out;
}

}  // namespace chatwoot::store
