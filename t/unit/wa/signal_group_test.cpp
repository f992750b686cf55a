// Sender keys: Baileys' SKDM and skmsgs from the vectors (with Baileys'
// iteration gaps) decrypt; our own sender's messages decrypt in and out of
// order; damaged, replayed and unknown-sender messages fail with the right
// Errc.
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "vectors.hpp"
#include "wa/signal/group_cipher.hpp"
#include "wa/signal/memory_protocol_store.hpp"

namespace chatwoot::wa::signal {
namespace {

using test::vector_hex;
using test::vector_section;

struct Party {
    MemoryProtocolStore store;
    std::unique_ptr<ProtocolContext> context;

    explicit Party(std::string_view seed)
    {
        context = std::make_unique<ProtocolContext>(
            ProtocolContext::create(crypto::seeded_random(as_bytes(seed)), store).value());
    }
    ProtocolContext& ctx() { return *context; }
};

// The vectors' sender: "15550000001.0" in the group.
SenderKeyName vector_sender()
{
    const rapidjson::Value& sk = vector_section("sender_keys");
    EXPECT_EQ(test::vector_string(sk, "sender"), "15550000001.0");
    return {std::string(test::vector_string(sk, "group")), {"15550000001", 0}};
}

struct VectorSkmsg {
    Bytes skmsg;
    Bytes padded_plaintext;
};

std::vector<VectorSkmsg> vector_skmsgs()
{
    std::vector<VectorSkmsg> out;
    for (const auto& m : vector_section("sender_keys")["messages"].GetArray())
        out.push_back({vector_hex(m, "skmsg"), vector_hex(m, "padded_plaintext")});
    return out;
}

std::unique_ptr<Party> vector_receiver()
{
    auto party = std::make_unique<Party>("receiver");
    Status s = process_sender_key_distribution(
        party->ctx(), vector_sender(), vector_hex(vector_section("sender_keys"), "skdm_axolotl"));
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().detail);
    return party;
}

Bytes text(std::string_view s)
{
    return Bytes(s.begin(), s.end());
}

TEST(SignalGroup, DecryptsBaileysSkmsgsWithGaps)
{
    auto receiver = vector_receiver();
    std::vector<VectorSkmsg> msgs = vector_skmsgs();
    ASSERT_EQ(msgs.size(), 3u);
    for (const VectorSkmsg& m : msgs) {
        Result<Bytes> plain = group_decrypt(receiver->ctx(), vector_sender(), m.skmsg);
        ASSERT_TRUE(plain.ok()) << plain.error().detail;
        EXPECT_EQ(*plain, m.padded_plaintext);
    }
    EXPECT_EQ(receiver->store.sender_key_count(), 1u);
}

TEST(SignalGroup, DecryptsBaileysSkmsgsOutOfOrder)
{
    auto receiver = vector_receiver();
    std::vector<VectorSkmsg> msgs = vector_skmsgs();
    for (std::size_t i : {2u, 0u, 1u}) {
        Result<Bytes> plain = group_decrypt(receiver->ctx(), vector_sender(), msgs[i].skmsg);
        ASSERT_TRUE(plain.ok()) << i << ": " << plain.error().detail;
        EXPECT_EQ(*plain, msgs[i].padded_plaintext);
    }
}

TEST(SignalGroup, ReplayIsWrongState)
{
    auto receiver = vector_receiver();
    Bytes skmsg = vector_skmsgs()[0].skmsg;
    ASSERT_TRUE(group_decrypt(receiver->ctx(), vector_sender(), skmsg).ok());
    Result<Bytes> again = group_decrypt(receiver->ctx(), vector_sender(), skmsg);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::wrong_state) << again.error().detail;
}

TEST(SignalGroup, UnknownSenderIsNotFound)
{
    auto receiver = vector_receiver();
    Bytes skmsg = vector_skmsgs()[0].skmsg;
    SenderKeyName other = vector_sender();
    other.sender.device_id = 3;
    Result<Bytes> plain = group_decrypt(receiver->ctx(), other, skmsg);
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(plain.error().code, Errc::not_found);

    SenderKeyName other_group = vector_sender();
    other_group.group_id = "120363099999999999@g.us";
    plain = group_decrypt(receiver->ctx(), other_group, skmsg);
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(plain.error().code, Errc::not_found);
}

