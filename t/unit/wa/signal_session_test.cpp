// One-to-one sessions: libsignal-node's pkmsgs from the vectors decrypt
// with Bob's exported keys; two of our own parties talk both ways; and
// damaged or replayed messages fail with the right Errc without touching
// the stored session.
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "vectors.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/memory_protocol_store.hpp"
#include "wa/signal/prekey_records.hpp"
#include "wa/signal/session_cipher.hpp"

#include <session_record.h>
#include <session_state.h>
#include <signal_protocol.h>

namespace chatwoot::wa::signal {
namespace {

using crypto::to_bytes;
using test::vector_hex;
using test::vector_section;

const Address kAlice{"15550000001", 0};  // the vectors' sender
const Address kBob{"15550000002", 0};

// A store and the context over it; not movable, as the context points at
// the store.
struct Party {
    MemoryProtocolStore store;
    std::unique_ptr<ProtocolContext> context;

    Party(LocalIdentity identity, std::string_view seed) : store(std::move(identity))
    {
        context = std::make_unique<ProtocolContext>(
            ProtocolContext::create(crypto::seeded_random(as_bytes(seed)), store).value());
    }
    ProtocolContext& ctx() { return *context; }
};

crypto::KeyPair pair_of(const rapidjson::Value& obj, std::string_view key)
{
    return crypto::x25519_key_pair(vector_hex(obj, key)).value();
}

// Bob as the vectors export him: identity, signed pre-key 1, one-time 7.
std::unique_ptr<Party> vector_bob(bool with_pre_key = true, bool with_signed_pre_key = true)
{
    const rapidjson::Value& bob = vector_section("signal_1to1")["bob"];
    auto party = std::make_unique<Party>(
        LocalIdentity{pair_of(bob, "identity_priv"), bob["registration_id"].GetUint()}, "bob");
    const rapidjson::Value& spk = bob["signed_prekey"];
    SignedPreKey signed_pre_key{spk["id"].GetUint(), pair_of(spk, "priv"), {}};
    Bytes signature = vector_hex(spk, "signature");
    std::copy(signature.begin(), signature.end(), signed_pre_key.signature.begin());
    if (with_signed_pre_key) {
        EXPECT_TRUE(store_signed_pre_key(party->store, signed_pre_key).ok());
    }
    const rapidjson::Value& otk = bob["one_time_prekey"];
    PreKey pre_key{otk["id"].GetUint(), pair_of(otk, "priv")};
    if (with_pre_key) {
        EXPECT_TRUE(store_pre_keys(party->store, std::span<const PreKey>(&pre_key, 1)).ok());
    }
    return party;
}

struct VectorMessage {
    std::string type;
    Bytes ciphertext;
    Bytes padded_plaintext;
};

std::vector<VectorMessage> vector_messages()
{
    std::vector<VectorMessage> out;
    for (const auto& m : vector_section("signal_1to1")["messages"].GetArray())
        out.push_back({std::string(test::vector_string(m, "type")), vector_hex(m, "ciphertext"),
                       vector_hex(m, "padded_plaintext")});
    return out;
}

Bytes session_bytes(Party& p, const Address& a)
{
    std::optional<Bytes> s = p.store.load_session(a).value();
    return s ? *s : Bytes{};
}

// A party made from the seed, with its bundle: signed pre-key 1 and
// optionally one-time pre-key 31.
std::unique_ptr<Party> generated(std::string_view seed, PreKeyBundle& bundle, bool one_time = true)
{
    Result<crypto::SignalContext> keygen =
        crypto::SignalContext::create(crypto::seeded_random(as_bytes(std::string(seed) + "-keys")));
    LocalIdentity identity = generate_local_identity(*keygen).value();
    SignedPreKey spk = generate_signed_pre_key(*keygen, identity.key_pair, 1).value();
    std::vector<PreKey> pre = generate_pre_keys(*keygen, 31, 1).value();
    auto party = std::make_unique<Party>(identity, seed);
    EXPECT_TRUE(store_signed_pre_key(party->store, spk).ok());
    EXPECT_TRUE(store_pre_keys(party->store, pre).ok());
    bundle =
        PreKeyBundle{identity.registration_id, identity.key_pair.public_key,
                     one_time ? std::optional<PreKeyPublic>(pre[0].public_part()) : std::nullopt,
                     spk.public_part()};
    return party;
}

// Where the inner SignalMessage (PreKeySignalMessage field 4) of a pkmsg
// ends: its last 8 bytes are the MAC.  (libsignal-node writes the fields in
// number order, so the signed pre-key id, not the MAC, ends the pkmsg.)
std::size_t inner_message_end(const Bytes& pkmsg)
{
    std::size_t i = 1;
    auto varint = [&] {
        std::uint64_t v = 0;
        for (int shift = 0; i < pkmsg.size(); shift += 7) {
            std::uint8_t b = pkmsg[i++];
            v |= std::uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) break;
        }
        return v;
    };
    while (i < pkmsg.size()) {
        std::uint64_t key = varint();
        if ((key & 7) == 0) {
            varint();
        } else if ((key & 7) == 2) {
            std::size_t len = varint();
            if ((key >> 3) == 4) return i + len;
            i += len;
        } else {
            break;
        }
    }
    ADD_FAILURE() << "no inner message in the pkmsg";
    return pkmsg.size();
}

Bytes text(std::string_view s)
{
    return Bytes(s.begin(), s.end());
}

// -- the vectors ------------------------------------------------------------

TEST(SignalSession, DecryptsLibsignalNodeMessages)
{
    // The vectors' messages in order: pkmsgs first (Bob has not answered),
    // then msgs if the generator adds any.
    std::vector<VectorMessage> msgs = vector_messages();
    ASSERT_GE(msgs.size(), 2u);
    ASSERT_EQ(msgs[0].type, "pkmsg");
    auto bob = vector_bob();
    for (const VectorMessage& m : msgs) {
        ASSERT_TRUE(m.type == "pkmsg" || m.type == "msg") << m.type;
        Result<Bytes> plain = m.type == "pkmsg" ? decrypt_pkmsg(bob->ctx(), kAlice, m.ciphertext)
                                                : decrypt_msg(bob->ctx(), kAlice, m.ciphertext);
        ASSERT_TRUE(plain.ok()) << m.type << ": " << plain.error().detail;
        EXPECT_EQ(*plain, m.padded_plaintext);
    }
    // The one-time pre-key is used up, Alice's identity recorded, and Bob
    // can answer on the session.
    EXPECT_EQ(bob->store.pre_key_count(), 0u);
    EXPECT_EQ(bob->store.signed_pre_key_count(), 1u);
    std::optional<crypto::Key32> alice = bob->store.load_identity(kAlice).value();
    ASSERT_TRUE(alice.has_value());
    EXPECT_EQ(to_bytes(*alice), vector_hex(vector_section("signal_1to1"), "alice_identity_pub"));
    EXPECT_TRUE(has_session(bob->ctx(), kAlice).value());
    Result<EncryptedMessage> reply = encrypt(bob->ctx(), kAlice, text("hi alice"));
    ASSERT_TRUE(reply.ok()) << reply.error().detail;
    EXPECT_EQ(reply->type, MessageType::msg);
    EXPECT_EQ(enc_type(reply->type), "msg");
}

TEST(SignalSession, SecondPkmsgAloneStillDecrypts)
{
    // Both pkmsgs carry the same base key; the later one starts the session
    // by itself as well.
    std::vector<VectorMessage> msgs = vector_messages();
    ASSERT_EQ(msgs[1].type, "pkmsg");
    auto bob = vector_bob();
    Result<Bytes> plain = decrypt_pkmsg(bob->ctx(), kAlice, msgs[1].ciphertext);
    ASSERT_TRUE(plain.ok()) << plain.error().detail;
    EXPECT_EQ(*plain, msgs[1].padded_plaintext);
    // And the earlier one after it (a skipped message key).
    plain = decrypt_pkmsg(bob->ctx(), kAlice, msgs[0].ciphertext);
    ASSERT_TRUE(plain.ok()) << plain.error().detail;
    EXPECT_EQ(*plain, msgs[0].padded_plaintext);
}

TEST(SignalSession, ReplayedPkmsgIsWrongState)
{
    std::vector<VectorMessage> msgs = vector_messages();
    auto bob = vector_bob();
    ASSERT_TRUE(decrypt_pkmsg(bob->ctx(), kAlice, msgs[0].ciphertext).ok());
    Bytes before = session_bytes(*bob, kAlice);
    Result<Bytes> again = decrypt_pkmsg(bob->ctx(), kAlice, msgs[0].ciphertext);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::wrong_state) << again.error().detail;
    EXPECT_EQ(session_bytes(*bob, kAlice), before);
}

