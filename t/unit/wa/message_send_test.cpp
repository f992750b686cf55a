// The send side of the messages layer: what we build (Message protobufs,
// the <message> stanza, usync and group queries, chat state, read
// receipts, privacy tokens) and the fan-out and phash rules.
#include <gtest/gtest.h>

#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/message/chat_signals.hpp"
#include "wa/message/fanout.hpp"
#include "wa/message/group_info.hpp"
#include "wa/message/message_stanza.hpp"
#include "wa/message/outgoing.hpp"
#include "wa/message/privacy_token.hpp"
#include "wa/message/usync.hpp"
#include "wa/proto/codec.hpp"

using namespace chatwoot::wa;
using namespace chatwoot::wa::message;
using binary::Jid;
using binary::Node;

namespace {

Jid J(std::string_view s)
{
    auto j = Jid::parse(s);
    EXPECT_TRUE(j.has_value()) << s;
    return *j;
}

std::string attr(const Node& n, std::string_view key)
{
    auto v = n.attr(key);
    return v ? std::string(*v) : std::string("<absent>");
}

// Built nodes must survive the wire: encode and decode to the same node.
void expect_wire_round_trip(const Node& n)
{
    auto bytes = binary::encode(n);
    ASSERT_TRUE(bytes.ok()) << bytes.error().detail;
    auto back = binary::decode(*bytes);
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(binary::to_debug_string(*back), binary::to_debug_string(n));
}

}  // namespace

TEST(MessageOutgoing, PlainTextIsAConversation)
{
    proto::Message m = text_message("hello *there*");
    EXPECT_EQ(m.conversation(), "hello *there*");
    EXPECT_FALSE(m.has_extendedtextmessage());
}

TEST(MessageOutgoing, AQuoteIsAnExtendedTextWithContext)
{
    proto::Message quoted;
    quoted.set_conversation("the question");
    proto::Message m = text_message("the answer", Quote{"3EB0AA", "4455@lid", quoted});
    ASSERT_TRUE(m.has_extendedtextmessage());
    EXPECT_FALSE(m.has_conversation());
    const auto& ctx = m.extendedtextmessage().contextinfo();
    EXPECT_EQ(m.extendedtextmessage().text(), "the answer");
    EXPECT_EQ(ctx.stanzaid(), "3EB0AA");
    EXPECT_EQ(ctx.participant(), "4455@lid");
    EXPECT_EQ(ctx.quotedmessage().conversation(), "the question");

    // Round trip through the wire form, as the recipient parses it.
    auto back = proto::parse<proto::Message>(proto::serialize(m));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->extendedtextmessage().contextinfo().stanzaid(), "3EB0AA");
}

TEST(MessageOutgoing, RevokeNamesOurMessageInTheChat)
{
    proto::Message m = revoke_message(J("4455:3@lid"), "3EB0BB");
    ASSERT_TRUE(m.has_protocolmessage());
    EXPECT_EQ(m.protocolmessage().type(), proto::Message::ProtocolMessage::REVOKE);
    EXPECT_EQ(m.protocolmessage().key().remotejid(), "4455@lid");
    EXPECT_TRUE(m.protocolmessage().key().fromme());
    EXPECT_EQ(m.protocolmessage().key().id(), "3EB0BB");
}

TEST(MessageOutgoing, DeviceSentWrapsForOurOwnDevices)
{
    proto::Message inner = text_message("hi");
    proto::Message m = device_sent_message(J("4455:2@lid"), inner);
    EXPECT_EQ(m.devicesentmessage().destinationjid(), "4455@lid");
    EXPECT_EQ(m.devicesentmessage().message().conversation(), "hi");
    EXPECT_FALSE(m.has_conversation());
}

TEST(MessageOutgoing, SenderKeyCarrier)
{
    Bytes skdm{0x33, 1, 2, 3};
    proto::Message m = sender_key_message(J("120363000000000001@g.us"), skdm);
    EXPECT_EQ(m.senderkeydistributionmessage().groupid(), "120363000000000001@g.us");
    EXPECT_EQ(m.senderkeydistributionmessage().axolotlsenderkeydistributionmessage(),
              std::string("\x33\x01\x02\x03", 4));
}

