#include "read_mark_repository.hpp"

#include <algorithm>

namespace chatwoot::store {

ReadMarkRepository::ReadMarkRepository(Database& db)
    : db_(db),
      mark_of_(db.prepare("SELECT read_up_to FROM wa_read_marks"
                          " WHERE inbox = ?1 AND chat = ?2")),
      newest_(db.prepare("SELECT coalesce(max(id), 0) FROM wa_inbound"
                         " WHERE inbox = ?1 AND chat = ?2 AND id > ?3"
                         " AND state <> 'pending'")),
      // The record is the device's JSON (bridge/wa_message_json.hpp): a
      // plain message has no "kind"; from_me is false or absent.  Retention
      // empties the records of old rows (json_extract would fail on them):
      // those are long read, and passed over.
      // Receipts go back in the form the message came in (wa_chat,
      // wa_sender), which the record keeps when it differs.
      messages_(db.prepare("SELECT wa_id, sender, wa_chat, wa_sender FROM ("
                           " SELECT id, wa_id,"
                           "  CASE WHEN record = '' THEN NULL"
                           "   ELSE coalesce(json_extract(record, '$.sender'), chat) END AS sender,"
                           "  CASE WHEN record = '' THEN chat"
                           "   ELSE coalesce(json_extract(record, '$.wa_chat'), chat) END AS wa_chat,"
                           "  CASE WHEN record = '' THEN NULL"
                           "   ELSE coalesce(json_extract(record, '$.wa_sender'),"
                           "    json_extract(record, '$.sender'), chat) END AS wa_sender,"
                           "  CASE WHEN record = '' THEN 'gone'"
                           "   ELSE coalesce(json_extract(record, '$.kind'), 'message') END AS kind,"
                           "  CASE WHEN record = '' THEN 1"
                           "   ELSE coalesce(json_extract(record, '$.from_me'), 0) END AS mine"
                           " FROM wa_inbound"
                           " WHERE inbox = ?1 AND chat = ?2 AND id > ?3 AND id <= ?4"
                           " AND state <> 'pending')"
                           " WHERE kind = 'message' AND mine = 0"
                           " ORDER BY id DESC LIMIT ?5")),
      mark_(db.prepare("INSERT INTO wa_read_marks (inbox, chat, read_up_to)"
                       " VALUES (?1, ?2, ?3)"
                       " ON CONFLICT (inbox, chat) DO UPDATE SET"
                       " read_up_to = max(read_up_to, excluded.read_up_to)"))
{
}

ReadMarkRepository::Unread ReadMarkRepository::unread(std::string_view inbox,
                                                      std::string_view chat, size_t limit)
{
    Unread out;
    const int64_t mark = mark_of_.bind(1, inbox).bind(2, chat).scalar();
    out.up_to = newest_.bind(1, inbox).bind(2, chat).bind(3, mark).scalar();
    if (out.up_to <= mark) {
        out.up_to = 0;
        return out;
    }
    messages_.bind(1, inbox).bind(2, chat).bind(3, mark).bind(4, out.up_to)
        .bind(5, static_cast<int64_t>(limit));
    messages_.each_row([&](const Statement& st) {
        out.messages.push_back(
            Message{st.column_text(0), st.column_text(1), st.column_text(2), st.column_text(3)});
    });
    std::reverse(out.messages.begin(), out.messages.end());
    return out;
}

void ReadMarkRepository::mark(std::string_view inbox, std::string_view chat, int64_t up_to)
{
    mark_.bind(1, inbox).bind(2, chat).bind(3, up_to);
    mark_.run();
}

}  // namespace chatwoot::store
