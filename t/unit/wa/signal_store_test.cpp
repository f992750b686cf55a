// The ProtocolStore glue: the in-memory store's semantics, libsignal's
// callbacks reaching it, and a failing (or throwing) store's own error
// coming back out of the Signal calls.
#include <gtest/gtest.h>

#include <signal_protocol.h>

#include <memory>
#include <stdexcept>

#include "vectors.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/signal/group_cipher.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/memory_protocol_store.hpp"
#include "wa/signal/prekey_records.hpp"
#include "wa/signal/session_cipher.hpp"
#include "wa/signal/signal_ref.hpp"

namespace chatwoot::wa::signal {
namespace {

using test::vector_hex;
using test::vector_section;

const Address kAlice{"15550000001", 0};

Bytes text(std::string_view s)
{
    return Bytes(s.begin(), s.end());
}

TEST(SignalStore, MemoryStoreKeysSessionsByNameAndDevice)
{
    MemoryProtocolStore store;
    ASSERT_TRUE(store.store_session({"111", 0}, text("a")).ok());
    ASSERT_TRUE(store.store_session({"111", 4}, text("b")).ok());
    ASSERT_TRUE(store.store_session({"111_1", 4}, text("c")).ok());
    EXPECT_EQ(store.load_session({"111", 4}).value().value(), text("b"));
    EXPECT_FALSE(store.load_session({"111", 5}).value().has_value());
    EXPECT_TRUE(store.contains_session({"111_1", 4}).value());
    EXPECT_EQ(store.session_devices("111").value(), (std::vector<std::uint32_t>{0, 4}));
    EXPECT_TRUE(store.delete_session({"111", 0}).value());
    EXPECT_FALSE(store.delete_session({"111", 0}).value());
    EXPECT_EQ(store.delete_all_sessions("111").value(), 1u);
    EXPECT_EQ(store.session_count(), 1u);

    SenderKeyName a{"g1@g.us", {"111", 1}}, b{"g1@g.us", {"111", 2}}, c{"g2@g.us", {"111", 1}};
    ASSERT_TRUE(store.store_sender_key(a, text("ka")).ok());
    ASSERT_TRUE(store.store_sender_key(c, text("kc")).ok());
    EXPECT_EQ(store.load_sender_key(a).value().value(), text("ka"));
    EXPECT_FALSE(store.load_sender_key(b).value().has_value());
    EXPECT_EQ(store.load_sender_key(c).value().value(), text("kc"));

    crypto::Key32 key{};
    key[0] = 9;
    ASSERT_TRUE(store.save_identity({"111", 1}, key).ok());
    EXPECT_EQ(store.load_identity({"111", 1}).value(), std::optional<crypto::Key32>(key));
    ASSERT_TRUE(store.save_identity({"111", 1}, std::nullopt).ok());
    EXPECT_FALSE(store.load_identity({"111", 1}).value().has_value());

    Result<LocalIdentity> none = store.local_identity();
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, Errc::not_found);
}

TEST(SignalStore, LibsignalReachesTheStoreThroughTheGlue)
{
    MemoryProtocolStore store;
    ASSERT_TRUE(store.store_session({"222", 1}, text("x")).ok());
    ASSERT_TRUE(store.store_session({"222", 7}, text("y")).ok());
    ProtocolContext ctx =
        ProtocolContext::create(crypto::seeded_random(as_bytes("glue")), store).value();

    signal_int_list* raw = nullptr;
    int n = signal_protocol_session_get_sub_device_sessions(ctx.store_context(), &raw, "222", 3);
    Owned<signal_int_list, signal_int_list_free> list(raw);
    ASSERT_EQ(n, 2);
    EXPECT_EQ(signal_int_list_at(list.get(), 0), 1);
    EXPECT_EQ(signal_int_list_at(list.get(), 1), 7);

    signal_protocol_address addr{"222", 3, 7};
    EXPECT_EQ(signal_protocol_session_contains_session(ctx.store_context(), &addr), 1);
    EXPECT_EQ(signal_protocol_session_delete_session(ctx.store_context(), &addr), 1);
    EXPECT_EQ(signal_protocol_session_contains_session(ctx.store_context(), &addr), 0);
    EXPECT_EQ(signal_protocol_session_delete_all_sessions(ctx.store_context(), "222", 3), 1);
    EXPECT_EQ(store.session_count(), 0u);

    // Without a local identity libsignal gets a failure, and the caller
    // the store's not_found.
    ratchet_identity_key_pair* pair = nullptr;
    EXPECT_LT(signal_protocol_identity_get_key_pair(ctx.store_context(), &pair), 0);
    EXPECT_EQ(pair, nullptr);
}

TEST(SignalStore, UnreadableSessionRecordIsMalformed)
{
    MemoryProtocolStore store;
    ASSERT_TRUE(store.store_session(kAlice, Bytes{0xff, 0xff, 0xff}).ok());
    ProtocolContext ctx =
        ProtocolContext::create(crypto::seeded_random(as_bytes("bad record")), store).value();
    Result<bool> has = has_session(ctx, kAlice);
    ASSERT_FALSE(has.ok());
    EXPECT_EQ(has.error().code, Errc::malformed);
    Result<EncryptedMessage> m = encrypt(ctx, kAlice, text("x"));
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, Errc::malformed);
}

