// Receipts out (delivery, retry with and without keys) and in, and the
// notifications the messages layer acts on.
#include <gtest/gtest.h>

#include "wa/message/receipts.hpp"

namespace chatwoot::wa::message {
namespace {

using binary::Children;
using binary::Jid;
using binary::Node;

Node group_message()
{
    Node m("message", {{"id", {"M1"}},
                       {"from", binary::jid_value(*Jid::parse("120363012345678901@g.us"))},
                       {"participant", binary::jid_value(*Jid::parse("15550001111:2@s.whatsapp.net"))}});
    return m;
}

TEST(MessageReceipts, DeliveryReceiptAnswersTheStanza)
{
    Node r = delivery_receipt(group_message(), "");
    EXPECT_EQ(r.tag, "receipt");
    EXPECT_EQ(r.attr("id"), "M1");
    EXPECT_EQ(r.attr("to"), "120363012345678901@g.us");
    EXPECT_TRUE(r.find_attr("to")->value.is_jid());
    EXPECT_EQ(r.attr("participant"), "15550001111:2@s.whatsapp.net");
    EXPECT_FALSE(r.attr("type"));

    Node peer("message", {{"id", {"P"}}, {"from", {"1@s.whatsapp.net"}}, {"category", {"peer"}}});
    EXPECT_EQ(delivery_receipt_type(peer, true, false), "peer_msg");
    EXPECT_EQ(delivery_receipt_type(group_message(), true, false), "sender");
    EXPECT_EQ(delivery_receipt_type(group_message(), false, true), "inactive");
    EXPECT_EQ(delivery_receipt_type(group_message(), false, false), "");
    EXPECT_EQ(delivery_receipt(group_message(), "sender").attr("type"), "sender");
}

TEST(MessageReceipts, RetryReceiptCarriesCountRegistrationAndKeysFromTheSecond)
{
    Node first = retry_receipt(group_message(), 1, 0x01020304, 1700000000, std::nullopt);
    EXPECT_EQ(first.attr("type"), "retry");
    EXPECT_EQ(first.attr("to"), "120363012345678901@g.us");
    EXPECT_EQ(first.attr("participant"), "15550001111:2@s.whatsapp.net");
    const Node* retry = first.child("retry");
    ASSERT_NE(retry, nullptr);
    EXPECT_EQ(retry->attr("count"), "1");
    EXPECT_EQ(retry->attr("id"), "M1");
    EXPECT_EQ(retry->attr("t"), "1700000000");
    EXPECT_EQ(retry->attr("v"), "1");
    ASSERT_NE(first.child("registration"), nullptr);
    EXPECT_EQ(*first.child("registration")->bytes(), (Bytes{1, 2, 3, 4}));
    EXPECT_EQ(first.child("keys"), nullptr);

    RetryKeys keys;
    keys.identity.fill(0x11);
    keys.pre_key.id = 0x010203;
    keys.pre_key.public_key.fill(0x22);
    keys.signed_pre_key.id = 1;
    keys.signed_pre_key.public_key.fill(0x33);
    keys.signed_pre_key.signature.fill(0x44);
    keys.device_identity = {9, 9};
    Node second = retry_receipt(group_message(), 2, 7, 1700000001, keys);
    const Node* k = second.child("keys");
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(*k->child("type")->bytes(), (Bytes{5}));
    EXPECT_EQ(k->child("identity")->bytes()->size(), 32u);
    EXPECT_EQ(*k->child("key")->child("id")->bytes(), (Bytes{1, 2, 3}));
    EXPECT_EQ(k->child("key")->child("value")->bytes()->at(0), 0x22);
    EXPECT_EQ(k->child("skey")->child("signature")->bytes()->size(), 64u);
    EXPECT_EQ(*k->child("device-identity")->bytes(), (Bytes{9, 9}));
}

TEST(MessageReceipts, IncomingReadReceiptListsEveryId)
{
    Node list("list", {}, Children{Node("item", {{"id", {"B"}}}), Node("item", {{"id", {"C"}}})});
    Node r("receipt", {{"id", {"A"}}, {"from", binary::jid_value(*Jid::parse("222333@lid"))},
                       {"type", {"read"}}, {"t", {"1700000005"}}},
           Children{list});
    auto e = parse_receipt(r);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->kind, ReceiptEvent::Kind::read);
    EXPECT_EQ(e->ids, (std::vector<std::string>{"A", "B", "C"}));
    EXPECT_EQ(e->from, *Jid::parse("222333@lid"));
    EXPECT_EQ(e->timestamp, 1700000005);