TEST(SignalGroup, SkmsgFormErrors)
{
    auto receiver = vector_receiver();
    Bytes skmsg = vector_skmsgs()[0].skmsg;
    struct Case {
        Bytes bytes;
        Errc code;
        const char* why;
    };
    Bytes signature = skmsg;
    signature.back() ^= 0x01;
    Bytes body = skmsg;
    body[body.size() - 65] ^= 0x01;  // last ciphertext byte
    Bytes legacy = skmsg;
    legacy[0] = 0x23;
    Bytes junk(80, 0xff);
    junk[0] = 0x33;
    for (const Case& c :
         {Case{{}, Errc::truncated, "empty"},
          Case{Bytes(skmsg.begin(), skmsg.begin() + 65), Errc::truncated, "65 bytes"},
          Case{signature, Errc::bad_signature, "signature changed"},
          Case{body, Errc::bad_signature, "ciphertext changed"},
          Case{legacy, Errc::unsupported, "version 2"},
          Case{junk, Errc::malformed, "not a protobuf"}}) {
        Result<Bytes> plain = group_decrypt(receiver->ctx(), vector_sender(), c.bytes);
        ASSERT_FALSE(plain.ok()) << c.why;
        EXPECT_EQ(plain.error().code, c.code) << c.why << ": " << plain.error().detail;
    }
}

TEST(SignalGroup, DamagedSkmsgsNeverDecrypt)
{
    auto receiver = vector_receiver();
    Bytes skmsg = vector_skmsgs()[0].skmsg;
    const Bytes record = receiver->store.load_sender_key(vector_sender()).value().value();
    const std::set<Errc> allowed{Errc::truncated, Errc::malformed, Errc::bad_signature,
                                 Errc::not_found, Errc::unsupported};
    auto check = [&](const Bytes& bytes, const std::string& what) {
        Result<Bytes> plain = group_decrypt(receiver->ctx(), vector_sender(), bytes);
        ASSERT_FALSE(plain.ok()) << what;
        EXPECT_TRUE(allowed.count(plain.error().code))
            << what << ": " << errc_name(plain.error().code) << " " << plain.error().detail;
    };
    for (std::size_t n = 0; n < skmsg.size(); ++n)
        check(Bytes(skmsg.begin(), skmsg.begin() + static_cast<std::ptrdiff_t>(n)),
              "first " + std::to_string(n) + " bytes");
    for (std::size_t i = 0; i < skmsg.size(); ++i) {
        for (std::uint8_t flip : {0x01, 0x80}) {
            Bytes bytes = skmsg;
            bytes[i] ^= flip;
            check(bytes, "byte " + std::to_string(i) + " ^ " + std::to_string(flip));
        }
    }
    EXPECT_EQ(receiver->store.load_sender_key(vector_sender()).value().value(), record);
    EXPECT_TRUE(group_decrypt(receiver->ctx(), vector_sender(), skmsg).ok());
}