TEST(SignalSession, PkmsgNeedsTheKeysItNames)
{
    Bytes pkmsg = vector_messages()[0].ciphertext;
    for (bool pre_key : {false, true}) {
        auto bob = vector_bob(pre_key, !pre_key);
        Result<Bytes> plain = decrypt_pkmsg(bob->ctx(), kAlice, pkmsg);
        ASSERT_FALSE(plain.ok());
        EXPECT_EQ(plain.error().code, Errc::not_found) << plain.error().detail;
        EXPECT_EQ(bob->store.session_count(), 0u);
    }
}

TEST(SignalSession, PkmsgFormErrors)
{
    Bytes pkmsg = vector_messages()[0].ciphertext;
    auto bob = vector_bob();
    struct Case {
        Bytes bytes;
        Errc code;
        const char* why;
    };
    Bytes legacy = pkmsg;
    legacy[0] = 0x22;
    Bytes future = pkmsg;
    future[0] = 0x43;
    Bytes mac = pkmsg;
    mac[inner_message_end(pkmsg) - 1] ^= 0x01;  // the inner SignalMessage's MAC
    Bytes spk_id = pkmsg;
    spk_id.back() ^= 0x02;  // signed pre-key 1 -> 3, which Bob has not
    for (const Case& c :
         {Case{{}, Errc::truncated, "empty"}, Case{{0x33}, Errc::truncated, "version byte only"},
          Case{legacy, Errc::unsupported, "version 2"},
          Case{future, Errc::unsupported, "version 4"},
          Case{{0x33, 0xff, 0xff, 0xff}, Errc::malformed, "not a protobuf"},
          Case{{0x33, 0x08, 0x01}, Errc::malformed, "fields missing"},
          Case{mac, Errc::bad_mac, "MAC changed"},
          Case{spk_id, Errc::not_found, "unknown signed pre-key"}}) {
        Result<Bytes> plain = decrypt_pkmsg(bob->ctx(), kAlice, c.bytes);
        ASSERT_FALSE(plain.ok()) << c.why;
        EXPECT_EQ(plain.error().code, c.code) << c.why << ": " << plain.error().detail;
    }
    EXPECT_EQ(bob->store.session_count(), 0u);
    EXPECT_EQ(bob->store.pre_key_count(), 1u);
}

