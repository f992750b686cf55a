#include "history_reader.hpp"

#include <algorithm>
#include <tuple>

namespace chatwoot::store {

namespace {

constexpr const char* kWindow =
    "SELECT m.chat, coalesce(c.name, ''), coalesce(c.pn_jid, ''), coalesce(c.lid_jid, ''),"
    "       count(*), min(m.timestamp)"
    " FROM history_messages m"
    " LEFT JOIN history_chats c ON c.inbox = m.inbox AND c.jid = m.chat"
    " WHERE m.inbox = ?1 AND m.timestamp >= ?2";

std::optional<std::string> optional_text(Statement& st)
{
    std::optional<std::string> out;
    st.each_row([&](const Statement& row) { out = row.column_text(0); });
    return out;
}

HistoryChat read_chat(const Statement& row)
{
    return HistoryChat{row.column_text(0), row.column_text(1), row.column_text(2),
                       row.column_text(3), row.column_int(4), row.column_int(5)};
}

}  // namespace

HistoryReader::HistoryReader(Database& db, std::string inbox)
    : db_(db),
      inbox_(std::move(inbox)),
      window_(db.prepare(std::string(kWindow)
                         + " AND m.chat NOT LIKE '%@g.us'"
                           " GROUP BY m.chat ORDER BY min(m.timestamp), m.chat")),
      window_groups_(db.prepare(std::string(kWindow)
                                + " GROUP BY m.chat ORDER BY min(m.timestamp), m.chat")),
      all_(db.prepare("SELECT jid, name, pn_jid, lid_jid, 0, 0 FROM history_chats"
                      " WHERE inbox = ?1 ORDER BY jid")),
      one_(db.prepare("SELECT jid, name, pn_jid, lid_jid, 0, 0 FROM history_chats"
                      " WHERE inbox = ?1 AND jid = ?2")),
      page_(db.prepare("SELECT id, from_me, participant, timestamp, push_name, text, kind,"
                       " caption, media FROM history_messages"
                       " WHERE inbox = ?1 AND chat IN (?2, ?7) AND timestamp >= ?3"
                       "   AND (timestamp > ?4 OR (timestamp = ?4 AND id > ?5))"
                       " ORDER BY timestamp, id LIMIT ?6")),
      push_name_(db.prepare("SELECT name FROM history_push_names WHERE inbox = ?1 AND jid = ?2")),
      lid_for_pn_(db.prepare("SELECT lid FROM wa_lid_map WHERE device = ?1 AND pn = ?2")),
      pn_for_lid_(db.prepare("SELECT pn FROM wa_lid_map WHERE device = ?1 AND lid = ?2"))
{
}

std::vector<HistoryChat> HistoryReader::chats_in_window(int64_t since, bool groups)
{
    Statement& st = groups ? window_groups_ : window_;
    std::vector<HistoryChat> out;
    st.bind(1, std::string_view(inbox_)).bind(2, since).each_row([&](const Statement& row) {
        out.push_back(read_chat(row));
    });
    return out;
}

std::vector<HistoryChat> HistoryReader::all_chats()
{
    std::vector<HistoryChat> out;
    all_.bind(1, std::string_view(inbox_)).each_row([&](const Statement& row) {
        out.push_back(read_chat(row));
    });
    return out;
}

std::optional<HistoryChat> HistoryReader::chat(std::string_view jid)
{
    std::optional<HistoryChat> out;
    one_.bind(1, std::string_view(inbox_)).bind(2, jid).each_row([&](const Statement& row) {
        out = read_chat(row);
    });
    return out;
}

std::vector<HistoryMessage> HistoryReader::page(const std::vector<std::string>& chats,
                                                int64_t since, int64_t after_timestamp,
                                                std::string_view after_id, size_t limit)
{
    std::vector<HistoryMessage> out;
    if (chats.empty()) {
        return out;
    }
    if (chats.size() > 2) {
        // More forms than the statement takes (a person's PN, the LID a
        // mapping names and another one a history chat names): a page of
        // each, merged in time order.
        for (size_t i = 0; i < chats.size(); i += 2) {
            std::vector<std::string> pair(chats.begin() + i,
                                          chats.begin() + std::min(i + 2, chats.size()));
            for (auto& m : page(pair, since, after_timestamp, after_id, limit)) {
                out.push_back(std::move(m));
            }
        }
        std::stable_sort(out.begin(), out.end(), [](const HistoryMessage& a, const HistoryMessage& b) {
            return std::tie(a.timestamp, a.id) < std::tie(b.timestamp, b.id);
        });
        if (out.size() > limit) out.resize(limit);
        return out;
    }
    page_.bind(1, std::string_view(inbox_))
        .bind(2, std::string_view(chats[0]))
        .bind(7, std::string_view(chats.size() > 1 ? chats[1] : chats[0]))
        .bind(3, since)
        .bind(4, after_timestamp)
        .bind(5, after_id)
        .bind(6, static_cast<int64_t>(limit))
        .each_row([&](const Statement& row) {
            HistoryMessage m;
            m.id = row.column_text(0);
            m.from_me = row.column_int(1) != 0;
            m.participant = row.column_text(2);
            m.timestamp = row.column_int(3);
            m.push_name = row.column_text(4);
            if (!row.column_is_null(5)) m.text = row.column_text(5);
            m.kind = row.column_text(6);
            m.caption = row.column_text(7);
            if (!row.column_is_null(8)) m.media = row.column_text(8);
            out.push_back(std::move(m));
        });
    return out;
}

std::string HistoryReader::push_name(std::string_view jid)
{
    push_name_.bind(1, std::string_view(inbox_)).bind(2, jid);
    return optional_text(push_name_).value_or("");
}

std::optional<std::string> HistoryReader::lid_for_pn(std::string_view pn_user)
{
    lid_for_pn_.bind(1, std::string_view(inbox_)).bind(2, pn_user);
    return optional_text(lid_for_pn_);
}

std::optional<std::string> HistoryReader::pn_for_lid(std::string_view lid_user)
{
    pn_for_lid_.bind(1, std::string_view(inbox_)).bind(2, lid_user);
    return optional_text(pn_for_lid_);
}

}  // namespace chatwoot::store
