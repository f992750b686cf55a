#include "send_state_repository.hpp"

#include <utility>

namespace chatwoot::store {

SendStateRepository::SendStateRepository(Database& db, std::string device)
    : db_(db),
      device_(std::move(device)),
      device_list_(db.raw(), "SELECT devices FROM wa_device_lists WHERE device = ?1 AND user = ?2"),
      put_device_list_(db.raw(),
                       "INSERT INTO wa_device_lists (device, user, devices, fetched_at) VALUES "
                       "(?1, ?2, ?3, ?4) ON CONFLICT (device, user) DO UPDATE SET devices = "
                       "excluded.devices, fetched_at = excluded.fetched_at"),
      drop_device_list_(db.raw(), "DELETE FROM wa_device_lists WHERE device = ?1 AND user = ?2"),
      group_info_(db.raw(), "SELECT info FROM wa_group_info WHERE device = ?1 AND group_jid = ?2"),
      put_group_info_(db.raw(),
                      "INSERT INTO wa_group_info (device, group_jid, info, fetched_at) VALUES "
                      "(?1, ?2, ?3, ?4) ON CONFLICT (device, group_jid) DO UPDATE SET info = "
                      "excluded.info, fetched_at = excluded.fetched_at"),
      drop_group_info_(db.raw(), "DELETE FROM wa_group_info WHERE device = ?1 AND group_jid = ?2"),
      holds_(db.raw(), "SELECT count(*) FROM wa_sender_key_holders WHERE device = ?1 AND "
                       "group_jid = ?2 AND member = ?3"),
      add_holder_(db.raw(), "INSERT OR IGNORE INTO wa_sender_key_holders (device, group_jid, "
                            "member) VALUES (?1, ?2, ?3)"),
      drop_holders_(db.raw(),
                    "DELETE FROM wa_sender_key_holders WHERE device = ?1 AND group_jid = ?2"),
      // "user@server" (device 0) and "user:N@server": matched by prefix and
      // suffix rather than LIKE, whose wildcards the text would need escaped.
      drop_holder_user_(db.raw(),
                        "DELETE FROM wa_sender_key_holders WHERE device = ?1 AND (member = ?2 OR "
                        "(substr(member, 1, length(?3)) = ?3 AND substr(member, -length(?4)) = ?4))"),
      token_(db.raw(), "SELECT token, t, issued FROM wa_privacy_tokens WHERE device = ?1 AND lid = ?2"),
      token_issued_(db.raw(),
                    "INSERT INTO wa_privacy_tokens (device, lid, token, t, issued) VALUES (?1, ?2, "
                    "x'', 0, ?3) ON CONFLICT (device, lid) DO UPDATE SET issued = excluded.issued"),
      put_recent_(db.raw(),
                  "INSERT INTO wa_recent_sends (device, id, chat, message, sent_at) VALUES (?1, "
                  "?2, ?3, ?4, ?5) ON CONFLICT (device, id) DO UPDATE SET chat = excluded.chat, "
                  "message = excluded.message"),
      recent_(db.raw(), "SELECT chat, message FROM wa_recent_sends WHERE device = ?1 AND id = ?2"),
      // wa_inbound's record is the device's JSON (bridge/wa_message_json),
      // '' once retention emptied it; an inbox's device is named as it is.
      quoted_author_(db.raw(),
                     "SELECT CASE WHEN record = '' THEN chat ELSE coalesce("
                     "json_extract(record, '$.wa_sender'), json_extract(record, '$.sender'), chat)"
                     " END, CASE WHEN record = '' THEN 0 ELSE"
                     " coalesce(json_extract(record, '$.from_me'), 0) END"
                     " FROM wa_inbound WHERE inbox = ?1 AND wa_id = ?2"
                     " UNION ALL SELECT '', 1 FROM wa_sent WHERE inbox = ?1 AND wa_id = ?2"
                     " LIMIT 1")
{
}

namespace {

std::optional<std::string> one_text(Statement& st)
{
    std::optional<std::string> out;
    st.each_row([&](const Statement& row) { out = row.column_text(0); });
    return out;
}

}  // namespace

std::optional<std::string> SendStateRepository::device_list(std::string_view user)
{
    device_list_.bind(1, device_).bind(2, user);
    return one_text(device_list_);
}

void SendStateRepository::put_device_list(std::string_view user, std::string_view devices,
                                          int64_t now)
{
    put_device_list_.bind(1, device_).bind(2, user).bind(3, devices).bind(4, now);
    put_device_list_.run();
}

void SendStateRepository::drop_device_list(std::string_view user)
{
    drop_device_list_.bind(1, device_).bind(2, user);
    drop_device_list_.run();
}

std::optional<std::string> SendStateRepository::group_info(std::string_view group)
{
    group_info_.bind(1, device_).bind(2, group);
    return one_text(group_info_);
}

void SendStateRepository::put_group_info(std::string_view group, std::string_view info,
                                         int64_t now)
{
    put_group_info_.bind(1, device_).bind(2, group).bind(3, info).bind(4, now);
    put_group_info_.run();
}

void SendStateRepository::drop_group_info(std::string_view group)
{
    drop_group_info_.bind(1, device_).bind(2, group);
    drop_group_info_.run();
}

bool SendStateRepository::holds_sender_key(std::string_view group, std::string_view member)
{
    holds_.bind(1, device_).bind(2, group).bind(3, member);
    return holds_.scalar() > 0;
}

void SendStateRepository::add_sender_key_holder(std::string_view group, std::string_view member)
{
    add_holder_.bind(1, device_).bind(2, group).bind(3, member);
    add_holder_.run();
}

void SendStateRepository::drop_sender_key_holders(std::string_view group)
{
    drop_holders_.bind(1, device_).bind(2, group);
    drop_holders_.run();
}

void SendStateRepository::drop_sender_key_holder_user(std::string_view user)
{
    const auto at = user.find('@');
    if (at == std::string_view::npos || at == 0) return;
    const std::string prefix = std::string(user.substr(0, at)) + ":";
    const std::string suffix(user.substr(at));
    drop_holder_user_.bind(1, device_).bind(2, user).bind(3, prefix).bind(4, suffix);
    drop_holder_user_.run();
}

std::optional<SendStateRepository::PrivacyToken> SendStateRepository::privacy_token(
    std::string_view lid)
{
    std::optional<PrivacyToken> out;
    token_.bind(1, device_).bind(2, lid);
    token_.each_row([&](const Statement& row) {
        PrivacyToken t;
        t.token = row.column_blob(0);
        t.t = row.column_int(1);
        t.issued = row.column_optional_int(2);
        out = std::move(t);
    });
    return out;
}

void SendStateRepository::token_issued(std::string_view lid, int64_t now)
{
    token_issued_.bind(1, device_).bind(2, lid).bind(3, now);
    token_issued_.run();
}

void SendStateRepository::put_recent_send(std::string_view id, std::string_view chat,
                                          std::span<const unsigned char> message, int64_t now)
{
    put_recent_.bind(1, device_).bind(2, id).bind(3, chat).bind_blob(4, message).bind(5, now);
    put_recent_.run();
}

std::optional<SendStateRepository::RecentSend> SendStateRepository::recent_send(std::string_view id)
{
    std::optional<RecentSend> out;
    recent_.bind(1, device_).bind(2, id);
    recent_.each_row([&](const Statement& row) {
        out = RecentSend{row.column_text(0), row.column_blob(1)};
    });
    return out;
}

std::optional<SendStateRepository::QuotedAuthor> SendStateRepository::quoted_author(
    std::string_view wa_id)
{
    std::optional<QuotedAuthor> out;
    quoted_author_.bind(1, device_).bind(2, wa_id);
    quoted_author_.each_row([&](const Statement& row) {
        QuotedAuthor a;
        a.ours = row.column_int(1) != 0;
        if (!a.ours) a.jid = row.column_text(0);
        out = std::move(a);
    });
    return out;
}

}  // namespace chatwoot::store