TEST(MessageFanout, DmGoesToEveryRecipientDeviceAndOurOthers)
{
    std::vector<Jid> theirs{J("4455@lid"), J("4455:7@lid")};
    std::vector<Jid> ours{J("1000@lid"), J("1000:12@lid"), J("1000:13@lid")};
    auto out = dm_fanout(theirs, ours, J("1000:12@lid"));
    std::vector<Jid> want{J("4455@lid"), J("4455:7@lid"), J("1000@lid"), J("1000:13@lid")};
    EXPECT_EQ(out, want);
}

TEST(MessageFanout, GroupLeavesOutHostedDevicesAndTheSender)
{
    std::vector<Jid> members{J("4455@lid"), J("4455:99@hosted.lid"), J("1000:12@lid"),
                             J("1000@lid"), J("4455@lid")};
    auto out = group_fanout(members, J("1000:12@lid"));
    std::vector<Jid> want{J("4455@lid"), J("1000@lid")};
    EXPECT_EQ(out, want);
    EXPECT_TRUE(is_hosted(J("4455:99@hosted.lid")));
    EXPECT_TRUE(is_hosted(J("4455:99@hosted")));
    EXPECT_FALSE(is_hosted(J("4455:99@lid")));
}

TEST(MessageFanout, AdStringWritesAgentAndDevice)
{
    EXPECT_EQ(ad_string(J("123:5@lid")), "123.0:5@lid");
    EXPECT_EQ(ad_string(J("456@s.whatsapp.net")), "456.0:0@s.whatsapp.net");
}

// Vector: node -e with its own crypto module over the same sorted names
// ("123.0:0@lid123.0:5@lid456.0:0@s.whatsapp.net999.0:3@lid").
TEST(MessageFanout, PhashMatchesAnIndependentSha256)
{
    std::vector<Jid> devices{J("999:3@lid"), J("123:5@lid"), J("456@s.whatsapp.net"), J("123@lid")};
    EXPECT_EQ(participant_hash(devices), "2:jJXUa8Ii");
    std::reverse(devices.begin(), devices.end());
    EXPECT_EQ(participant_hash(devices), "2:jJXUa8Ii");  // order does not matter
    devices.pop_back();
    EXPECT_NE(participant_hash(devices), "2:jJXUa8Ii");  // the set does
}

TEST(MessageStanza, DmWithPkmsgCarriesDeviceIdentityAndToken)
{
    MessageStanza m{"3EB0CC", J("4455@lid")};
    m.peer_recipient_pn = J("4915112345678@s.whatsapp.net");
    m.participants.push_back({J("4455@lid"), {signal::MessageType::pkmsg, Bytes{1, 2}}});
    m.participants.push_back({J("1000@lid"), {signal::MessageType::msg, Bytes{3}}});
    m.device_identity = Bytes{9, 9, 9};
    m.tctoken = Bytes{7, 7};
    auto built = build_message_stanza(m);
    ASSERT_TRUE(built.ok()) << built.error().detail;
    const Node& n = *built;
    EXPECT_EQ(n.tag, "message");
    EXPECT_EQ(attr(n, "id"), "3EB0CC");
    EXPECT_EQ(attr(n, "to"), "4455@lid");
    EXPECT_EQ(attr(n, "type"), "text");
    EXPECT_EQ(attr(n, "peer_recipient_pn"), "4915112345678@s.whatsapp.net");
    EXPECT_EQ(attr(n, "phash"), "<absent>");
    const Node* parts = n.child("participants");
    ASSERT_NE(parts, nullptr);
    ASSERT_EQ(parts->children()->size(), 2u);
    const Node& first = parts->children()->at(0);
    EXPECT_EQ(attr(first, "jid"), "4455@lid");
    EXPECT_EQ(attr(*first.child("enc"), "type"), "pkmsg");
    EXPECT_EQ(attr(*first.child("enc"), "v"), "2");
    EXPECT_EQ(attr(*first.child("enc"), "count"), "<absent>");
    EXPECT_EQ(attr(*parts->children()->at(1).child("enc"), "type"), "msg");
    ASSERT_NE(n.child("device-identity"), nullptr);
    EXPECT_EQ(*n.child("device-identity")->bytes(), (Bytes{9, 9, 9}));
    ASSERT_NE(n.child("tctoken"), nullptr);
    EXPECT_EQ(n.child("cstoken"), nullptr);
    EXPECT_EQ(n.child("enc"), nullptr);
    expect_wire_round_trip(n);
}

