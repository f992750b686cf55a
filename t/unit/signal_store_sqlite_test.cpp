// The SQLite protocol store (store/signal_store.hpp) under libsignal:
// libsignal-node's pkmsgs and Baileys' sender keys from the vectors
// decrypt over it, two of our parties talk both ways with the one-time
// pre-key used up, a closed and reopened database carries the session on,
// and a ratchet advance inside a unit of work that is rolled back leaves
// the old session, so the same message decrypts again.  Then the device's
// other facts: Noise key, ADV identity, JIDs, the LID map, pre-key upload
// marks, small values, forgetting a device.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "store/signal_store.hpp"
#include "store/wa_inbound_repository.hpp"
#include "temp_store.hpp"
#include "vectors.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/signal/group_cipher.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/prekey_bundle.hpp"
#include "wa/signal/prekey_records.hpp"
#include "wa/signal/session_cipher.hpp"

namespace chatwoot::store {
namespace {

using test::TempStore;
using wa::Bytes;
using wa::ByteView;
using wa::Errc;
using wa::Result;
using wa::Status;
using wa::signal::Address;
using wa::signal::EncryptedMessage;
using wa::signal::LocalIdentity;
using wa::signal::MessageType;
using wa::signal::PreKey;
using wa::signal::PreKeyBundle;
using wa::signal::ProtocolContext;
using wa::signal::SenderKeyName;
using wa::signal::SignedPreKey;
using wa::test::vector_hex;
using wa::test::vector_section;

const Address kAlice{"15550000001", 0};  // the vectors' sender
const Address kBob{"15550000002", 0};

Bytes text(std::string_view s)
{
    return Bytes(s.begin(), s.end());
}

// One device: its SQLite store and the Signal context over it.  Not
// movable, as the context points at the store.
struct Party {
    SignalStore store;
    std::unique_ptr<ProtocolContext> context;

    Party(Database& db, std::string device, std::string_view seed) : store(db, std::move(device))
    {
        context = std::make_unique<ProtocolContext>(
            ProtocolContext::create(wa::crypto::seeded_random(wa::as_bytes(seed)), store).value());
    }
    ProtocolContext& ctx() { return *context; }

    Bytes session(const Address& a)
    {
        std::optional<Bytes> s = store.load_session(a).value();
        return s ? *s : Bytes{};
    }
};

wa::crypto::KeyPair pair_of(const rapidjson::Value& obj, std::string_view key)
{
    return wa::crypto::x25519_key_pair(vector_hex(obj, key)).value();
}

// Bob as the vectors export him: identity, signed pre-key 1, one-time 7.
std::unique_ptr<Party> vector_bob(Database& db)
{
    const rapidjson::Value& bob = vector_section("signal_1to1")["bob"];
    auto party = std::make_unique<Party>(db, "bob", "bob");
    party->store.set_local_identity(
        LocalIdentity{pair_of(bob, "identity_priv"), bob["registration_id"].GetUint()});
    const rapidjson::Value& spk = bob["signed_prekey"];
    SignedPreKey signed_pre_key{spk["id"].GetUint(), pair_of(spk, "priv"), {}};
    Bytes signature = vector_hex(spk, "signature");
    std::copy(signature.begin(), signature.end(), signed_pre_key.signature.begin());
    EXPECT_TRUE(store_signed_pre_key(party->store, signed_pre_key).ok());
    const rapidjson::Value& otk = bob["one_time_prekey"];
    PreKey pre_key{otk["id"].GetUint(), pair_of(otk, "priv")};
    EXPECT_TRUE(store_pre_keys(party->store, std::span<const PreKey>(&pre_key, 1)).ok());
    return party;
}

// A registered device made from the seed, with signed pre-key 1 and
// one-time pre-key 31; its bundle.
std::unique_ptr<Party> generated(Database& db, std::string device, std::string_view seed,
                                 PreKeyBundle& bundle)
{
    auto keygen = wa::crypto::SignalContext::create(
        wa::crypto::seeded_random(wa::as_bytes(std::string(seed) + "-keys")));
    LocalIdentity identity = wa::signal::generate_local_identity(*keygen).value();
    SignedPreKey spk = wa::signal::generate_signed_pre_key(*keygen, identity.key_pair, 1).value();
    std::vector<PreKey> pre = wa::signal::generate_pre_keys(*keygen, 31, 1).value();
    auto party = std::make_unique<Party>(db, std::move(device), seed);
    party->store.set_local_identity(identity);
    EXPECT_TRUE(store_signed_pre_key(party->store, spk).ok());
    EXPECT_TRUE(store_pre_keys(party->store, pre).ok());
    bundle = PreKeyBundle{identity.registration_id, identity.key_pair.public_key,
                          pre[0].public_part(), spk.public_part()};
    return party;
}

// Alice and Bob, two devices in one database, with a session both ways:
// Bob has answered once, so Alice now sends msg.
struct Established {
    std::unique_ptr<Party> alice, bob;

