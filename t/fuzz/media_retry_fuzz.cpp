// Fuzzes the media retry answer, which a phone (or anything that can send
// us a notification) controls: the <notification type="mediaretry"> node,
// and the decryption and reading of its payload under a fixed media key.
// Must return a value or a reason, never crash, never read past its input;
// a success must carry a direct path that stays on the media host.
//
// Input: byte 0 picks the target, the rest is its input.
//   even: a binary payload (flags byte, node) for
//         parse_media_retry_notification() and media_retry_outcome()
//   odd:  12 bytes of IV, then ciphertext, for decrypt_media_retry(); so
//         that the fuzzer gets past the GCM tag at all, the input is also
//         sealed under the retry key and the plaintext read
// Seeds: t/fuzz/corpus/media_retry (Baileys' notifications, from
// t/unit/wa/media_vectors.json by make-corpus.mjs; their media key is the
// one below).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "wa/binary/decoder.hpp"
#include "wa/crypto/aes.hpp"
#include "wa/media/media_retry.hpp"
#include "wa/media/media_url.hpp"

using namespace chatwoot::wa;

namespace {

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "media_retry_fuzz: %s\n", what);
        std::abort();
    }
}

// media_vectors.json's media_key: the seeds decrypt under it.
const Bytes& media_key()
{
    static const Bytes key =
        *from_hex("0ee3388c881e25ccc5c284150dc18cc65f9f05edb1ec1c68ec289e5e9ff510cd");
    return key;
}

void check_outcome(const Result<media::MediaRetryOutcome>& r)
{
    if (!r) return;
    if (r->result == media::MediaRetryResult::success)
        check(media::check_direct_path(r->direct_path).ok(), "success with a bad direct path");
    else
        check(r->direct_path.empty(), "a failure with a direct path");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0) return 0;
    const std::uint8_t selector = data[0];
    ByteView input(data + 1, size - 1);

    if (selector % 2 == 0) {
        auto node = binary::decode(input);
        if (!node) return 0;
        auto notice = media::parse_media_retry_notification(*node);
        if (!notice) return 0;
        check(!notice->message_id.empty(), "notice without id");
        if (notice->error_code)
            check(notice->ciphertext.empty(), "error with ciphertext");
        else
            check(!notice->ciphertext.empty() &&
                      notice->ciphertext.size() <= media::kMaxMediaRetryCiphertext,
                  "ciphertext size");
        check_outcome(media::media_retry_outcome(media_key(), *notice));
        return 0;
    }

    if (input.size() < media::media_retry_iv_size) return 0;
    ByteView iv = input.first(media::media_retry_iv_size);
    ByteView rest = input.subspan(media::media_retry_iv_size);
    const std::string_view id = "3EB0C431C26A1916E07A";
    check_outcome(media::decrypt_media_retry(media_key(), id, iv, rest));
    // The same bytes as a plaintext the phone sealed: exercises the
    // protobuf reading and the direct path checks behind the tag.
    auto key = media::media_retry_key(media_key());
    check(key.ok(), "retry key");
    auto sealed = crypto::aes256_gcm_encrypt(*key, iv, rest, as_bytes(id));
    if (!sealed) return 0;
    auto r = media::decrypt_media_retry(media_key(), id, iv, *sealed);
    if (sealed->size() <= media::kMaxMediaRetryCiphertext)
        check(r.ok() || r.error().code == Errc::malformed, "sealed answer refused oddly");
    check_outcome(r);
    return 0;
}
