#include "media_uploader.hpp"

#include "log.hpp"

#include "../store/unique_fd.hpp"
#include "../wa/media/media_encryptor.hpp"
#include "../wa/media/media_type.hpp"
#include "../wa/media/media_url.hpp"

#include <rapidjson/document.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <vector>

namespace chatwoot::helper {

namespace wm = chatwoot::wa::media;

namespace {

constexpr size_t kChunk = 64 * 1024;

bool write_all(int fd, const std::uint8_t* p, size_t n)
{
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// The enc blob of `path` written to `enc_path`, with the file's sums.
// Runs on the event loop: about a millisecond per megabyte (AES-NI), so a
// file at whatsapp_media_max's default holds the loop for some tens of
// milliseconds at most.
wa::Result<wm::MediaDigests> encrypt_file(const std::string& path, const std::string& enc_path,
                                          wm::MediaType type, const std::string& key)
{
    const wa::ByteView key_view(reinterpret_cast<const std::uint8_t*>(key.data()), key.size());
    auto enc = wm::MediaEncryptor::create(key_view, type);
    if (!enc) return enc.error();
    store::UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0)
        return wa::make_error(wa::Errc::wrong_state, "cannot open the file: " + std::string(std::strerror(errno)));
    store::UniqueFd out(::open(enc_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (out.get() < 0)
        return wa::make_error(wa::Errc::wrong_state, "cannot create " + enc_path + ": " + std::strerror(errno));
    std::vector<std::uint8_t> buf(kChunk);
    wa::Bytes cipher;
    for (;;) {
        const ssize_t n = ::read(in.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return wa::make_error(wa::Errc::wrong_state, "cannot read the file: " + std::string(std::strerror(errno)));
        }
        if (n == 0) break;
        cipher.clear();
        if (auto s = enc->update(wa::ByteView(buf.data(), static_cast<size_t>(n)), cipher); !s) return s.error();
        if (!write_all(out.get(), cipher.data(), cipher.size()))
            return wa::make_error(wa::Errc::wrong_state, "cannot write " + enc_path);
    }
    cipher.clear();
    auto digests = enc->finish(cipher);
    if (!digests) return digests.error();
    if (!write_all(out.get(), cipher.data(), cipher.size()))
        return wa::make_error(wa::Errc::wrong_state, "cannot write " + enc_path);
    return digests;
}

std::string as_string(const wa::crypto::Digest32& d)
{
    return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace

struct MediaUploader::Job {
    MediaUpload upload;
    Device::UploadDone done;
    wm::MediaType type = wm::MediaType::image;
    std::string enc_path;
    wm::MediaDigests digests;
    std::vector<std::string> hosts;
    std::string auth;
    size_t next = 0;
    bool asked_again = false;   // after a 401/403
    bool refused = false;       // a host said 401/403 this round
    std::string reason;

    ~Job()
    {
        if (!enc_path.empty()) ::unlink(enc_path.c_str());
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
    j.enc_path = upload.path + ".enc";
    auto digests = encrypt_file(upload.path, j.enc_path, j.type, upload.media_key);
    if (!digests) {
        // The file is ours (the media store): a failure to read it is
        // local trouble, worth another try later.
        finish(id, UploadResult{SendResult::Kind::retry,
                                "encrypting the attachment: " + digests.error().detail,
                                {}, {}, {}, {}, 0});
        return;
    }
    j.digests = *digests;
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
    req.body_file = job.enc_path;
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
