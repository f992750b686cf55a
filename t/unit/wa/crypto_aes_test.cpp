// AES-256 modes: known answers from the GCM specification (test cases 13
// and 14) and NIST SP 800-38A (F.2.5 CBC, F.5.5 CTR), plus the failures a
// hostile or corrupted input must produce.
#include <gtest/gtest.h>

#include "wa/bytes.hpp"
#include "wa/crypto/aes.hpp"

namespace chatwoot::wa::crypto {
namespace {

Bytes hex(std::string_view s)
{
    return from_hex(s).value();
}

const Bytes sp800_key = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");

TEST(CryptoAesGcm, SpecCase13EmptyPlaintext)
{
    auto out = aes256_gcm_encrypt(Bytes(32, 0), Bytes(12, 0), {}, {});
    ASSERT_TRUE(out.ok()) << out.error().detail;
    EXPECT_EQ(to_hex(*out), "530f8afbc74536b9a963b4f1c4cb738b");
    auto back = aes256_gcm_decrypt(Bytes(32, 0), Bytes(12, 0), *out, {});
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back->empty());
}

TEST(CryptoAesGcm, SpecCase14OneBlock)
{
    auto out = aes256_gcm_encrypt(Bytes(32, 0), Bytes(12, 0), Bytes(16, 0), {});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(to_hex(*out), "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
}

TEST(CryptoAesGcm, RoundTripWithAad)
{
    Bytes key(32, 7), iv(12, 9);
    auto ct = aes256_gcm_encrypt(key, iv, as_bytes("hello, noise"), as_bytes("header hash"));
    ASSERT_TRUE(ct.ok());
    EXPECT_EQ(ct->size(), 12u + 16u);
    auto pt = aes256_gcm_decrypt(key, iv, *ct, as_bytes("header hash"));
    ASSERT_TRUE(pt.ok());
    EXPECT_EQ(as_chars(*pt), "hello, noise");
}

TEST(CryptoAesGcm, TamperingIsBadMac)
{
    Bytes key(32, 7), iv(12, 9);
    Bytes ct = aes256_gcm_encrypt(key, iv, as_bytes("hello"), as_bytes("aad")).value();

    Bytes flipped_tag = ct;
    flipped_tag.back() ^= 0x01;
    EXPECT_EQ(aes256_gcm_decrypt(key, iv, flipped_tag, as_bytes("aad")).error().code,
              Errc::bad_mac);

    Bytes flipped_body = ct;
    flipped_body[0] ^= 0x80;
    EXPECT_EQ(aes256_gcm_decrypt(key, iv, flipped_body, as_bytes("aad")).error().code,
              Errc::bad_mac);

    EXPECT_EQ(aes256_gcm_decrypt(key, iv, ct, as_bytes("aaD")).error().code, Errc::bad_mac);
    Bytes other_iv(12, 8);
    EXPECT_EQ(aes256_gcm_decrypt(key, other_iv, ct, as_bytes("aad")).error().code, Errc::bad_mac);
    Bytes other_key(32, 6);
    EXPECT_EQ(aes256_gcm_decrypt(other_key, iv, ct, as_bytes("aad")).error().code, Errc::bad_mac);
}

TEST(CryptoAesGcm, ShortInputAndWrongLengths)
{
    Bytes key(32, 7), iv(12, 9);
    EXPECT_EQ(aes256_gcm_decrypt(key, iv, Bytes(15, 0), {}).error().code, Errc::truncated);
    EXPECT_EQ(aes256_gcm_encrypt(Bytes(31, 0), iv, {}, {}).error().code, Errc::malformed);
    EXPECT_EQ(aes256_gcm_encrypt(Bytes(16, 0), iv, {}, {}).error().code, Errc::malformed);
    EXPECT_EQ(aes256_gcm_encrypt(key, Bytes(16, 0), {}, {}).error().code, Errc::malformed);
    EXPECT_EQ(aes256_gcm_decrypt(key, Bytes(11, 0), Bytes(16, 0), {}).error().code,
              Errc::malformed);
}

TEST(CryptoAesCbc, Sp80038aFirstBlock)
{
    auto ct = aes256_cbc_encrypt(sp800_key, hex("000102030405060708090a0b0c0d0e0f"),
                                 hex("6bc1bee22e409f96e93d7e117393172a"));
    ASSERT_TRUE(ct.ok());
    // One full block of data gains one full block of padding.
    ASSERT_EQ(ct->size(), 32u);
    EXPECT_EQ(to_hex(ByteView(*ct).first(16)), "f58c4c04d6e5f1ba779eabfb5f7bfbd6");
}

TEST(CryptoAesCbc, RoundTripAllShortLengths)
{
    Bytes key(32, 3), iv(16, 4);
    for (std::size_t n = 0; n <= 33; ++n) {
        Bytes plain(n, static_cast<std::uint8_t>(n));
        Bytes ct = aes256_cbc_encrypt(key, iv, plain).value();
        EXPECT_EQ(ct.size(), (n / 16 + 1) * 16);
        auto back = aes256_cbc_decrypt(key, iv, ct);
        ASSERT_TRUE(back.ok()) << n;
        EXPECT_EQ(*back, plain);
    }
}

TEST(CryptoAesCbc, BadPaddingIsMalformed)
{
    Bytes key(32, 3), iv(16, 4);
    Bytes ct = aes256_cbc_encrypt(key, iv, as_bytes("fifteen bytes!!")).value();
    ASSERT_EQ(ct.size(), 16u);
    // Flipping the IV flips the same bit of the decrypted last block: the
    // padding byte 0x01 becomes 0x00, which is never valid.
    Bytes bad_iv = iv;
    bad_iv[15] ^= 0x01;
    auto r = aes256_cbc_decrypt(key, bad_iv, ct);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::malformed);
    EXPECT_NE(r.error().detail.find("padding"), std::string::npos);
}

TEST(CryptoAesCbc, BadLengths)
{
    Bytes key(32, 3), iv(16, 4);
    EXPECT_EQ(aes256_cbc_decrypt(key, iv, {}).error().code, Errc::truncated);
    EXPECT_EQ(aes256_cbc_decrypt(key, iv, Bytes(17, 0)).error().code, Errc::malformed);
    EXPECT_EQ(aes256_cbc_encrypt(Bytes(24, 0), iv, {}).error().code, Errc::malformed);
    EXPECT_EQ(aes256_cbc_encrypt(key, Bytes(12, 0), {}).error().code, Errc::malformed);
}

TEST(CryptoAesCtr, Sp80038aFirstBlockAndInverse)
{
    Bytes ctr = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    auto ct = aes256_ctr(sp800_key, ctr, hex("6bc1bee22e409f96e93d7e117393172aae2d8a57"));
    ASSERT_TRUE(ct.ok());
    ASSERT_EQ(ct->size(), 20u);
    EXPECT_EQ(to_hex(ByteView(*ct).first(16)), "601ec313775789a5b7a7f504bbf3d228");
    EXPECT_EQ(to_hex(aes256_ctr(sp800_key, ctr, *ct).value()),
              "6bc1bee22e409f96e93d7e117393172aae2d8a57");
}

TEST(CryptoAesCtr, WrongLengths)
{
    EXPECT_EQ(aes256_ctr(Bytes(16, 0), Bytes(16, 0), {}).error().code, Errc::malformed);
    EXPECT_EQ(aes256_ctr(Bytes(32, 0), Bytes(12, 0), {}).error().code, Errc::malformed);
}

}  // namespace
}  // namespace chatwoot::wa::crypto