TEST(SignalGroup, SkdmFormErrors)
{
    Party receiver("receiver");
    Bytes skdm = vector_hex(vector_section("sender_keys"), "skdm_axolotl");
    Bytes legacy = skdm;
    legacy[0] = 0x23;
    // A SenderKeyDistributionMessage with a 31-byte chain key: id 1,
    // iteration 0, chainKey, signingKey (0x05 + 32).
    Bytes short_chain = {0x33, 0x08, 0x01, 0x10, 0x00, 0x1a, 0x1f};
    short_chain.insert(short_chain.end(), 31, 0x11);
    short_chain.insert(short_chain.end(), {0x22, 0x21, 0x05});
    short_chain.insert(short_chain.end(), 32, 0x09);
    Bytes bad_key = skdm;
    bad_key[bad_key.size() - 33] = 0x06;  // the signing key's type byte
    struct Case {
        Bytes bytes;
        Errc code;
        const char* why;
    };
    for (const Case& c :
         {Case{{}, Errc::truncated, "empty"}, Case{{0x33}, Errc::truncated, "version only"},
          Case{legacy, Errc::unsupported, "version 2"},
          Case{{0x33, 0xff, 0xff}, Errc::malformed, "not a protobuf"},
          Case{{0x33, 0x08, 0x01}, Errc::malformed, "fields missing"},
          Case{short_chain, Errc::malformed, "31-byte chain key"},
          Case{bad_key, Errc::malformed, "signing key type 6"}}) {
        Status s = process_sender_key_distribution(receiver.ctx(), vector_sender(), c.bytes);
        ASSERT_FALSE(s.ok()) << c.why;
        EXPECT_EQ(s.error().code, c.code) << c.why << ": " << s.error().detail;
    }
    EXPECT_EQ(receiver.store.sender_key_count(), 0u);
    for (std::size_t n = 0; n < skdm.size(); ++n) {
        Status s = process_sender_key_distribution(
            receiver.ctx(), vector_sender(),
            Bytes(skdm.begin(), skdm.begin() + static_cast<std::ptrdiff_t>(n)));
        EXPECT_FALSE(s.ok()) << "first " << n << " bytes";
    }
}

TEST(SignalGroup, OwnSenderRoundTrip)
{
    Party carol("carol"), dan("dan");
    const SenderKeyName name{"120363012345678901@g.us", {"15550000007", 2}};

    Result<Bytes> before = group_encrypt(carol.ctx(), name, text("early"));
    ASSERT_FALSE(before.ok());
    EXPECT_EQ(before.error().code, Errc::not_found);

    Result<Bytes> skdm = create_sender_key_distribution(carol.ctx(), name);
    ASSERT_TRUE(skdm.ok()) << skdm.error().detail;
    ASSERT_TRUE(process_sender_key_distribution(dan.ctx(), name, *skdm).ok());

    std::vector<Bytes> sent;
    for (std::string_view t : {"one", "two", "three"}) {
        Result<Bytes> m = group_encrypt(carol.ctx(), name, text(t));
        ASSERT_TRUE(m.ok()) << m.error().detail;
        sent.push_back(*m);
    }
    EXPECT_EQ(group_decrypt(dan.ctx(), name, sent[2]).value(), text("three"));
    EXPECT_EQ(group_decrypt(dan.ctx(), name, sent[0]).value(), text("one"));
    EXPECT_EQ(group_decrypt(dan.ctx(), name, sent[1]).value(), text("two"));

    // A later SKDM is the same key at its current iteration: a member who
    // gets it reads what follows, not what came before.
    Result<Bytes> later = create_sender_key_distribution(carol.ctx(), name);
    ASSERT_TRUE(later.ok());
    EXPECT_NE(*later, *skdm);
    Party erin("erin");
    ASSERT_TRUE(process_sender_key_distribution(erin.ctx(), name, *later).ok());
    Result<Bytes> old = group_decrypt(erin.ctx(), name, sent[0]);
    ASSERT_FALSE(old.ok());
    EXPECT_EQ(old.error().code, Errc::wrong_state) << old.error().detail;
    Result<Bytes> next = group_encrypt(carol.ctx(), name, text("four"));
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(group_decrypt(erin.ctx(), name, *next).value(), text("four"));
    EXPECT_EQ(group_decrypt(dan.ctx(), name, *next).value(), text("four"));
}

TEST(SignalGroup, MoreThan2000AheadIsTooLarge)
{
    Party carol("carol"), dan("dan");
    const SenderKeyName name{"120363012345678901@g.us", {"15550000007", 0}};
    ASSERT_TRUE(process_sender_key_distribution(
                    dan.ctx(), name, create_sender_key_distribution(carol.ctx(), name).value())
                    .ok());
    Bytes last;
    for (int i = 0; i < 2002; ++i) last = group_encrypt(carol.ctx(), name, text("n")).value();
    Result<Bytes> plain = group_decrypt(dan.ctx(), name, last);
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(plain.error().code, Errc::too_large) << plain.error().detail;
}

}  // namespace
}  // namespace chatwoot::wa::signal
