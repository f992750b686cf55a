// Decrypting message stanzas: libsignal-node's pkmsg/msg and Baileys'
// skmsg (the committed vectors, t/mock/wa/gen-vectors.mjs) come out as the
// Message they carry; an SKDM in the same stanza is taken before its
// skmsg; replays, garbage, missing sessions and a failing store are
// classified the way the receiver acts on them.
#include <gtest/gtest.h>

#include <memory>

#include "vectors.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/message/decrypt.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/memory_protocol_store.hpp"
#include "wa/signal/padding.hpp"
#include "wa/signal/prekey_bundle.hpp"
#include "wa/signal/prekey_records.hpp"
#include "wa/signal/session_cipher.hpp"

namespace chatwoot::wa::message {
namespace {

using binary::Jid;
using signal::LocalIdentity;
using signal::MemoryProtocolStore;
using signal::PreKeyBundle;
using signal::ProtocolContext;
using test::vector_hex;
using test::vector_section;

const OwnAccount kOwn{"15550000002", ""};  // the vectors' Bob is us

// A store that fails every write once armed: a full disk mid-message.
class FailingStore : public MemoryProtocolStore {
public:
    using MemoryProtocolStore::MemoryProtocolStore;
    bool failing = false;
    Status store_session(const signal::Address& a, ByteView r) override
    {
        if (failing) return make_error(Errc::store_failure, "disk full");
        return MemoryProtocolStore::store_session(a, r);
    }
    Status store_sender_key(const signal::SenderKeyName& n, ByteView r) override
    {
        if (failing) return make_error(Errc::store_failure, "disk full");
        return MemoryProtocolStore::store_sender_key(n, r);
    }
};

struct Party {
    FailingStore store;
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

// Bob as the vectors export him, and his bundle for a second sender.
std::unique_ptr<Party> vector_bob(PreKeyBundle* bundle = nullptr)
{
    const rapidjson::Value& bob = vector_section("signal_1to1")["bob"];
    LocalIdentity identity{pair_of(bob, "identity_priv"), bob["registration_id"].GetUint()};
    auto party = std::make_unique<Party>(identity, "bob");
    const rapidjson::Value& spk = bob["signed_prekey"];
    signal::SignedPreKey signed_pre_key{spk["id"].GetUint(), pair_of(spk, "priv"), {}};
    Bytes signature = vector_hex(spk, "signature");
    std::copy(signature.begin(), signature.end(), signed_pre_key.signature.begin());
    EXPECT_TRUE(signal::store_signed_pre_key(party->store, signed_pre_key).ok());
    const rapidjson::Value& otk = bob["one_time_prekey"];
    signal::PreKey pre_key{otk["id"].GetUint(), pair_of(otk, "priv")};
    EXPECT_TRUE(signal::store_pre_keys(party->store, std::span<const signal::PreKey>(&pre_key, 1)).ok());
    if (bundle != nullptr)
        *bundle = PreKeyBundle{identity.registration_id, identity.key_pair.public_key,
                               pre_key.public_part(), signed_pre_key.public_part()};
    return party;
}

MessageEnvelope envelope(std::string from, std::vector<EncPart> encs,
                         std::optional<std::string> participant = std::nullopt)
{
    binary::Node node("message", {{"id", {"ID1"}}, {"from", binary::jid_value(*Jid::parse(from))}});
    if (participant) node.set_attr("participant", *Jid::parse(*participant));
    binary::Children children;
    for (const EncPart& e : encs) {
        binary::Node enc("enc", {{"type", {std::string(enc_type_name(e.type))}}, {"v", {"2"}}});
        enc.content = e.ciphertext;
        children.push_back(std::move(enc));
    }
    node.content = std::move(children);
    return parse_envelope(node, kOwn).value();
}

EncPart part(EncType type, Bytes bytes)
{
    EncPart p;
    p.type = type;
    p.ciphertext = std::move(bytes);
    return p;
}

EncType type_of(std::string_view t) { return t == "pkmsg" ? EncType::pkmsg : EncType::msg; }

TEST(MessageDecrypt, LibsignalNodeDirectMessagesBecomeTheirMessages)
{
    auto bob = vector_bob();
    for (const auto& m : vector_section("signal_1to1")["messages"].GetArray()) {
        MessageEnvelope env = envelope("15550000001@s.whatsapp.net",
                                       {part(type_of(test::vector_string(m, "type")),
                                             vector_hex(m, "ciphertext"))});
        Decrypted d = decrypt(bob->ctx(), env);
        ASSERT_TRUE(d.failures.empty()) << d.failures[0].detail;
        ASSERT_EQ(d.messages.size(), 1u);
        EXPECT_EQ(d.messages[0].conversation(), test::vector_string(m, "text"));
    }
}

// Alice's first message came from her phone number; her next comes from
// her LID naming the number (sender_pn): the one session serves both.
TEST(MessageDecrypt, AContactMovingToTheirLidKeepsTheirSession)
{
    auto bob = vector_bob();
    const auto& msgs = vector_section("signal_1to1")["messages"];
    MessageEnvelope first = envelope("15550000001@s.whatsapp.net",
                                     {part(type_of(test::vector_string(msgs[0], "type")),
                                           vector_hex(msgs[0], "ciphertext"))});
    ASSERT_EQ(decrypt(bob->ctx(), first).messages.size(), 1u);

    binary::Node node("message", {{"id", {"ID2"}},
                                  {"from", binary::jid_value(*Jid::parse("88888888@lid"))},
                                  {"sender_pn", binary::jid_value(*Jid::parse("15550000001@s.whatsapp.net"))}});
    binary::Node enc("enc", {{"type", {std::string(test::vector_string(msgs[1], "type"))}}, {"v", {"2"}}});
    enc.content = vector_hex(msgs[1], "ciphertext");
    node.content = binary::Children{enc};
    MessageEnvelope second = parse_envelope(node, kOwn).value();
    ASSERT_TRUE(alternate_sender_address(second));
    EXPECT_EQ(alternate_sender_address(second)->name, "15550000001");
    Decrypted d = decrypt(bob->ctx(), second);
    ASSERT_TRUE(d.failures.empty()) << d.failures[0].detail;
    ASSERT_EQ(d.messages.size(), 1u);
    EXPECT_EQ(d.messages[0].conversation(), test::vector_string(msgs[1], "text"));
}

TEST(MessageDecrypt, ARedeliveryIsADuplicateThatAsksNothing)
{
    auto bob = vector_bob();
    const auto& first = vector_section("signal_1to1")["messages"][0];
    MessageEnvelope env = envelope("15550000001@s.whatsapp.net",
                                   {part(type_of(test::vector_string(first, "type")),
                                         vector_hex(first, "ciphertext"))});
    ASSERT_EQ(decrypt(bob->ctx(), env).messages.size(), 1u);
    Decrypted again = decrypt(bob->ctx(), env);
    EXPECT_TRUE(again.messages.empty());
    ASSERT_EQ(again.failures.size(), 1u);
    EXPECT_EQ(again.failures[0].failure, DecryptFailure::duplicate);
    EXPECT_FALSE(again.wants_retry());
    EXPECT_FALSE(again.store_failed());
}

TEST(MessageDecrypt, GarbageAndMissingSessionsAskForARetry)
{
    auto bob = vector_bob();
    Bytes garbage(60, 0x41);
    garbage[0] = 0x33;
    Decrypted g = decrypt(bob->ctx(), envelope("15550000001@s.whatsapp.net",
                                               {part(EncType::msg, garbage)}));
    EXPECT_TRUE(g.messages.empty());
    ASSERT_EQ(g.failures.size(), 1u);
    EXPECT_TRUE(g.wants_retry()) << decrypt_failure_name(g.failures[0].failure);

    // A well-formed msg (not pkmsg) from someone we have no session with:
    // Bob's answer to Carol, handed to a Bob who never met her.
    PreKeyBundle bundle;
    auto bob2 = vector_bob(&bundle);
    Result<crypto::SignalContext> keygen =
        crypto::SignalContext::create(crypto::seeded_random(as_bytes("carol-keys")));
    auto carol = std::make_unique<Party>(signal::generate_local_identity(*keygen).value(), "carol");
    const signal::Address bob_address{"15550000002", 0}, carol_address{"15550000003", 0};
    ASSERT_TRUE(signal::process_prekey_bundle(carol->ctx(), bob_address, bundle).ok());
    Bytes hello{'h', 1};
    auto pk = signal::encrypt(carol->ctx(), bob_address, hello).value();
    ASSERT_TRUE(signal::decrypt_pkmsg(bob2->ctx(), carol_address, pk.ciphertext).ok());
    auto answer = signal::encrypt(bob2->ctx(), carol_address, hello).value();
    ASSERT_EQ(answer.type, signal::MessageType::msg);
    Decrypted n = decrypt(bob->ctx(), envelope("15550000003@s.whatsapp.net",
                                               {part(EncType::msg, answer.ciphertext)}));
    ASSERT_EQ(n.failures.size(), 1u);
    EXPECT_EQ(n.failures[0].failure, DecryptFailure::no_session);
    EXPECT_TRUE(n.wants_retry());
}

// Carol (our own code) starts a session with Bob and hands him the
// vectors' sender key in a pkmsg; Baileys' skmsg follows in the same
// stanza and decrypts with it.
TEST(MessageDecrypt, SenderKeyInTheSameStanzaOpensTheGroupMessage)
{
    PreKeyBundle bundle;
    auto bob = vector_bob(&bundle);
    Result<crypto::SignalContext> keygen =
        crypto::SignalContext::create(crypto::seeded_random(as_bytes("carol-keys")));
    auto carol = std::make_unique<Party>(signal::generate_local_identity(*keygen).value(), "carol");
    const signal::Address bob_address{"15550000002", 0};
    ASSERT_TRUE(signal::process_prekey_bundle(carol->ctx(), bob_address, bundle).ok());

    const rapidjson::Value& sk = vector_section("sender_keys");
    Bytes wrapped = vector_hex(sk, "skdm_wrapped_in_Message");
    Bytes padded = signal::pad_message(wrapped, crypto::seeded_random(as_bytes("pad"))).value();
    auto pkmsg = signal::encrypt(carol->ctx(), bob_address, padded).value();
    ASSERT_EQ(pkmsg.type, signal::MessageType::pkmsg);

    const std::string group(test::vector_string(sk, "group"));
    MessageEnvelope env = envelope(group,
                                   {part(EncType::pkmsg, pkmsg.ciphertext),
                                    part(EncType::skmsg, vector_hex(sk["messages"][0], "skmsg"))},
                                   "15550000001@s.whatsapp.net");
    Decrypted d = decrypt(bob->ctx(), env);
    ASSERT_TRUE(d.failures.empty()) << d.failures[0].detail;
    EXPECT_EQ(d.skdms, 1);
    ASSERT_EQ(d.messages.size(), 2u);
    EXPECT_TRUE(d.messages[0].has_senderkeydistributionmessage());
    EXPECT_EQ(d.messages[1].conversation(), test::vector_string(sk["messages"][0], "text"));

    // The next skmsg alone decrypts with the key taken above.
    Decrypted next = decrypt(bob->ctx(), envelope(group, {part(EncType::skmsg,
                                                               vector_hex(sk["messages"][1], "skmsg"))},
                                                  "15550000001@s.whatsapp.net"));
    ASSERT_EQ(next.messages.size(), 1u);
    EXPECT_EQ(next.messages[0].conversation(), test::vector_string(sk["messages"][1], "text"));
}

TEST(MessageDecrypt, SkmsgWithoutTheSenderKeyAsksForARetry)
{
    auto bob = vector_bob();
    const rapidjson::Value& sk = vector_section("sender_keys");
    Decrypted d = decrypt(bob->ctx(), envelope(std::string(test::vector_string(sk, "group")),
                                               {part(EncType::skmsg, vector_hex(sk["messages"][0], "skmsg"))},
                                               "15550000001@s.whatsapp.net"));
    ASSERT_EQ(d.failures.size(), 1u);
    EXPECT_EQ(d.failures[0].failure, DecryptFailure::no_session);
    EXPECT_TRUE(d.wants_retry());
}

TEST(MessageDecrypt, AFailingStoreIsNeverADropAndChangesNothing)
{
    auto bob = vector_bob();
    const auto& first = vector_section("signal_1to1")["messages"][0];
    MessageEnvelope env = envelope("15550000001@s.whatsapp.net",
                                   {part(type_of(test::vector_string(first, "type")),
                                         vector_hex(first, "ciphertext"))});
    bob->store.failing = true;
    Decrypted d = decrypt(bob->ctx(), env);
    EXPECT_TRUE(d.store_failed());
    EXPECT_TRUE(d.messages.empty());
    // The store came back: the same stanza decrypts (nothing was used up).
    bob->store.failing = false;
    Decrypted again = decrypt(bob->ctx(), env);
    ASSERT_EQ(again.messages.size(), 1u);
    EXPECT_EQ(again.messages[0].conversation(), test::vector_string(first, "text"));
}

}  // namespace
}  // namespace chatwoot::wa::message
