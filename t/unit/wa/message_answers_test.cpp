// The answers the send path reads: usync, group info, message acks and
// retry receipts; well-formed ones and hostile ones (a reason, never a
// crash, never a guess).
#include <gtest/gtest.h>

#include "wa/message/ack.hpp"
#include "wa/message/group_info.hpp"
#include "wa/message/usync.hpp"

using namespace chatwoot::wa;
using namespace chatwoot::wa::message;
using binary::Children;
using binary::Jid;
using binary::Node;
using binary::Value;

namespace {

Jid J(std::string_view s)
{
    auto j = Jid::parse(s);
    EXPECT_TRUE(j.has_value()) << s;
    return *j;
}

Node N(std::string tag, std::vector<std::pair<std::string, std::string>> attrs = {},
       Node::Content content = {})
{
    Node n(std::move(tag));
    for (auto& [k, v] : attrs) n.set_attr(k, v);
    n.content = std::move(content);
    return n;
}

Node usync_answer(Children users)
{
    return N("iq", {{"type", "result"}},
             Children{N("usync", {}, Children{N("list", {}, std::move(users))})});
}

Node device_user(std::string jid, Children devices)
{
    return N("user", {{"jid", jid}},
             Children{N("devices", {},
                        Children{N("device-list", {}, std::move(devices)),
                                 N("key-index-list", {{"ts", "1700000000"}}, Bytes{1, 2})})});
}

}  // namespace

TEST(MessageUsync, DeviceListsWithHostedAndKeyIndex)
{
    Node iq = usync_answer(Children{
        device_user("4455@lid", Children{N("device", {{"id", "0"}}),
                                         N("device", {{"id", "7"}, {"key-index", "3"}}),
                                         N("device", {{"id", "99"}, {"key-index", "4"}, {"is_hosted", "true"}})}),
        device_user("1000@lid", Children{N("device", {{"id", "0"}})})});
    auto users = parse_usync(iq);
    ASSERT_TRUE(users.ok()) << users.error().detail;
    ASSERT_EQ(users->size(), 2u);
    const UsyncUser& u = users->at(0);
    EXPECT_EQ(u.jid, J("4455@lid"));
    ASSERT_TRUE(u.devices.has_value());
    ASSERT_EQ(u.devices->size(), 3u);
    EXPECT_EQ(u.devices->at(1), (UsyncDevice{7, 3, false}));
    EXPECT_EQ(u.devices->at(2), (UsyncDevice{99, 4, true}));
    EXPECT_EQ(u.key_index_ts, 1700000000);
    auto jids = device_jids(u.jid, *u.devices);
    std::vector<Jid> want{J("4455@lid"), J("4455:7@lid"), J("4455:99@hosted.lid")};
    EXPECT_EQ(jids, want);
}

TEST(MessageUsync, LookupOfANumber)
{
    Node in = N("user", {{"jid", "4915112345678@s.whatsapp.net"}},
                Children{N("contact", {{"type", "in"}}), N("lid", {{"val", "4455@lid"}})});
    Node out = N("user", {{"jid", "4915100000000@s.whatsapp.net"}},
                 Children{N("contact", {{"type", "out"}})});
    auto users = parse_usync(usync_answer(Children{in, out}));
    ASSERT_TRUE(users.ok()) << users.error().detail;
    EXPECT_EQ(users->at(0).on_whatsapp, true);
    EXPECT_EQ(users->at(0).lid, J("4455@lid"));
    EXPECT_FALSE(users->at(0).devices.has_value());
    EXPECT_EQ(users->at(1).on_whatsapp, false);
    EXPECT_FALSE(users->at(1).lid.has_value());
}

TEST(MessageUsync, AProtocolErrorLeavesItsFieldUnknown)
{
    Node u = N("user", {{"jid", "4455@lid"}},
               Children{N("devices", {}, Children{N("error", {{"code", "500"}})})});
    auto users = parse_usync(usync_answer(Children{u}));
    ASSERT_TRUE(users.ok());
    EXPECT_FALSE(users->at(0).devices.has_value());
}