TEST(SignalSession, DamagedPkmsgsNeverDecryptToSomethingElse)
{
    // Some pkmsg fields are outside the MAC (the registration id): a change
    // there may still decrypt, but only to the same plaintext.  Anything
    // else fails, and a failure stores nothing.
    VectorMessage m = vector_messages()[0];
    const std::set<Errc> allowed{Errc::truncated, Errc::malformed, Errc::bad_mac, Errc::not_found,
                                 Errc::unsupported};
    auto check = [&](const Bytes& bytes, const std::string& what) {
        auto bob = vector_bob();
        Result<Bytes> plain = decrypt_pkmsg(bob->ctx(), kAlice, bytes);
        if (plain.ok()) {
            EXPECT_EQ(*plain, m.padded_plaintext) << what;
            return;
        }
        EXPECT_TRUE(allowed.count(plain.error().code))
            << what << ": " << errc_name(plain.error().code) << " " << plain.error().detail;
        EXPECT_EQ(bob->store.session_count(), 0u) << what;
        EXPECT_EQ(bob->store.pre_key_count(), 1u) << what;
    };
    for (std::size_t n = 0; n < m.ciphertext.size(); ++n)
        check(Bytes(m.ciphertext.begin(), m.ciphertext.begin() + static_cast<std::ptrdiff_t>(n)),
              "first " + std::to_string(n) + " bytes");
    for (std::size_t i = 0; i < m.ciphertext.size(); ++i) {
        for (std::uint8_t flip : {0x01, 0x80}) {
            Bytes bytes = m.ciphertext;
            bytes[i] ^= flip;
            check(bytes, "byte " + std::to_string(i) + " ^ " + std::to_string(flip));
        }
    }
}

