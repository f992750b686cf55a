#include "media_fetcher.hpp"

#include "log.hpp"

#include "../store/unique_fd.hpp"
#include "../wa/media/media_url.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

namespace chatwoot::helper {

namespace wm = chatwoot::wa::media;

const wm::MediaConn* MediaConnCache::get(std::int64_t now) const
{
    return conn_ && now < expires_ ? &*conn_ : nullptr;
}

void MediaConnCache::put(wm::MediaConn conn, std::int64_t now)
{
    // A ttl of 0 would make every job ask again; keep it a minute at least
    // (a 401/403 drops it sooner anyway).
    expires_ = now + std::max<std::int64_t>(conn.ttl, 60);
    conn_ = std::move(conn);
}

namespace {

std::string size_words(std::uint64_t n)
{
    if (n != 0 && n % (1024 * 1024 * 1024) == 0) return std::to_string(n >> 30) + "g";
    if (n != 0 && n % (1024 * 1024) == 0) return std::to_string(n >> 20) + "m";
    if (n != 0 && n % 1024 == 0) return std::to_string(n >> 10) + "k";
    return std::to_string(n) + " bytes";
}

// Writes all of it, or says why not.
bool write_all(int fd, const std::uint8_t* p, std::size_t n)
{
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

std::string parent_dir(const std::string& path)
{
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash == 0 ? 1 : slash);
}

}  // namespace

std::string media_failure_note(const MediaOutcome& outcome, std::uint64_t max_file_size)
{
    using K = MediaOutcome::Kind;
    switch (outcome.kind) {
    case K::fetched:
        return {};
    case K::too_large:
        return "media too large: over the " + size_words(max_file_size)
               + " limit (whatsapp_media_max), not downloaded";
    case K::damaged:
        return "media damaged or forged (" + outcome.reason
               + "): not shown, as it failed WhatsApp's checks";
    case K::gone:
        return "media no longer available on WhatsApp";
    case K::failed:
        break;
    }
    return "media could not be downloaded (" + outcome.reason + ")";
}

struct MediaFetcher::Job {
    MediaFetcher* owner = nullptr;
    std::uint64_t id = 0;
    MediaJob job;
    Done done;
    std::vector<std::string> urls;  // this round's, one per host
    std::size_t next = 0;
    int round = 0;
    bool transient = false;  // a host failed this round in a way worth retrying
    bool waiting_conn = false;
    bool retried = false;    // the phone was asked (once per job)
    std::string reason;      // the last failure, for the outcome
    std::optional<wm::MediaDecryptor> decryptor;
    std::optional<MediaOutcome> body_verdict;  // the decryptor (or the disk) refused
    std::optional<store::UniqueFd> file;
    std::string temp;
    wa::Bytes plain;
    ngx_event_t timer{};

