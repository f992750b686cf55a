#include "chat_forwarder.hpp"

#include "../bridge/wa_message_json.hpp"
#include "../ipc/inbox_stats.hpp"
#include "../store/filed_clock.hpp"

#include <unistd.h>

#include <exception>

namespace chatwoot::helper {

ChatForwarder::ChatForwarder(std::string inbox, store::WaInboundRepository& inbound,
                             ChatwootClient& client, rest::Api api,
                             bridge::InboxOptions options, size_t max_active_chats,
                             int64_t inherited_up_to, MediaStore& media)
    : inbox_(std::move(inbox)),
      inbound_(inbound),
      client_(client),
      api_(api),
      options_(options),
      max_active_(std::max<size_t>(1, max_active_chats)),
      inherited_up_to_(inherited_up_to),
      started_at_(static_cast<int64_t>(ngx_time())),
      media_(media)
{
}

ChatForwarder::~ChatForwarder()
{
    // Jobs that ended since the last tick: their rows settle now, or stay
    // pending and are looked up in Chatwoot by the next helper before it
    // posts them (as after a crash).
    try {
        std::vector<store::WaInboundRepository::Settlement> rows;
        for (const auto& chat : finished_) {
            const Active& a = active_.at(chat);
            const auto& m = a.job->mapping();
            rows.push_back({a.row_id, a.job->state() == bridge::ForwardJob::State::done,
                            a.job->chatwoot_message_id(), a.job->failure(), chat,
                            store::ChatRow{m.contact_id, m.conversation_id}});
        }
        inbound_.settle_all(inbox_, rows);
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": recording forwarded messages at "
                      "shutdown failed, they will be looked up: %s", inbox_.c_str(), e.what());
    } catch (...) {
    }
}

void ChatForwarder::kick()
{
    settle_finished();
    if (options_.inbox_id == 0 || active_.size() + fetching_.size() >= max_active_) {
        return;
    }
    // As many idle chats as there are free slots, oldest message first.
    const auto pending = inbound_.pending_chats(
        inbox_, max_active_ - active_.size() - fetching_.size(),
        [this](const std::string& chat) { return active_.contains(chat) || fetching_.contains(chat); });
    found_none_ = pending.empty();
    for (const auto& chat : pending) {
        if (active_.size() + fetching_.size() >= max_active_) {
            break;
        }
        start_next(chat);
    }
}

namespace {

// What Chatwoot shows as the file's name: a document's own, else the
// kind and the message id with the extension its type is known by.
std::string media_file_name(const bridge::WaMedia& d, const std::string& wa_id)
{
    if (!d.file_name.empty()) {
        std::string name;
        for (char c : d.file_name.substr(0, 200)) {
            name.push_back(c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ? '_' : c);
        }
        return name;
    }
    std::string_view mime = d.mimetype;
    if (auto semi = mime.find(';'); semi != std::string_view::npos) mime = mime.substr(0, semi);
    static constexpr std::pair<std::string_view, std::string_view> kExt[] = {
        {"image/jpeg", "jpg"}, {"image/png", "png"},  {"image/webp", "webp"},
        {"image/gif", "gif"},  {"video/mp4", "mp4"},  {"video/3gpp", "3gp"},
        {"audio/ogg", "ogg"},  {"audio/mpeg", "mp3"}, {"audio/mp4", "m4a"},
        {"audio/aac", "aac"},  {"audio/amr", "amr"},  {"application/pdf", "pdf"},
    };
    std::string_view ext = d.type == "sticker" ? "webp" : "bin";
    for (const auto& [m, e] : kExt) {
        if (mime == m) ext = e;
    }
    std::string id;
    for (char c : wa_id.substr(0, 64)) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        id.push_back(ok ? c : '_');
    }
    return d.type + "-" + id + "." + std::string(ext);
}

}  // namespace

bool ChatForwarder::fetch_media(const std::string& chat, int64_t row_id,
                                const bridge::WaMessage& message)
{
    const bridge::WaMedia& d = *message.media;
    MediaJob job;
    job.type = wa::media::media_type_from_name(d.type).value_or(wa::media::MediaType::document);
    job.media_key.assign(d.media_key.begin(), d.media_key.end());
    if (!d.file_sha256.empty()) job.file_sha256 = wa::Bytes(d.file_sha256.begin(), d.file_sha256.end());
    if (!d.file_enc_sha256.empty())
        job.file_enc_sha256 = wa::Bytes(d.file_enc_sha256.begin(), d.file_enc_sha256.end());
    job.file_length = d.file_length;
    job.direct_path = d.direct_path;
    job.url = d.url;
    job.destination = media_.path_for(inbox_, message.id, 0);
    // Expired on WhatsApp: the phone is asked for it by the message as
    // WhatsApp addressed it (the sender too, in a group).
    const bool group = message.chat.ends_with("@g.us");
    job.retry = MediaRetryAsk{
        message.id, message.wa_chat.empty() ? message.chat : message.wa_chat,
        group ? (message.wa_sender.empty() ? message.sender : message.wa_sender) : std::string(),
        message.from_me};
    fetching_.insert(chat);
    fetcher_->fetch(std::move(job), [this, chat, row_id](const MediaOutcome& outcome) {
        media_fetched(chat, row_id, outcome);
    });
    return true;
}