// -- our own parties ----------------------------------------------------------

TEST(SignalSession, ConversationBothWays)
{
    PreKeyBundle bob_bundle;
    auto bob = generated("bob", bob_bundle);
    PreKeyBundle unused;
    auto alice = generated("alice", unused);

    Result<EncryptedMessage> none = encrypt(alice->ctx(), kBob, text("x"));
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, Errc::not_found);
    EXPECT_FALSE(has_session(alice->ctx(), kBob).value());

    ASSERT_TRUE(process_prekey_bundle(alice->ctx(), kBob, bob_bundle).ok());
    EXPECT_TRUE(has_session(alice->ctx(), kBob).value());

    // Until Bob answers, everything Alice sends is a pkmsg.
    Result<EncryptedMessage> first = encrypt(alice->ctx(), kBob, text("one"));
    Result<EncryptedMessage> second = encrypt(alice->ctx(), kBob, text("two"));
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_EQ(first->type, MessageType::pkmsg);
    EXPECT_EQ(second->type, MessageType::pkmsg);
    EXPECT_EQ(enc_type(first->type), "pkmsg");

    EXPECT_EQ(decrypt_pkmsg(bob->ctx(), kAlice, first->ciphertext).value(), text("one"));
    EXPECT_EQ(decrypt_pkmsg(bob->ctx(), kAlice, second->ciphertext).value(), text("two"));
    EXPECT_EQ(bob->store.pre_key_count(), 0u);

    Result<EncryptedMessage> reply = encrypt(bob->ctx(), kAlice, text("three"));
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->type, MessageType::msg);
    EXPECT_EQ(decrypt_msg(alice->ctx(), kBob, reply->ciphertext).value(), text("three"));

    // Acknowledged: now msg, and out of order works.
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

TEST(SignalSession, BundleWithoutOneTimePreKey)
{
    PreKeyBundle bob_bundle;
    auto bob = generated("bob", bob_bundle, false);
    PreKeyBundle unused;
    auto alice = generated("alice", unused);
    ASSERT_TRUE(process_prekey_bundle(alice->ctx(), kBob, bob_bundle).ok());
    Result<EncryptedMessage> m = encrypt(alice->ctx(), kBob, text("no otk"));
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(decrypt_pkmsg(bob->ctx(), kAlice, m->ciphertext).value(), text("no otk"));
    EXPECT_EQ(bob->store.pre_key_count(), 1u);  // nothing used up
}

TEST(SignalSession, BundleWithBadSignatureStartsNothing)
{
    PreKeyBundle bob_bundle;
    auto bob = generated("bob", bob_bundle);
    PreKeyBundle unused;
    auto alice = generated("alice", unused);
    bob_bundle.signed_pre_key.signature[10] ^= 0x04;
    Status s = process_prekey_bundle(alice->ctx(), kBob, bob_bundle);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::bad_signature) << s.error().detail;
    EXPECT_EQ(alice->store.session_count(), 0u);

    Status bad_address = process_prekey_bundle(alice->ctx(), {"", 0}, bob_bundle);
    ASSERT_FALSE(bad_address.ok());
    EXPECT_EQ(bad_address.error().code, Errc::malformed);
}

// A session where Bob has answered once, so Alice sends msg.
struct Established {
    std::unique_ptr<Party> alice, bob;

    Established()
    {
        PreKeyBundle bob_bundle, unused;
        bob = generated("bob", bob_bundle);
        alice = generated("alice", unused);
        EXPECT_TRUE(process_prekey_bundle(alice->ctx(), kBob, bob_bundle).ok());
        Bytes first = encrypt(alice->ctx(), kBob, text("hello")).value().ciphertext;
        EXPECT_TRUE(decrypt_pkmsg(bob->ctx(), kAlice, first).ok());
        Bytes reply = encrypt(bob->ctx(), kAlice, text("hi")).value().ciphertext;
        EXPECT_TRUE(decrypt_msg(alice->ctx(), kBob, reply).ok());
    }
};

