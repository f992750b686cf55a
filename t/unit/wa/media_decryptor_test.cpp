// The streaming media decryptor against the `media[]` vectors (Baileys'
// encryptor): every way of cutting a body into one, two or equal pieces
// gives the vectors' plaintext and sums; then each failure a download can
// meet (forged MAC, wrong hashes, truncated, oversize, longer than
// promised, empty) is refused with the fault named, and nothing of the
// last block is handed out.  Finally, the state stays fixed-size: a large
// body in download-sized chunks allocates nothing per chunk.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "allocation_counter.hpp"
#include "vectors.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/aes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/hmac.hpp"
#include "wa/crypto/random.hpp"
#include "wa/media/media_cipher.hpp"
#include "wa/media/media_decryptor.hpp"
#include "wa/media/media_keys.hpp"

namespace chatwoot::wa::media {
namespace {

using test::vector_hex;
using test::vector_section;
using test::vector_string;

constexpr std::uint64_t cap = 64u << 20;

Bytes vector_plaintext()
{
    ByteView p = as_bytes(vector_string(test::vectors(), "media_plaintext"));
    return Bytes(p.begin(), p.end());
}

struct Vector {
    MediaType type;
    Bytes key, blob, enc_sha, sha;
};

std::vector<Vector> all_vectors()
{
    std::vector<Vector> out;
    for (const auto& v : vector_section("media").GetArray()) {
        auto type = media_type_from_name(vector_string(v, "type"));
        EXPECT_TRUE(type.has_value()) << vector_string(v, "type");
        out.push_back({type.value_or(MediaType::image), vector_hex(v, "media_key"),
                       vector_hex(v, "enc_blob"), vector_hex(v, "file_enc_sha256"),
                       vector_hex(v, "plaintext_sha256")});
    }
    return out;
}

ExpectedMedia expect_all(const Vector& v, std::uint64_t length)
{
    return {.file_enc_sha256 = v.enc_sha, .file_sha256 = v.sha, .file_length = length};
}

// Feeds `blob` cut at `cuts` (ascending offsets) and finishes.
struct Outcome {
    Result<MediaDigests> digests = make_error(Errc::wrong_state, "not run");
    Status last_update = Done{};
    Bytes plain;
    std::optional<MediaFault> fault;
};

Outcome run(const Vector& v, ByteView blob, const ExpectedMedia& expected,
            const std::vector<std::size_t>& cuts, std::uint64_t max = cap)
{
    Outcome o;
    auto d = MediaDecryptor::create(v.key, v.type, expected, max);
    if (!d) {
        o.digests = d.error();
        return o;
    }
    std::size_t from = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(blob.size());
    for (std::size_t to : ends) {
        o.last_update = d->update(blob.subspan(from, to - from), o.plain);
        if (!o.last_update) {
            o.fault = d->fault();
            return o;
        }
        from = to;
    }
    o.digests = d->finish(o.plain);
    o.fault = d->fault();
    return o;
}

TEST(MediaDecryptor, EveryVectorInOnePieceAndInEqualPieces)
{
    const Bytes plain = vector_plaintext();
    for (const Vector& v : all_vectors()) {
        SCOPED_TRACE(media_type_name(v.type));
        for (std::size_t step = 1; step <= v.blob.size(); ++step) {
            std::vector<std::size_t> cuts;
            for (std::size_t at = step; at < v.blob.size(); at += step) cuts.push_back(at);
            Outcome o = run(v, v.blob, expect_all(v, plain.size()), cuts);
            ASSERT_TRUE(o.digests.ok()) << "step " << step << ": " << o.digests.error().detail;
            ASSERT_EQ(o.plain, plain) << "step " << step;
            EXPECT_EQ(ByteView(o.digests->file_sha256).size(), 32u);
            EXPECT_EQ(to_hex(o.digests->file_sha256), to_hex(v.sha));
            EXPECT_EQ(to_hex(o.digests->file_enc_sha256), to_hex(v.enc_sha));
            EXPECT_EQ(o.digests->file_length, plain.size());
            EXPECT_EQ(o.digests->enc_length, v.blob.size());
            EXPECT_FALSE(o.fault.has_value());
        }
    }
}

TEST(MediaDecryptor, EveryTwoAndThreePieceCutOfTheImage)
{
    const Bytes plain = vector_plaintext();
    const Vector v = all_vectors().at(0);
    ASSERT_EQ(v.type, MediaType::image);
    const std::size_t n = v.blob.size();
    for (std::size_t a = 0; a <= n; ++a) {
        for (std::size_t b = a; b <= n; ++b) {
            Outcome o = run(v, v.blob, expect_all(v, plain.size()), {a, b});
            ASSERT_TRUE(o.digests.ok()) << a << "," << b << ": " << o.digests.error().detail;
            ASSERT_EQ(o.plain, plain) << a << "," << b;
        }
    }
}

TEST(MediaDecryptor, NothingExpectedStillChecksTheMac)
{
    const Vector v = all_vectors().at(0);
    Outcome ok = run(v, v.blob, {}, {100});
    ASSERT_TRUE(ok.digests.ok());
    EXPECT_EQ(to_hex(ok.digests->file_sha256), to_hex(v.sha));

    Bytes forged = v.blob;
    forged.back() ^= 0x01;
    Outcome bad = run(v, forged, {}, {100});
    ASSERT_FALSE(bad.digests.ok());
    EXPECT_EQ(bad.fault, MediaFault::mac);
}

TEST(MediaDecryptor, ForgedMacOrCiphertext)
{
    const Vector v = all_vectors().at(0);
    const std::uint64_t len = vector_plaintext().size();
    // Without the enc hash (which would catch it first), the MAC does.
    ExpectedMedia no_enc_hash{.file_sha256 = v.sha, .file_length = len};
    for (std::size_t at : {std::size_t{0}, std::size_t{17}, v.blob.size() - 11,
                           v.blob.size() - 10, v.blob.size() - 1}) {
        Bytes forged = v.blob;
        forged[at] ^= 0x20;
        Outcome o = run(v, forged, no_enc_hash, {7, 64});
        ASSERT_FALSE(o.digests.ok()) << at;
        EXPECT_EQ(o.digests.error().code, Errc::bad_mac) << at;
        EXPECT_EQ(o.fault, MediaFault::mac) << at;
        // The held-back last block never came out.
        EXPECT_LT(o.plain.size(), len) << at;
    }
}

TEST(MediaDecryptor, WrongEncHashIsCheckedBeforeTheMac)
{
    const Vector v = all_vectors().at(0);
    Bytes wrong = v.enc_sha;
    wrong[31] ^= 0x80;
    Outcome o = run(v, v.blob, {.file_enc_sha256 = wrong}, {});
    ASSERT_FALSE(o.digests.ok());
    EXPECT_EQ(o.digests.error().code, Errc::bad_mac);
    EXPECT_EQ(o.fault, MediaFault::enc_hash);
    EXPECT_NE(o.digests.error().detail.find("fileEncSha256"), std::string::npos);
}

TEST(MediaDecryptor, WrongPlainHash)
{
    const Vector v = all_vectors().at(0);
    Bytes wrong = v.sha;
    wrong[0] ^= 0x01;
    const std::uint64_t len = vector_plaintext().size();
    Outcome o = run(
        v, v.blob, {.file_enc_sha256 = v.enc_sha, .file_sha256 = wrong, .file_length = len}, {50});
    ASSERT_FALSE(o.digests.ok());
    EXPECT_EQ(o.digests.error().code, Errc::bad_mac);
    EXPECT_EQ(o.fault, MediaFault::plain_hash);
    // The last block is handed out only on success.
    EXPECT_EQ(o.plain.size(), len / 16 * 16);
}

TEST(MediaDecryptor, TruncatedBody)
{
    const Vector v = all_vectors().at(0);
    const std::uint64_t len = vector_plaintext().size();
    // With fileLength known, any short body is truncated, whatever else.
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{25}, std::size_t{26},
                          v.blob.size() - 16, v.blob.size() - 1}) {
        Outcome o = run(v, ByteView(v.blob).first(n), expect_all(v, len), {});
        ASSERT_FALSE(o.digests.ok()) << n;
        EXPECT_EQ(o.digests.error().code, Errc::truncated) << n;
        EXPECT_EQ(o.fault, MediaFault::truncated) << n;
    }
    // Without it, under one block and the MAC is truncated; a longer cut
    // body fails its MAC (the old whole-buffer rules).
    EXPECT_EQ(run(v, ByteView(v.blob).first(25), {}, {}).fault, MediaFault::truncated);
    EXPECT_EQ(run(v, ByteView(v.blob).first(26), {}, {}).fault, MediaFault::mac);
    // A cut to whole blocks that keeps the MAC: the MAC, not the padding.
    Bytes cut(v.blob.begin(), v.blob.end() - 10 - 16);
    cut.insert(cut.end(), v.blob.end() - 10, v.blob.end());
    EXPECT_EQ(run(v, cut, {}, {3}).fault, MediaFault::mac);
}