    ~Job()
    {
        if (timer.timer_set) ngx_del_timer(&timer);
        file.reset();
        if (!temp.empty()) ::unlink(temp.c_str());
    }
};

MediaFetcher::MediaFetcher(HttpTransport& http, AskMediaConn ask, MediaFetchOptions options)
    : http_(http), ask_(std::move(ask)), options_(std::move(options))
{
}

MediaFetcher::~MediaFetcher()
{
    // Transfers still under way find alive_ expired and touch nothing.
    *alive_ = false;
}

std::uint64_t MediaFetcher::fetch(MediaJob job, Done done)
{
    auto j = std::make_unique<Job>();
    j->owner = this;
    j->id = next_id_++;
    j->job = std::move(job);
    j->done = std::move(done);
    j->temp = j->job.destination + ".part";
    j->timer.data = j.get();
    j->timer.log = ngx_cycle->log;
    j->timer.cancelable = 1;
    j->timer.handler = &MediaFetcher::on_backoff;
    // Started from the loop, not from here: done must never run inside
    // the caller's own fetch() call.
    ngx_add_timer(&j->timer, 0);
    const auto id = j->id;
    jobs_.emplace(id, std::move(j));
    return id;
}

void MediaFetcher::on_backoff(ngx_event_t* ev) noexcept
{
    auto& job = *static_cast<Job*>(ev->data);
    MediaFetcher& self = *job.owner;
    const auto id = job.id;
    try {
        self.start_round(job);
    } catch (const std::exception& e) {
        self.finish(id, MediaOutcome{MediaOutcome::Kind::failed, {}, {}, e.what()});
    } catch (...) {
        self.finish(id, MediaOutcome{MediaOutcome::Kind::failed, {}, {}, "unknown error"});
    }
}

void MediaFetcher::start_round(Job& job)
{
    job.urls.clear();
    job.next = 0;
    job.transient = false;
    if (cache_.get(ngx_time()) != nullptr) {
        with_hosts(job);
        return;
    }
    job.waiting_conn = true;
    if (asking_) return;
    asking_ = true;
    std::weak_ptr<bool> alive = alive_;
    ask_([this, alive](wa::Result<wm::MediaConn> answer) {
        if (alive.expired()) return;
        asking_ = false;
        if (answer) cache_.put(std::move(*answer), ngx_time());
        std::vector<std::uint64_t> waiting;
        for (auto& [id, j] : jobs_) {
            if (j->waiting_conn) waiting.push_back(id);
        }
        for (auto id : waiting) {
            auto it = jobs_.find(id);
            if (it == jobs_.end()) continue;
            Job& j = *it->second;
            j.waiting_conn = false;
            try {
                if (answer) {
                    with_hosts(j);
                } else {
                    j.transient = true;
                    j.reason = "media_conn: " + answer.error().detail;
                    round_failed(j);
                }
            } catch (const std::exception& e) {
                finish(id, MediaOutcome{MediaOutcome::Kind::failed, {}, {}, e.what()});
            }
        }
    });
}

void MediaFetcher::with_hosts(Job& job)
{
    const wm::MediaConn* conn = cache_.get(ngx_time());
    if (conn == nullptr) {  // expired in between: ask again
        start_round(job);
        return;
    }
    const MediaJob& m = job.job;
    if (!m.direct_path.empty()) {
        if (!m.file_enc_sha256) {
            finish(job.id, MediaOutcome{MediaOutcome::Kind::damaged, {}, std::nullopt,
                                        "the message has no file hash"});
            return;
        }
        for (const auto& host : conn->hosts) {
            auto url = wm::download_url(host, m.direct_path, m.type, *m.file_enc_sha256);
            if (!url) {
                finish(job.id, MediaOutcome{MediaOutcome::Kind::damaged, {}, std::nullopt,
                                            "bad direct path: " + url.error().detail});
                return;
            }
            job.urls.push_back(std::move(*url));
        }
    } else {
        // Only a URL on WhatsApp's own media hosts: a message must not make
        // the helper fetch anything else.
        auto url = wm::check_message_url(m.url, conn->hosts);
        if (!url) {
            finish(job.id, MediaOutcome{MediaOutcome::Kind::damaged, {}, std::nullopt,
                                        "media URL refused: " + url.error().detail});
            return;
        }
        job.urls.push_back(std::move(*url));
    }
    try_next(job);
}

void MediaFetcher::try_next(Job& job)
{
    if (job.next >= job.urls.size()) {
        round_failed(job);
        return;
    }
    const std::string url = job.urls[job.next++];
    const MediaJob& m = job.job;
    wm::ExpectedMedia expected;
    if (m.file_enc_sha256) expected.file_enc_sha256 = wa::ByteView(*m.file_enc_sha256);
    if (m.file_sha256) expected.file_sha256 = wa::ByteView(*m.file_sha256);
    expected.file_length = m.file_length;
    auto dec = wm::MediaDecryptor::create(m.media_key, m.type, expected, options_.max_file_size);
    if (!dec) {
        const bool big = dec.error().code == wa::Errc::too_large;
        finish(job.id, MediaOutcome{big ? MediaOutcome::Kind::too_large : MediaOutcome::Kind::damaged,
                                    {}, big ? std::optional(wm::MediaFault::too_large) : std::nullopt,
                                    dec.error().detail});
        return;
    }
    job.decryptor.emplace(std::move(*dec));
    job.body_verdict.reset();
    // Each attempt starts the file anew: a body cut off halfway on one
    // host is not continued from another.
    job.file.emplace(::open(job.temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (job.file->get() < 0) {
        finish(job.id, MediaOutcome{MediaOutcome::Kind::failed, {}, {},
                                    "cannot create " + job.temp + ": " + std::strerror(errno)});
        return;
    }

    HttpRequest req;
    req.url = url;
    // WhatsApp's media hosts serve the web client's origin.
    req.headers = {"Origin: https://web.whatsapp.com", "Referer: https://web.whatsapp.com/"};
    req.timeout_ms = options_.timeout_ms;
    req.max_body = 0;
    req.ca_file = options_.ca_file;
    req.proxy = options_.proxy;
    std::weak_ptr<bool> alive = alive_;
    const auto id = job.id;
    req.on_body = [this, alive, id](std::string_view chunk) {
        if (alive.expired()) return false;
        auto it = jobs_.find(id);
        if (it == jobs_.end() || !it->second->decryptor) return false;
        Job& j = *it->second;
        j.plain.clear();
        auto s = j.decryptor->update(
            wa::ByteView(reinterpret_cast<const std::uint8_t*>(chunk.data()), chunk.size()),
            j.plain);
        if (!s) {
            const auto fault = j.decryptor->fault();
            const bool big = fault == wm::MediaFault::too_large;
            j.body_verdict = MediaOutcome{
                big ? MediaOutcome::Kind::too_large : MediaOutcome::Kind::damaged, {}, fault,
                fault ? std::string(wm::media_fault_name(*fault)) : s.error().detail};
            return false;
        }
        if (!write_all(j.file->get(), j.plain.data(), j.plain.size())) {
            j.body_verdict = MediaOutcome{MediaOutcome::Kind::failed, {}, {},
                                          "cannot write " + j.temp + ": " + std::strerror(errno)};
            return false;
        }
        return true;
    };
    http_.request(std::move(req), [this, alive, id](const TransferResult& r) {
        if (alive.expired()) return;
        try {
            attempt_done(id, r);
        } catch (const std::exception& e) {
            finish(id, MediaOutcome{MediaOutcome::Kind::failed, {}, {}, e.what()});
        } catch (...) {
            finish(id, MediaOutcome{MediaOutcome::Kind::failed, {}, {}, "unknown error"});
        }
    });
}

void MediaFetcher::attempt_done(std::uint64_t id, const TransferResult& r)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    if (job.body_verdict) {
        finish(id, std::move(*job.body_verdict));
        return;
    }
    const long status = r.http_status;
    if (r.code == CURLE_OK && status >= 200 && status <= 299) {
        job.plain.clear();
        auto digests = job.decryptor->finish(job.plain);
        if (!digests) {
            const auto fault = job.decryptor->fault();
            finish(id, MediaOutcome{MediaOutcome::Kind::damaged, {}, fault,
                                    fault ? std::string(wm::media_fault_name(*fault))
                                          : digests.error().detail});
            return;
        }
        // Verified: the last block, then file and directory made durable
        // before the rename puts the file where a row may name it.
        const auto fail = [&](const char* what) {
            finish(id, MediaOutcome{MediaOutcome::Kind::failed, {}, {},
                                    std::string(what) + " " + job.temp + ": " + std::strerror(errno)});
        };
        if (!write_all(job.file->get(), job.plain.data(), job.plain.size())) return fail("cannot write");
        if (::fsync(job.file->get()) != 0) return fail("cannot sync");
        job.file.reset();
        if (::rename(job.temp.c_str(), job.job.destination.c_str()) != 0) return fail("cannot rename");
        job.temp.clear();
        const std::string dir = parent_dir(job.job.destination);
        store::UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (d.get() < 0 || ::fsync(d.get()) != 0) {
            ::unlink(job.job.destination.c_str());
            finish(id, MediaOutcome{MediaOutcome::Kind::failed, {}, {},
                                    "cannot sync " + dir + ": " + std::strerror(errno)});
            return;
        }
        finish(id, MediaOutcome{MediaOutcome::Kind::fetched, *digests, {}, {}});
        return;
    }
    if (r.code != CURLE_OK) {
        job.transient = true;
        job.reason = r.error.empty() ? curl_easy_strerror(r.code) : r.error;
    } else if (status == 401 || status == 403) {
        // The auth or the host list is stale: ask for media_conn again in
        // the next round.  401 is worth that round; a 403 on every host
        // means the blob is refused to us, as 404 would.
        cache_.drop();
        job.reason = "HTTP " + std::to_string(status);
        if (status == 401) job.transient = true;
    } else if (status == 404 || status == 410) {
        job.reason = "HTTP " + std::to_string(status);
    } else {
        // 5xx, 429, and anything else a host should not have said.
        job.transient = true;
        job.reason = "HTTP " + std::to_string(status);
    }
    try_next(job);
}

void MediaFetcher::round_failed(Job& job)
{
    job.file.reset();
    if (!job.transient) {
        if (job.job.retry && ask_retry_ && !job.retried) {
            ask_phone(job);
            return;
        }
        finish(job.id, MediaOutcome{MediaOutcome::Kind::gone, {}, {}, job.reason});
        return;
    }
    if (++job.round >= kMaxRounds) {
        finish(job.id, MediaOutcome{MediaOutcome::Kind::failed, {}, {}, job.reason});
        return;
    }
    ngx_add_timer(&job.timer, kFirstBackoffMs << (job.round - 1));
}

// Every host said the blob is gone: the phone, which keeps the file, is
// asked to upload it again.  The job (and with it the chat) waits for the
// answer, which the session bounds.
void MediaFetcher::ask_phone(Job& job)
{
    job.retried = true;
    const MediaRetryAsk& ask = *job.job.retry;
    log(LogLevel::info,
        "chatwoot helper: WhatsApp media of message %s gone from every host (%s); asking the "
        "phone to upload it again", ask.message_id.c_str(), job.reason.c_str());
    std::weak_ptr<bool> alive = alive_;
    const auto id = job.id;
    ask_retry_(ask, job.job.media_key,
               [this, alive, id](const wa::Result<wm::MediaRetryOutcome>& answer) {
                   if (alive.expired()) return;
                   try {
                       phone_answered(id, answer);
                   } catch (const std::exception& e) {
                       finish(id, MediaOutcome{MediaOutcome::Kind::failed, {}, {}, e.what()});
                   } catch (...) {
                       finish(id, MediaOutcome{MediaOutcome::Kind::failed, {}, {}, "unknown error"});
                   }
               });
}

void MediaFetcher::phone_answered(std::uint64_t id,
                                  const wa::Result<wm::MediaRetryOutcome>& answer)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    if (answer && answer->result == wm::MediaRetryResult::success) {
        // Uploaded again: the new path goes through the media_conn hosts
        // like the first (decrypt_media_retry checked it is a path), with
        // fresh rounds; the message's own url names the old blob.
        log(LogLevel::info,
            "chatwoot helper: the phone uploaded the media of WhatsApp message %s again; "
            "downloading it", job.job.retry->message_id.c_str());
        job.job.direct_path = answer->direct_path;
        job.job.url.clear();
        job.round = 0;
        start_round(job);
        return;
    }
    job.reason += answer ? "; the phone answered " +
                               std::string(wm::media_retry_result_name(answer->result))
                         : "; " + answer.error().detail;
    finish(id, MediaOutcome{MediaOutcome::Kind::gone, {}, {}, job.reason});
}

void MediaFetcher::finish(std::uint64_t id, MediaOutcome outcome)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Done done = std::move(it->second->done);
    if (outcome.kind == MediaOutcome::Kind::gone) {
        // The note says only that it is gone; the log says how we know.
        log(LogLevel::warn, "chatwoot helper: WhatsApp media not fetched: %s (%s)",
            media_failure_note(outcome, options_.max_file_size).c_str(), outcome.reason.c_str());
    } else if (outcome.kind != MediaOutcome::Kind::fetched) {
        log(LogLevel::warn, "chatwoot helper: WhatsApp media not fetched: %s",
            media_failure_note(outcome, options_.max_file_size).c_str());
    }
    // The job (and with it a temporary file) goes before done runs, which
    // may start another job.
    jobs_.erase(it);
    if (done) done(outcome);
}

}  // namespace chatwoot::helper
