#include "media_sender.hpp"

#include "log.hpp"

#include <exception>
#include <utility>

namespace chatwoot::helper {

bool kind_carries_caption(const std::string& kind)
{
    return kind == "image" || kind == "video" || kind == "document";
}

MediaSender::MediaSender(std::string inbox, store::OutboxPartRepository& parts, Device& device,
                         AttachmentFetcher& fetcher, media_prep::MediaPreparer& preparer,
                         MediaStore& store, RandomBytes random, Clock clock)
    : inbox_(std::move(inbox)),
      parts_(parts),
      device_(device),
      fetcher_(fetcher),
      preparer_(preparer),
      store_(store),
      random_(std::move(random)),
      clock_(std::move(clock))
{
}

MediaSender::~MediaSender()
{
    *alive_ = false;
}

std::vector<store::OutboxPart> MediaSender::plan(int64_t outbox_id,
                                                 const bridge::AgentReply& reply)
{
    std::vector<store::OutboxPart> out;
    for (size_t i = 0; i < reply.attachments.size(); i++) {
        const auto& a = reply.attachments[i];
        store::OutboxPart p;
        p.outbox_id = outbox_id;
        p.part = static_cast<int64_t>(i);
        p.wa_id = device_.new_message_id();
        // Committed now whether or not it is needed: whether the first part
        // can carry the caption is known only once it is prepared.
        if (i == 0) p.caption_wa_id = device_.new_message_id();
        p.data_url = a.data_url;
        p.file_type = a.file_type;
        p.content_type = a.content_type;
        p.file_name = a.file_name;
        p.file_size = a.file_size;
        p.media_key = random_(32);
        if (p.wa_id.empty() || (i == 0 && p.caption_wa_id.empty()) || p.media_key.size() != 32) {
            return {};
        }
        out.push_back(std::move(p));
    }
    return out;
}

template <typename F>
void MediaSender::guarded(int64_t id, F&& f) noexcept
{
    try {
        f();
    } catch (const std::exception& e) {
        // The store failed: the entry stays in flight and goes again later.
        finish(id, SendResult{SendResult::Kind::retry, e.what()});
    } catch (...) {
        finish(id, SendResult{SendResult::Kind::retry, "unknown error"});
    }
}

void MediaSender::send(MediaEntry entry, Device::Done done)
{
    const int64_t id = entry.outbox_id;
    if (runs_.contains(id)) {
        done(SendResult{SendResult::Kind::retry, "its attachments are still on their way"});
        return;
    }
    Run run;
    run.entry = std::move(entry);
    run.done = std::move(done);
    runs_.emplace(id, std::move(run));
    guarded(id, [&] {
        Run& r = runs_.at(id);
        r.parts = parts_.parts_of(id);
        if (r.parts.empty()) {
            finish(id, SendResult{SendResult::Kind::failed, "the reply's attachments were lost"});
            return;
        }
        // Nothing goes unless every attachment may be fetched.
        for (const auto& p : r.parts) {
            if (p.state != "fetching") continue;
            const std::string why = fetcher_.refusal(p.data_url);
            if (!why.empty()) {
                parts_.failed(id, p.part, why);
                finish(id, SendResult{SendResult::Kind::failed, why});
                return;
            }
        }
        advance(id);
    });
}

void MediaSender::advance(int64_t id)
{
    auto it = runs_.find(id);
    if (it == runs_.end()) return;
    Run& run = it->second;
    size_t i = 0;
    while (i < run.parts.size() && run.parts[i].state == "sent") i++;
    if (i == run.parts.size()) {
        finish(id, SendResult{SendResult::Kind::sent, {}});
        return;
    }
    store::OutboxPart& p = run.parts[i];
    std::weak_ptr<bool> alive = alive_;

    if (p.state == "failed") {
        finish(id, SendResult{SendResult::Kind::failed, p.failure});
        return;
    }
    if (p.state == "fetching") {
        const std::string path = store_.path_for(inbox_, p.wa_id, 0);
        fetcher_.fetch(p.data_url, path, [this, alive, id, i, path](const AttachmentOutcome& o) {
            if (alive.expired()) return;
            guarded(id, [&] {
                switch (o.kind) {
                case AttachmentOutcome::Kind::fetched:
                    fetched(id, i, path);
                    return;
                case AttachmentOutcome::Kind::refused:
                    parts_.failed(id, static_cast<int64_t>(i), o.reason);
                    finish(id, SendResult{SendResult::Kind::failed, o.reason});
                    return;
                case AttachmentOutcome::Kind::retry:
                    finish(id, SendResult{SendResult::Kind::retry, o.reason});
                    return;
                }
            });
        });
        return;
    }
    if (p.state == "prepared") {
        MediaUpload up{p.path, p.kind, p.media_key};
        device_.upload_media(up, [this, alive, id, i](const UploadResult& r) {
            if (alive.expired()) return;
            guarded(id, [&] {
                auto it = runs_.find(id);
                if (it == runs_.end()) return;
                store::OutboxPart& p = it->second.parts[i];
                if (r.kind == SendResult::Kind::sent) {
                    p.url = r.url;
                    p.direct_path = r.direct_path;
                    p.file_sha256 = r.file_sha256;
                    p.file_enc_sha256 = r.file_enc_sha256;
                    p.file_length = static_cast<int64_t>(r.file_length);
                    p.media_key_timestamp = clock_();
                    parts_.uploaded(p);
                    p.state = "uploaded";
                    advance(id);
                    return;
                }
                if (r.kind == SendResult::Kind::failed) {
                    parts_.failed(id, p.part, r.reason);
                    store_.release(p.path);
                }
                finish(id, SendResult{r.kind, r.reason});
            });
        });
        return;
    }
    // uploaded: the caption first when the first part cannot carry it.
    const bool first = i == 0;
    const std::string& caption = run.entry.caption;
    if (first && !caption.empty() && !kind_carries_caption(p.kind) && !p.caption_sent) {
        OutgoingMessage m;
        m.id = p.caption_wa_id;
        m.chat = run.entry.chat;
        m.text = caption;
        m.quoted = run.entry.quoted;
        m.outbox_id = id;
        run.quote_used = true;
        device_.send(m, [this, alive, id](const SendResult& r) {
            if (alive.expired()) return;
            guarded(id, [&] {
                auto it = runs_.find(id);
                if (it == runs_.end()) return;
                if (r.kind != SendResult::Kind::sent) {
                    finish(id, r);
                    return;
                }
                parts_.caption_sent(id);
                it->second.parts[0].caption_sent = true;
                advance(id);
            });
        });
        return;
    }
    OutgoingMessage m;
    m.id = p.wa_id;
    m.chat = run.entry.chat;
    m.outbox_id = id;
    if (first && kind_carries_caption(p.kind)) m.text = caption;
    // The quote on the first message that goes (a caption of its own took it).
    if (first && !p.caption_sent && !run.quote_used) m.quoted = run.entry.quoted;
    OutgoingMedia media;
    media.kind = p.kind;
    media.url = p.url;
    media.direct_path = p.direct_path;
    media.media_key = p.media_key;
    media.file_sha256 = p.file_sha256;
    media.file_enc_sha256 = p.file_enc_sha256;
    media.file_length = static_cast<uint64_t>(p.file_length);
    media.media_key_timestamp = p.media_key_timestamp;
    media.mimetype = p.mimetype;
    media.file_name = p.sent_file_name;
    media.thumbnail = p.thumbnail;
    media.width = static_cast<uint32_t>(p.width);
    media.height = static_cast<uint32_t>(p.height);
    media.seconds = static_cast<uint32_t>(p.seconds);
    media.waveform = p.waveform;
    media.gif_playback = p.gif_playback;
    m.media = std::move(media);
    device_.send(m, [this, alive, id, i](const SendResult& r) {
        if (alive.expired()) return;
        guarded(id, [&] {
            auto it = runs_.find(id);
            if (it == runs_.end()) return;
            Run& run = it->second;
            store::OutboxPart& p = run.parts[i];
            if (r.kind != SendResult::Kind::sent) {
                if (r.kind == SendResult::Kind::failed) parts_.failed(id, p.part, r.reason);
                finish(id, r);
                return;
            }
            parts_.sent(p, inbox_, run.entry.chat, run.entry.chatwoot_message_id, clock_());
            p.state = "sent";
            store_.release(p.path);
            advance(id);
        });
    });
}

void MediaSender::fetched(int64_t id, size_t index, const std::string& path)
{
    auto it = runs_.find(id);
    if (it == runs_.end()) return;
    const store::OutboxPart& p = it->second.parts[index];
    media_prep::PrepareInput in{path, p.content_type, p.file_name, p.file_type};
    std::weak_ptr<bool> alive = alive_;
    preparer_.prepare(std::move(in), [this, alive, id, index, path](media_prep::PreparedMedia m) {
        if (alive.expired()) return;
        guarded(id, [&] {
            auto it = runs_.find(id);
            if (it == runs_.end()) return;
            store::OutboxPart& p = it->second.parts[index];
            if (!m.fallback_reason.empty()) {
                log(LogLevel::info,
                    "chatwoot helper: inbox \"%s\": attachment %lld of outbox entry %lld goes "
                    "as a document: %s", inbox_.c_str(), static_cast<long long>(p.part),
                    static_cast<long long>(id), m.fallback_reason.c_str());
            }
            if (m.path != path) store_.release(path);   // a new file replaces it
            p.path = m.path;
            p.kind = media_prep::media_kind_name(m.kind);
            p.mimetype = m.mimetype;
            p.sent_file_name = m.file_name.empty() ? p.file_name : m.file_name;
            p.thumbnail = m.jpeg_thumbnail;
            p.width = m.width;
            p.height = m.height;
            p.seconds = m.seconds;
            p.waveform = m.waveform;
            p.gif_playback = m.gif_playback;
            parts_.prepared(p);
            p.state = "prepared";
            advance(id);
        });
    });
}

void MediaSender::finish(int64_t id, SendResult result)
{
    auto it = runs_.find(id);
    if (it == runs_.end()) return;
    Device::Done done = std::move(it->second.done);
    if (result.kind == SendResult::Kind::failed) {
        // The entry will never go: the files it fetched have no use left.
        for (const auto& p : it->second.parts) {
            if (!p.path.empty()) store_.release(p.path);
            store_.release(store_.path_for(inbox_, p.wa_id, 0));
        }
    }
    runs_.erase(it);
    if (done) done(result);
}

}  // namespace chatwoot::helper