TEST(SignalSession, MsgWithoutSessionIsNotFound)
{
    Established s;
    Bytes msg = encrypt(s.alice->ctx(), kBob, text("who")).value().ciphertext;
    Result<Bytes> plain = decrypt_msg(s.bob->ctx(), {"15550000099", 0}, msg);
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(plain.error().code, Errc::not_found);
}

TEST(SignalSession, DamagedMsgsFailAndLeaveTheSession)
{
    Established s;
    Result<EncryptedMessage> m = encrypt(s.alice->ctx(), kBob, text("body"));
    ASSERT_TRUE(m.ok());
    ASSERT_EQ(m->type, MessageType::msg);
    const Bytes& msg = m->ciphertext;
    const Bytes before = session_bytes(*s.bob, kAlice);

    struct Case {
        Bytes bytes;
        Errc code;
        const char* why;
    };
    Bytes mac = msg;
    mac.back() ^= 0x01;
    Bytes body = msg;
    body[body.size() - 9] ^= 0x01;  // last ciphertext byte, under the MAC
    Bytes future = msg;
    future[0] = 0x43;
    for (const Case& c :
         {Case{{}, Errc::truncated, "empty"},
          Case{Bytes(msg.begin(), msg.begin() + 9), Errc::truncated, "9 bytes"},
          Case{mac, Errc::bad_mac, "MAC changed"}, Case{body, Errc::bad_mac, "ciphertext changed"},
          Case{future, Errc::unsupported, "version 4"}}) {
        Result<Bytes> plain = decrypt_msg(s.bob->ctx(), kAlice, c.bytes);
        ASSERT_FALSE(plain.ok()) << c.why;
        EXPECT_EQ(plain.error().code, c.code) << c.why << ": " << plain.error().detail;
    }

    // Every truncation and every flipped bit fails: the MAC covers it all.
    const std::set<Errc> allowed{Errc::truncated,   Errc::malformed, Errc::bad_mac,
                                 Errc::unsupported, Errc::too_large, Errc::wrong_state};
    auto check = [&](const Bytes& bytes, const std::string& what) {
        Result<Bytes> plain = decrypt_msg(s.bob->ctx(), kAlice, bytes);
        ASSERT_FALSE(plain.ok()) << what;
        EXPECT_TRUE(allowed.count(plain.error().code))
            << what << ": " << errc_name(plain.error().code) << " " << plain.error().detail;
    };
    for (std::size_t n = 0; n < msg.size(); ++n)
        check(Bytes(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(n)),
              "first " + std::to_string(n) + " bytes");
    for (std::size_t i = 0; i < msg.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            Bytes bytes = msg;
            bytes[i] ^= static_cast<std::uint8_t>(1u << bit);
            check(bytes, "byte " + std::to_string(i) + " bit " + std::to_string(bit));
        }
    }
    EXPECT_EQ(session_bytes(*s.bob, kAlice), before);

    // The real one still decrypts afterwards.
    EXPECT_EQ(decrypt_msg(s.bob->ctx(), kAlice, msg).value(), text("body"));
}

TEST(SignalSession, MoreThan2000AheadIsTooLarge)
{
    Established s;
    Bytes last;
    for (int i = 0; i < 2002; ++i)
        last = encrypt(s.alice->ctx(), kBob, text("n")).value().ciphertext;
    Result<Bytes> plain = decrypt_msg(s.bob->ctx(), kAlice, last);
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(plain.error().code, Errc::too_large) << plain.error().detail;
}

// has_session reads stored records without libsignal's parse (a send asks it
// of every device): its answer must be libsignal's own for every shape a
// record takes, and bytes that are no record must not be read past.
bool libsignal_can_send(ProtocolContext& context, const Bytes& bytes)
{
    session_record* raw = nullptr;
    const int rc = session_record_deserialize(&raw, bytes.data(), bytes.size(), context.signal());
    EXPECT_GE(rc, 0);
    const bool can = raw != nullptr && session_record_get_state(raw) != nullptr &&
                     session_state_has_sender_chain(session_record_get_state(raw)) == 1;
    if (raw != nullptr) SIGNAL_UNREF(raw);
    return can;
}