TEST(MediaDecryptor, EmptyBody)
{
    const Vector v = all_vectors().at(0);
    auto d = MediaDecryptor::create(v.key, v.type, {}, cap);
    ASSERT_TRUE(d.ok());
    Bytes plain;
    ASSERT_TRUE(d->update({}, plain).ok());
    auto r = d->finish(plain);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::truncated);
    EXPECT_EQ(d->fault(), MediaFault::truncated);
    EXPECT_TRUE(plain.empty());
}

TEST(MediaDecryptor, OversizeStopsAtTheChunkThatCrossesTheCap)
{
    // A 100-byte cap allows a body of enc_blob_size(100) = 122 bytes.
    auto key = new_media_key(crypto::seeded_random(as_bytes("cap")));
    ASSERT_TRUE(key.ok());
    Bytes file(1000, 0x5a);
    auto enc = encrypt_media(*key, MediaType::video, file);
    ASSERT_TRUE(enc.ok());
    const Vector v{MediaType::video, crypto::to_bytes(*key), enc->enc_blob, {}, {}};

    auto d = MediaDecryptor::create(v.key, v.type, {}, 100);
    ASSERT_TRUE(d.ok());
    Bytes plain;
    ASSERT_TRUE(d->update(ByteView(v.blob).first(122), plain).ok());
    EXPECT_EQ(d->received(), 122u);
    auto over = d->update(ByteView(v.blob).subspan(122, 1), plain);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().code, Errc::too_large);
    EXPECT_EQ(d->fault(), MediaFault::too_large);
    EXPECT_EQ(d->received(), 122u);  // the crossing chunk was refused whole
    // Failed for good.
    EXPECT_EQ(d->update(ByteView(v.blob).subspan(123, 1), plain).error().code, Errc::wrong_state);
    EXPECT_EQ(d->finish(plain).error().code, Errc::wrong_state);

    // One large chunk is refused before any byte of it is used.
    Outcome big = run(v, v.blob, {}, {}, 100);
    EXPECT_EQ(big.last_update.error().code, Errc::too_large);
    EXPECT_TRUE(big.plain.empty());

    // A file exactly at the cap passes.
    Outcome exact = run(v, v.blob, {}, {500}, file.size());
    ASSERT_TRUE(exact.digests.ok()) << exact.digests.error().detail;
    EXPECT_EQ(exact.plain, file);

    // A message that promises more than the cap is refused up front.
    auto promised = MediaDecryptor::create(v.key, v.type, {.file_length = 101}, 100);
    ASSERT_FALSE(promised.ok());
    EXPECT_EQ(promised.error().code, Errc::too_large);
}

