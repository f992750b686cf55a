// Pairing-code crypto.  The hello half is checked against the
// `pairing_code` vector (Baileys' derivePairingCodeKey and CTR wrap).  The
// vector stops there, so the finish half is checked against answers made
// with Baileys' own primitives (libsignal-node X25519, whatsapp-rust-bridge
// HKDF, node AES-GCM), composed as its link_code_companion_reg handler does:
// keys are clamp(SHA-256(name)) for the names below, salts/IVs are
// SHA-256(name) (truncated), code "ABCD2345".
#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/aes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/kdf.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/pairing/pairing_code.hpp"

namespace chatwoot::wa::pairing {
namespace {

using test::vector_hex;
using test::vector_section;
using test::vector_string;

Bytes hex(std::string_view s)
{
    return from_hex(s).value();
}

// clamp(SHA-256(name)), as the vector generator makes its key pairs.
crypto::KeyPair named_key(std::string_view name)
{
    return crypto::x25519_key_pair(crypto::sha256(as_bytes(name))).value();
}

TEST(PairingCode, VectorKeyIsPbkdf2With131072Iterations)
{
    const auto& v = vector_section("pairing_code");
    auto key = pairing_code_key(vector_string(v, "code"), vector_hex(v, "salt"));
    ASSERT_TRUE(key.ok()) << key.error().detail;
    EXPECT_EQ(crypto::to_bytes(*key), vector_hex(v, "pbkdf2_sha256_131072_key"));
}

TEST(PairingCode, VectorWrapIsByteExact)
{
    const auto& v = vector_section("pairing_code");
    auto wrapped = wrap_ephemeral(vector_string(v, "code"), vector_hex(v, "salt"),
                                  vector_hex(v, "iv"), vector_hex(v, "eph_pub"));
    ASSERT_TRUE(wrapped.ok()) << wrapped.error().detail;
    EXPECT_EQ(wrapped->size(), wrapped_ephemeral_size);
    EXPECT_EQ(to_hex(*wrapped), vector_string(v, "wrapped_companion_ephemeral"));
}

TEST(PairingCode, RandomOverloadDrawsSaltThenIv)
{
    const auto& v = vector_section("pairing_code");
    auto wrapped =
        wrap_ephemeral(vector_string(v, "code"), vector_hex(v, "eph_pub"),
                       crypto::replay_random(concat({vector_hex(v, "salt"), vector_hex(v, "iv")})));
    ASSERT_TRUE(wrapped.ok());
    EXPECT_EQ(to_hex(*wrapped), vector_string(v, "wrapped_companion_ephemeral"));
}

TEST(PairingCode, VectorUnwrapsToTheEphemeralKey)
{
    const auto& v = vector_section("pairing_code");
    // The generator's companion key is clamp(SHA-256("pc-eph")).
    EXPECT_EQ(crypto::to_bytes(named_key("pc-eph").public_key), vector_hex(v, "eph_pub"));
    auto pub =
        unwrap_ephemeral(vector_string(v, "code"), vector_hex(v, "wrapped_companion_ephemeral"));
    ASSERT_TRUE(pub.ok());
    EXPECT_EQ(crypto::to_bytes(*pub), vector_hex(v, "eph_pub"));
    // A different code yields a different (wrong) key, not an error.
    auto wrong = unwrap_ephemeral("ABCD2346", vector_hex(v, "wrapped_companion_ephemeral"));
    ASSERT_TRUE(wrong.ok());
    EXPECT_NE(crypto::to_bytes(*wrong), vector_hex(v, "eph_pub"));
}

TEST(PairingCode, EncodeUsesTheAlphabetFiveBitsAtATime)
{
    EXPECT_EQ(encode_pairing_code(Bytes(5, 0)).value(), "11111111");
    EXPECT_EQ(encode_pairing_code(Bytes(5, 0xff)).value(), "ZZZZZZZZ");
    // 0x00443214c7 = 00000 00001 00010 00011 00100 00101 00110 00111; the
    // others are answers from Baileys' bytesToCrockford.
    EXPECT_EQ(encode_pairing_code(hex("00443214c7")).value(), "12345678");
    EXPECT_EQ(encode_pairing_code(hex("deadbeef01")).value(), "VTPVXVR2");
    EXPECT_EQ(encode_pairing_code(hex("0842a0e8e7")).value(), "222B2T88");
    EXPECT_EQ(encode_pairing_code(Bytes(4, 0)).error().code, Errc::malformed);
}

TEST(PairingCode, GenerateFromInjectedRandom)
{
    auto code = generate_pairing_code(crypto::replay_random(hex("deadbeef01")));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, "VTPVXVR2");
    EXPECT_TRUE(check_pairing_code(*code).ok());
    EXPECT_EQ(display_pairing_code(*code), "VTPV-XVR2");
    EXPECT_EQ(generate_pairing_code(crypto::replay_random(Bytes(4, 0))).error().code,
              Errc::crypto_failure);
}

TEST(PairingCode, CheckRejectsBadCodes)
{
    EXPECT_TRUE(check_pairing_code("ABCD2345").ok());
    for (std::string_view bad : {"ABCD234", "ABCD23456", "ABCD-2345", "abcd2345", "ABCD2340",
                                 "ABCDI345", "ABCDO345", "ABCDU345", ""}) {
        Status s = check_pairing_code(bad);
        ASSERT_FALSE(s.ok()) << bad;
        EXPECT_EQ(s.error().code, Errc::malformed) << bad;
    }
    Bytes salt(32, 1);
    EXPECT_EQ(pairing_code_key("abcd2345", salt).error().code, Errc::malformed);
}

TEST(PairingCode, WrongLengthsAreMalformed)
{
    const auto& v = vector_section("pairing_code");
    std::string_view code = vector_string(v, "code");
    EXPECT_EQ(pairing_code_key(code, Bytes(31, 0)).error().code, Errc::malformed);
    EXPECT_EQ(wrap_ephemeral(code, Bytes(32, 0), Bytes(12, 0), Bytes(32, 0)).error().code,
              Errc::malformed);
    EXPECT_EQ(wrap_ephemeral(code, Bytes(32, 0), Bytes(16, 0), Bytes(33, 0)).error().code,
              Errc::malformed);
    Bytes wrapped = vector_hex(v, "wrapped_companion_ephemeral");
    EXPECT_EQ(unwrap_ephemeral(code, ByteView(wrapped).first(79)).error().code, Errc::malformed);
}

// Answers from Baileys' primitives (see the file comment).
const char* baileys_wrapped_primary =
    "73a4028d760ac874672b71908eaffef84d0c2388ba04602eb6cd6c85310a5e9d3ca2acbff0dfd1bbc616d4ba0a153f"
    "12"
    "ae0d74a3d2a8b8ef6758fac155da4f9876c034478597b9728a5e4a9089264dd9";
const char* baileys_wrapped_bundle =
    "630c5ba6a88d581f2ff70ac57a450de0f13a0cee30656beb88ea6093dcc74b9faa9152b2f0ed2c0f771937ac117243"
    "3f"
    "9f1c5bb1260293d4885853ceeca5234a443e778a13606e09aa59f49f4479ba5f2a7031627c7d3e11ca8b944c785ea8"
    "df"
    "f093ad4e595639c4f5bab6e15b7b1022066a6b19723a4e13642ecbb748f3209403821dc712e96ac4f69fe45c201ceb"
    "45"
    "1cf7de8e46d562dbafbc7dce";
const char* baileys_adv_secret = "3166c8fb97a4be2babaeb0055938c9a51fd7d7d57e9c289af76d9333b32887a4";

struct FinishCase {
    crypto::KeyPair companion_eph = named_key("pc-eph");
    crypto::KeyPair primary_eph = named_key("pcf-primary-eph");
    crypto::KeyPair ours = named_key("pcf-our-identity");
    crypto::KeyPair primary = named_key("pcf-primary-identity");
    Bytes wrapped_primary = hex(baileys_wrapped_primary);
    FinishRandom random{};

