// A file uploaded to WhatsApp's media hosts for a message (issue 11,
// Chatwoot -> WhatsApp; waweb.md 2): encrypted with the media key the
// outbox committed (MediaEncryptor: AES-256-CBC + HMAC, streamed from the
// file into "<file>.enc" beside it, never whole in memory), then POSTed to
// https://<host>/mms/<type>/<token>?auth=&token= from that file.
//
// Hosts come from media_conn (cached for its ttl, shared with nothing but
// asked through the device's one IQ): each is tried in turn; a 5xx or a
// network error moves to the next; 401/403 drops the cached media_conn and
// asks again, once per upload; when every host failed, the upload is a
// retry (the outbox backs off).  Another 4xx is a refusal.  The same key
// gives the same bytes: an upload made again after a crash is the same
// blob.
#pragma once

#include "curl_multi_driver.hpp"
#include "device.hpp"
#include "media_fetcher.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace chatwoot::helper {

struct MediaUploadOptions {
    std::string ca_file;   // as whatsapp_server's ca_file=
    std::string proxy;
    long timeout_ms = 300000;
};

class MediaUploader {
public:
    MediaUploader(HttpTransport& http, MediaFetcher::AskMediaConn ask, MediaUploadOptions options);
    ~MediaUploader();
    MediaUploader(const MediaUploader&) = delete;
    MediaUploader& operator=(const MediaUploader&) = delete;

    // done runs exactly once, maybe from within this call (a file that
    // cannot be read or encrypted), unless the uploader is destroyed first.
    void upload(const MediaUpload& upload, Device::UploadDone done);

    // The session reconnected: its media_conn may be stale.
    void drop_media_conn() { cache_.drop(); }

    size_t jobs() const { return jobs_.size(); }

private:
    struct Job;
    void with_conn(uint64_t id);
    void try_next(uint64_t id);
    void answered(uint64_t id, const TransferResult& r);
    void finish(uint64_t id, UploadResult result);

    HttpTransport& http_;
    MediaFetcher::AskMediaConn ask_;
    MediaUploadOptions options_;
    MediaConnCache cache_;
    std::map<uint64_t, std::unique_ptr<Job>> jobs_;
    uint64_t next_id_ = 1;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatwoot::helper