TEST(MessageUsync, HostileAnswers)
{
    EXPECT_EQ(parse_usync(N("iq")).error().code, Errc::malformed);
    EXPECT_EQ(parse_usync(N("iq", {}, Children{N("usync")})).error().code, Errc::malformed);
    // no jid, a group jid, a bad device id, a device id past 16 bits, a bad key-index
    EXPECT_FALSE(parse_usync(usync_answer(Children{N("user")})).ok());
    EXPECT_FALSE(parse_usync(usync_answer(Children{N("user", {{"jid", "1203@g.us"}})})).ok());
    EXPECT_FALSE(parse_usync(usync_answer(Children{device_user("1@lid", Children{N("device", {{"id", "x"}})})})).ok());
    EXPECT_FALSE(parse_usync(usync_answer(Children{device_user("1@lid", Children{N("device", {{"id", "65536"}})})})).ok());
    EXPECT_FALSE(parse_usync(usync_answer(Children{device_user("1@lid", Children{N("device", {{"id", "1"}, {"key-index", "-1"}})})})).ok());
    EXPECT_FALSE(parse_usync(usync_answer(Children{N("user", {{"jid", "1@s.whatsapp.net"}}, Children{N("lid", {{"val", "2@s.whatsapp.net"}})})})).ok());
    EXPECT_FALSE(parse_usync(usync_answer(Children{N("user", {{"jid", "1@s.whatsapp.net"}}, Children{N("contact", {{"type", "maybe"}})})})).ok());
    Children many;
    for (int i = 0; i < 65; ++i) many.push_back(N("device", {{"id", std::to_string(i)}}));
    EXPECT_EQ(parse_usync(usync_answer(Children{device_user("1@lid", many)})).error().code, Errc::too_large);
}

TEST(MessageGroupInfo, LidAddressedGroup)
{
    Node iq = N("iq", {{"type", "result"}, {"from", "120363000000000001@g.us"}},
                Children{N("group", {{"id", "120363000000000001"}, {"addressing_mode", "lid"}},
                           Children{N("participant", {{"jid", "4455@lid"}, {"phone_number", "4915112345678@s.whatsapp.net"}}),
                                    N("participant", {{"jid", "1000@lid"}, {"type", "admin"}})})});
    auto info = parse_group_info(iq);
    ASSERT_TRUE(info.ok()) << info.error().detail;
    EXPECT_EQ(info->jid, J("120363000000000001@g.us"));
    EXPECT_EQ(info->addressing_mode, AddressingMode::lid);
    ASSERT_EQ(info->participants.size(), 2u);
    EXPECT_EQ(info->participants[0].lid, J("4455@lid"));
    EXPECT_EQ(info->participants[0].phone_number, J("4915112345678@s.whatsapp.net"));
    EXPECT_FALSE(info->participants[1].phone_number.has_value());
}

TEST(MessageGroupInfo, PnAddressedGroupAndHostileOnes)
{
    Node iq = N("iq", {}, Children{N("group", {{"id", "120363000000000001@g.us"}},
                                     Children{N("participant", {{"jid", "4915112345678@s.whatsapp.net"}, {"lid", "4455@lid"}})})});
    auto info = parse_group_info(iq);
    ASSERT_TRUE(info.ok()) << info.error().detail;
    EXPECT_EQ(info->addressing_mode, AddressingMode::pn);
    EXPECT_EQ(info->participants[0].lid, J("4455@lid"));
    EXPECT_EQ(info->participants[0].phone_number, J("4915112345678@s.whatsapp.net"));

    EXPECT_FALSE(parse_group_info(N("iq")).ok());
    EXPECT_FALSE(parse_group_info(N("iq", {}, Children{N("group", {{"id", "4455@lid"}})})).ok());
    EXPECT_FALSE(parse_group_info(N("iq", {}, Children{N("group", {{"id", "1203"}, {"addressing_mode", "x"}})})).ok());
    EXPECT_FALSE(parse_group_info(N("iq", {}, Children{N("group", {{"id", "1203"}}, Children{N("participant")})})).ok());
    EXPECT_FALSE(parse_group_info(N("iq", {}, Children{N("group", {{"id", "1203"}}, Children{N("participant", {{"jid", "1@lid"}, {"lid", "zz"}})})})).ok());
}

