// An agent's attachment fetched from Chatwoot into the media store (issue
// 11, Chatwoot -> WhatsApp), under bridge/attachment_url.hpp's rules:
//
//   - only from the inbox's Chatwoot origin or a media_host the operator
//     named; redirects are followed here, one hop at a time (at most
//     kMaxRedirects), each checked the same way before it is asked;
//   - the api_access_token only to the Chatwoot origin (ActiveStorage needs
//     none, but an installation behind an auth proxy may);
//   - whatsapp_media_max checked on Content-Length and on the bytes;
//   - streamed to "<destination>.part", fsynced, renamed into place, the
//     directory fsynced: a file at the destination is always whole.
//
// No nginx here (HttpTransport), so unit tests drive it with a fake.
#pragma once

#include "curl_multi_driver.hpp"

#include "../bridge/attachment_url.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chatwoot::helper {

struct AttachmentFetchOptions {
    bridge::UrlOrigin chatwoot;                  // the inbox's url
    std::vector<bridge::UrlOrigin> media_hosts;  // media_host
    std::string api_token;
    uint64_t max_file_size = 64ull * 1024 * 1024;  // whatsapp_media_max
    long timeout_ms = 120000;
};

struct AttachmentOutcome {
    enum class Kind {
        fetched,
        refused,     // never: a host not allowed, a 4xx, too large, too many redirects
        retry,       // a 5xx or the network: the outbox tries again later
    };
    Kind kind = Kind::retry;
    // What the agent reads in Chatwoot (refused) or the log says (retry).
    std::string reason;
};

class AttachmentFetcher {
public:
    using Done = std::function<void(const AttachmentOutcome&)>;
    static constexpr int kMaxRedirects = 5;

    AttachmentFetcher(HttpTransport& http, AttachmentFetchOptions options);
    ~AttachmentFetcher();
    AttachmentFetcher(const AttachmentFetcher&) = delete;
    AttachmentFetcher& operator=(const AttachmentFetcher&) = delete;

    // Whether `url` may be fetched at all (checked before anything of a
    // reply is sent): empty when it may, else the reason.
    std::string refusal(const std::string& url) const;

    // Fetches `url` to `destination`; done runs exactly once (from within
    // this call for a URL refused at once), unless the fetcher is
    // destroyed first.
    void fetch(const std::string& url, const std::string& destination, Done done);

    size_t jobs() const { return jobs_.size(); }

private:
    struct Job;
    void hop(uint64_t id, const std::string& url);
    void answered(uint64_t id, const TransferResult& r);
    void finish(uint64_t id, AttachmentOutcome outcome);

    HttpTransport& http_;
    AttachmentFetchOptions options_;
    std::map<uint64_t, std::unique_ptr<Job>> jobs_;
    uint64_t next_id_ = 1;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The reasons an agent reads.
inline constexpr const char* kAttachmentNotOnChatwoot =
    "attachment not sent: its URL is not on this Chatwoot's host";

}  // namespace chatwoot::helper
