// Key generation and pre-key records: what randomness each key takes, how
// pre-key ids wrap, and that records round-trip through libsignal's form.
#include <gtest/gtest.h>

#include "wa/crypto/curve_signature.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/memory_protocol_store.hpp"
#include "wa/signal/prekey_records.hpp"

namespace chatwoot::wa::signal {
namespace {

crypto::SignalContext context_with(crypto::RandomSource random)
{
    Result<crypto::SignalContext> ctx = crypto::SignalContext::create(std::move(random));
    EXPECT_TRUE(ctx.ok());
    return std::move(ctx).value();
}

Bytes repeat(std::uint8_t v, std::size_t n)
{
    return Bytes(n, v);
}

TEST(SignalKeys, KeyPairIsClampedRandomAndItsPublicKey)
{
    Bytes random = repeat(0xff, 32);
    crypto::SignalContext ctx = context_with(crypto::replay_random(random));
    Result<crypto::KeyPair> pair = generate_key_pair(ctx);
    ASSERT_TRUE(pair.ok()) << pair.error().detail;

    crypto::Key32 want_private{};
    std::copy(random.begin(), random.end(), want_private.begin());
    want_private = crypto::clamp_private_key(want_private);
    EXPECT_EQ(pair->private_key, want_private);
    EXPECT_EQ(pair->public_key, crypto::x25519_public_key(want_private).value());

    // The 32 bytes are used up: the next pair has no randomness left.
    Result<crypto::KeyPair> next = generate_key_pair(ctx);
    ASSERT_FALSE(next.ok());
    EXPECT_EQ(next.error().code, Errc::crypto_failure);
}

TEST(SignalKeys, RegistrationIdIsFourBytesModulo16380PlusOne)
{
    // libsignal reads the 4 bytes in host order (little-endian here).
    struct Case {
        Bytes random;
        std::uint32_t id;
    };
    for (const Case& c : {Case{{0x10, 0x27, 0, 0}, 10001}, Case{{0, 0, 0, 0}, 1},
                          Case{{0xff, 0xff, 0xff, 0xff}, 256}, Case{{0xfb, 0x3f, 0, 0}, 16380}}) {
        crypto::SignalContext ctx = context_with(crypto::replay_random(c.random));
        Result<std::uint32_t> id = generate_registration_id(ctx);
        ASSERT_TRUE(id.ok());
        EXPECT_EQ(*id, c.id);
    }
}

TEST(SignalKeys, LocalIdentityIsAPairThenARegistrationId)
{
    Bytes random = repeat(0x11, 32);
    Bytes reg = {0x2a, 0, 0, 0};
    random.insert(random.end(), reg.begin(), reg.end());
    crypto::SignalContext ctx = context_with(crypto::replay_random(random));
    Result<LocalIdentity> identity = generate_local_identity(ctx);
    ASSERT_TRUE(identity.ok()) << identity.error().detail;
    EXPECT_EQ(identity->registration_id, 43u);
    EXPECT_EQ(identity->key_pair.public_key, crypto::x25519_public_key(repeat(0x11, 32)).value());
}

TEST(SignalKeys, PreKeyIdsCountUpAndWrapBefore0xFFFFFF)
{
    EXPECT_EQ(next_pre_key_id(1), 2u);
    EXPECT_EQ(next_pre_key_id(0xFFFFFD), 0xFFFFFEu);
    EXPECT_EQ(next_pre_key_id(0xFFFFFE), 1u);

    crypto::SignalContext ctx = context_with(crypto::seeded_random(as_bytes("prekeys")));
    Result<std::vector<PreKey>> keys = generate_pre_keys(ctx, 0xFFFFFD, 4);
    ASSERT_TRUE(keys.ok()) << keys.error().detail;
    ASSERT_EQ(keys->size(), 4u);
    EXPECT_EQ((*keys)[0].id, 0xFFFFFDu);
    EXPECT_EQ((*keys)[1].id, 0xFFFFFEu);
    EXPECT_EQ((*keys)[2].id, 1u);
    EXPECT_EQ((*keys)[3].id, 2u);
    for (const PreKey& k : *keys)
        EXPECT_EQ(k.key_pair.public_key, crypto::x25519_public_key(k.key_pair.private_key).value());
    EXPECT_NE((*keys)[0].key_pair.private_key, (*keys)[1].key_pair.private_key);

    Result<std::vector<PreKey>> none = generate_pre_keys(ctx, 5, 0);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
}

TEST(SignalKeys, PreKeysRefuseBadRanges)
{
    crypto::SignalContext ctx = context_with(crypto::seeded_random(as_bytes("prekeys")));
    for (std::uint32_t first : {0u, 0xFFFFFFu, 0x1000000u}) {
        Result<std::vector<PreKey>> keys = generate_pre_keys(ctx, first, 1);
        ASSERT_FALSE(keys.ok()) << first;
        EXPECT_EQ(keys.error().code, Errc::malformed) << first;
    }
    Result<std::vector<PreKey>> many = generate_pre_keys(ctx, 1, kMaxPreKeyId + 1);
    ASSERT_FALSE(many.ok());
    EXPECT_EQ(many.error().code, Errc::too_large);
}

TEST(SignalKeys, PreKeysAreReproducibleFromTheSeed)
{
    crypto::SignalContext a = context_with(crypto::seeded_random(as_bytes("same")));
    crypto::SignalContext b = context_with(crypto::seeded_random(as_bytes("same")));
    Result<std::vector<PreKey>> ka = generate_pre_keys(a, 1, 3);
    Result<std::vector<PreKey>> kb = generate_pre_keys(b, 1, 3);
    ASSERT_TRUE(ka.ok() && kb.ok());
    for (std::size_t i = 0; i < 3; ++i)
        EXPECT_EQ((*ka)[i].key_pair.private_key, (*kb)[i].key_pair.private_key);
}

TEST(SignalKeys, SignedPreKeyIsSignedByTheIdentityOverTypedKey)
{
    crypto::SignalContext ctx = context_with(crypto::seeded_random(as_bytes("spk")));
    crypto::KeyPair identity = generate_key_pair(ctx).value();
    Result<SignedPreKey> spk = generate_signed_pre_key(ctx, identity, 0xFFFFFF);
    ASSERT_TRUE(spk.ok()) << spk.error().detail;
    EXPECT_EQ(spk->id, 0xFFFFFFu);

    Bytes typed = concat({Bytes{0x05}, spk->key_pair.public_key});
    EXPECT_TRUE(crypto::curve_verify(identity.public_key, typed, spk->signature).ok());
    // Over the raw key (no type byte) it is not valid: the prefix is signed.
    Status raw =
        crypto::curve_verify(identity.public_key, spk->key_pair.public_key, spk->signature);
    ASSERT_FALSE(raw.ok());
    EXPECT_EQ(raw.error().code, Errc::bad_signature);

    for (std::uint32_t id : {0u, 0x1000000u}) {
        Result<SignedPreKey> bad = generate_signed_pre_key(ctx, identity, id);
        ASSERT_FALSE(bad.ok());
        EXPECT_EQ(bad.error().code, Errc::malformed);
    }
}

TEST(SignalKeys, RecordsRoundTrip)
{
    crypto::SignalContext ctx = context_with(crypto::seeded_random(as_bytes("records")));
    crypto::KeyPair identity = generate_key_pair(ctx).value();
    PreKey pre = generate_pre_keys(ctx, 77, 1).value().front();
    SignedPreKey spk = generate_signed_pre_key(ctx, identity, 9).value();

    Result<Bytes> pre_record = serialize_pre_key(pre);
    ASSERT_TRUE(pre_record.ok());
    Result<PreKey> pre_back = parse_pre_key(*pre_record);
    ASSERT_TRUE(pre_back.ok()) << pre_back.error().detail;
    EXPECT_EQ(pre_back->id, 77u);
    EXPECT_EQ(pre_back->key_pair.private_key, pre.key_pair.private_key);
    EXPECT_EQ(pre_back->key_pair.public_key, pre.key_pair.public_key);

    Result<Bytes> spk_record = serialize_signed_pre_key(spk);
    ASSERT_TRUE(spk_record.ok());
    Result<SignedPreKey> spk_back = parse_signed_pre_key(*spk_record);
    ASSERT_TRUE(spk_back.ok()) << spk_back.error().detail;
    EXPECT_EQ(spk_back->id, 9u);
    EXPECT_EQ(spk_back->key_pair.private_key, spk.key_pair.private_key);
    EXPECT_EQ(spk_back->signature, spk.signature);
    EXPECT_EQ(spk_back->public_part(), spk.public_part());

    MemoryProtocolStore store;
    ASSERT_TRUE(store_pre_keys(store, std::span<const PreKey>(&pre, 1)).ok());
    ASSERT_TRUE(store_signed_pre_key(store, spk).ok());
    EXPECT_EQ(store.load_pre_key(77).value().value(), *pre_record);
    EXPECT_EQ(store.load_signed_pre_key(9).value().value(), *spk_record);
}

TEST(SignalKeys, RecordParsersRefuseGarbage)
{
    Result<PreKey> empty = parse_pre_key({});
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error().code, Errc::truncated);