    explicit Established(Database& db)
    {
        PreKeyBundle bob_bundle, unused;
        bob = generated(db, "bob", "bob", bob_bundle);
        alice = generated(db, "alice", "alice", unused);
        EXPECT_TRUE(process_prekey_bundle(alice->ctx(), kBob, bob_bundle).ok());
        Bytes first = encrypt(alice->ctx(), kBob, text("hello")).value().ciphertext;
        EXPECT_EQ(decrypt_pkmsg(bob->ctx(), kAlice, first).value(), text("hello"));
        Bytes reply = encrypt(bob->ctx(), kAlice, text("hi")).value().ciphertext;
        EXPECT_EQ(decrypt_msg(alice->ctx(), kBob, reply).value(), text("hi"));
    }
};

// -- the records ------------------------------------------------------------

TEST(SqliteSignalStore, RecordsAreKeyedByDeviceNameAndDeviceId)
{
    TempStore t("cw-signal-store");
    SignalStore store(*t.db, "inbox-a");
    SignalStore other(*t.db, "inbox-b");
    ASSERT_TRUE(store.store_session({"111", 0}, text("a")).ok());
    ASSERT_TRUE(store.store_session({"111", 4}, text("b")).ok());
    ASSERT_TRUE(store.store_session({"111_1", 4}, text("c")).ok());
    ASSERT_TRUE(other.store_session({"111", 4}, text("other")).ok());
    EXPECT_EQ(store.load_session({"111", 4}).value().value(), text("b"));
    EXPECT_EQ(other.load_session({"111", 4}).value().value(), text("other"));
    EXPECT_FALSE(store.load_session({"111", 5}).value().has_value());
    EXPECT_TRUE(store.contains_session({"111_1", 4}).value());
    EXPECT_FALSE(other.contains_session({"111_1", 4}).value());
    EXPECT_EQ(store.session_devices("111").value(), (std::vector<std::uint32_t>{0, 4}));
    ASSERT_TRUE(store.store_session({"111", 4}, text("b2")).ok());
    EXPECT_EQ(store.load_session({"111", 4}).value().value(), text("b2"));
    EXPECT_TRUE(store.delete_session({"111", 0}).value());
    EXPECT_FALSE(store.delete_session({"111", 0}).value());
    EXPECT_EQ(store.delete_all_sessions("111").value(), 1u);
    EXPECT_EQ(store.session_count(), 1u);
    EXPECT_EQ(other.session_count(), 1u) << "another device's sessions stay";

    SenderKeyName a{"g1@g.us", {"111", 1}}, b{"g1@g.us", {"111", 2}}, c{"g2@g.us", {"111", 1}};
    ASSERT_TRUE(store.store_sender_key(a, text("ka")).ok());
    ASSERT_TRUE(store.store_sender_key(c, text("kc")).ok());
    EXPECT_EQ(store.load_sender_key(a).value().value(), text("ka"));
    EXPECT_FALSE(store.load_sender_key(b).value().has_value());
    EXPECT_EQ(store.load_sender_key(c).value().value(), text("kc"));
    EXPECT_FALSE(other.load_sender_key(a).value().has_value());

    wa::crypto::Key32 key{};
    key[0] = 9;
    ASSERT_TRUE(store.save_identity({"111", 1}, key).ok());
    EXPECT_EQ(store.load_identity({"111", 1}).value(), std::optional<wa::crypto::Key32>(key));
    EXPECT_FALSE(other.load_identity({"111", 1}).value().has_value());
    key[0] = 10;  // a changed key is recorded, never refused
    ASSERT_TRUE(store.save_identity({"111", 1}, key).ok());
    EXPECT_EQ(store.load_identity({"111", 1}).value(), std::optional<wa::crypto::Key32>(key));
    ASSERT_TRUE(store.save_identity({"111", 1}, std::nullopt).ok());
    EXPECT_FALSE(store.load_identity({"111", 1}).value().has_value());

    ASSERT_TRUE(store.store_pre_key(5, text("p5")).ok());
    EXPECT_TRUE(store.contains_pre_key(5).value());
    EXPECT_FALSE(other.contains_pre_key(5).value());
    ASSERT_TRUE(store.remove_pre_key(5).ok());
    EXPECT_FALSE(store.load_pre_key(5).value().has_value());
    ASSERT_TRUE(store.store_signed_pre_key(1, text("s1")).ok());
    EXPECT_EQ(store.load_signed_pre_key(1).value().value(), text("s1"));
    ASSERT_TRUE(store.remove_signed_pre_key(1).ok());
    EXPECT_FALSE(store.contains_signed_pre_key(1).value());

    Result<LocalIdentity> none = store.local_identity();
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, Errc::not_found);
}

TEST(SqliteSignalStore, LocalIdentityRoundTripsAndADamagedOneIsMalformed)
{
    TempStore t("cw-signal-store");
    SignalStore store(*t.db, "inbox-a");
    wa::crypto::KeyPair pair = wa::crypto::x25519_key_pair(Bytes(32, 0x42)).value();
    store.set_local_identity({pair, 4242});
    LocalIdentity back = store.local_identity().value();
    EXPECT_EQ(back.registration_id, 4242u);
    EXPECT_EQ(back.key_pair.private_key, pair.private_key);
    EXPECT_EQ(back.key_pair.public_key, pair.public_key);

    t.db->exec("UPDATE wa_devices SET identity_public = x'0102' WHERE device = 'inbox-a'");
    Result<LocalIdentity> damaged = store.local_identity();
    ASSERT_FALSE(damaged.ok());
    EXPECT_EQ(damaged.error().code, Errc::malformed);
}

// -- libsignal over the store -------------------------------------------------

TEST(SqliteSignalStore, DecryptsLibsignalNodeMessagesAndUsesUpThePreKey)
{
    TempStore t("cw-signal-store");
    auto bob = vector_bob(*t.db);
    const rapidjson::Value& messages = vector_section("signal_1to1")["messages"];
    ASSERT_GE(messages.Size(), 2u);
    for (const auto& m : messages.GetArray()) {
        std::string_view type = wa::test::vector_string(m, "type");
        Bytes ciphertext = vector_hex(m, "ciphertext");
        Result<Bytes> plain = type == "pkmsg" ? decrypt_pkmsg(bob->ctx(), kAlice, ciphertext)
                                              : decrypt_msg(bob->ctx(), kAlice, ciphertext);
        ASSERT_TRUE(plain.ok()) << type << ": " << plain.error().detail;
        EXPECT_EQ(*plain, vector_hex(m, "padded_plaintext"));
    }
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_pre_keys"), 0) << "one-time pre-key used up";
    EXPECT_EQ(bob->store.signed_pre_key_count(), 1u);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_sessions WHERE device = 'bob'"
                       " AND name = '15550000001' AND device_id = 0"),
              1);
    std::optional<wa::crypto::Key32> alice = bob->store.load_identity(kAlice).value();
    ASSERT_TRUE(alice.has_value());
    EXPECT_EQ(wa::crypto::to_bytes(*alice),
              vector_hex(vector_section("signal_1to1"), "alice_identity_pub"));
    Result<EncryptedMessage> reply = encrypt(bob->ctx(), kAlice, text("hi alice"));
    ASSERT_TRUE(reply.ok()) << reply.error().detail;
    EXPECT_EQ(reply->type, MessageType::msg);
}