TEST(MessageGroupInfo, SubjectIsKeptBoundedAndUtf8)
{
    auto with_subject = [](std::string subject) {
        return N("iq", {}, Children{N("group", {{"id", "1203"}, {"subject", std::move(subject)}})});
    };
    auto info = parse_group_info(with_subject("Team \xc3\xa9quipe \xf0\x9f\x9a\x80"));
    ASSERT_TRUE(info.ok()) << info.error().detail;
    EXPECT_EQ(info->subject, "Team \xc3\xa9quipe \xf0\x9f\x9a\x80");
    // None: empty, the rest of the answer stands.
    auto none = parse_group_info(N("iq", {}, Children{N("group", {{"id", "1203"}})}));
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->subject.empty());
    // At the bound, and one byte past it.
    EXPECT_TRUE(parse_group_info(with_subject(std::string(kMaxGroupSubject, 'a'))).ok());
    auto long_one = parse_group_info(with_subject(std::string(kMaxGroupSubject + 1, 'a')));
    ASSERT_FALSE(long_one.ok());
    EXPECT_EQ(long_one.error().code, Errc::too_large);
    // Not UTF-8: a stray continuation byte, an overlong form, a surrogate,
    // a sequence cut short at the end.
    for (std::string bad : {std::string("a\x80" "b"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                            std::string("ok\xe2\x82")}) {
        auto r = parse_group_info(with_subject(bad));
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::malformed);
    }
}

TEST(MessageAck, AcceptedRefusedAndStale)
{
    auto ok = parse_message_ack(N("ack", {{"class", "message"}, {"id", "3EB0"}, {"from", "4455@lid"}, {"t", "1700000000"}}));
    ASSERT_TRUE(ok.ok()) << ok.error().detail;
    EXPECT_EQ(ok->id, "3EB0");
    EXPECT_FALSE(ok->error.has_value());
    EXPECT_EQ(ok->t, 1700000000);

    auto refused = parse_message_ack(N("ack", {{"class", "message"}, {"id", "3EB0"}, {"error", "463"}}));
    ASSERT_TRUE(refused.ok());
    EXPECT_EQ(refused->error, kAckReachoutRestricted);

    auto stale = parse_message_ack(N("ack", {{"class", "message"}, {"id", "3EB0"}, {"phash", "2:abcdefgh"}}));
    ASSERT_TRUE(stale.ok());
    EXPECT_EQ(stale->phash, "2:abcdefgh");

    EXPECT_EQ(parse_message_ack(N("ack", {{"class", "receipt"}, {"id", "1"}})).error().code, Errc::unsupported);
    EXPECT_EQ(parse_message_ack(N("ack", {{"class", "message"}})).error().code, Errc::malformed);
    EXPECT_EQ(parse_message_ack(N("ack", {{"class", "message"}, {"id", std::string(200, 'A')}})).error().code, Errc::malformed);
    EXPECT_EQ(parse_message_ack(N("ack", {{"class", "message"}, {"id", "1"}, {"error", "4x"}})).error().code, Errc::malformed);
}

namespace {

Node keys_node(bool with_pre_key)
{
    Children keys{N("type", {}, Bytes{5}), N("identity", {}, Bytes(32, 0x11))};
    if (with_pre_key)
        keys.push_back(N("key", {}, Children{N("id", {}, Bytes{0, 0, 9}), N("value", {}, Bytes(32, 0x22))}));
    keys.push_back(N("skey", {}, Children{N("id", {}, Bytes{0, 0, 1}), N("value", {}, Bytes(32, 0x33)),
                                          N("signature", {}, Bytes(64, 0x44))}));
    return N("keys", {}, std::move(keys));
}

}  // namespace