    Bytes garbage = {0xff, 0xff, 0xff, 0xff, 0x0f};
    Result<PreKey> pre = parse_pre_key(garbage);
    ASSERT_FALSE(pre.ok());
    EXPECT_EQ(pre.error().code, Errc::malformed);
    Result<SignedPreKey> spk = parse_signed_pre_key(garbage);
    ASSERT_FALSE(spk.ok());
    EXPECT_EQ(spk.error().code, Errc::malformed);

    // A record with the id only (field 1): keys missing.
    Result<PreKey> partial = parse_pre_key(Bytes{0x08, 0x01});
    ASSERT_FALSE(partial.ok());
    EXPECT_EQ(partial.error().code, Errc::malformed);
}

TEST(SignalKeys, RecordParserRefusesHalvesThatDoNotMatch)
{
    crypto::SignalContext ctx = context_with(crypto::seeded_random(as_bytes("mismatch")));
    std::vector<PreKey> keys = generate_pre_keys(ctx, 1, 2).value();
    PreKey odd{1, {keys[0].key_pair.private_key, keys[1].key_pair.public_key}};
    Result<Bytes> record = serialize_pre_key(odd);
    ASSERT_TRUE(record.ok());
    Result<PreKey> back = parse_pre_key(*record);
    ASSERT_FALSE(back.ok());
    EXPECT_EQ(back.error().code, Errc::malformed);
}

}  // namespace
}  // namespace chatwoot::wa::signal
