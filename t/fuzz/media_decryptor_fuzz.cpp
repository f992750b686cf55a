// Fuzzes the streaming media decryptor, which reads a download body a
// media host (or anything between) controls, cut into chunks as the
// network delivers them.  Byte 0 sets the chunk sizes, the rest is the
// body.  Each body goes through twice:
//   - as it is: any outcome but a crash; the plaintext handed out never
//     exceeds the body, and finish() never succeeds on a body whose MAC
//     the whole-buffer decrypt_media() refuses (and vice versa);
//   - encrypted first with the same key (so the checks pass): decrypting
//     it in the fuzzer's chunks must give the body back and the same sums
//     MediaEncryptor reports.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "wa/media/media_cipher.hpp"
#include "wa/media/media_decryptor.hpp"
#include "wa/media/media_encryptor.hpp"

using namespace chatwoot::wa;

namespace {

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "media_decryptor_fuzz: %s\n", what);
        std::abort();
    }
}

const Bytes key(32, 0x42);

// Feeds `body` in chunks of 1 + (pattern-derived) bytes.
Result<media::MediaDigests> feed(ByteView body, std::uint8_t pattern, Bytes& plain,
                                 const media::ExpectedMedia& expected)
{
    auto d = media::MediaDecryptor::create(key, media::MediaType::image, expected, 1 << 20);
    check(d.ok(), "create");
    std::size_t i = 0;
    while (!body.empty()) {
        const std::size_t n =
            std::min<std::size_t>(body.size(), 1 + ((pattern * (i + 1) * 37) % 97));
        if (Status s = d->update(body.first(n), plain); !s) return s.error();
        body = body.subspan(n);
        ++i;
    }
    return d->finish(plain);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0) return 0;
    const std::uint8_t pattern = data[0];
    ByteView body(data + 1, size - 1);

    Bytes plain;
    auto raw = feed(body, pattern, plain, {});
    check(plain.size() <= body.size(), "more plaintext than body");
    auto whole = media::decrypt_media(key, media::MediaType::image, body);
    check(raw.ok() == whole.ok(), "streaming and whole-buffer decryption disagree");
    if (raw.ok()) check(plain == *whole, "streaming and whole-buffer plaintexts differ");

    auto enc = media::MediaEncryptor::create(key, media::MediaType::image);
    check(enc.ok(), "encryptor");
    Bytes blob;
    check(enc->update(body, blob).ok(), "encrypt");
    auto sums = enc->finish(blob);
    check(sums.ok(), "encrypt finish");
    Bytes back;
    auto r = feed(blob, pattern, back,
                  {.file_enc_sha256 = sums->file_enc_sha256,
                   .file_sha256 = sums->file_sha256,
                   .file_length = sums->file_length});
    check(r.ok(), "own encryption refused");
    check(back.size() == body.size() && std::equal(back.begin(), back.end(), body.begin()),
          "round trip");
    check(*r == *sums, "sums differ");
    return 0;
}