void ChatForwarder::media_fetched(const std::string& chat, int64_t row_id,
                                  const MediaOutcome& outcome)
{
    fetching_.erase(chat);
    fetched_[row_id] = outcome;
    found_none_ = false;
    try {
        if (active_.size() < max_active_ && !active_.contains(chat)) start_next(chat);
    } catch (const std::exception& e) {
        // The next kick takes the chat up again (the outcome is kept).
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": forwarding a WhatsApp media message "
                      "failed: %s", inbox_.c_str(), e.what());
    }
}

// Takes the chat's oldest pending message; false when there is none.
bool ChatForwarder::start_next(const std::string& chat)
{
    auto pending = inbound_.oldest_pending(inbox_, chat);
    if (!pending) {
        return false;
    }
    std::string error;
    auto message = bridge::parse_wa_message(pending->record, &error);
    if (!message) {
        // Our own record: a broken invariant.  Settle it so the chat moves.
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "chatwoot helper: stored WhatsApp message %L is unreadable: %s",
                      pending->id, error.c_str());
        inbound_.settle(pending->id, false, 0, error, inbox_, chat,
                        inbound_.chat(inbox_, chat));
        return start_next(chat);
    }
    // Media is posted only once its file is downloaded and verified (or
    // given up, with a note): the row holds what the download needs, so
    // the chat waits here, and a helper that restarts fetches it again.
    // The row stays pending meanwhile, and the chat's later messages wait
    // behind it, which keeps the chat's order.
    if (message->media && message->attachments.empty() && fetcher_ != nullptr) {
        auto done = fetched_.find(pending->id);
        if (done == fetched_.end()) {
            return fetch_media(chat, pending->id, *message);
        }
        const MediaOutcome outcome = std::move(done->second);
        fetched_.erase(done);
        const bridge::WaMedia& d = *message->media;
        if (outcome.kind == MediaOutcome::Kind::fetched) {
            std::string mime = d.mimetype;
            // A sticker shows as an image (WebP), whatever it says.
            if (d.type == "sticker" && mime.empty()) mime = "image/webp";
            if (mime.empty() || mime.size() > 128) mime = "application/octet-stream";
            message->attachments.push_back(rest::Attachment{
                media_.path_for(inbox_, message->id, 0), mime, media_file_name(d, message->id)});
            message->text = d.caption;
        } else {
            message->text = "[" + media_failure_note(outcome, media_max_) + "]"
                            + (d.caption.empty() ? "" : "\n" + d.caption);
            // A file an earlier helper fetched before it died, if any: the
            // message now goes without it.
            media_.release(media_.path_for(inbox_, message->id, 0));
        }
        message->media.reset();
    }
    // A media file lost from the state directory (by hand) cannot be
    // waited for: the message goes without it and says so.
    std::vector<std::string> media;
    std::erase_if(message->attachments, [&](const rest::Attachment& att) {
        media.push_back(att.path);
        if (::access(att.path.c_str(), R_OK) == 0) {
            return false;
        }
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": attachment %s of WhatsApp "
                      "message %s is missing; posting the message without it",
                      inbox_.c_str(), att.path.c_str(), message->id.c_str());
        message->text += (message->text.empty() ? "" : "\n") + ("[attachment "
                          + att.file_name + " was lost]");
        return true;
    });
    store::ChatRow row = inbound_.chat(inbox_, chat);
    // How far back a look for a post whose answer was lost must go: an
    // earlier helper's post can be of any time; one of ours is not older
    // than this helper, and a fresh job's not older than the job.
    const bool inherited = pending->id <= inherited_up_to_;
    const bool unsure = unsure_.erase(chat) > 0;
    const int64_t posted_since = inherited ? 0
                                 : unsure  ? started_at_
                                           : static_cast<int64_t>(ngx_time());
    Active& a = active_[chat];
    a.row_id = pending->id;
    a.media = std::move(media);
    // What the event refers to, as far as Chatwoot has it (the store owns
    // the mapping; the job only acts on it).
    bridge::EventTargets targets;
    auto look_up = [&](const std::string& wa_id) {
        if (auto id = inbound_.chatwoot_message_of(inbox_, wa_id)) {
            targets.ids.push_back(*id);
        }
    };
    if (message->kind == bridge::WaMessage::Kind::reaction && message->text.empty()) {
        targets.removed_reaction = inbound_.previous_reaction(inbox_, chat, message->sender,
                                                              message->target, pending->id);
    }
    if (message->kind == bridge::WaMessage::Kind::read) {
        for (const auto& t : message->targets) {
            look_up(t);
        }
    } else if (message->kind != bridge::WaMessage::Kind::message) {
        look_up(message->target);
    }
    a.job = std::make_unique<bridge::ForwardJob>(
        std::move(*message), bridge::ChatMapping{row.contact_id, row.conversation_id},
        options_, api_, inherited || unsure, posted_since, std::move(targets));
    send(chat);
    return true;
}

