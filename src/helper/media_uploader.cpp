#include "media_uploader.hpp"

#include "log.hpp"

#include "media_upload_stream.hpp"

#include "../wa/media/media_type.hpp"
#include "../wa/media/media_url.hpp"

#include <rapidjson/document.h>

#include <exception>
#include <vector>

namespace chatwoot::helper {

namespace wm = chatwoot::wa::media;

namespace {

std::string as_string(const wa::crypto::Digest32& d)
{
    return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace

// Pass 2's body as curl's driver asks for it; it outlives the job when the
// transfer does (the driver holds it until the transfer ends).
class MediaUploader::Body final : public BodySource {
public:
    Body(const MediaUpload& upload, wm::MediaType type, const wm::MediaDigests& digests)
        : stream_(upload.path, upload.media_key, type, digests)
    {
    }
    uint64_t size() const override { return stream_.size(); }
    std::optional<size_t> read(std::span<char> out) override
    {
        auto n = stream_.read(out);
        if (!n) return std::nullopt;
        return *n;
    }
    bool rewind() override { return static_cast<bool>(stream_.rewind()); }
    const std::string& failure() const { return stream_.failure(); }

private:
    EncryptedUploadBody stream_;
};

struct MediaUploader::Job {
    MediaUploader* owner = nullptr;
    uint64_t id = 0;
    MediaUpload upload;
    Device::UploadDone done;
    wm::MediaType type = wm::MediaType::image;
    // Pass 1, a slice per turn of the event loop.
    std::unique_ptr<MediaFileCipher> hashing;
    wa::Bytes scratch;
    ngx_event_t slice{};
    wm::MediaDigests digests;
    std::shared_ptr<Body> body;   // the request under way's
    std::vector<std::string> hosts;
    std::string auth;
    size_t next = 0;
    bool asked_again = false;   // after a 401/403
    bool refused = false;       // a host said 401/403 this round
    std::string reason;

    Job() = default;
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;
    ~Job()
    {
        if (slice.posted) {
            ngx_delete_posted_event(&slice);
        }
    }
};

MediaUploader::MediaUploader(HttpTransport& http, MediaFetcher::AskMediaConn ask,
                             MediaUploadOptions options)
    : http_(http), ask_(std::move(ask)), options_(std::move(options))
{
}

MediaUploader::~MediaUploader()
{
    *alive_ = false;
}

void MediaUploader::upload(const MediaUpload& upload, Device::UploadDone done)
{
    const uint64_t id = next_id_++;
    auto job = std::make_unique<Job>();
    job->upload = upload;
    job->done = std::move(done);
    Job& j = *job;
    jobs_.emplace(id, std::move(job));

    // A voice note's key family is Audio's, a sticker's Image's: the type
    // the kind names selects both the HKDF info and the mms type.
    auto type = wm::media_type_from_name(upload.kind);
    if (!type || wm::mms_type(*type).empty()) {
        finish(id, UploadResult{SendResult::Kind::failed, "cannot upload media of kind " + upload.kind,
                                {}, {}, {}, {}, 0});
        return;
    }
    j.type = *type;
    auto cipher = MediaFileCipher::open(upload.path, upload.media_key, j.type);
    if (!cipher) {
        // The file is ours (the media store): a failure to read it is
        // local trouble, worth another try later.
        finish(id, UploadResult{SendResult::Kind::retry,
                                "encrypting the attachment: " + cipher.error().detail,
                                {}, {}, {}, {}, 0});
        return;
    }
    j.hashing = std::move(*cipher);
    j.owner = this;
    j.id = id;
    j.slice.handler = &MediaUploader::on_slice;
    j.slice.data = &j;
    j.slice.log = ngx_cycle->log;
    ngx_post_event(&j.slice, &ngx_posted_next_events);
}

// One slice of pass 1.  The next one is posted for the next turn of the
// loop (ngx_posted_next_events: nginx polls its sockets, without waiting,
// before it runs them), never run at once: what arrived meanwhile (a
// WhatsApp frame, a Chatwoot answer) is served between two slices.
void MediaUploader::on_slice(ngx_event_t* ev) noexcept
{
    auto* job = static_cast<Job*>(ev->data);
    MediaUploader* self = job->owner;
    const uint64_t id = job->id;
    // finish() runs the job's done, which may throw too: nothing leaves
    // this nginx event handler.
    auto give_up = [self, id](const char* why) noexcept {
        try {
            self->finish(id, UploadResult{SendResult::Kind::retry, why, {}, {}, {}, {}, 0});
        } catch (...) {
            log(LogLevel::error, "chatwoot helper: ending a media upload failed: %s", why);
        }
    };
    try {
        self->hash_slice(id);
    } catch (const std::exception& e) {
        give_up(e.what());
    } catch (...) {
        give_up("unknown error");
    }
}

void MediaUploader::hash_slice(uint64_t id)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    job.scratch.clear();   // the ciphertext is not kept: only its sums count
    auto end = job.hashing->step(options_.slice_bytes, job.scratch);
    if (!end) {
        finish(id, UploadResult{SendResult::Kind::retry,
                                "encrypting the attachment: " + end.error().detail,
                                {}, {}, {}, {}, 0});
        return;
    }
    if (!*end) {
        ngx_post_event(&job.slice, &ngx_posted_next_events);
        return;
    }
    job.digests = job.hashing->digests();
    job.hashing.reset();
    job.scratch = wa::Bytes();
    with_conn(id);
}

void MediaUploader::with_conn(uint64_t id)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    if (const wm::MediaConn* conn = cache_.get(ngx_time())) {
        it->second->hosts = conn->hosts;
        it->second->auth = conn->auth;
        it->second->next = 0;
        it->second->refused = false;
        try_next(id);
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    ask_([this, alive, id](wa::Result<wm::MediaConn> answer) {
        if (alive.expired()) return;
        try {
            if (!answer) {
                finish(id, UploadResult{SendResult::Kind::retry,
                                        "media_conn: " + answer.error().detail, {}, {}, {}, {}, 0});
                return;
            }
            cache_.put(std::move(*answer), ngx_time());
            with_conn(id);
        } catch (const std::exception& e) {
            finish(id, UploadResult{SendResult::Kind::retry, e.what(), {}, {}, {}, {}, 0});
        }
    });
}

void MediaUploader::try_next(uint64_t id)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    if (job.next >= job.hosts.size()) {
        if (job.refused && !job.asked_again) {
            // The auth was stale: once more with a fresh media_conn.
            job.asked_again = true;
            cache_.drop();
            with_conn(id);
            return;
        }
        finish(id, UploadResult{SendResult::Kind::retry,
                                "uploading to WhatsApp: " + (job.reason.empty() ? std::string("no media host") : job.reason),
                                {}, {}, {}, {}, 0});
        return;
    }
    const std::string& host = job.hosts[job.next++];
    auto url = wm::upload_url(host, job.type, job.digests.file_enc_sha256, job.auth);
    if (!url) {
        job.reason = url.error().detail;
        try_next(id);
        return;
    }
    HttpRequest req;
    req.method = "POST";
    req.url = std::move(*url);
    // What the web client sends: its origin, and no 100-continue round trip.
    req.headers = {"Origin: https://web.whatsapp.com", "Referer: https://web.whatsapp.com/",
                   "Content-Type: application/octet-stream", "Expect:"};
    // Pass 2: encrypted again as curl sends it, checked against pass 1.
    job.body = std::make_shared<Body>(job.upload, job.type, job.digests);
    req.body_source = job.body;
    req.timeout_ms = options_.timeout_ms;
    req.max_body = 16 * 1024;
    req.ca_file = options_.ca_file;
    req.proxy = options_.proxy;
    std::weak_ptr<bool> alive = alive_;
    http_.request(std::move(req), [this, alive, id](const TransferResult& r) {
        if (alive.expired()) return;
        try {
            answered(id, r);
        } catch (const std::exception& e) {
            finish(id, UploadResult{SendResult::Kind::retry, e.what(), {}, {}, {}, {}, 0});
        } catch (...) {
            finish(id, UploadResult{SendResult::Kind::retry, "unknown error", {}, {}, {}, {}, 0});
        }
    });
}

void MediaUploader::answered(uint64_t id, const TransferResult& r)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    const long status = r.http_status;
    if (r.code != CURLE_OK && job.body && !job.body->failure().empty()) {
        // Not the host's fault: the file is not what pass 1 hashed (or
        // cannot be read).  The next attempt starts again from pass 1.
        finish(id, UploadResult{SendResult::Kind::retry,
                                "uploading the attachment: " + job.body->failure(), {}, {}, {}, {}, 0});
        return;
    }
    if (r.code != CURLE_OK) {
        job.reason = r.error.empty() ? curl_easy_strerror(r.code) : r.error;
        try_next(id);
        return;
    }
    if (status >= 200 && status <= 299 && !r.body_truncated) {
        rapidjson::Document doc;
        doc.Parse(r.body.data(), r.body.size());
        auto str = [&](const char* key) -> std::string {
            if (!doc.IsObject()) return {};
            auto m = doc.FindMember(key);
            return m != doc.MemberEnd() && m->value.IsString()
                       ? std::string(m->value.GetString(), m->value.GetStringLength())
                       : std::string();
        };
        std::string direct_path = str("direct_path");
        std::string url = str("url");
        if (direct_path.empty() || !wm::check_direct_path(direct_path)) {
            job.reason = "the media host's answer has no usable direct_path";
            try_next(id);
            return;
        }
        UploadResult done{SendResult::Kind::sent, {}, std::move(url), std::move(direct_path),
                          as_string(job.digests.file_sha256), as_string(job.digests.file_enc_sha256),
                          job.digests.file_length};
        finish(id, std::move(done));
        return;
    }
    job.reason = "HTTP " + std::to_string(status);
    if (status == 401 || status == 403) {
        job.refused = true;
        try_next(id);
        return;
    }
    if (status >= 400 && status <= 499 && status != 408 && status != 429) {
        finish(id, UploadResult{SendResult::Kind::failed,
                                "attachment not sent: WhatsApp refused its upload (HTTP "
                                    + std::to_string(status) + ")",
                                {}, {}, {}, {}, 0});
        return;
    }
    try_next(id);
}

void MediaUploader::finish(uint64_t id, UploadResult result)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Device::UploadDone done = std::move(it->second->done);
    if (result.kind != SendResult::Kind::sent) {
        log(LogLevel::warn, "chatwoot helper: WhatsApp media not uploaded: %s", result.reason.c_str());
    }
    jobs_.erase(it);
    if (done) done(result);
}

}  // namespace chatwoot::helper
