// The parts of an agent's reply with attachments (schema step 13): one
// WhatsApp message per attachment, each with its own id, media key and
// state, so that a retry after a crash resumes each part where it stopped:
// a part uploaded is never uploaded again, a part acked never sent again.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

struct OutboxPart {
    int64_t outbox_id = 0;
    int64_t part = 0;                 // index in Chatwoot's order
    std::string wa_id;
    std::string caption_wa_id;        // part 0: the caption's own message, if needed
    bool caption_sent = false;
    // The attachment as Chatwoot's webhook gave it.
    std::string data_url;
    std::string file_type;            // image, audio, video, file
    std::string content_type;
    std::string file_name;
    int64_t file_size = 0;
    std::string state = "fetching";   // fetching, prepared, uploaded, sent, failed
    std::string failure;
    std::string media_key;            // 32 bytes, chosen once
    // Prepared: the file to upload and what the message says of it.
    std::string path;
    std::string kind;                 // image, video, audio, ptt, document, sticker
    std::string mimetype;
    std::string sent_file_name;
    std::string thumbnail;            // JPEG bytes, may be empty
    int64_t width = 0;
    int64_t height = 0;
    int64_t seconds = 0;
    std::string waveform;
    bool gif_playback = false;
    // Uploaded.
    std::string url;
    std::string direct_path;
    std::string file_sha256;
    std::string file_enc_sha256;
    int64_t file_length = 0;
    int64_t media_key_timestamp = 0;
};

class OutboxPartRepository {
public:
    explicit OutboxPartRepository(Database& db);

    Database& database() { return db_; }

    // Files the parts of one entry (fetching), in the caller's unit of work
    // (the one that moves the entry in flight).  A part already there is
    // kept as it is.
    void add_all(const std::vector<OutboxPart>& parts);

    // The entry's parts in order; empty for an entry without attachments.
    std::vector<OutboxPart> parts_of(int64_t outbox_id);

    // fetching -> prepared, with the prepared fields of `p`.
    void prepared(const OutboxPart& p);
    // prepared -> uploaded, with the upload's results of `p`.
    void uploaded(const OutboxPart& p);
    // -> sent, and its wa_sent row (echoes recognised, a deletion revokes
    // it), in one commit.
    void sent(const OutboxPart& p, std::string_view inbox, std::string_view chat,
              int64_t chatwoot_message_id, int64_t now);
    void caption_sent(int64_t outbox_id);
    // -> failed with the reason (what the agent reads).
    void failed(int64_t outbox_id, int64_t part, std::string_view reason);

    // The files parts still need (prepared or uploaded, not yet sent): what
    // a helper's start must keep of the prepared outputs in the media store.
    std::vector<std::string> files_in_use();

private:
    Database& db_;
    Statement insert_;
    Statement select_;
    Statement prepared_;
    Statement uploaded_;
    Statement sent_;
    Statement sent_row_;
    Statement caption_sent_;
    Statement failed_;
};

}  // namespace chatwoot::store