TEST(SqliteSignalStore, ConversationBothWaysBetweenTwoDevicesOfOneDatabase)
{
    TempStore t("cw-signal-store");
    PreKeyBundle bob_bundle, unused;
    auto bob = generated(*t.db, "bob", "bob", bob_bundle);
    auto alice = generated(*t.db, "alice", "alice", unused);
    ASSERT_TRUE(process_prekey_bundle(alice->ctx(), kBob, bob_bundle).ok());

    Result<EncryptedMessage> first = encrypt(alice->ctx(), kBob, text("one"));
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->type, MessageType::pkmsg);
    EXPECT_EQ(bob->store.pre_key_count(), 1u);
    EXPECT_EQ(decrypt_pkmsg(bob->ctx(), kAlice, first->ciphertext).value(), text("one"));
    EXPECT_EQ(bob->store.pre_key_count(), 0u) << "the one-time pre-key is used up";
    EXPECT_EQ(alice->store.pre_key_count(), 1u) << "Alice's own pre-key is not Bob's";

    Result<EncryptedMessage> reply = encrypt(bob->ctx(), kAlice, text("two"));
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->type, MessageType::msg);
    EXPECT_EQ(decrypt_msg(alice->ctx(), kBob, reply->ciphertext).value(), text("two"));

    Result<EncryptedMessage> four = encrypt(alice->ctx(), kBob, text("four"));
    Result<EncryptedMessage> five = encrypt(alice->ctx(), kBob, text("five"));
    ASSERT_TRUE(four.ok() && five.ok());
    EXPECT_EQ(four->type, MessageType::msg);
    EXPECT_EQ(decrypt_msg(bob->ctx(), kAlice, five->ciphertext).value(), text("five"));
    EXPECT_EQ(decrypt_msg(bob->ctx(), kAlice, four->ciphertext).value(), text("four"));
    Result<Bytes> replay = decrypt_msg(bob->ctx(), kAlice, four->ciphertext);
    ASSERT_FALSE(replay.ok());
    EXPECT_EQ(replay.error().code, Errc::wrong_state);
}