void expect_quick_answer_is_libsignals(Party& party, const Address& peer, const char* when)
{
    auto stored = party.store.load_session(peer);
    ASSERT_TRUE(stored.ok() && stored->has_value()) << when;
    const Bytes& bytes = **stored;
    const std::optional<bool> quick = stored_record_can_send(bytes);
    ASSERT_TRUE(quick.has_value()) << when;
    EXPECT_EQ(*quick, libsignal_can_send(party.ctx(), bytes)) << when;
    EXPECT_EQ(*quick, has_session(party.ctx(), peer).value()) << when;
}

TEST(SignalSession, QuickSessionCheckAgreesWithLibsignalOnEveryRecordShape)
{
    PreKeyBundle bob_bundle;
    auto bob = generated("bob", bob_bundle);
    PreKeyBundle alice_bundle;
    auto alice = generated("alice", alice_bundle);

    ASSERT_TRUE(process_prekey_bundle(alice->ctx(), kBob, bob_bundle).ok());
    expect_quick_answer_is_libsignals(*alice, kBob, "initiator, pending pre-key");
    auto first = encrypt(alice->ctx(), kBob, text("one"));
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(decrypt_pkmsg(bob->ctx(), kAlice, first->ciphertext).ok());
    expect_quick_answer_is_libsignals(*bob, kAlice, "responder after a pkmsg");
    auto reply = encrypt(bob->ctx(), kAlice, text("two"));
    ASSERT_TRUE(reply.ok());
    ASSERT_TRUE(decrypt_msg(alice->ctx(), kBob, reply->ciphertext).ok());
    expect_quick_answer_is_libsignals(*alice, kBob, "initiator after the answer");
    // Bob starts over from Alice's bundle: the old state becomes a previous one.
    ASSERT_TRUE(process_prekey_bundle(bob->ctx(), kAlice, alice_bundle).ok());
    expect_quick_answer_is_libsignals(*bob, kAlice, "a new state over an old one");

    // A record with no current state (what libsignal stores for an empty
    // record) cannot send.
    session_record* empty = nullptr;
    ASSERT_GE(session_record_create(&empty, nullptr, alice->ctx().signal()), 0);
    signal_buffer* raw = nullptr;
    ASSERT_GE(session_record_serialize(&raw, empty), 0);
    const Bytes empty_bytes(signal_buffer_data(raw), signal_buffer_data(raw) + signal_buffer_len(raw));
    signal_buffer_free(raw);
    SIGNAL_UNREF(empty);
    const std::optional<bool> none = stored_record_can_send(empty_bytes);
    ASSERT_TRUE(none.has_value());
    EXPECT_EQ(*none, libsignal_can_send(alice->ctx(), empty_bytes));
}

TEST(SignalSession, QuickSessionCheckRefusesWhatIsNoRecord)
{
    PreKeyBundle bob_bundle;
    auto bob = generated("bob", bob_bundle);
    PreKeyBundle unused;
    auto alice = generated("alice", unused);
    ASSERT_TRUE(process_prekey_bundle(alice->ctx(), kBob, bob_bundle).ok());
    const Bytes bytes = alice->store.load_session(kBob).value().value();
    // Every truncation: a field cut short is malformed, never read past.
    size_t malformed = 0;
    for (size_t n = 1; n < bytes.size(); ++n) {
        const Bytes cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        if (!stored_record_can_send(cut)) ++malformed;
    }
    EXPECT_GT(malformed, bytes.size() / 2);
    EXPECT_FALSE(stored_record_can_send(Bytes{0x0a, 0x80}).has_value()) << "a length that never ends";
    EXPECT_FALSE(stored_record_can_send(Bytes{0x0a, 0x05, 0x01}).has_value()) << "a length past the end";
    EXPECT_FALSE(stored_record_can_send(Bytes{0x0b}).has_value()) << "a group (wire type 3)";
    EXPECT_EQ(stored_record_can_send(Bytes{0x08, 0x01}), std::optional<bool>(false))
        << "other fields only: no current state";
}

}  // namespace
}  // namespace chatwoot::wa::signal
