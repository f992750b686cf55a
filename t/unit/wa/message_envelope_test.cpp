// The <message> envelope: who the chat, the sender and the author are for
// DMs, groups and our own phone's messages; the PN <-> LID pairs the
// attributes teach; the <enc> parts; and the reasons for bad stanzas.
#include <gtest/gtest.h>

#include "wa/message/envelope.hpp"

namespace chatwoot::wa::message {
namespace {

using binary::Attr;
using binary::Children;
using binary::Jid;
using binary::Node;

const OwnAccount kOwn{"15550009999", "99999999999999"};

Node enc(std::string type, std::string count = {}, Bytes bytes = {1, 2, 3})
{
    Node e("enc", {{"type", {type}}, {"v", {"2"}}});
    if (!count.empty()) e.set_attr("count", count);
    e.content = std::move(bytes);
    return e;
}

Node message(std::vector<Attr> attrs, Children encs = {})
{
    Node m("message", std::move(attrs));
    m.content = std::move(encs);
    return m;
}

Attr jid(std::string key, std::string text)
{
    return Attr{std::move(key), binary::jid_value(*Jid::parse(text))};
}

Jid J(std::string_view text) { return *Jid::parse(text); }

TEST(MessageEnvelope, DirectMessageFromAContactDevice)
{
    auto env = parse_envelope(message({{"id", {"3EB0A1"}}, jid("from", "15550001111:3@s.whatsapp.net"),
                                       {"t", {"1700000000"}}, {"type", {"text"}},
                                       {"notify", {"Ann"}}, jid("sender_lid", "222333:3@lid")},
                                      {enc("pkmsg")}),
                              kOwn);
    ASSERT_TRUE(env.ok()) << env.error().detail;
    EXPECT_EQ(env->id, "3EB0A1");
    EXPECT_EQ(env->chat, J("15550001111@s.whatsapp.net"));
    EXPECT_EQ(env->sender, J("15550001111:3@s.whatsapp.net"));
    EXPECT_FALSE(env->from_me);
    EXPECT_FALSE(env->group);
    EXPECT_EQ(env->push_name, "Ann");
    EXPECT_EQ(env->timestamp, 1700000000);
    EXPECT_EQ(env->type, "text");
    ASSERT_EQ(env->lid_pairs.size(), 1u);
    EXPECT_EQ(env->lid_pairs[0].pn, J("15550001111@s.whatsapp.net"));
    EXPECT_EQ(env->lid_pairs[0].lid, J("222333@lid"));
    ASSERT_EQ(env->encs.size(), 1u);
    EXPECT_EQ(env->encs[0].type, EncType::pkmsg);
    EXPECT_EQ(env->encs[0].version, 2);
    EXPECT_EQ(env->encs[0].ciphertext, (Bytes{1, 2, 3}));
}

TEST(MessageEnvelope, LidSenderTeachesItsPhoneNumber)
{
    auto env = parse_envelope(message({{"id", {"X"}}, jid("from", "222333@lid"),
                                       jid("sender_pn", "15550001111@s.whatsapp.net")},
                                      {enc("msg")}),
                              kOwn);
    ASSERT_TRUE(env.ok());
    EXPECT_EQ(env->chat, J("222333@lid"));
    ASSERT_EQ(env->lid_pairs.size(), 1u);
    EXPECT_EQ(env->lid_pairs[0], (LidPair{J("15550001111@s.whatsapp.net"), J("222333@lid")}));
}

TEST(MessageEnvelope, GroupMessageNamesTheParticipant)
{
    auto env = parse_envelope(
        message({{"id", {"G1"}}, jid("from", "120363012345678901@g.us"),
                 jid("participant", "444555:2@lid"), {"addressing_mode", {"lid"}},
                 jid("participant_pn", "15550002222:2@s.whatsapp.net")},
                {enc("pkmsg"), enc("skmsg")}),
        kOwn);
    ASSERT_TRUE(env.ok()) << env.error().detail;
    EXPECT_TRUE(env->group);
    EXPECT_EQ(env->chat, J("120363012345678901@g.us"));
    EXPECT_EQ(env->sender, J("444555:2@lid"));
    EXPECT_EQ(env->addressing_mode, AddressingMode::lid);
    ASSERT_EQ(env->lid_pairs.size(), 1u);
    EXPECT_EQ(env->lid_pairs[0], (LidPair{J("15550002222@s.whatsapp.net"), J("444555@lid")}));
    ASSERT_EQ(env->encs.size(), 2u);
    EXPECT_EQ(env->encs[1].type, EncType::skmsg);
}

TEST(MessageEnvelope, OurPhonesMessageToAContactIsInTheirChat)
{
    auto env = parse_envelope(
        message({{"id", {"P1"}}, jid("from", "15550009999@s.whatsapp.net"),
                 jid("recipient", "15550001111@s.whatsapp.net"),
                 jid("peer_recipient_lid", "222333@lid")},
                {enc("msg")}),
        kOwn);
    ASSERT_TRUE(env.ok());
    EXPECT_TRUE(env->from_me);
    EXPECT_FALSE(env->peer);
    EXPECT_EQ(env->chat, J("15550001111@s.whatsapp.net"));
    EXPECT_EQ(env->sender, J("15550009999@s.whatsapp.net"));
    ASSERT_EQ(env->lid_pairs.size(), 1u);
    EXPECT_EQ(env->lid_pairs[0].lid, J("222333@lid"));
}

TEST(MessageEnvelope, PeerMessageFromOurPhoneIsOurOwnChat)
{
    auto env = parse_envelope(message({{"id", {"P2"}}, jid("from", "99999999999999:0@lid"),
                                       {"category", {"peer"}}},
                                      {enc("msg")}),
                              kOwn);
    ASSERT_TRUE(env.ok());
    EXPECT_TRUE(env->from_me);
    EXPECT_TRUE(env->peer);
    EXPECT_EQ(env->chat, J("99999999999999@lid"));
}

TEST(MessageEnvelope, OurOwnGroupMessageIsFromMe)
{
    auto env = parse_envelope(message({{"id", {"G2"}}, jid("from", "120363012345678901@g.us"),
                                       jid("participant", "15550009999:4@s.whatsapp.net")},
                                      {enc("skmsg")}),
                              kOwn);
    ASSERT_TRUE(env.ok());
    EXPECT_TRUE(env->from_me);
}

TEST(MessageEnvelope, RetryCountIsTheHighestEncCount)
{
    auto env = parse_envelope(message({{"id", {"R"}}, jid("from", "15550001111@s.whatsapp.net")},
                                      {enc("msg", "2"), enc("msg", "3")}),
                              kOwn);
    ASSERT_TRUE(env.ok());
    EXPECT_EQ(env->retry_count(), 3);
}

TEST(MessageEnvelope, MalformedStanzasGiveAReason)
{
    struct Case {
        const char* name;
        Node node;
    };
    std::vector<Case> cases{
        {"no id", message({jid("from", "15550001111@s.whatsapp.net")}, {enc("msg")})},
        {"no from", message({{"id", {"A"}}}, {enc("msg")})},
        {"from not a JID", message({{"id", {"A"}}, {"from", {"nobody"}}}, {enc("msg")})},
        {"group without participant",
         message({{"id", {"A"}}, jid("from", "120363012345678901@g.us")}, {enc("skmsg")})},
        {"unknown enc type",
         message({{"id", {"A"}}, jid("from", "15550001111@s.whatsapp.net")}, {enc("frob")})},
        {"enc without bytes",
         message({{"id", {"A"}}, jid("from", "15550001111@s.whatsapp.net")},
                 {Node("enc", {{"type", {"msg"}}})})},
        {"bad count",
         message({{"id", {"A"}}, jid("from", "15550001111@s.whatsapp.net")}, {enc("msg", "-1")})},
        {"bad t",
         message({{"id", {"A"}}, jid("from", "15550001111@s.whatsapp.net"), {"t", {"soon"}}},
                 {enc("msg")})},
        {"not a message", Node("receipt", {{"id", {"A"}}})},
    };
    for (const Case& c : cases) {
        auto env = parse_envelope(c.node, kOwn);
        ASSERT_FALSE(env.ok()) << c.name;
        EXPECT_EQ(env.error().code, Errc::malformed) << c.name;
        EXPECT_FALSE(env.error().detail.empty()) << c.name;
    }
}

}  // namespace
}  // namespace chatwoot::wa::message