TEST(SqliteSignalStore, SenderKeysFromBaileysAndOurOwn)
{
    TempStore t("cw-signal-store");
    Party receiver(*t.db, "receiver", "receiver");
    const rapidjson::Value& sk = vector_section("sender_keys");
    SenderKeyName sender{std::string(wa::test::vector_string(sk, "group")), {"15550000001", 0}};
    ASSERT_TRUE(
        process_sender_key_distribution(receiver.ctx(), sender, vector_hex(sk, "skdm_axolotl"))
            .ok());
    for (const auto& m : sk["messages"].GetArray()) {
        Result<Bytes> plain = group_decrypt(receiver.ctx(), sender, vector_hex(m, "skmsg"));
        ASSERT_TRUE(plain.ok()) << plain.error().detail;
        EXPECT_EQ(*plain, vector_hex(m, "padded_plaintext"));
    }
    EXPECT_EQ(receiver.store.sender_key_count(), 1u);

    // Our own sender key, from one device of the database to another.
    Party ours(*t.db, "ours", "ours");
    SenderKeyName mine{"120363012345678901@g.us", {"15550000009", 0}};
    Bytes skdm = create_sender_key_distribution(ours.ctx(), mine).value();
    Bytes skmsg = group_encrypt(ours.ctx(), mine, text("to the group")).value();
    ASSERT_TRUE(process_sender_key_distribution(receiver.ctx(), mine, skdm).ok());
    EXPECT_EQ(group_decrypt(receiver.ctx(), mine, skmsg).value(), text("to the group"));
    EXPECT_EQ(receiver.store.sender_key_count(), 2u);
    EXPECT_EQ(ours.store.sender_key_count(), 1u);
}

TEST(SqliteSignalStore, AReopenedDatabaseCarriesTheSessionOn)
{
    TempStore t("cw-signal-store");
    Bytes pending;  // sent by Alice before the restart, read after it
    {
        Established s(*t.db);
        pending = encrypt(s.alice->ctx(), kBob, text("across the restart")).value().ciphertext;
    }
    t.db.reset();  // the helper is gone; the file stays
    t.db.emplace(Database::open(t.dir + "/chatwoot.db"));
    migrate(*t.db);

    Party alice(*t.db, "alice", "alice-again");
    Party bob(*t.db, "bob", "bob-again");
    EXPECT_TRUE(has_session(alice.ctx(), kBob).value());
    EXPECT_EQ(decrypt_msg(bob.ctx(), kAlice, pending).value(), text("across the restart"));
    Result<EncryptedMessage> m = encrypt(bob.ctx(), kAlice, text("still here"));
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->type, MessageType::msg) << "no new session was started";
    EXPECT_EQ(decrypt_msg(alice.ctx(), kBob, m->ciphertext).value(), text("still here"));
    m = encrypt(alice.ctx(), kBob, text("and back"));
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(decrypt_msg(bob.ctx(), kAlice, m->ciphertext).value(), text("and back"));
}

