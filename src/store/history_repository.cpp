#include "history_repository.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace chatwoot::store {

namespace {

namespace h = wa::history;

constexpr std::string_view kNctSalt = "nct_salt";  // message_sender.cpp reads it there

std::string hex(std::string_view bytes)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// A media message's download facts, as the live path's rows name them
// (bridge/wa_message_json.cpp: hex keys and hashes).
std::string media_json(const wa::message::MediaRef& m)
{
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&](const char* key, std::string_view value) {
        w.Key(key);
        w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    };
    w.StartObject();
    str("type", m.type);
    str("media_key", hex(m.media_key));
    if (!m.file_sha256.empty()) str("file_sha256", hex(m.file_sha256));
    if (!m.file_enc_sha256.empty()) str("file_enc_sha256", hex(m.file_enc_sha256));
    if (m.file_length) {
        w.Key("file_length");
        w.Uint64(*m.file_length);
    }
    if (!m.direct_path.empty()) str("direct_path", m.direct_path);
    if (!m.url.empty()) str("url", m.url);
    if (!m.mimetype.empty()) str("mimetype", m.mimetype);
    if (!m.file_name.empty()) str("file_name", m.file_name);
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

// "<user>@<server>" -> user, for the server named; nullopt otherwise.
std::optional<std::string_view> user_of(std::string_view jid, std::string_view server)
{
    const auto at = jid.find('@');
    if (at == std::string_view::npos || at == 0 || jid.substr(at + 1) != server) return std::nullopt;
    std::string_view user = jid.substr(0, at);
    // A device suffix ("user:3") names the same user.
    if (auto colon = user.find(':'); colon != std::string_view::npos) user = user.substr(0, colon);
    return user;
}

int64_t clamp64(std::uint64_t v)
{
    return v > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}

}  // namespace

std::string_view history_sync_type_name(h::HistorySyncType type)
{
    switch (type) {
    case h::HistorySyncType::initial_bootstrap: return "initial_bootstrap";
    case h::HistorySyncType::initial_status_v3: return "initial_status_v3";
    case h::HistorySyncType::full: return "full";
    case h::HistorySyncType::recent: return "recent";
    case h::HistorySyncType::push_name: return "push_name";
    case h::HistorySyncType::non_blocking_data: return "non_blocking_data";
    case h::HistorySyncType::on_demand: return "on_demand";
    case h::HistorySyncType::unknown: break;
    }
    return "unknown";
}

HistoryRepository::HistoryRepository(Database& db, std::string inbox, SignalStore& signal)
    : db_(db),
      inbox_(std::move(inbox)),
      signal_(signal),
      // A later chunk may name a chat again: what it says now wins, what
      // it leaves out stays.
      chat_(db.prepare(
          "INSERT INTO history_chats (inbox, jid, name, pn_jid, lid_jid, updated_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (inbox, jid) DO UPDATE SET"
          " name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE name END,"
          " pn_jid = CASE WHEN excluded.pn_jid <> '' THEN excluded.pn_jid ELSE pn_jid END,"
          " lid_jid = CASE WHEN excluded.lid_jid <> '' THEN excluded.lid_jid ELSE lid_jid END,"
          " updated_at = excluded.updated_at")),
      message_(db.prepare(
          "INSERT INTO history_messages (inbox, chat, id, from_me, participant, timestamp,"
          " push_name, text, kind, caption, media, stored_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
          " ON CONFLICT (inbox, chat, id) DO NOTHING")),
      push_name_(db.prepare(
          "INSERT INTO history_push_names (inbox, jid, name) VALUES (?1, ?2, ?3)"
          " ON CONFLICT (inbox, jid) DO UPDATE SET name = excluded.name")),
      // As a privacy_token notification keeps it (message_receiver.cpp):
      // an older token never replaces a newer one.
      token_(db.prepare(
          "INSERT INTO wa_privacy_tokens (device, lid, token, t) VALUES (?1, ?2, ?3, ?4)"
          " ON CONFLICT (device, lid) DO UPDATE SET token = excluded.token, t = excluded.t"
          " WHERE excluded.t >= wa_privacy_tokens.t")),
      chunk_(db.prepare(
          "INSERT INTO history_chunks (inbox, sync_type, chunk_order, progress, conversations,"
          " messages, stored_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")),
      add_pending_(db.prepare(
          "INSERT OR IGNORE INTO history_pending (stanza, inbox, notification, node, kept_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5)")),
      all_pending_(db.prepare(
          "SELECT stanza, notification, node FROM history_pending WHERE inbox = ?1 ORDER BY stanza")),
      one_pending_(db.prepare(
          "SELECT stanza, notification, node FROM history_pending WHERE inbox = ?1 AND stanza = ?2")),
      drop_pending_(db.prepare("DELETE FROM history_pending WHERE stanza = ?1")),
      owe_receipt_(db.prepare(
          "UPDATE wa_stanzas SET receipt = 'hist_sync', node = ?2 WHERE id = ?1"))
{
}

