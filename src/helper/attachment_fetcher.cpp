#include "attachment_fetcher.hpp"

#include "../store/unique_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace chatwoot::helper {

namespace {

std::string size_words(uint64_t n)
{
    if (n != 0 && n % (1024 * 1024 * 1024) == 0) return std::to_string(n >> 30) + "g";
    if (n != 0 && n % (1024 * 1024) == 0) return std::to_string(n >> 20) + "m";
    if (n != 0 && n % 1024 == 0) return std::to_string(n >> 10) + "k";
    return std::to_string(n) + " bytes";
}

bool write_all(int fd, const char* p, size_t n)
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

std::string parent_dir(const std::string& path)
{
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash == 0 ? 1 : slash);
}

}  // namespace

struct AttachmentFetcher::Job {
    std::string destination;
    std::string temp;
    Done done;
    int hops = 0;
    bool chatwoot = false;  // this hop goes to the Chatwoot origin
    std::optional<store::UniqueFd> file;
    bool write_failed = false;

    ~Job()
    {
        file.reset();
        if (!temp.empty()) ::unlink(temp.c_str());
    }
};

AttachmentFetcher::AttachmentFetcher(HttpTransport& http, AttachmentFetchOptions options)
    : http_(http), options_(std::move(options))
{
}

AttachmentFetcher::~AttachmentFetcher()
{
    *alive_ = false;
}

std::string AttachmentFetcher::refusal(const std::string& url) const
{
    const auto source =
        bridge::judge_attachment_url(url, options_.chatwoot, options_.media_hosts);
    return source == bridge::AttachmentSource::refused ? kAttachmentNotOnChatwoot : "";
}

void AttachmentFetcher::fetch(const std::string& url, const std::string& destination, Done done)
{
    auto job = std::make_unique<Job>();
    job->destination = destination;
    job->temp = destination + ".part";
    job->done = std::move(done);
    const uint64_t id = next_id_++;
    jobs_.emplace(id, std::move(job));
    hop(id, url);
}

void AttachmentFetcher::hop(uint64_t id, const std::string& url)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    const auto source =
        bridge::judge_attachment_url(url, options_.chatwoot, options_.media_hosts);
    if (source == bridge::AttachmentSource::refused) {
        const std::string why = job.hops == 0
                                    ? kAttachmentNotOnChatwoot
                                    : std::string("attachment not sent: Chatwoot redirected it "
                                                  "to a host that is not allowed (media_host)");
        finish(id, AttachmentOutcome{AttachmentOutcome::Kind::refused, why});
        return;
    }
    job.chatwoot = source == bridge::AttachmentSource::chatwoot;
    // Each hop starts the file anew.
    job.file.emplace(::open(job.temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (job.file->get() < 0) {
        finish(id, AttachmentOutcome{AttachmentOutcome::Kind::retry,
                                     "cannot create " + job.temp + ": " + std::strerror(errno)});
        return;
    }
    job.write_failed = false;

    HttpRequest req;
    req.url = url;
    if (job.chatwoot && !options_.api_token.empty()) {
        req.headers.push_back("api_access_token: " + options_.api_token);
    }
    req.timeout_ms = options_.timeout_ms;
    req.max_body = 0;
    req.max_stream = options_.max_file_size;
    std::weak_ptr<bool> alive = alive_;
    req.on_body = [this, alive, id](std::string_view chunk) {
        if (alive.expired()) return false;
        auto j = jobs_.find(id);
        if (j == jobs_.end() || !j->second->file) return false;
        if (!write_all(j->second->file->get(), chunk.data(), chunk.size())) {
            j->second->write_failed = true;
            return false;
        }
        return true;
    };
    http_.request(std::move(req), [this, alive, id](const TransferResult& r) {
        if (alive.expired()) return;
        try {
            answered(id, r);
        } catch (const std::exception& e) {
            finish(id, AttachmentOutcome{AttachmentOutcome::Kind::retry, e.what()});
        } catch (...) {
            finish(id, AttachmentOutcome{AttachmentOutcome::Kind::retry, "unknown error"});
        }
    });
}

void AttachmentFetcher::answered(uint64_t id, const TransferResult& r)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    using K = AttachmentOutcome::Kind;
    if (r.too_large) {
        finish(id, AttachmentOutcome{K::refused, "attachment not sent: over the "
                                                     + size_words(options_.max_file_size)
                                                     + " limit (whatsapp_media_max)"});
        return;
    }
    if (job.write_failed) {
        finish(id, AttachmentOutcome{K::retry, "cannot write " + job.temp + ": "
                                                   + std::strerror(errno)});
        return;
    }
    if (r.code != CURLE_OK) {
        finish(id, AttachmentOutcome{K::retry, "fetching the attachment from Chatwoot: "
                                                   + (r.error.empty() ? std::string("error")
                                                                      : r.error)});
        return;
    }
    const long status = r.http_status;
    if (status >= 300 && status <= 399 && !r.redirect_url.empty()) {
        if (++job.hops > kMaxRedirects) {
            finish(id, AttachmentOutcome{K::refused,
                                         "attachment not sent: too many redirects"});
            return;
        }
        hop(id, r.redirect_url);
        return;
    }
    if (status >= 200 && status <= 299) {
        const auto fail = [&](const char* what, const std::string& path) {
            finish(id, AttachmentOutcome{K::retry, std::string(what) + " " + path + ": "
                                                       + std::strerror(errno)});
        };
        if (::fsync(job.file->get()) != 0) return fail("cannot sync", job.temp);
        job.file.reset();
        if (::rename(job.temp.c_str(), job.destination.c_str()) != 0) {
            return fail("cannot rename", job.temp);
        }
        job.temp.clear();
        const std::string dir = parent_dir(job.destination);
        store::UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (d.get() < 0 || ::fsync(d.get()) != 0) return fail("cannot sync", dir);
        finish(id, AttachmentOutcome{K::fetched, {}});
        return;
    }
    if (status >= 400 && status <= 499 && status != 408 && status != 429) {
        finish(id, AttachmentOutcome{K::refused, "attachment not sent: Chatwoot answered HTTP "
                                                     + std::to_string(status) + " for it"});
        return;
    }
    finish(id, AttachmentOutcome{K::retry, "fetching the attachment from Chatwoot: HTTP "
                                               + std::to_string(status)});
}

void AttachmentFetcher::finish(uint64_t id, AttachmentOutcome outcome)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Done done = std::move(it->second->done);
    jobs_.erase(it);
    if (done) done(outcome);
}

}  // namespace chatwoot::helper