TEST(MessageStanza, NoDeviceIdentityWithoutPkmsg)
{
    MessageStanza m{"X", J("4455@lid")};
    m.participants.push_back({J("4455@lid"), {signal::MessageType::msg, Bytes{1}}});
    m.device_identity = Bytes{9};
    m.cstoken = Bytes{5};
    m.retry_count = 2;
    auto built = build_message_stanza(m);
    ASSERT_TRUE(built.ok());
    EXPECT_EQ(built->child("device-identity"), nullptr);
    EXPECT_NE(built->child("cstoken"), nullptr);
    EXPECT_EQ(attr(*built->child("participants")->children()->at(0).child("enc"), "count"), "2");
}

TEST(MessageStanza, GroupHasSkmsgPhashAndAddressingMode)
{
    MessageStanza m{"G1", J("120363000000000001@g.us")};
    m.addressing_mode = AddressingMode::lid;
    m.phash = "2:abcdefgh";
    m.participants.push_back({J("4455@lid"), {signal::MessageType::msg, Bytes{1}}});
    m.skmsg = Bytes{0x33, 4, 5};
    auto built = build_message_stanza(m);
    ASSERT_TRUE(built.ok());
    EXPECT_EQ(attr(*built, "addressing_mode"), "lid");
    EXPECT_EQ(attr(*built, "phash"), "2:abcdefgh");
    const Node* enc = built->child("enc");
    ASSERT_NE(enc, nullptr);
    EXPECT_EQ(attr(*enc, "type"), "skmsg");
    EXPECT_EQ(*enc->bytes(), (Bytes{0x33, 4, 5}));
    expect_wire_round_trip(*built);
}

TEST(MessageStanza, RefusesWhatTheServerWouldRefuse)
{
    MessageStanza m{"X", J("4455@lid")};
    EXPECT_EQ(build_message_stanza(m).error().code, Errc::wrong_state);  // nobody to deliver to
    m.participants.push_back({J("4455@lid"), {signal::MessageType::pkmsg, Bytes{1}}});
    EXPECT_EQ(build_message_stanza(m).error().code, Errc::wrong_state);  // pkmsg, no identity
    m.device_identity = Bytes{1};
    m.tctoken = Bytes{1};
    m.cstoken = Bytes{1};
    EXPECT_EQ(build_message_stanza(m).error().code, Errc::wrong_state);  // two tokens
}

TEST(MessageStanza, RetryAnswerGoesToTheOneDevice)
{
    signal::EncryptedMessage enc{signal::MessageType::pkmsg, Bytes{1, 2, 3}};
    Bytes identity{9};
    auto built = build_retry_stanza("3EB0", J("120363000000000001@g.us"), J("4455:7@lid"), enc, 2,
                                    identity);
    ASSERT_TRUE(built.ok()) << built.error().detail;
    EXPECT_EQ(attr(*built, "id"), "3EB0");
    EXPECT_EQ(attr(*built, "to"), "120363000000000001@g.us");
    EXPECT_EQ(attr(*built, "participant"), "4455:7@lid");
    const Node* e = built->child("enc");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(attr(*e, "type"), "pkmsg");
    EXPECT_EQ(attr(*e, "count"), "2");
    EXPECT_NE(built->child("device-identity"), nullptr);
    EXPECT_EQ(built->child("participants"), nullptr);
    expect_wire_round_trip(*built);
    EXPECT_FALSE(build_retry_stanza("3EB0", J("4455:7@lid"), std::nullopt, enc, 1, {}).ok());
}