// -- one message, one unit of work --------------------------------------------

TEST(SqliteSignalStore, ARolledBackRatchetAdvanceLeavesTheOldSession)
{
    TempStore t("cw-signal-store");
    Established s(*t.db);
    Bytes msg = encrypt(s.alice->ctx(), kBob, text("once")).value().ciphertext;
    const Bytes before = s.bob->session(kAlice);
    {
        UnitOfWork unit(*t.db);
        EXPECT_EQ(decrypt_msg(s.bob->ctx(), kAlice, msg).value(), text("once"));
        EXPECT_NE(s.bob->session(kAlice), before) << "the ratchet advanced inside the unit";
        // Storing the message fails here: the unit is left without commit.
    }
    EXPECT_EQ(s.bob->session(kAlice), before);

    // WhatsApp redelivers; now the message and its ratchet commit together.
    WaInboundRepository inbound(*t.db);
    {
        UnitOfWork unit(*t.db);
        EXPECT_EQ(decrypt_msg(s.bob->ctx(), kAlice, msg).value(), text("once"));
        EXPECT_TRUE(inbound.add("bob", "3EB0ONCE", "15550000001@s.whatsapp.net", "{}", 1));
        unit.commit();
    }
    EXPECT_NE(s.bob->session(kAlice), before);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_inbound WHERE wa_id = '3EB0ONCE'"), 1);
    // Committed, the same message is a replay.
    Result<Bytes> again = decrypt_msg(s.bob->ctx(), kAlice, msg);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::wrong_state);
}

TEST(SqliteSignalStore, ARolledBackPkmsgKeepsThePreKeyAndStartsNoSession)
{
    TempStore t("cw-signal-store");
    PreKeyBundle bob_bundle, unused;
    auto bob = generated(*t.db, "bob", "bob", bob_bundle);
    auto alice = generated(*t.db, "alice", "alice", unused);
    ASSERT_TRUE(process_prekey_bundle(alice->ctx(), kBob, bob_bundle).ok());
    Bytes pkmsg = encrypt(alice->ctx(), kBob, text("first")).value().ciphertext;
    {
        UnitOfWork unit(*t.db);
        EXPECT_EQ(decrypt_pkmsg(bob->ctx(), kAlice, pkmsg).value(), text("first"));
        EXPECT_EQ(bob->store.pre_key_count(), 0u);
    }
    EXPECT_EQ(bob->store.pre_key_count(), 1u);
    EXPECT_FALSE(bob->store.contains_session(kAlice).value());
    EXPECT_FALSE(bob->store.load_identity(kAlice).value().has_value());
    EXPECT_EQ(decrypt_pkmsg(bob->ctx(), kAlice, pkmsg).value(), text("first"));
    EXPECT_EQ(bob->store.pre_key_count(), 0u);
}

TEST(SqliteSignalStore, AFailingDatabaseIsAStoreFailureAndChangesNothing)
{
    TempStore t("cw-signal-store");
    Established s(*t.db);
    Bytes msg = encrypt(s.alice->ctx(), kBob, text("later")).value().ciphertext;
    const Bytes before = s.bob->session(kAlice);
    t.db->exec("PRAGMA query_only = ON");  // every write now fails
    Result<Bytes> plain = decrypt_msg(s.bob->ctx(), kAlice, msg);
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(plain.error().code, Errc::store_failure) << plain.error().detail;
    EXPECT_NE(plain.error().detail.find("store session"), std::string::npos)
        << plain.error().detail;
    t.db->exec("PRAGMA query_only = OFF");
    EXPECT_EQ(s.bob->session(kAlice), before);
    EXPECT_EQ(decrypt_msg(s.bob->ctx(), kAlice, msg).value(), text("later"));
}

