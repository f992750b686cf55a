// Receipts out (delivery, retry with and without keys) and in, and the
// notifications the messages layer acts on.
#include <gtest/gtest.h>

#include "wa/message/receipts.hpp"
#include "wa/message/group_info.hpp"

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

Node gp2(std::string from, Children changes)
{
    return Node("notification", {{"type", {"w:gp2"}}, {"from", {std::move(from)}},
                                 {"participant", {"15550001111:3@s.whatsapp.net"}}, {"id", {"N1"}}},
                std::move(changes));
}

Node participant(std::string jid)
{
    return Node("participant", {{"jid", {std::move(jid)}}});
}

TEST(MessageReceipts, GroupChangeNamesWhatChanged)
{
    auto r = parse_notification(gp2("120363000000000001@g.us",
        Children{Node("remove", {}, Children{participant("15550002222@s.whatsapp.net"),
                                             participant("444555@lid")}),
                 Node("add", {}, Children{participant("15550003333:0@s.whatsapp.net")}),
                 Node("subject", {{"subject", {"Ops — night"}}, {"s_t", {"1700000000"}}}),
                 Node("remove", {}, Children{participant("15550006666@s.whatsapp.net")}),
                 Node("not_announcement"), Node("ephemeral", {{"expiration", {"86400"}}})}));
    ASSERT_TRUE(r.ok()) << r.error().detail;
    auto* g = std::get_if<GroupChanged>(&*r);
    ASSERT_NE(g, nullptr);
    using K = GroupChanged::Kind;
    EXPECT_EQ(g->group.to_string(), "120363000000000001@g.us");
    EXPECT_EQ(g->author->to_string(), "15550001111@s.whatsapp.net");
    EXPECT_EQ(g->kinds, (std::vector<K>{K::remove, K::add, K::subject, K::settings, K::ephemeral}));
    ASSERT_EQ(g->gone.size(), 3u);
    EXPECT_EQ(g->gone[1].to_string(), "444555@lid");
    ASSERT_EQ(g->added.size(), 1u);
    EXPECT_EQ(g->added[0].to_string(), "15550003333@s.whatsapp.net");
    EXPECT_EQ(g->subject, std::optional<std::string>("Ops — night"));
    EXPECT_TRUE(g->members_went());

    // A new subject alone: nobody went, so our sender key may stay.
    auto s = parse_notification(gp2("120363000000000001@g.us",
                                    Children{Node("subject", {{"subject", {"Renamed"}}})}));
    ASSERT_TRUE(s.ok());
    EXPECT_FALSE(std::get<GroupChanged>(*s).members_went());
    EXPECT_EQ(std::get<GroupChanged>(*s).subject, std::optional<std::string>("Renamed"));

    // leave and modify take members away too; promote does not.
    for (const char* tag : {"leave", "modify"}) {
        auto l = parse_notification(gp2("120363000000000001@g.us",
            Children{Node(tag, {}, Children{participant("15550002222@s.whatsapp.net")})}));
        ASSERT_TRUE(l.ok()) << tag;
        EXPECT_TRUE(std::get<GroupChanged>(*l).members_went()) << tag;
    }
    auto p = parse_notification(gp2("120363000000000001@g.us",
        Children{Node("promote", {}, Children{participant("15550002222@s.whatsapp.net")})}));
    ASSERT_TRUE(p.ok());
    EXPECT_FALSE(std::get<GroupChanged>(*p).members_went());
    EXPECT_EQ(std::get<GroupChanged>(*p).kinds, (std::vector<K>{K::promote}));
}

TEST(MessageReceipts, GroupChangeToleratesUnknownChildren)
{
    auto r = parse_notification(gp2("120363000000000001@g.us",
        Children{Node("created_membership_requests", {}, Children{Node("requested_user")}),
                 Node("some_future_change", {{"x", {"y"}}}, Bytes{1, 2, 3})}));
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(std::get<GroupChanged>(*r).kinds, (std::vector<GroupChanged::Kind>{GroupChanged::Kind::other}));
    EXPECT_FALSE(std::get<GroupChanged>(*r).members_went());
}

TEST(MessageReceipts, GroupChangeRefusesMalformedAndOversize)
{
    auto refused = [](const Node& n, Errc code) {
        auto r = parse_notification(n);
        if (r.ok()) return ::testing::AssertionFailure() << "accepted";
        if (r.error().code != code) return ::testing::AssertionFailure() << r.error().detail;
        return ::testing::AssertionSuccess();
    };
    // from not a group, or absent
    EXPECT_TRUE(refused(gp2("15550001111@s.whatsapp.net", Children{Node("subject", {{"subject", {"x"}}})}),
                        Errc::malformed));
    EXPECT_TRUE(refused(Node("notification", {{"type", {"w:gp2"}}}, Children{Node("subject")}),
                        Errc::malformed));
    // no change at all
    EXPECT_TRUE(refused(gp2("120363000000000001@g.us", Children{}), Errc::malformed));
    EXPECT_TRUE(refused(Node("notification", {{"type", {"w:gp2"}}, {"from", {"1203@g.us"}}}),
                        Errc::malformed));
    // <subject> without its attribute; a participant that is not a user
    EXPECT_TRUE(refused(gp2("1203@g.us", Children{Node("subject")}), Errc::malformed));
    EXPECT_TRUE(refused(gp2("1203@g.us", Children{Node("remove", {}, Children{participant("1203@g.us")})}),
                        Errc::malformed));
    EXPECT_TRUE(refused(gp2("1203@g.us", Children{Node("add", {}, Children{Node("participant")})}),
                        Errc::malformed));
    // a subject over the bound
    EXPECT_TRUE(refused(gp2("1203@g.us", Children{Node("subject", {{"subject", {std::string(kMaxGroupSubject + 1, 'a')}}})}),
                        Errc::too_large));
    // too many changes, too many participants in one
    Children many;
    for (std::size_t i = 0; i <= kMaxGroupChanges; ++i) many.push_back(Node("promote"));
    EXPECT_TRUE(refused(gp2("1203@g.us", std::move(many)), Errc::too_large));
    Children crowd;
    for (std::size_t i = 0; i <= kMaxGroupChangeParticipants; ++i)
        crowd.push_back(participant(std::to_string(15550000000 + i) + "@s.whatsapp.net"));
    EXPECT_TRUE(refused(gp2("1203@g.us", Children{Node("add", {}, std::move(crowd))}), Errc::too_large));
    // the bound itself is fine
    EXPECT_TRUE(parse_notification(gp2("1203@g.us", Children{Node("subject", {{"subject", {std::string(kMaxGroupSubject, 'a')}}})})).ok());
}

TEST(MessageReceipts, IdentityChangeNamesTheUser)
{
    auto r = parse_notification(Node("notification", {{"type", {"encrypt"}}, {"from", {"222333:4@lid"}}},
                                     Children{Node("identity")}));
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(std::get<IdentityChanged>(*r).user.to_string(), "222333@lid");
    EXPECT_FALSE(parse_notification(Node("notification", {{"type", {"encrypt"}}, {"from", {"1203@g.us"}}},
                                         Children{Node("identity")}))
                     .ok());
}

}  // namespace
}  // namespace chatwoot::wa::message