void ChatForwarder::send(const std::string& chat)
{
    Active& a = active_.at(chat);
    if (a.job->state() != bridge::ForwardJob::State::request) {
        finish(chat);
        return;
    }
    client_.submit(inbox_ + "/" + chat, a.job->request(),
                   [this, chat](const ChatwootClient::Reply& r) { on_reply(chat, r); });
}

void ChatForwarder::on_reply(const std::string& chat, const ChatwootClient::Reply& reply)
{
    auto it = active_.find(chat);
    if (it == active_.end()) {
        return;
    }
    it->second.job->on_answer(reply.classification, reply.body);
    send(chat);
}

void ChatForwarder::finish(const std::string& chat)
{
    finished_.push_back(chat);
    if (soon_) {
        soon_();   // the next tick settles it with the others that end by then
    } else {
        settle_finished();
    }
}

void ChatForwarder::settle_finished()
{
    if (finished_.empty()) {
        return;
    }
    const std::vector<std::string> chats = std::move(finished_);
    finished_.clear();
    std::vector<store::WaInboundRepository::Settlement> rows;
    rows.reserve(chats.size());
    for (const auto& chat : chats) {
        const Active& a = active_.at(chat);
        const bridge::ForwardJob& job = *a.job;
        const auto& m = job.mapping();
        rows.push_back({a.row_id, job.state() == bridge::ForwardJob::State::done,
                        job.chatwoot_message_id(), job.failure(), chat,
                        store::ChatRow{m.contact_id, m.conversation_id}});
    }
    try {
        inbound_.settle_all(inbox_, rows);
    } catch (const std::exception& e) {
        // The rows stay pending and are tried again on a later kick; they
        // may be in Chatwoot already, so those tries look first.
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": recording %uz forwarded message(s) "
                      "failed, they will be looked up and retried: %s",
                      inbox_.c_str(), chats.size(), e.what());
        for (const auto& chat : chats) {
            unsure_.insert(chat);
            active_.erase(chat);
        }
        found_none_ = false;   // the rows are still pending: the next kick takes them
        return;
    }
    bool look = false;
    for (const auto& chat : chats) {
        look = !settled(chat) || look;
    }
    if (look) {
        kick();
    }
}

bool ChatForwarder::settled(const std::string& chat)
{
    Active& a = active_.at(chat);
    const bridge::ForwardJob& job = *a.job;
    const bool posted = job.state() == bridge::ForwardJob::State::done;
    // A message Chatwoot refused keeps its media for the operator (the
    // log line names the message).
    for (const auto& path : posted ? a.media : std::vector<std::string>{}) {
        media_.release(path);
    }
    if (stats_ != nullptr) {
        cw_add(posted ? &stats_->whatsapp_posted : &stats_->whatsapp_failed, 1);
    }
    if (posted) {
        ipc::observe_latency(latency_, ipc::elapsed_since(store::wa_inbound_filed().take(a.row_id)));
    }
    if (!posted) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": a WhatsApp message of %s could "
                      "not be put into Chatwoot: %s",
                      inbox_.c_str(), chat.c_str(), job.failure().c_str());
        if (rejected_) {
            try {
                rejected_(chat, job.message().timestamp, job.failure());
            } catch (const std::exception& e) {
                ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                              "chatwoot helper: inbox \"%s\": telling the control "
                              "conversation failed: %s", inbox_.c_str(), e.what());
            }
        }
    }
    active_.erase(chat);
    return start_next(chat);
}

}  // namespace chatwoot::helper
