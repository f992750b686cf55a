// The OpenSSL provider behind SignalContext, driven the way libsignal drives
// it.  libsignal's provider entry points (signal_crypto_random,
// signal_hmac_sha256_*, signal_sha512_digest_*, signal_encrypt/decrypt) are
// exported by the shared library but declared only in its private header,
// so the test declares them itself; hkdf.h and fingerprint.h are public.
#include <gtest/gtest.h>

#include <fingerprint.h>
#include <hkdf.h>
#include <signal_protocol.h>

#include <memory>
#include <string>

#include "wa/bytes.hpp"
#include "wa/crypto/aes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/hmac.hpp"
#include "wa/crypto/kdf.hpp"
#include "wa/crypto/signal_context.hpp"

extern "C" {
int signal_crypto_random(signal_context* context, uint8_t* data, size_t len);
int signal_hmac_sha256_init(signal_context* context, void** hmac_context, const uint8_t* key,
                            size_t key_len);
int signal_hmac_sha256_update(signal_context* context, void* hmac_context, const uint8_t* data,
                              size_t data_len);
int signal_hmac_sha256_final(signal_context* context, void* hmac_context, signal_buffer** output);
void signal_hmac_sha256_cleanup(signal_context* context, void* hmac_context);
int signal_sha512_digest_init(signal_context* context, void** digest_context);
int signal_sha512_digest_update(signal_context* context, void* digest_context, const uint8_t* data,
                                size_t data_len);
int signal_sha512_digest_final(signal_context* context, void* digest_context,
                               signal_buffer** output);
void signal_sha512_digest_cleanup(signal_context* context, void* digest_context);
int signal_encrypt(signal_context* context, signal_buffer** output, int cipher, const uint8_t* key,
                   size_t key_len, const uint8_t* iv, size_t iv_len, const uint8_t* plaintext,
                   size_t plaintext_len);
int signal_decrypt(signal_context* context, signal_buffer** output, int cipher, const uint8_t* key,
                   size_t key_len, const uint8_t* iv, size_t iv_len, const uint8_t* ciphertext,
                   size_t ciphertext_len);
}