// A ratchet write that fails inside the caller's unit (the store then
// joins it without a savepoint of its own) undoes only itself: the unit's
// earlier row stays, the same message decrypts again in the same unit,
// and the unit commits both.
TEST(SqliteSignalStore, AFailedWriteInsideTheCallersUnitUndoesOnlyItself)
{
    TempStore t("cw-signal-store");
    Established s(*t.db);
    Bytes msg = encrypt(s.alice->ctx(), kBob, text("kept")).value().ciphertext;
    const Bytes before = s.bob->session(kAlice);
    WaInboundRepository inbound(*t.db);
    {
        UnitOfWork unit(*t.db);
        EXPECT_TRUE(inbound.add("bob", "3EB0KEPT", "15550000001@s.whatsapp.net", "{}", 1));
        t.db->exec("PRAGMA query_only = ON");
        Result<Bytes> plain = decrypt_msg(s.bob->ctx(), kAlice, msg);
        ASSERT_FALSE(plain.ok());
        EXPECT_EQ(plain.error().code, Errc::store_failure) << plain.error().detail;
        t.db->exec("PRAGMA query_only = OFF");
        EXPECT_EQ(s.bob->session(kAlice), before);
        EXPECT_EQ(decrypt_msg(s.bob->ctx(), kAlice, msg).value(), text("kept"));
        unit.commit();
    }
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_inbound WHERE wa_id = '3EB0KEPT'"), 1);
    EXPECT_NE(s.bob->session(kAlice), before);
}

// -- the device beyond Signal ---------------------------------------------------

TEST(SqliteSignalStore, DeviceFactsRoundTripPerDevice)
{
    TempStore t("cw-signal-store");
    SignalStore store(*t.db, "inbox-a");
    SignalStore other(*t.db, "inbox-b");
    EXPECT_FALSE(store.noise_key().has_value());
    EXPECT_FALSE(store.adv_identity().has_value());
    EXPECT_EQ(store.own_jids(), OwnJids{});

    wa::crypto::KeyPair noise = wa::crypto::x25519_key_pair(Bytes(32, 0x17)).value();
    store.set_noise_key(noise);
    std::optional<wa::crypto::KeyPair> back = store.noise_key();
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->private_key, noise.private_key);
    EXPECT_EQ(back->public_key, noise.public_key);
    EXPECT_FALSE(other.noise_key().has_value());

    store.set_adv_identity(text("\x0a\x03" "adv"));
    EXPECT_EQ(store.adv_identity(), std::optional<Bytes>(text("\x0a\x03" "adv")));
    OwnJids jids{"5511999990000:12@s.whatsapp.net", "123456789012345:12@lid"};
    store.set_own_jids(jids);
    EXPECT_EQ(store.own_jids(), jids);
    EXPECT_EQ(other.own_jids(), OwnJids{});

    // Setting one fact keeps the others.
    EXPECT_EQ(store.noise_key()->private_key, noise.private_key);

    t.db->exec("UPDATE wa_devices SET noise_public = x'00' WHERE device = 'inbox-a'");
    EXPECT_THROW(store.noise_key(), StoreError) << "a damaged key never reads as no key";
}

TEST(SqliteSignalStore, LidMapKeepsOneRowPerPerson)
{
    TempStore t("cw-signal-store");
    SignalStore store(*t.db, "inbox-a");
    store.map_lid("5511999990001", "111111111111111");
    store.map_lid("5511999990002", "222222222222222");
    EXPECT_EQ(store.lid_for_pn("5511999990001"), std::optional<std::string>("111111111111111"));
    EXPECT_EQ(store.pn_for_lid("222222222222222"), std::optional<std::string>("5511999990002"));

    // A changed LID replaces the number's old one; a LID that moved to
    // another number leaves the old number without one.
    store.map_lid("5511999990001", "333333333333333");
    EXPECT_EQ(store.lid_for_pn("5511999990001"), std::optional<std::string>("333333333333333"));
    EXPECT_FALSE(store.pn_for_lid("111111111111111").has_value());
    store.map_lid("5511999990009", "222222222222222");
    EXPECT_FALSE(store.lid_for_pn("5511999990002").has_value());
    EXPECT_EQ(store.pn_for_lid("222222222222222"), std::optional<std::string>("5511999990009"));
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_lid_map"), 2);
}