TEST(MediaDecryptor, LongerThanFileLengthPromises)
{
    const Vector v = all_vectors().at(0);
    const std::uint64_t len = vector_plaintext().size();
    Bytes longer = v.blob;
    longer.push_back(0);
    Outcome o = run(v, longer, expect_all(v, len), {10});
    ASSERT_FALSE(o.last_update.ok());
    EXPECT_EQ(o.last_update.error().code, Errc::malformed);
    EXPECT_EQ(o.fault, MediaFault::length);

    // A plaintext of another length inside a body of the promised size:
    // the same body, told fileLength is one byte less (same block count).
    Outcome shorter = run(v, v.blob, {.file_length = len - 1}, {});
    ASSERT_FALSE(shorter.digests.ok());
    EXPECT_EQ(shorter.fault, MediaFault::length);
}

TEST(MediaDecryptor, BadPaddingUnderAValidMac)
{
    // A sender that MACs a ciphertext with bad padding: the MAC passes,
    // the padding check is what refuses it.
    auto key = new_media_key(crypto::seeded_random(as_bytes("pad")));
    ASSERT_TRUE(key.ok());
    auto keys = expand_media_key(*key, MediaType::document);
    ASSERT_TRUE(keys.ok());
    Bytes block(32, 0x11);  // last byte 0x11 > 16: never valid padding
    auto ct = crypto::aes256_cbc_encrypt(keys->cipher_key, keys->iv, block);
    ASSERT_TRUE(ct.ok());
    // CBC's first two blocks alone: they decrypt to 32 bytes ending in
    // 0x11, which is no PKCS#7 padding.
    ct->resize(32);
    Bytes mac_in = concat({keys->iv, *ct});
    auto mac = crypto::hmac_sha256(keys->mac_key, mac_in);
    Bytes blob = *ct;
    blob.insert(blob.end(), mac.begin(), mac.begin() + 10);
    const Vector v{MediaType::document, crypto::to_bytes(*key), blob, {}, {}};
    Outcome o = run(v, blob, {}, {5});
    ASSERT_FALSE(o.digests.ok());
    EXPECT_EQ(o.digests.error().code, Errc::malformed);
    EXPECT_EQ(o.fault, MediaFault::padding);

    // Not whole blocks, under a valid MAC.
    Bytes odd(ct->begin(), ct->begin() + 20);
    auto mac2 = crypto::hmac_sha256(keys->mac_key, concat({keys->iv, odd}));
    odd.insert(odd.end(), mac2.begin(), mac2.begin() + 10);
    EXPECT_EQ(run(v, odd, {}, {}).fault, MediaFault::padding);
}