HistoryRepository::Stored HistoryRepository::store_chunk(const h::HistorySyncData& chunk,
                                                         int64_t now)
{
    Stored out;
    UnitOfWork unit(db_);
    // Pairs first: a conversation's token is kept under its LID, which a
    // pair of this chunk may be the only one to name.
    auto map = [&](std::string_view pn_jid, std::string_view lid_jid) {
        auto pn = user_of(pn_jid, "s.whatsapp.net");
        auto lid = user_of(lid_jid, "lid");
        if (!pn || !lid) return false;
        signal_.map_lid(*pn, *lid);
        return true;
    };
    for (const h::HistoryJidMapping& m : chunk.jid_mappings)
        if (map(m.pn_jid, m.lid_jid)) ++out.mappings;

    std::size_t messages = 0;
    for (const h::HistoryConversation& c : chunk.conversations) {
        if (c.jid.empty()) continue;
        if (!c.pn_jid.empty()) (void) map(c.pn_jid, c.jid);
        if (!c.lid_jid.empty()) (void) map(c.jid, c.lid_jid);
        chat_.bind(1, inbox_).bind(2, c.jid).bind(3, c.name).bind(4, c.pn_jid).bind(5, c.lid_jid)
            .bind(6, now).run();
        ++out.chats;

        if (!c.tc_token.empty()) {
            std::optional<std::string> lid;
            if (user_of(c.jid, "lid")) lid = c.jid;
            else if (!c.lid_jid.empty()) lid = c.lid_jid;
            else if (auto pn = user_of(c.jid, "s.whatsapp.net"))
                if (auto mapped = signal_.lid_for_pn(*pn)) lid = *mapped + "@lid";
            if (lid) {
                token_.bind(1, inbox_).bind(2, *lid)
                    .bind_blob(3, std::span<const unsigned char>(c.tc_token.data(), c.tc_token.size()))
                    .bind(4, clamp64(c.tc_token_timestamp)).run();
                ++out.tokens;
            }
        }

        for (const h::HistoryMessage& m : c.messages) {
            ++messages;
            message_.bind(1, inbox_).bind(2, c.jid).bind(3, m.id).bind(4, int64_t{m.from_me ? 1 : 0})
                .bind(5, m.participant).bind(6, clamp64(m.timestamp)).bind(7, m.push_name);
            if (m.text) message_.bind(8, *m.text);
            else message_.bind_null(8);
            message_.bind(9, m.kind).bind(10, m.caption);
            if (m.media) message_.bind(11, media_json(*m.media));
            else message_.bind_null(11);
            message_.bind(12, now).run();
            if (db_.changes() > 0) ++out.messages;
            else ++out.duplicates;
        }
    }
    for (const h::HistoryPushName& p : chunk.push_names) {
        if (p.jid.empty()) continue;
        push_name_.bind(1, inbox_).bind(2, p.jid).bind(3, p.name).run();
        ++out.push_names;
    }
    if (!chunk.nct_salt.empty()) {
        signal_.put_value(kNctSalt, wa::ByteView(chunk.nct_salt));
        out.nct_salt = true;
    }
    chunk_.bind(1, inbox_).bind(2, history_sync_type_name(chunk.type))
        .bind(3, int64_t{chunk.chunk_order}).bind(4, int64_t{chunk.progress})
        .bind(5, static_cast<int64_t>(chunk.conversations.size()))
        .bind(6, static_cast<int64_t>(messages)).bind(7, now).run();
    unit.commit();
    return out;
}

void HistoryRepository::add_pending(int64_t stanza, std::span<const unsigned char> notification,
                                    std::span<const unsigned char> node, int64_t now)
{
    add_pending_.bind(1, stanza).bind(2, inbox_).bind_blob(3, notification).bind_blob(4, node)
        .bind(5, now).run();
}

namespace {

HistoryRepository::Pending pending_row(const Statement& row)
{
    HistoryRepository::Pending p;
    p.stanza = row.column_int(0);
    p.notification = row.column_blob(1);
    p.node = row.column_blob(2);
    return p;
}

}  // namespace

std::vector<HistoryRepository::Pending> HistoryRepository::pending()
{
    std::vector<Pending> out;
    all_pending_.bind(1, inbox_);
    all_pending_.each_row([&](const Statement& row) { out.push_back(pending_row(row)); });
    return out;
}

std::optional<HistoryRepository::Pending> HistoryRepository::pending(int64_t stanza)
{
    std::optional<Pending> out;
    one_pending_.bind(1, inbox_).bind(2, stanza);
    one_pending_.each_row([&](const Statement& row) { out = pending_row(row); });
    return out;
}

void HistoryRepository::settle_pending(int64_t stanza)
{
    auto p = pending(stanza);
    if (!p) return;
    UnitOfWork unit(db_);
    owe_receipt_.bind(1, stanza).bind_blob(2, p->node).run();
    drop_pending_.bind(1, stanza).run();
    unit.commit();
}

}  // namespace chatwoot::store