TEST(SqliteSignalStore, SmallValuesByName)
{
    TempStore t("cw-signal-store");
    SignalStore store(*t.db, "inbox-a");
    EXPECT_FALSE(store.value("client_version").has_value());
    store.put_value("client_version", ByteView(text("2.3000.1029163814")));
    store.put_value("edge_routing", ByteView(Bytes{0x08, 0x00, 0xff}));
    EXPECT_EQ(store.value("client_version"), std::optional<Bytes>(text("2.3000.1029163814")));
    EXPECT_EQ(store.value("edge_routing"), std::optional<Bytes>(Bytes{0x08, 0x00, 0xff}));
    store.put_value("edge_routing", std::nullopt);
    EXPECT_FALSE(store.value("edge_routing").has_value());
    EXPECT_FALSE(SignalStore(*t.db, "inbox-b").value("client_version").has_value());
}

TEST(SqliteSignalStore, PreKeysCarryAnUploadMarkAndIdsAreNeverReused)
{
    TempStore t("cw-signal-store");
    SignalStore store(*t.db, "inbox-a");
    EXPECT_EQ(store.next_pre_key_id(), 1u);
    auto keygen = wa::crypto::SignalContext::create(wa::crypto::seeded_random(wa::as_bytes("pk")));
    std::vector<PreKey> keys = wa::signal::generate_pre_keys(*keygen, 1, 5).value();
    ASSERT_TRUE(store_pre_keys(store, keys).ok());
    EXPECT_EQ(store.next_pre_key_id(), 6u);
    EXPECT_EQ(store.pre_keys_to_upload(3), (std::vector<std::uint32_t>{1, 2, 3}));

    std::vector<std::uint32_t> sent{1, 2, 3};
    store.mark_pre_keys_uploaded(sent);
    EXPECT_EQ(store.pre_keys_to_upload(10), (std::vector<std::uint32_t>{4, 5}));
    // The public halves for the upload come back from the records.
    wa::signal::PreKey four =
        wa::signal::parse_pre_key(store.load_pre_key(4).value().value()).value();
    EXPECT_EQ(four.key_pair.public_key, keys[3].key_pair.public_key);

    // The same record again keeps its mark; a new key under the id loses it.
    ASSERT_TRUE(store_pre_keys(store, std::span<const PreKey>(&keys[0], 1)).ok());
    EXPECT_EQ(store.pre_keys_to_upload(10), (std::vector<std::uint32_t>{4, 5}));
    ASSERT_TRUE(store.store_pre_key(2, text("another key")).ok());
    EXPECT_EQ(store.pre_keys_to_upload(10), (std::vector<std::uint32_t>{2, 4, 5}));

    // The highest ones used up: the next id still goes past them.
    ASSERT_TRUE(store.remove_pre_key(5).ok());
    ASSERT_TRUE(store.remove_pre_key(4).ok());
    EXPECT_EQ(store.pre_key_count(), 3u);
    EXPECT_EQ(store.next_pre_key_id(), 6u);
}

TEST(SqliteSignalStore, ForgettingADeviceRemovesEverythingOfItAndNothingElse)
{
    TempStore t("cw-signal-store");
    Established s(*t.db);
    SenderKeyName group{"120363012345678901@g.us", {"15550000002", 0}};
    ASSERT_TRUE(create_sender_key_distribution(s.bob->ctx(), group).ok());
    s.bob->store.set_noise_key(wa::crypto::x25519_key_pair(Bytes(32, 1)).value());
    s.bob->store.map_lid("15550000001", "99");
    s.bob->store.put_value("client_version", ByteView(text("2.3000.1")));

    s.bob->store.forget_device();
    for (const char* table : {"wa_devices", "wa_pre_keys", "wa_signed_pre_keys", "wa_sessions",
                              "wa_sender_keys", "wa_identities", "wa_lid_map",
                              "wa_device_values"}) {
        EXPECT_EQ(t.scalar(std::string("SELECT count(*) FROM ") + table
                           + " WHERE device = 'bob'"),
                  0)
            << table;
    }
    EXPECT_EQ(s.bob->store.local_identity().error().code, Errc::not_found);
    EXPECT_TRUE(s.alice->store.local_identity().ok());
    EXPECT_EQ(s.alice->store.session_count(), 1u);
}

}  // namespace
}  // namespace chatwoot::store
