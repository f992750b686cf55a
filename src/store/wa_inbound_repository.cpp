#include "wa_inbound_repository.hpp"

#include "filed_clock.hpp"

#include <unordered_set>

namespace chatwoot::store {

namespace {

void bind_optional(Statement& st, int index, const std::optional<int64_t>& v)
{
    if (v) {
        st.bind(index, *v);
    } else {
        st.bind_null(index);
    }
}

}  // namespace

WaInboundRepository::WaInboundRepository(Database& db)
    : db_(db),
      insert_(db.prepare("INSERT OR IGNORE INTO wa_inbound"
                         " (inbox, wa_id, chat, record, created_at)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)")),
      pending_chats_(db.prepare("SELECT chat FROM wa_inbound INDEXED BY wa_inbound_pending_order"
                                " WHERE inbox = ?1 AND state = 'pending' ORDER BY id")),
      oldest_(db.prepare("SELECT id, record FROM wa_inbound"
                         " WHERE inbox = ?1 AND chat = ?2 AND state = 'pending'"
                         " ORDER BY id LIMIT 1")),
      settle_(db.prepare("UPDATE wa_inbound SET state = ?2,"
                         " chatwoot_message_id = ?3, failure = ?4"
                         " WHERE id = ?1 AND state = 'pending'")),
      save_chat_(db.prepare("INSERT INTO chats (inbox, chat, contact_id, conversation_id)"
                            " VALUES (?1, ?2, ?3, ?4)"
                            " ON CONFLICT (inbox, chat) DO UPDATE SET"
                            " contact_id = excluded.contact_id,"
                            " conversation_id = excluded.conversation_id")),
      chat_(db.prepare("SELECT contact_id, conversation_id FROM chats"
                       " WHERE inbox = ?1 AND chat = ?2")),
      count_(db.prepare("SELECT count(*) FROM wa_inbound WHERE state = ?1")),
      // A posted row of an event that made no message (a revoke, a read)
      // has no Chatwoot id of its own: 0 is not one.
      message_of_(db.prepare("SELECT chatwoot_message_id FROM wa_inbound"
                             " WHERE inbox = ?1 AND wa_id = ?2 AND state = 'posted'"
                             " AND chatwoot_message_id > 0"
                             " UNION ALL SELECT chatwoot_message_id FROM wa_sent"
                             " WHERE inbox = ?1 AND wa_id = ?2 LIMIT 1")),
      chat_of_conversation_(db.prepare("SELECT chat FROM chats"
                                       " WHERE inbox = ?1 AND conversation_id = ?2"
                                       " LIMIT 1")),
      // Records are the devices' JSON, or '' once retention emptied them
      // (json_extract fails on '').
      previous_reaction_(db.prepare(
          "SELECT CASE WHEN record = '' THEN '' ELSE"
          " coalesce(json_extract(record, '$.text'), '') END FROM wa_inbound"
          " WHERE inbox = ?1 AND chat = ?2 AND id < ?5"
          " AND CASE WHEN record = '' THEN 0 ELSE"
          "  json_extract(record, '$.kind') = 'reaction'"
          "  AND json_extract(record, '$.target') = ?4"
          "  AND json_extract(record, '$.sender') = ?3 END"
          " ORDER BY id DESC LIMIT 1")),
      // Pending rows only: the partial index covers them, and a posted
      // message has left its chats row behind.
      has_chat_(db.prepare("SELECT EXISTS (SELECT 1 FROM chats WHERE inbox = ?1 AND chat = ?2)"
                           " OR EXISTS (SELECT 1 FROM wa_inbound WHERE inbox = ?1 AND chat = ?2"
                           " AND state = 'pending')"))
{
}

bool WaInboundRepository::add(std::string_view inbox, std::string_view wa_id,
                              std::string_view chat, std::string_view record,
                              int64_t now)
{
    insert_.bind(1, inbox).bind(2, wa_id).bind(3, chat).bind(4, record).bind(5, now);
    insert_.run();
    if (db_.changes() == 0) {
        return false;
    }
    // To the microsecond, for the metrics (a rolled-back row's id is
    // marked again by the row that takes it next).
    wa_inbound_filed().mark(sqlite3_last_insert_rowid(db_.raw()), unix_usec_now());
    return true;
}

std::vector<std::string> WaInboundRepository::pending_chats(
    std::string_view inbox, size_t limit, const std::function<bool(const std::string&)>& skip)
{
    // Pending rows oldest first, each chat taken at its first (oldest) row,
    // until `limit` chats: the rows read are about as many as the chats
    // wanted, not every pending row (a burst leaves thousands).
    std::vector<std::string> out;
    if (limit == 0) return out;
    std::unordered_set<std::string> seen;
    pending_chats_.bind(1, inbox);
    try {
        while (out.size() < limit && pending_chats_.step()) {
            std::string chat = pending_chats_.column_text(0);
            if (!seen.insert(chat).second) continue;
            if (skip && skip(chat)) continue;
            out.push_back(std::move(chat));
        }
    } catch (...) {
        pending_chats_.reset();
        throw;
    }
    pending_chats_.reset();
    return out;
}

std::optional<WaInboundRepository::Pending>
WaInboundRepository::oldest_pending(std::string_view inbox, std::string_view chat)
{
    oldest_.bind(1, inbox).bind(2, chat);
    std::optional<Pending> out;
    oldest_.each_row([&](const Statement& st) {
        out = Pending{st.column_int(0), st.column_text(1)};
    });
    return out;
}

void WaInboundRepository::settle(int64_t id, bool posted, int64_t chatwoot_message_id,
                                 std::string_view failure, std::string_view inbox,
                                 std::string_view chat, const ChatRow& mapping)
{
    // A settle lost to a power cut leaves the row pending, and a helper
    // looks such inherited rows up in Chatwoot before posting them: a
    // look-up more, never a duplicate.  So the fsync per message (the
    // bridge's bottleneck) is left to the next ordinary commit.
    const Settlement one{id, posted, chatwoot_message_id, std::string(failure),
                         std::string(chat), mapping};
    settle_all(inbox, std::span<const Settlement>(&one, 1));
}

void WaInboundRepository::save_chat(std::string_view inbox, std::string_view chat,
                                    const ChatRow& mapping)
{
    save_chat_.bind(1, inbox).bind(2, chat);
    bind_optional(save_chat_, 3, mapping.contact_id);
    bind_optional(save_chat_, 4, mapping.conversation_id);
    save_chat_.run();
}

void WaInboundRepository::settle_all(std::string_view inbox,
                                     std::span<const Settlement> settlements)
{
    if (settlements.empty()) return;
    RelaxedSync relaxed(db_);
    Transaction tx(db_);
    for (const Settlement& s : settlements) {
        settle_.bind(1, s.id).bind(2, std::string_view(s.posted ? "posted" : "failed"));
        if (s.posted) {
            settle_.bind(3, s.chatwoot_message_id).bind_null(4);
        } else {
            settle_.bind_null(3).bind(4, s.failure);
        }
        settle_.run();
        save_chat_.bind(1, inbox).bind(2, s.chat);
        bind_optional(save_chat_, 3, s.mapping.contact_id);
        bind_optional(save_chat_, 4, s.mapping.conversation_id);
        save_chat_.run();
    }
    tx.commit();
}

ChatRow WaInboundRepository::chat(std::string_view inbox, std::string_view chat)
{
    chat_.bind(1, inbox).bind(2, chat);
    ChatRow row;
    chat_.each_row([&](const Statement& st) {
        row.contact_id = st.column_optional_int(0);
        row.conversation_id = st.column_optional_int(1);
    });
    return row;
}

std::optional<int64_t> WaInboundRepository::chatwoot_message_of(std::string_view inbox,
                                                                std::string_view wa_id)
{
    message_of_.bind(1, inbox).bind(2, wa_id);
    std::optional<int64_t> out;
    message_of_.each_row([&](const Statement& st) { out = st.column_int(0); });
    return out;
}

std::string WaInboundRepository::previous_reaction(std::string_view inbox, std::string_view chat,
                                                   std::string_view sender,
                                                   std::string_view target, int64_t before_id)
{
    previous_reaction_.bind(1, inbox).bind(2, chat).bind(3, sender).bind(4, target)
        .bind(5, before_id);
    std::string out;
    previous_reaction_.each_row([&](const Statement& st) { out = st.column_text(0); });
    return out;
}

std::optional<std::string> WaInboundRepository::chat_of_conversation(std::string_view inbox,
                                                                     int64_t conversation_id)
{
    chat_of_conversation_.bind(1, inbox).bind(2, conversation_id);
    std::optional<std::string> out;
    chat_of_conversation_.each_row([&](const Statement& st) { out = st.column_text(0); });
    return out;
}

int64_t WaInboundRepository::last_id()
{
    return db_.prepare("SELECT coalesce(max(id), 0) FROM wa_inbound").scalar();
}

uint64_t WaInboundRepository::count(std::string_view state)
{
    count_.bind(1, state);
    return static_cast<uint64_t>(count_.scalar());
}

}  // namespace chatwoot::store

namespace chatwoot::store {

bool WaInboundRepository::has_chat(std::string_view inbox, std::string_view chat)
{
    has_chat_.bind(1, inbox).bind(2, chat);
    return has_chat_.scalar() != 0;
}

}  // namespace chatwoot::store
