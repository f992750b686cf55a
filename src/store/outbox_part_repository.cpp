#include "outbox_part_repository.hpp"

#include <span>

namespace chatwoot::store {

namespace {

std::span<const unsigned char> bytes(const std::string& s)
{
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

std::string blob_at(const Statement& st, int i)
{
    auto b = st.column_blob(i);
    return std::string(b.begin(), b.end());
}

}  // namespace

OutboxPartRepository::OutboxPartRepository(Database& db)
    : db_(db),
      insert_(db.prepare(
          "INSERT OR IGNORE INTO outbox_parts (outbox_id, part, wa_id, caption_wa_id, data_url,"
          " file_type, content_type, file_name, file_size, media_key)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")),
      select_(db.prepare(
          "SELECT outbox_id, part, wa_id, coalesce(caption_wa_id, ''), caption_sent, data_url,"
          " file_type, content_type, file_name, file_size, state, coalesce(failure, ''),"
          " media_key, coalesce(path, ''), coalesce(kind, ''), coalesce(mimetype, ''),"
          " coalesce(sent_file_name, ''), thumbnail, width, height, seconds, waveform,"
          " gif_playback, coalesce(url, ''), coalesce(direct_path, ''), file_sha256,"
          " file_enc_sha256, coalesce(file_length, 0), coalesce(media_key_timestamp, 0)"
          " FROM outbox_parts WHERE outbox_id = ?1 ORDER BY part")),
      prepared_(db.prepare(
          "UPDATE outbox_parts SET state = 'prepared', path = ?3, kind = ?4, mimetype = ?5,"
          " sent_file_name = ?6, thumbnail = ?7, width = ?8, height = ?9, seconds = ?10,"
          " waveform = ?11, gif_playback = ?12"
          " WHERE outbox_id = ?1 AND part = ?2 AND state = 'fetching'")),
      uploaded_(db.prepare(
          "UPDATE outbox_parts SET state = 'uploaded', url = ?3, direct_path = ?4,"
          " file_sha256 = ?5, file_enc_sha256 = ?6, file_length = ?7, media_key_timestamp = ?8"
          " WHERE outbox_id = ?1 AND part = ?2 AND state = 'prepared'")),
      sent_(db.prepare(
          "UPDATE outbox_parts SET state = 'sent' WHERE outbox_id = ?1 AND part = ?2")),
      sent_row_(db.prepare(
          "INSERT OR IGNORE INTO wa_sent (inbox, wa_id, chat, chatwoot_message_id, sent_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5)")),
      caption_sent_(db.prepare(
          "UPDATE outbox_parts SET caption_sent = 1 WHERE outbox_id = ?1 AND part = 0")),
      failed_(db.prepare(
          "UPDATE outbox_parts SET state = 'failed', failure = ?3"
          " WHERE outbox_id = ?1 AND part = ?2 AND state <> 'sent'"))
{
}

void OutboxPartRepository::add_all(const std::vector<OutboxPart>& parts)
{
    UnitOfWork unit(db_);
    for (const auto& p : parts) {
        insert_.bind(1, p.outbox_id).bind(2, p.part).bind(3, p.wa_id);
        if (p.caption_wa_id.empty()) {
            insert_.bind_null(4);
        } else {
            insert_.bind(4, p.caption_wa_id);
        }
        insert_.bind(5, p.data_url).bind(6, p.file_type).bind(7, p.content_type)
            .bind(8, p.file_name).bind(9, p.file_size).bind_blob(10, bytes(p.media_key));
        insert_.run();
    }
    unit.commit();
}

std::vector<std::string> OutboxPartRepository::files_in_use()
{
    std::vector<std::string> out;
    // Once per helper start: not worth a statement kept open.
    auto st = db_.prepare(
        "SELECT path FROM outbox_parts"
        " WHERE state IN ('prepared', 'uploaded') AND coalesce(path, '') <> ''");
    st.each_row([&](const Statement& s) { out.push_back(s.column_text(0)); });
    return out;
}

std::vector<OutboxPart> OutboxPartRepository::parts_of(int64_t outbox_id)
{
    std::vector<OutboxPart> out;
    select_.bind(1, outbox_id);
    select_.each_row([&](const Statement& st) {
        OutboxPart p;
        p.outbox_id = st.column_int(0);
        p.part = st.column_int(1);
        p.wa_id = st.column_text(2);
        p.caption_wa_id = st.column_text(3);
        p.caption_sent = st.column_int(4) != 0;
        p.data_url = st.column_text(5);
        p.file_type = st.column_text(6);
        p.content_type = st.column_text(7);
        p.file_name = st.column_text(8);
        p.file_size = st.column_int(9);
        p.state = st.column_text(10);
        p.failure = st.column_text(11);
        p.media_key = blob_at(st, 12);
        p.path = st.column_text(13);
        p.kind = st.column_text(14);
        p.mimetype = st.column_text(15);
        p.sent_file_name = st.column_text(16);
        p.thumbnail = blob_at(st, 17);
        p.width = st.column_int(18);
        p.height = st.column_int(19);
        p.seconds = st.column_int(20);
        p.waveform = blob_at(st, 21);
        p.gif_playback = st.column_int(22) != 0;
        p.url = st.column_text(23);
        p.direct_path = st.column_text(24);
        p.file_sha256 = blob_at(st, 25);
        p.file_enc_sha256 = blob_at(st, 26);
        p.file_length = st.column_int(27);
        p.media_key_timestamp = st.column_int(28);
        out.push_back(std::move(p));
    });
    return out;
}

void OutboxPartRepository::prepared(const OutboxPart& p)
{
    prepared_.bind(1, p.outbox_id).bind(2, p.part).bind(3, p.path).bind(4, p.kind)
        .bind(5, p.mimetype).bind(6, p.sent_file_name).bind_blob(7, bytes(p.thumbnail))
        .bind(8, p.width).bind(9, p.height).bind(10, p.seconds).bind_blob(11, bytes(p.waveform))
        .bind(12, int64_t{p.gif_playback ? 1 : 0});
    prepared_.run();
}

void OutboxPartRepository::uploaded(const OutboxPart& p)
{
    uploaded_.bind(1, p.outbox_id).bind(2, p.part).bind(3, p.url).bind(4, p.direct_path)
        .bind_blob(5, bytes(p.file_sha256)).bind_blob(6, bytes(p.file_enc_sha256))
        .bind(7, p.file_length).bind(8, p.media_key_timestamp);
    uploaded_.run();
}

void OutboxPartRepository::sent(const OutboxPart& p, std::string_view inbox,
                                std::string_view chat, int64_t chatwoot_message_id, int64_t now)
{
    UnitOfWork unit(db_);
    sent_.bind(1, p.outbox_id).bind(2, p.part);
    sent_.run();
    sent_row_.bind(1, inbox).bind(2, p.wa_id).bind(3, chat).bind(4, chatwoot_message_id)
        .bind(5, now);
    sent_row_.run();
    unit.commit();
}

void OutboxPartRepository::caption_sent(int64_t outbox_id)
{
    caption_sent_.bind(1, outbox_id);
    caption_sent_.run();
}

void OutboxPartRepository::failed(int64_t outbox_id, int64_t part, std::string_view reason)
{
    failed_.bind(1, outbox_id).bind(2, part).bind(3, reason);
    failed_.run();
}

}  // namespace chatwoot::store