// Bob from the vectors, over a store whose chosen method fails or throws.
class FaultyStore : public MemoryProtocolStore {
public:
    enum class Fault { none, store_session, load_pre_key, local_identity, load_sender_key, throws };
    Fault fault = Fault::none;

    using MemoryProtocolStore::MemoryProtocolStore;

    Status store_session(const Address& a, ByteView record) override
    {
        if (fault == Fault::store_session) return make_error(Errc::too_large, "disk full");
        if (fault == Fault::throws) throw std::runtime_error("boom");
        return MemoryProtocolStore::store_session(a, record);
    }
    Result<std::optional<Bytes>> load_pre_key(std::uint32_t id) override
    {
        if (fault == Fault::load_pre_key) return make_error(Errc::wrong_state, "db closed");
        return MemoryProtocolStore::load_pre_key(id);
    }
    Result<LocalIdentity> local_identity() override
    {
        if (fault == Fault::local_identity) return make_error(Errc::not_found, "not registered");
        return MemoryProtocolStore::local_identity();
    }
    Result<std::optional<Bytes>> load_sender_key(const SenderKeyName& n) override
    {
        if (fault == Fault::load_sender_key) return make_error(Errc::wrong_state, "db locked");
        return MemoryProtocolStore::load_sender_key(n);
    }
};

std::unique_ptr<FaultyStore> vector_bob_store()
{
    const rapidjson::Value& bob = vector_section("signal_1to1")["bob"];
    auto store = std::make_unique<FaultyStore>(
        LocalIdentity{crypto::x25519_key_pair(vector_hex(bob, "identity_priv")).value(), 4242});
    const rapidjson::Value& spk = bob["signed_prekey"];
    SignedPreKey signed_key{1, crypto::x25519_key_pair(vector_hex(spk, "priv")).value(), {}};
    Bytes sig = vector_hex(spk, "signature");
    std::copy(sig.begin(), sig.end(), signed_key.signature.begin());
    EXPECT_TRUE(store_signed_pre_key(*store, signed_key).ok());
    PreKey otk{7, crypto::x25519_key_pair(vector_hex(bob["one_time_prekey"], "priv")).value()};
    EXPECT_TRUE(store_pre_keys(*store, std::span<const PreKey>(&otk, 1)).ok());
    return store;
}

TEST(SignalStore, StoreErrorsComeBackAsTheirOwn)
{
    Bytes pkmsg = vector_hex(vector_section("signal_1to1")["messages"][0], "ciphertext");
    struct Case {
        FaultyStore::Fault fault;
        Errc code;
        const char* detail;
    };
    for (const Case& c :
         {Case{FaultyStore::Fault::store_session, Errc::too_large, "disk full"},
          Case{FaultyStore::Fault::load_pre_key, Errc::wrong_state, "db closed"},
          Case{FaultyStore::Fault::local_identity, Errc::not_found, "not registered"},
          Case{FaultyStore::Fault::throws, Errc::crypto_failure, "boom"}}) {
        auto store = vector_bob_store();
        store->fault = c.fault;
        ProtocolContext ctx =
            ProtocolContext::create(crypto::seeded_random(as_bytes("faulty")), *store).value();
        Result<Bytes> plain = decrypt_pkmsg(ctx, kAlice, pkmsg);
        ASSERT_FALSE(plain.ok()) << c.detail;
        EXPECT_EQ(plain.error().code, c.code) << plain.error().detail;
        EXPECT_NE(plain.error().detail.find(c.detail), std::string::npos) << plain.error().detail;
        EXPECT_EQ(store->pre_key_count(), 1u) << c.detail;

        // Healed, the same context decrypts (no stale error is left).
        store->fault = FaultyStore::Fault::none;
        Result<Bytes> again = decrypt_pkmsg(ctx, kAlice, pkmsg);
        ASSERT_TRUE(again.ok()) << c.detail << ": " << again.error().detail;
    }
}

TEST(SignalStore, SenderKeyStoreErrorComesBack)
{
    auto store = vector_bob_store();
    ProtocolContext ctx =
        ProtocolContext::create(crypto::seeded_random(as_bytes("faulty")), *store).value();
    const rapidjson::Value& sk = vector_section("sender_keys");
    SenderKeyName sender{std::string(test::vector_string(sk, "group")), {"15550000001", 0}};
    ASSERT_TRUE(process_sender_key_distribution(ctx, sender, vector_hex(sk, "skdm_axolotl")).ok());
    store->fault = FaultyStore::Fault::load_sender_key;
    Result<Bytes> plain = group_decrypt(ctx, sender, vector_hex(sk["messages"][0], "skmsg"));
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(plain.error().code, Errc::wrong_state);
    EXPECT_NE(plain.error().detail.find("db locked"), std::string::npos);
}

TEST(SignalStore, RandomSourceFailureIsReported)
{
    MemoryProtocolStore store;
    ProtocolContext ctx = ProtocolContext::create(crypto::replay_random({}), store).value();
    Result<Bytes> skdm =
        create_sender_key_distribution(ctx, {"120363012345678901@g.us", {"15550000009", 0}});
    ASSERT_FALSE(skdm.ok());
    EXPECT_EQ(skdm.error().code, Errc::crypto_failure);
    EXPECT_NE(skdm.error().detail.find("random source"), std::string::npos) << skdm.error().detail;
    EXPECT_EQ(store.sender_key_count(), 0u);
}

}  // namespace
}  // namespace chatwoot::wa::signal
