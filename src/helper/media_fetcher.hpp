// WhatsApp media downloaded into the media store (issue 11, WhatsApp ->
// Chatwoot): the media_conn cache and one download job per message.
//
// A job tries each media_conn host in turn with the message's direct path
// (or only the message's own `url`, when check_message_url() admits it and
// there is no direct path), streams the body through MediaDecryptor into a
// temporary file next to its destination, and renames it into place (file
// and directory fsynced) only when finish() has checked the hash, the MAC,
// the padding and the length: a file at the destination is always whole
// and verified, and nothing unverified is ever kept.
//
// Network errors and 5xx move to the next host; when every host of a round
// failed that way, the job waits (1 s, 2 s, 4 s, ...) and starts another
// round, kMaxRounds in all.  401 and 403 drop the cached media_conn (its
// auth or hosts are stale: the next round asks again); 404 and 410 mean the
// blob is gone from that host.  When no host has it, a job that names its
// message (MediaJob::retry) asks the phone to upload the file again (a
// media retry: the session's AskRetry, at most once per job); a success
// gives a new direct path, fetched as before (from the media_conn hosts
// only: check_direct_path() vetted it), anything else (an error result, an
// answer that does not open, none within the session's bound) ends the job
// `gone`, as does a job without a message or a fetcher without a session.
// A body that fails a check is final: a forged or damaged blob does not
// get better by asking again.
//
// How long a job holds its chat (the forwarder keeps the chat's order, so
// the chat's later messages wait behind it): at most kMaxRounds rounds of
// one attempt per host (each under timeout_ms) with 1+2+4 s between them,
// and for a blob gone from every host, the phone's answer (at most
// MediaRetryDesk::kAnswerWait, 2 min) and the same rounds once more.
#pragma once

#include "curl_multi_driver.hpp"
#include "ngx.hpp"

#include "../wa/bytes.hpp"
#include "../wa/error.hpp"
#include "../wa/media/media_conn.hpp"
#include "../wa/media/media_decryptor.hpp"
#include "../wa/media/media_retry.hpp"
#include "../wa/media/media_type.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace chatwoot::helper {

// The media_conn answer, kept for its ttl.  Time is given by the caller
// (seconds), so the cache is tested without a clock.
class MediaConnCache {
public:
    // The answer while it is fresh, else null.
    const wa::media::MediaConn* get(std::int64_t now) const;
    void put(wa::media::MediaConn conn, std::int64_t now);
    // Forgets it: a host refused us (401/403), or the session reconnected.
    void drop() { conn_.reset(); }

private:
    std::optional<wa::media::MediaConn> conn_;
    std::int64_t expires_ = 0;
};

// Which message a job's file belongs to: what a media retry names.
struct MediaRetryAsk {
    std::string message_id;
    std::string chat;         // as WhatsApp addressed it (user or group), no device
    std::string participant;  // the sender, in a group; "" otherwise
    bool from_me = false;
};

// What a media message says about its file.
struct MediaJob {
    wa::media::MediaType type = wa::media::MediaType::image;
    wa::Bytes media_key;
    std::optional<wa::Bytes> file_enc_sha256;
    std::optional<wa::Bytes> file_sha256;
    std::optional<std::uint64_t> file_length;
    std::string direct_path;  // preferred: fetched from the media_conn hosts
    std::string url;          // used only through check_message_url()
    std::string destination;  // the finished file's path (in the media store)
    // The message, when the phone may be asked for an expired file.
    std::optional<MediaRetryAsk> retry;
};

struct MediaOutcome {
    enum class Kind {
        fetched,    // the file is at the job's destination, verified
        too_large,  // over whatsapp_media_max (said by the message or seen)
        damaged,    // a check failed (fault says which)
        gone,       // 404/410 (or 403) from every host: expired on WhatsApp
        failed,     // network errors or 5xx after every round, or a local error
    };
    Kind kind = Kind::failed;
    std::optional<wa::media::MediaDigests> digests;  // when fetched
    std::optional<wa::media::MediaFault> fault;      // when damaged or too_large
    // Why, for the log and for the note in Chatwoot; never holds a key or
    // a URL (a URL carries the blob's hash, which is no secret, but
    // direct paths carry WhatsApp's own tokens).
    std::string reason;
};

// The note Chatwoot shows in place of the media ("media too large: ...").
std::string media_failure_note(const MediaOutcome& outcome, std::uint64_t max_file_size);

struct MediaFetchOptions {
    std::uint64_t max_file_size = 64ull * 1024 * 1024;  // whatsapp_media_max
    std::string ca_file;  // as whatsapp_server's ca_file=
    std::string proxy;
    long timeout_ms = 120000;  // one attempt, body included
};

class MediaFetcher {
public:
    // Asks the session for media_conn; `answer` runs once (from the event
    // loop), with the parsed answer or why there is none.
    using MediaConnAnswer = std::function<void(wa::Result<wa::media::MediaConn>)>;
    using AskMediaConn = std::function<void(MediaConnAnswer answer)>;
    using Done = std::function<void(const MediaOutcome&)>;
    // Asks the phone to upload a message's file again; `answer` runs once
    // (inside the call when the request is refused), with the phone's
    // result or why there is none (refused, no answer in time, one that
    // does not open).
    using RetryAnswer = std::function<void(wa::Result<wa::media::MediaRetryOutcome>)>;
    using AskRetry = std::function<void(const MediaRetryAsk& ask, wa::ByteView media_key,
                                        RetryAnswer answer)>;

    static constexpr int kMaxRounds = 4;
    static constexpr ngx_msec_t kFirstBackoffMs = 1000;

    MediaFetcher(HttpTransport& http, AskMediaConn ask, MediaFetchOptions options);
    ~MediaFetcher();
    MediaFetcher(const MediaFetcher&) = delete;
    MediaFetcher& operator=(const MediaFetcher&) = delete;

    // Starts a download; done runs exactly once, from the event loop,
    // unless the fetcher is destroyed first (then the temporary file is
    // removed and done never runs).  Returns the job's id.
    std::uint64_t fetch(MediaJob job, Done done);

    // Media retries go through this (a device without a phone: none).
    void use_media_retry(AskRetry ask) { ask_retry_ = std::move(ask); }

    // The session reconnected: its media_conn may be stale.
    void drop_media_conn() { cache_.drop(); }

    std::size_t jobs() const { return jobs_.size(); }
    const MediaConnCache& cache() const { return cache_; }

private:
    struct Job;

    void start_round(Job& job);
    void with_hosts(Job& job);
    void try_next(Job& job);
    void attempt_done(std::uint64_t id, const TransferResult& r);
    void round_failed(Job& job);
    void ask_phone(Job& job);
    void phone_answered(std::uint64_t id, const wa::Result<wa::media::MediaRetryOutcome>& answer);
    void finish(std::uint64_t id, MediaOutcome outcome);
    static void on_backoff(ngx_event_t* ev) noexcept;

    HttpTransport& http_;
    AskMediaConn ask_;
    AskRetry ask_retry_;
    MediaFetchOptions options_;
    MediaConnCache cache_;
    std::map<std::uint64_t, std::unique_ptr<Job>> jobs_;
    std::uint64_t next_id_ = 1;
    // Jobs waiting for a media_conn answer already asked for.
    bool asking_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatwoot::helper