    FinishCase()
    {
        random.adv_random = crypto::sha256(as_bytes("pcf-adv-random"));
        random.bundle_salt = crypto::sha256(as_bytes("pcf-bundle-salt"));
        crypto::Digest32 iv = crypto::sha256(as_bytes("pcf-bundle-iv"));
        std::copy_n(iv.begin(), 12, random.bundle_nonce.begin());
    }

    FinishInputs inputs() const
    {
        return {.code = "ABCD2345",
                .companion_ephemeral_private = companion_eph.private_key,
                .wrapped_primary_ephemeral = wrapped_primary,
                .identity_private = ours.private_key,
                .identity_public = ours.public_key,
                .primary_identity_public = primary.public_key};
    }
};

TEST(PairingCodeFinish, PrimaryWrapMatchesBaileys)
{
    FinishCase c;
    Bytes salt = crypto::to_bytes(crypto::sha256(as_bytes("pcf-primary-salt")));
    Bytes iv = crypto::to_bytes(crypto::sha256(as_bytes("pcf-primary-iv")));
    iv.resize(16);
    EXPECT_EQ(to_hex(wrap_ephemeral("ABCD2345", salt, iv, c.primary_eph.public_key).value()),
              baileys_wrapped_primary);
}

TEST(PairingCodeFinish, BundleAndAdvSecretMatchBaileys)
{
    FinishCase c;
    auto out = companion_finish(c.inputs(), c.random);
    ASSERT_TRUE(out.ok()) << out.error().detail;
    EXPECT_EQ(out->wrapped_key_bundle.size(), wrapped_key_bundle_size);
    EXPECT_EQ(to_hex(out->wrapped_key_bundle), baileys_wrapped_bundle);
    EXPECT_EQ(to_hex(out->adv_secret), baileys_adv_secret);
}

TEST(PairingCodeFinish, RandomOverloadDrawsAdvRandomSaltNonce)
{
    FinishCase c;
    Bytes script = concat({c.random.adv_random, c.random.bundle_salt, c.random.bundle_nonce});
    auto out = companion_finish(c.inputs(), crypto::replay_random(script));
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(to_hex(out->wrapped_key_bundle), baileys_wrapped_bundle);
    EXPECT_EQ(to_hex(out->adv_secret), baileys_adv_secret);
    EXPECT_EQ(companion_finish(c.inputs(), crypto::replay_random(Bytes(75, 0))).error().code,
              Errc::crypto_failure);
}

TEST(PairingCodeFinish, PrimaryCanOpenTheBundleAndAgreesOnAdvSecret)
{
    // The phone's side, from its own private keys: the same secrets.
    FinishCase c;
    CompanionFinish out = companion_finish(c.inputs(), c.random).value();
    ByteView b = out.wrapped_key_bundle;
    Bytes eph = crypto::to_bytes(
        crypto::x25519_shared(c.primary_eph.private_key, c.companion_eph.public_key).value());
    Bytes key = crypto::hkdf_sha256(b.first(32), eph, as_bytes(key_bundle_info), 32).value();
    auto plain = crypto::aes256_gcm_decrypt(key, b.subspan(32, 12), b.subspan(44), {});
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(*plain, concat({c.ours.public_key, c.primary.public_key, c.random.adv_random}));
    Bytes id =
        crypto::to_bytes(crypto::x25519_shared(c.primary.private_key, c.ours.public_key).value());
    Bytes adv = crypto::hkdf_sha256({}, concat({eph, id, c.random.adv_random}),
                                    as_bytes(adv_secret_info), 32)
                    .value();
    EXPECT_EQ(adv, crypto::to_bytes(out.adv_secret));
}

TEST(PairingCodeFinish, BadInputs)
{
    FinishCase c;
    FinishInputs in = c.inputs();
    Bytes short_key(31, 1);
    FinishInputs a = in;
    a.identity_public = short_key;
    EXPECT_EQ(companion_finish(a, c.random).error().code, Errc::malformed);
    FinishInputs b = in;
    b.wrapped_primary_ephemeral = ByteView(c.wrapped_primary).first(64);
    EXPECT_EQ(companion_finish(b, c.random).error().code, Errc::malformed);
    FinishInputs d = in;
    d.code = "ABCD234";
    EXPECT_EQ(companion_finish(d, c.random).error().code, Errc::malformed);
    // A primary identity of small order gives an all-zero X25519 result.
    Bytes zero(32, 0);
    FinishInputs e = in;
    e.primary_identity_public = zero;
    EXPECT_EQ(companion_finish(e, c.random).error().code, Errc::crypto_failure);
}

}  // namespace
}  // namespace chatwoot::wa::pairing
