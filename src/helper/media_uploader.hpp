// A file uploaded to WhatsApp's media hosts for a message (issue 11,
// Chatwoot -> WhatsApp; waweb.md 2), encrypted with the media key the
// outbox committed (MediaEncryptor: AES-256-CBC + HMAC) in two passes over
// the file, never whole in memory and never written anywhere
// (media_upload_stream.hpp):
//
//  1. hashing: the URL https://<host>/mms/<type>/<token>?auth=&token=
//     names base64url(fileEncSha256), so the blob's sums come first.  The
//     file is encrypted a slice (slice_bytes, 512 KiB: about half a
//     millisecond) per turn of the helper's event loop, the ciphertext
//     thrown away.  Chosen over a worker thread: no thread to stop when
//     the helper exits or the job is dropped (dropping it deletes its
//     posted event; nothing else runs on), no hand-back through an eventfd,
//     no second thread in a process whose signals must reach the loop, and
//     one slice in memory per upload.  The loop pays the CPU time, in
//     bounded pieces, where a thread would use another core; pass 2 runs
//     on the loop anyway (in curl's read callback), so a thread would
//     save at most half of it.
//  2. the body: curl asks for it as it sends (BodySource), and the file is
//     encrypted again, a buffer at a time, with the same key and IV: the
//     same bytes.  Its sums are compared with pass 1's before the last
//     block and the MAC go; a file changed underneath ends the transfer
//     and the upload is a retry, which starts again from pass 1.
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
    // Plaintext encrypted per turn of the event loop in the hashing pass.
    size_t slice_bytes = 512 * 1024;
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
    class Body;
    static void on_slice(ngx_event_t* ev) noexcept;
    void hash_slice(uint64_t id);
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
