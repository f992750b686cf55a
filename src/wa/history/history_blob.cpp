#include "wa/history/history_blob.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "wa/binary/payload.hpp"
#include "wa/media/media_cipher.hpp"
#include "wa/media/media_keys.hpp"
#include "wa/proto/message.pb.h"

namespace chatwoot::wa::history {

namespace {

Bytes bytes_of(const std::string& s)
{
    return Bytes(s.begin(), s.end());
}

Status check_hash(std::string_view name, const Bytes& hash)
{
    if (!hash.empty() && hash.size() != 32) {
        return make_error(Errc::malformed, "history notification: " + std::string(name) + " is " +
                                               std::to_string(hash.size()) + " bytes, not 32");
    }
    return Done{};
}

std::optional<ByteView> optional_view(const Bytes& b)
{
    if (b.empty()) {
        return std::nullopt;
    }
    return ByteView(b);
}

}  // namespace

Result<HistorySource> history_source(const proto::Message_HistorySyncNotification& n)
{
    HistorySource out;
    if (!n.initialhistbootstrapinlinepayload().empty()) {
        out.inline_payload = bytes_of(n.initialhistbootstrapinlinepayload());
        return out;
    }
    if (n.directpath().empty()) {
        return make_error(Errc::malformed,
                          "history notification: no inline payload and no direct path");
    }
    out.direct_path = n.directpath();
    out.media_key = bytes_of(n.mediakey());
    out.file_enc_sha256 = bytes_of(n.fileencsha256());
    out.file_sha256 = bytes_of(n.filesha256());
    out.file_length = n.filelength();
    if (out.media_key.size() != media::media_key_size) {
        return make_error(Errc::malformed, "history notification: media key is " +
                                               std::to_string(out.media_key.size()) +
                                               " bytes, not 32");
    }
    for (Status st : {check_hash("fileEncSha256", out.file_enc_sha256),
                      check_hash("fileSha256", out.file_sha256)}) {
        if (!st) {
            return st.error();
        }
    }
    return out;
}

Result<Bytes> decrypt_history_blob(ByteView enc_blob, const HistorySource& source)
{
    auto plain = media::decrypt_media(source.media_key, media::MediaType::history, enc_blob,
                                      {.file_enc_sha256 = optional_view(source.file_enc_sha256),
                                       .file_sha256 = optional_view(source.file_sha256)});
    if (!plain) {
        return make_error(plain.error().code, "history blob: " + plain.error().detail);
    }
    return plain;
}

Result<Bytes> inflate_history(ByteView zlib_stream, const HistoryLimits& limits)
{
    auto inflated = binary::inflate_bounded(zlib_stream, limits.max_inflated_size);
    if (!inflated) {
        return make_error(inflated.error().code, "history blob: " + inflated.error().detail);
    }
    return inflated;
}

Result<HistorySyncData> open_history(const HistorySource& source, ByteView downloaded,
                                     const HistoryLimits& limits)
{
    Bytes decrypted;
    ByteView zlib_stream = source.inline_payload;
    if (!source.is_inline()) {
        auto plain = decrypt_history_blob(downloaded, source);
        if (!plain) {
            return plain.error();
        }
        decrypted = std::move(*plain);
        zlib_stream = decrypted;
    }
    auto inflated = inflate_history(zlib_stream, limits);
    if (!inflated) {
        return inflated.error();
    }
    return parse_history_sync(*inflated);
}

}  // namespace chatwoot::wa::history