// A peer message to our own phone: the bare enc (no participants), category
// and push priority, the meta node, device-identity only with a pkmsg; never
// to a device or a group.
TEST(MessageStanza, PeerStanzaToOurPhone)
{
    signal::EncryptedMessage pk{signal::MessageType::pkmsg, Bytes{1, 2, 3}};
    auto built = build_peer_stanza("3EB0", J("1000@s.whatsapp.net"), pk, Bytes{9});
    ASSERT_TRUE(built.ok()) << built.error().detail;
    EXPECT_EQ(attr(*built, "to"), "1000@s.whatsapp.net");
    EXPECT_EQ(attr(*built, "type"), "text");
    EXPECT_EQ(attr(*built, "category"), "peer");
    EXPECT_EQ(attr(*built, "push_priority"), "high_force");
    EXPECT_EQ(built->child("participants"), nullptr);
    EXPECT_EQ(attr(*built->child("enc"), "type"), "pkmsg");
    EXPECT_EQ(built->child("enc")->attr("count"), std::nullopt);
    EXPECT_NE(built->child("device-identity"), nullptr);
    EXPECT_EQ(attr(*built->child("meta"), "appdata"), "default");
    expect_wire_round_trip(*built);

    signal::EncryptedMessage msg{signal::MessageType::msg, Bytes{4}};
    auto plain = build_peer_stanza("3EB1", J("1000@s.whatsapp.net"), msg, {});
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->child("device-identity"), nullptr);

    EXPECT_FALSE(build_peer_stanza("3EB2", J("1000@s.whatsapp.net"), pk, {}).ok()) << "pkmsg, no identity";
    EXPECT_FALSE(build_peer_stanza("3EB2", J("1000:3@s.whatsapp.net"), msg, {}).ok()) << "a device";
    EXPECT_FALSE(build_peer_stanza("3EB2", J("120363000000000001@g.us"), msg, {}).ok()) << "a group";

    auto ask = history_request_message({J("4455:3@lid"), "3A1", false, 1790000000000, 25});
    const auto& r = ask.protocolmessage().peerdataoperationrequestmessage().historysyncondemandrequest();
    EXPECT_EQ(r.chatjid(), "4455@lid") << "the chat, never a device";
    EXPECT_EQ(r.ondemandmsgcount(), 25);
    EXPECT_FALSE(r.has_accountlid());
}

TEST(MessageStanza, MediaSaysItsTypeOnEveryEnc)
{
    MessageStanza m{"3EB0", J("120363000000000001@g.us")};
    m.type = "media";
    m.mediatype = "document";
    m.participants.push_back({J("4455:7@lid"), {signal::MessageType::msg, Bytes{1}}});
    m.skmsg = Bytes{2};
    auto built = build_message_stanza(m);
    ASSERT_TRUE(built.ok()) << built.error().detail;
    EXPECT_EQ(attr(*built, "type"), "media");
    const Node* to = built->child("participants")->child("to");
    ASSERT_NE(to, nullptr);
    EXPECT_EQ(attr(*to->child("enc"), "mediatype"), "document") << "the SKDM's enc too";
    EXPECT_EQ(attr(*built->child("enc"), "mediatype"), "document");
    expect_wire_round_trip(*built);

    signal::EncryptedMessage enc{signal::MessageType::msg, Bytes{1}};
    auto retry = build_retry_stanza("3EB0", J("120363000000000001@g.us"), J("4455:7@lid"), enc, 1,
                                    {}, std::string("ptt"));
    ASSERT_TRUE(retry.ok());
    EXPECT_EQ(attr(*retry, "type"), "media") << "a resend goes as the message went";
    EXPECT_EQ(attr(*retry->child("enc"), "mediatype"), "ptt");
}

TEST(MessageQueries, DevicesQueryShape)
{
    std::vector<Jid> users{J("4455:3@lid"), J("1000@lid")};
    Node iq = devices_query("s1", users);
    EXPECT_EQ(attr(iq, "xmlns"), "usync");
    EXPECT_EQ(attr(iq, "type"), "get");
    EXPECT_EQ(attr(iq, "to"), "@s.whatsapp.net");
    const Node* usync = iq.child("usync");
    ASSERT_NE(usync, nullptr);
    EXPECT_EQ(attr(*usync, "context"), "message");
    EXPECT_EQ(attr(*usync, "mode"), "query");
    EXPECT_EQ(attr(*usync->child("query")->child("devices"), "version"), "2");
    const auto& list = *usync->child("list")->children();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(attr(list[0], "jid"), "4455@lid");  // the device is dropped
    expect_wire_round_trip(iq);
}