namespace chatwoot::wa::crypto {
namespace {

struct BufferFree {
    void operator()(signal_buffer* p) const { signal_buffer_free(p); }
};
using Buffer = std::unique_ptr<signal_buffer, BufferFree>;

Bytes own(ByteView v)
{
    return Bytes(v.begin(), v.end());
}

Bytes bytes_of(const Buffer& b)
{
    return Bytes(signal_buffer_data(b.get()),
                 signal_buffer_data(b.get()) + signal_buffer_len(b.get()));
}

SignalContext make(RandomSource r = seeded_random(as_bytes("ctx")))
{
    auto ctx = SignalContext::create(std::move(r));
    EXPECT_TRUE(ctx.ok());
    return std::move(ctx).value();
}

TEST(CryptoSignalContext, RandomComesFromInjectedSource)
{
    SignalContext ctx = make(replay_random(Bytes{9, 8, 7, 6, 5}));
    std::uint8_t out[3] = {};
    ASSERT_EQ(signal_crypto_random(ctx.get(), out, 3), 0);
    EXPECT_EQ(Bytes(out, out + 3), (Bytes{9, 8, 7}));
    EXPECT_LT(signal_crypto_random(ctx.get(), out, 3), 0);
    ASSERT_NE(ctx.last_random_error(), nullptr);
    EXPECT_EQ(ctx.last_random_error()->code, Errc::crypto_failure);
}

TEST(CryptoSignalContext, MoveKeepsTheContextWorking)
{
    SignalContext a = make(replay_random(Bytes{1, 2}));
    signal_context* raw = a.get();
    SignalContext b = std::move(a);
    EXPECT_EQ(b.get(), raw);
    std::uint8_t out[2] = {};
    ASSERT_EQ(signal_crypto_random(b.get(), out, 2), 0);
    EXPECT_EQ(out[1], 2);
}

TEST(CryptoSignalContext, HmacMatchesOursAndRestartsAfterFinal)
{
    SignalContext ctx = make();
    void* h = nullptr;
    Bytes key = own(as_bytes("Jefe"));
    ASSERT_EQ(signal_hmac_sha256_init(ctx.get(), &h, key.data(), key.size()), 0);
    std::string_view data = "what do ya want for nothing?";
    ASSERT_EQ(signal_hmac_sha256_update(ctx.get(), h, as_bytes(data).data(), data.size()), 0);
    signal_buffer* raw = nullptr;
    ASSERT_EQ(signal_hmac_sha256_final(ctx.get(), h, &raw), 0);
    Buffer out(raw);
    EXPECT_EQ(to_hex(bytes_of(out)),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    signal_hmac_sha256_cleanup(ctx.get(), h);
}

TEST(CryptoSignalContext, Sha512FinalStartsOver)
{
    SignalContext ctx = make();
    void* d = nullptr;
    ASSERT_EQ(signal_sha512_digest_init(ctx.get(), &d), 0);
    for (int round = 0; round < 2; ++round) {
        ASSERT_EQ(signal_sha512_digest_update(ctx.get(), d, as_bytes("abc").data(), 3), 0);
        signal_buffer* raw = nullptr;
        ASSERT_EQ(signal_sha512_digest_final(ctx.get(), d, &raw), 0);
        Buffer out(raw);
        EXPECT_EQ(bytes_of(out), to_bytes(sha512(as_bytes("abc")))) << "round " << round;
    }
    signal_sha512_digest_cleanup(ctx.get(), d);
}

TEST(CryptoSignalContext, AesCbcAndCtrMatchOurs)
{
    SignalContext ctx = make();
    Bytes key(32, 0x11), iv(16, 0x22);
    Bytes plain = own(as_bytes("a message that is longer than one block"));

    signal_buffer* raw = nullptr;
    ASSERT_EQ(signal_encrypt(ctx.get(), &raw, SG_CIPHER_AES_CBC_PKCS5, key.data(), key.size(),
                             iv.data(), iv.size(), plain.data(), plain.size()),
              0);
    Buffer cbc(raw);
    EXPECT_EQ(bytes_of(cbc), aes256_cbc_encrypt(key, iv, plain).value());
    raw = nullptr;
    ASSERT_EQ(
        signal_decrypt(ctx.get(), &raw, SG_CIPHER_AES_CBC_PKCS5, key.data(), key.size(), iv.data(),
                       iv.size(), signal_buffer_data(cbc.get()), signal_buffer_len(cbc.get())),
        0);
    Buffer back(raw);
    EXPECT_EQ(bytes_of(back), plain);

    raw = nullptr;
    ASSERT_EQ(signal_encrypt(ctx.get(), &raw, SG_CIPHER_AES_CTR_NOPADDING, key.data(), key.size(),
                             iv.data(), iv.size(), plain.data(), plain.size()),
              0);
    Buffer ctr(raw);
    EXPECT_EQ(bytes_of(ctr), aes256_ctr(key, iv, plain).value());
}

TEST(CryptoSignalContext, AesRejectsBadInput)
{
    SignalContext ctx = make();
    Bytes key(32, 0x11), iv(16, 0x22), block(16, 0);
    signal_buffer* raw = nullptr;
    EXPECT_LT(signal_encrypt(ctx.get(), &raw, 99, key.data(), key.size(), iv.data(), iv.size(),
                             block.data(), block.size()),
              0);
    EXPECT_LT(signal_encrypt(ctx.get(), &raw, SG_CIPHER_AES_CBC_PKCS5, key.data(), 20, iv.data(),
                             iv.size(), block.data(), block.size()),
              0);
    // Zeros decrypt to garbage padding.
    EXPECT_LT(signal_decrypt(ctx.get(), &raw, SG_CIPHER_AES_CBC_PKCS5, key.data(), key.size(),
                             iv.data(), iv.size(), block.data(), block.size()),
              0);
    EXPECT_EQ(raw, nullptr);
}

TEST(CryptoSignalContext, LibsignalHkdfAgreesWithOurs)
{
    // libsignal's HKDF (version 3) runs on the provider's HMAC.
    SignalContext ctx = make();
    hkdf_context* raw_hkdf = nullptr;
    ASSERT_EQ(hkdf_create(&raw_hkdf, 3, ctx.get()), 0);
    Bytes ikm(22, 0x0b), salt = from_hex("000102030405060708090a0b0c").value(),
                         info = from_hex("f0f1f2f3f4f5f6f7f8f9").value();
    uint8_t* out = nullptr;
    ssize_t n = hkdf_derive_secrets(raw_hkdf, &out, ikm.data(), ikm.size(), salt.data(),
                                    salt.size(), info.data(), info.size(), 42);
    ASSERT_EQ(n, 42);
    Bytes theirs(out, out + n);
    free(out);
    signal_type_unref(reinterpret_cast<signal_type_base*>(raw_hkdf));
    EXPECT_EQ(theirs, hkdf_sha256(salt, ikm, info, 42).value());
}

TEST(CryptoSignalContext, LogLinesReachTheCallback)
{
    SignalContext ctx = make();
    int lines = 0;
    ctx.set_log([&](int, std::string_view) { ++lines; });
    // A public key of the wrong type makes libsignal log before refusing.
    ec_public_key* key = nullptr;
    std::uint8_t bad[33] = {0x07};
    EXPECT_LT(curve_decode_point(&key, bad, sizeof bad, ctx.get()), 0);
    EXPECT_GE(lines, 1);
}

}  // namespace
}  // namespace chatwoot::wa::crypto