    Node retry("receipt", {{"id", {"A"}}, {"from", {"1@s.whatsapp.net"}}, {"type", {"retry"}}},
               Children{Node("retry", {{"count", {"2"}}})});
    auto re = parse_receipt(retry);
    ASSERT_TRUE(re.ok());
    EXPECT_EQ(re->kind, ReceiptEvent::Kind::retry);
    EXPECT_EQ(re->retry_count, 2);

    EXPECT_FALSE(parse_receipt(Node("receipt", {{"id", {"A"}}})).ok());
    EXPECT_FALSE(parse_receipt(Node("receipt", {{"from", {"1@s.whatsapp.net"}}})).ok());
}

TEST(MessageReceipts, Notifications)
{
    auto devices = parse_notification(
        Node("notification", {{"type", {"devices"}}, {"from", {"15550001111@s.whatsapp.net"}},
                              {"lid", {"222333@lid"}}},
             Children{Node("add")}));
    ASSERT_TRUE(devices.ok());
    auto* d = std::get_if<DevicesChanged>(&*devices);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->user.to_string(), "15550001111@s.whatsapp.net");
    EXPECT_EQ(d->lid->to_string(), "222333@lid");

    auto enc = parse_notification(Node("notification",
                                       {{"type", {"encrypt"}}, {"from", {"s.whatsapp.net"}}},
                                       Children{Node("count", {{"value", {"4"}}})}));
    ASSERT_TRUE(enc.ok());
    EXPECT_EQ(std::get<PreKeyCount>(*enc).count, 4);

    Node token("token", {{"jid", {"15550009999@s.whatsapp.net"}}, {"t", {"1700000000"}},
                         {"type", {"trusted_contact"}}},
               Bytes{7, 7, 7});
    auto pt = parse_notification(
        Node("notification", {{"type", {"privacy_token"}}, {"from", {"15550001111@s.whatsapp.net"}},
                              {"sender_lid", {"222333@lid"}}},
             Children{Node("tokens", {}, Children{token})}));
    ASSERT_TRUE(pt.ok()) << pt.error().detail;
    auto& p = std::get<PrivacyTokens>(*pt);
    ASSERT_EQ(p.tokens.size(), 1u);
    EXPECT_EQ(p.tokens[0].timestamp, 1700000000);
    EXPECT_EQ(p.tokens[0].type, "trusted_contact");
    EXPECT_EQ(p.tokens[0].token, (Bytes{7, 7, 7}));
    EXPECT_EQ(p.lid()->to_string(), "222333@lid");

    std::string json = R"({"data":{"xwa2_notify_account_reachout_timelock":{"enforcement_type":"RESTRICT_ALL_COMPANIONS","is_active":true,"time_enforcement_ends":"1783343326"}}})";
    auto mex = parse_notification(Node(
        "notification", {{"type", {"mex"}}, {"from", {"s.whatsapp.net"}}},
        Children{Node("update", {{"op_name", {"NotificationUserReachoutTimelockUpdate"}}},
                      Bytes(json.begin(), json.end()))}));
    ASSERT_TRUE(mex.ok()) << mex.error().detail;
    auto& lock = std::get<ReachoutTimelock>(*mex);
    EXPECT_TRUE(lock.active);
    EXPECT_EQ(lock.enforcement_type, "RESTRICT_ALL_COMPANIONS");
    EXPECT_EQ(lock.ends_at, 1783343326);

    std::string cap_json = R"({"data":{"xwa2_notify_new_chat_messages_capping_info_update":{"capping_status":"CAPPED","used_quota":50,"total_quota":50,"cycle_end_timestamp":1783343000}}})";
    auto cap = parse_notification(Node(
        "notification", {{"type", {"mex"}}},
        Children{Node("update", {{"op_name", {"MessageCappingInfoNotification"}}},
                      Bytes(cap_json.begin(), cap_json.end()))}));
    ASSERT_TRUE(cap.ok());
    EXPECT_EQ(std::get<NewChatCapping>(*cap).status, "CAPPED");
    EXPECT_EQ(std::get<NewChatCapping>(*cap).cycle_ends_at, 1783343000);

    std::string broken = "{not json";
    EXPECT_FALSE(parse_notification(Node("notification", {{"type", {"mex"}}},
                                         Children{Node("update", {}, Bytes(broken.begin(), broken.end()))}))
                     .ok());
    EXPECT_TRUE(std::holds_alternative<OtherNotification>(
        *parse_notification(Node("notification", {{"type", {"picture"}}}))));
}

}  // namespace
}  // namespace chatwoot::wa::message