TEST(MessageQueries, LookupAsksContactLidAndDevices)
{
    Node iq = lookup_query("s2", J("4915112345678@s.whatsapp.net"));
    const Node* usync = iq.child("usync");
    ASSERT_NE(usync, nullptr);
    const Node* query = usync->child("query");
    EXPECT_NE(query->child("contact"), nullptr);
    EXPECT_NE(query->child("lid"), nullptr);
    EXPECT_NE(query->child("devices"), nullptr);
    const Node& user = usync->child("list")->children()->at(0);
    ASSERT_NE(user.child("contact"), nullptr);
    ASSERT_NE(user.child("contact")->text(), nullptr);
    EXPECT_EQ(user.child("contact")->text()->text, "+4915112345678");
}

TEST(MessageQueries, GroupInfoQueryShape)
{
    Node iq = group_info_query(J("120363000000000001@g.us"));
    EXPECT_EQ(attr(iq, "xmlns"), "w:g2");
    EXPECT_EQ(attr(iq, "to"), "120363000000000001@g.us");
    EXPECT_EQ(attr(*iq.child("query"), "request"), "interactive");
}

TEST(MessageSignals, Chatstate)
{
    Node on = chatstate_node(J("4455:2@lid"), true);
    EXPECT_EQ(on.tag, "chatstate");
    EXPECT_EQ(attr(on, "to"), "4455@lid");
    EXPECT_NE(on.child("composing"), nullptr);
    Node off = chatstate_node(J("4455@lid"), false);
    EXPECT_NE(off.child("paused"), nullptr);
    EXPECT_EQ(off.child("composing"), nullptr);
}

TEST(MessageSignals, ReadReceiptFirstIdThenList)
{
    std::vector<std::string> ids{"A", "B", "C"};
    auto r = read_receipt_node(J("120363000000000001@g.us"), ids, J("4455:1@lid"), 1700000000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(attr(*r, "id"), "A");
    EXPECT_EQ(attr(*r, "type"), "read");
    EXPECT_EQ(attr(*r, "participant"), "4455@lid");
    EXPECT_EQ(attr(*r, "t"), "1700000000");
    const auto& items = *r->child("list")->children();
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(attr(items[0], "id"), "B");
    EXPECT_EQ(attr(items[1], "id"), "C");

    std::vector<std::string> one{"A"};
    auto single = read_receipt_node(J("4455@lid"), one, std::nullopt, 1);
    ASSERT_TRUE(single.ok());
    EXPECT_EQ(single->child("list"), nullptr);
    EXPECT_EQ(attr(*single, "participant"), "<absent>");
    EXPECT_FALSE(read_receipt_node(J("4455@lid"), {}, std::nullopt, 1).ok());
}

TEST(MessagePrivacyToken, ValidForThreeBucketsBack)
{
    const std::int64_t week = kTokenBucketSeconds;
    const std::int64_t now = 2900 * week + 100;  // bucket 2900
    EXPECT_TRUE(tctoken_valid(2897 * week, now));
    EXPECT_FALSE(tctoken_valid(2897 * week - 1, now));
    EXPECT_TRUE(tctoken_valid(now, now));
}

TEST(MessagePrivacyToken, ReissueWhenTheBucketMoved)
{
    const std::int64_t week = kTokenBucketSeconds;
    EXPECT_TRUE(should_issue_token(std::nullopt, 5 * week));
    EXPECT_FALSE(should_issue_token(5 * week, 5 * week + 10));
    EXPECT_TRUE(should_issue_token(5 * week - 1, 5 * week));
}

// Vector: node's crypto.createHmac over the same key and "4455@lid".
TEST(MessagePrivacyToken, CstokenIsHmacOfTheLid)
{
    auto salt = from_hex("000102030405060708090a0b0c0d0e0f");
    EXPECT_EQ(to_hex(cstoken(*salt, J("4455:3@lid"))),
              "14563127a70bc3033fe68a23127ca922cb64f74fe2d65010f2d67403e4a456d3");
}

TEST(MessagePrivacyToken, IssueIq)
{
    std::vector<TokenGrant> grants{{J("4455@lid"), 1700000000}};
    Node iq = privacy_token_issue_iq(grants);
    EXPECT_EQ(attr(iq, "xmlns"), "privacy");
    EXPECT_EQ(attr(iq, "type"), "set");
    const Node& token = iq.child("tokens")->children()->at(0);
    EXPECT_EQ(attr(token, "jid"), "4455@lid");
    EXPECT_EQ(attr(token, "t"), "1700000000");
    EXPECT_EQ(attr(token, "type"), "trusted_contact");
    expect_wire_round_trip(iq);
}