TEST(MessageRetryReceipt, DmWithKeys)
{
    Node r = N("receipt", {{"type", "retry"}, {"id", "3EB0"}, {"from", "4455:7@lid"}, {"t", "1"}},
               Children{N("retry", {{"count", "2"}, {"id", "3EB0"}, {"v", "1"}}),
                        N("registration", {}, Bytes{0, 0, 0x30, 0x39}), keys_node(true)});
    auto rr = parse_retry_receipt(r);
    ASSERT_TRUE(rr.ok()) << rr.error().detail;
    EXPECT_EQ(rr->id, "3EB0");
    EXPECT_EQ(rr->device, J("4455:7@lid"));
    EXPECT_EQ(rr->count, 2u);
    EXPECT_EQ(rr->registration_id, 12345u);
    ASSERT_TRUE(rr->bundle.has_value());
    EXPECT_EQ(rr->bundle->bundle.registration_id, 12345u);
    ASSERT_TRUE(rr->bundle->bundle.pre_key.has_value());
    EXPECT_EQ(rr->bundle->bundle.pre_key->id, 9u);
    EXPECT_EQ(rr->bundle->bundle.signed_pre_key.id, 1u);
    EXPECT_EQ(rr->bundle->address.name, "4455_1");
    EXPECT_EQ(rr->bundle->address.device_id, 7u);
}

TEST(MessageRetryReceipt, GroupNamesTheParticipantWithoutKeys)
{
    Node r = N("receipt", {{"type", "retry"}, {"id", "G1"}, {"from", "120363000000000001@g.us"},
                           {"participant", "4455:7@lid"}},
               Children{N("retry", {{"count", "1"}}), N("registration", {}, Bytes{0, 0, 0, 1})});
    auto rr = parse_retry_receipt(r);
    ASSERT_TRUE(rr.ok()) << rr.error().detail;
    EXPECT_EQ(rr->from, J("120363000000000001@g.us"));
    EXPECT_EQ(rr->device, J("4455:7@lid"));
    EXPECT_FALSE(rr->bundle.has_value());
}

TEST(MessageRetryReceipt, HostileOnes)
{
    EXPECT_EQ(parse_retry_receipt(N("receipt", {{"type", "read"}, {"id", "1"}, {"from", "1@lid"}})).error().code,
              Errc::unsupported);
    EXPECT_FALSE(parse_retry_receipt(N("receipt", {{"type", "retry"}, {"from", "1@lid"}})).ok());
    EXPECT_FALSE(parse_retry_receipt(N("receipt", {{"type", "retry"}, {"id", "1"}})).ok());
    EXPECT_FALSE(parse_retry_receipt(N("receipt", {{"type", "retry"}, {"id", "1"}, {"from", "1203@g.us"}})).ok());
    EXPECT_FALSE(parse_retry_receipt(N("receipt", {{"type", "retry"}, {"id", "1"}, {"from", "1@lid"}},
                                       Children{N("retry", {{"count", "many"}})})).ok());
    EXPECT_FALSE(parse_retry_receipt(N("receipt", {{"type", "retry"}, {"id", "1"}, {"from", "1@lid"}},
                                       Children{N("registration", {}, Bytes{1})})).ok());
    // keys without a registration, keys with a short identity
    EXPECT_FALSE(parse_retry_receipt(N("receipt", {{"type", "retry"}, {"id", "1"}, {"from", "1@lid"}},
                                       Children{keys_node(false)})).ok());
    Node bad_keys = keys_node(false);
    (*bad_keys.children())[1] = N("identity", {}, Bytes(31, 0));
    EXPECT_FALSE(parse_retry_receipt(N("receipt", {{"type", "retry"}, {"id", "1"}, {"from", "1@lid"}},
                                       Children{N("registration", {}, Bytes{0, 0, 0, 1}), bad_keys})).ok());
}