TEST(MediaDecryptor, BadArguments)
{
    const Vector v = all_vectors().at(0);
    EXPECT_EQ(MediaDecryptor::create(Bytes(31, 0), v.type, {}, cap).error().code,
              Errc::malformed);
    EXPECT_EQ(MediaDecryptor::create(v.key, v.type, {.file_sha256 = Bytes(33, 0)}, cap)
                  .error()
                  .code,
              Errc::malformed);
    EXPECT_EQ(MediaDecryptor::create(v.key, v.type, {.file_enc_sha256 = Bytes(0)}, cap)
                  .error()
                  .code,
              Errc::malformed);
    // The wrong key family: the MAC fails.
    EXPECT_EQ(run({MediaType::audio, v.key, v.blob, {}, {}}, v.blob, {}, {}).fault,
              MediaFault::mac);
}

TEST(MediaDecryptor, FinishedIsFinal)
{
    const Vector v = all_vectors().at(0);
    auto d = MediaDecryptor::create(v.key, v.type, {}, cap);
    ASSERT_TRUE(d.ok());
    Bytes plain;
    ASSERT_TRUE(d->update(v.blob, plain).ok());
    ASSERT_TRUE(d->finish(plain).ok());
    EXPECT_EQ(d->update(v.blob, plain).error().code, Errc::wrong_state);
    EXPECT_EQ(d->finish(plain).error().code, Errc::wrong_state);
}

TEST(MediaDecryptor, LargeBodyInRandomChunksMatchesTheWholeBufferDecrypt)
{
    auto key = new_media_key(crypto::seeded_random(as_bytes("large")));
    ASSERT_TRUE(key.ok());
    auto file = crypto::random_bytes(crypto::seeded_random(as_bytes("file")), 300007);
    ASSERT_TRUE(file.ok());
    auto enc = encrypt_media(*key, MediaType::video, *file);
    ASSERT_TRUE(enc.ok());
    auto sizes = crypto::random_bytes(crypto::seeded_random(as_bytes("chunks")), 4096);
    ASSERT_TRUE(sizes.ok());

    auto d = MediaDecryptor::create(*key, MediaType::video,
                                    {.file_enc_sha256 = enc->file_enc_sha256,
                                     .file_sha256 = enc->file_sha256,
                                     .file_length = file->size()},
                                    cap);
    ASSERT_TRUE(d.ok());
    Bytes plain;
    ByteView rest = enc->enc_blob;
    for (std::size_t i = 0; !rest.empty(); ++i) {
        // 1 .. 4096 bytes, some tiny, as a socket may deliver.
        std::size_t n = (std::size_t{(*sizes)[i % sizes->size()]} << (i % 5)) % 4096 + 1;
        n = std::min(n, rest.size());
        ASSERT_TRUE(d->update(rest.first(n), plain).ok());
        rest = rest.subspan(n);
    }
    auto r = d->finish(plain);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(plain, *file);
    EXPECT_EQ(r->file_length, file->size());
    EXPECT_EQ(r->enc_length, enc->enc_blob.size());
}

TEST(MediaDecryptor, MemoryStaysFlatWhateverTheBodySize)
{
    if (!test::counts_allocations()) GTEST_SKIP() << "no allocation counting in this build";
    auto key = new_media_key(crypto::seeded_random(as_bytes("flat")));
    ASSERT_TRUE(key.ok());
    Bytes file(4u << 20, 0x42);  // 4 MiB
    auto enc = encrypt_media(*key, MediaType::video, file);
    ASSERT_TRUE(enc.ok());

    auto d = MediaDecryptor::create(*key, MediaType::video, {}, cap);
    ASSERT_TRUE(d.ok());
    Bytes plain;
    plain.reserve(16384 + 32);
    ByteView rest = enc->enc_blob;
    const std::size_t before = test::allocation_count();
    while (!rest.empty()) {
        const std::size_t n = std::min<std::size_t>(16384, rest.size());
        plain.clear();  // the caller wrote it to its file
        ASSERT_TRUE(d->update(rest.first(n), plain).ok());
        rest = rest.subspan(n);
    }
    EXPECT_EQ(test::allocation_count(), before) << "update() allocated per chunk";
    auto r = d->finish(plain);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(r->file_sha256, crypto::sha256(file));
}

}  // namespace
}  // namespace chatwoot::wa::media
