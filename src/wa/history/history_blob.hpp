// From a history-sync notification to its conversations (waweb.md 1.18):
//
//   notification --- inline payload (already a zlib stream) ---+
//     '- direct path -> download (not here) -> enc blob          |
//          verify hash and MAC, decrypt (media type history) ---+
//                                                  zlib stream
//          inflate, at most max_inflated_size bytes
//          parse_history_sync -> plain values
//
// The blob is ordinary media encrypted under "WhatsApp History Keys":
// media::decrypt_media checks the hash and MAC before it decrypts.  What it
// yields is zlib-compressed, and a few kilobytes of zlib can claim
// gigabytes, so inflation stops at a bound the caller sets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/history/history_sync.hpp"

namespace chatwoot::wa::proto {
class Message_HistorySyncNotification;
}

namespace chatwoot::wa::history {

struct HistoryLimits {
    // Real chunks inflate to a few MiB; a full sync is sent as many chunks.
    std::size_t max_inflated_size = 64u << 20;
};

// Where a notification's blob is and how to check it.
struct HistorySource {
    // Set for the initial bootstrap chunk the phone puts in the message
    // itself: already end-to-end encrypted, so it is the zlib stream as is.
    Bytes inline_payload;
    // Otherwise: download direct_path as media type "md-msg-hist" and open
    // it with these.
    std::string direct_path;
    Bytes media_key;        // 32 bytes
    Bytes file_enc_sha256;  // SHA-256 of the download; empty if not sent
    Bytes file_sha256;      // SHA-256 of the zlib stream; empty if not sent
    std::uint64_t file_length = 0;

    bool is_inline() const { return !inline_payload.empty(); }
};

// Errc::malformed when the notification has neither an inline payload nor
// a direct path, or a media key that is not 32 bytes, or a hash that is
// not 32.
Result<HistorySource> history_source(const proto::Message_HistorySyncNotification& notification);

// The zlib stream inside a downloaded blob.  Errors are decrypt_media's:
// Errc::bad_mac for a hash or MAC mismatch, Errc::truncated for a blob too
// short to hold one block and the MAC, Errc::malformed for bad padding or
// key lengths.
Result<Bytes> decrypt_history_blob(ByteView enc_blob, const HistorySource& source);

// Inflates a zlib stream.  Errc::too_large past limits.max_inflated_size,
// Errc::truncated for a stream cut short, Errc::malformed for corrupt data
// or bytes after the end.
Result<Bytes> inflate_history(ByteView zlib_stream, const HistoryLimits& limits = {});

// All steps: the inline payload, or `downloaded` (ignored when inline)
// verified and decrypted; then inflated and parsed.
Result<HistorySyncData> open_history(const HistorySource& source, ByteView downloaded,
                                     const HistoryLimits& limits = {});

}  // namespace chatwoot::wa::history
