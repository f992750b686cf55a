// JIDs at the protocol level: the text forms of research/waweb.md section
// 1.7 (with whatsmeow's types/jid.go as the reference parser), kinds,
// devices, AD_JID domains and Signal address names (section 1.8).
#include "wa/binary/jid.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <utility>
#include <string>
#include <string_view>

namespace chatwoot::wa::binary {
namespace {

// ---------------------------------------------------------------------------
// Parsing well-formed JIDs

struct ParseCase {
    const char* name;
    std::string_view text;
    std::string_view user;
    unsigned agent;
    unsigned device;
    std::string_view server;
    JidKind kind;
    std::string_view canonical;
};

class JidParse : public testing::TestWithParam<ParseCase> {};

TEST_P(JidParse, ParsesFieldsKindAndCanonicalText)
{
    const ParseCase& c = GetParam();
    const std::optional<Jid> jid = Jid::parse(c.text);
    ASSERT_TRUE(jid.has_value()) << c.text;
    EXPECT_EQ(jid->user(), c.user);
    EXPECT_EQ(jid->agent(), c.agent);
    EXPECT_EQ(jid->device(), c.device);
    EXPECT_EQ(jid->server(), c.server);
    EXPECT_EQ(jid->kind(), c.kind) << jid_kind_name(jid->kind());
    EXPECT_EQ(jid->to_string(), c.canonical);
    EXPECT_EQ(jid->has_device(), c.agent != 0 || c.device != 0);
}

TEST_P(JidParse, CanonicalTextParsesToTheSameJid)
{
    const std::optional<Jid> jid = Jid::parse(GetParam().text);
    ASSERT_TRUE(jid.has_value());
    const std::optional<Jid> again = Jid::parse(jid->to_string());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, *jid);
}

TEST_P(JidParse, WithoutDeviceKeepsUserAndServer)
{
    const std::optional<Jid> jid = Jid::parse(GetParam().text);
    ASSERT_TRUE(jid.has_value());
    const Jid chat = jid->without_device();
    EXPECT_FALSE(chat.has_device());
    EXPECT_EQ(chat.user(), jid->user());
    EXPECT_EQ(chat.server(), jid->server());
    EXPECT_EQ(chat.kind(), jid->kind());
    EXPECT_EQ(chat.to_string(), std::string(jid->user()) + "@" + jid->server());
}

const ParseCase kParseCases[] = {
    {"PhoneNumber", "5511999999999@s.whatsapp.net", "5511999999999", 0, 0, "s.whatsapp.net",
     JidKind::phone_number, "5511999999999@s.whatsapp.net"},
    {"PhoneNumberDevice", "5511999999999:12@s.whatsapp.net", "5511999999999", 0, 12,
     "s.whatsapp.net", JidKind::phone_number, "5511999999999:12@s.whatsapp.net"},
    {"LegacyAgentZeroDevice", "5511999999999.0:12@s.whatsapp.net", "5511999999999", 0, 12,
     "s.whatsapp.net", JidKind::phone_number, "5511999999999:12@s.whatsapp.net"},
    {"AgentAndDevice", "5511999999999.1:3@s.whatsapp.net", "5511999999999", 1, 3,
     "s.whatsapp.net", JidKind::phone_number, "5511999999999.1:3@s.whatsapp.net"},
    {"AgentWithoutDevice", "123456789012345.1@lid", "123456789012345", 1, 0, "lid", JidKind::lid,
     "123456789012345.1:0@lid"},
    {"ZeroDeviceIsNotWritten", "5511999999999:0@s.whatsapp.net", "5511999999999", 0, 0,
     "s.whatsapp.net", JidKind::phone_number, "5511999999999@s.whatsapp.net"},
    {"LargestDevice", "5511999999999:65535@s.whatsapp.net", "5511999999999", 0, 65535,
     "s.whatsapp.net", JidKind::phone_number, "5511999999999:65535@s.whatsapp.net"},
    {"LegacyCUsIsTheUserServer", "5511999999999@c.us", "5511999999999", 0, 0, "s.whatsapp.net",
     JidKind::phone_number, "5511999999999@s.whatsapp.net"},
    {"ServiceAccountZero", "0@s.whatsapp.net", "0", 0, 0, "s.whatsapp.net",
     JidKind::phone_number, "0@s.whatsapp.net"},
    {"Lid", "123456789012345@lid", "123456789012345", 0, 0, "lid", JidKind::lid,
     "123456789012345@lid"},
    {"LidDevice", "123456789012345:7@lid", "123456789012345", 0, 7, "lid", JidKind::lid,
     "123456789012345:7@lid"},
    {"Group", "120363000000000000@g.us", "120363000000000000", 0, 0, "g.us", JidKind::group,
     "120363000000000000@g.us"},
    {"LegacyGroupCreatorAndTime", "5511999999999-1600000000@g.us", "5511999999999-1600000000", 0,
     0, "g.us", JidKind::group, "5511999999999-1600000000@g.us"},
    {"StatusBroadcast", "status@broadcast", "status", 0, 0, "broadcast", JidKind::broadcast,
     "status@broadcast"},
    {"BroadcastList", "1600000000@broadcast", "1600000000", 0, 0, "broadcast",
     JidKind::broadcast, "1600000000@broadcast"},
    {"Newsletter", "120363111111111111@newsletter", "120363111111111111", 0, 0, "newsletter",
     JidKind::newsletter, "120363111111111111@newsletter"},
    {"HostedDevice", "5511999999999:99@hosted", "5511999999999", 0, 99, "hosted",
     JidKind::hosted, "5511999999999:99@hosted"},
    {"HostedLidDevice", "123456789012345:99@hosted.lid", "123456789012345", 0, 99, "hosted.lid",
     JidKind::hosted, "123456789012345:99@hosted.lid"},
    {"BotServerIsUnknown", "867051314767696@bot", "867051314767696", 0, 0, "bot",
     JidKind::unknown, "867051314767696@bot"},
};

INSTANTIATE_TEST_SUITE_P(Cases, JidParse, testing::ValuesIn(kParseCases),
                         [](const testing::TestParamInfo<ParseCase>& i) { return i.param.name; });

// ---------------------------------------------------------------------------
// Rejected text

struct RejectCase {
    const char* name;
    std::string text;
};

class JidParseRejects : public testing::TestWithParam<RejectCase> {};

TEST_P(JidParseRejects, IsNullopt)
{
    EXPECT_FALSE(Jid::parse(GetParam().text).has_value()) << GetParam().text;
}

const RejectCase kRejectCases[] = {
    {"Empty", ""},
    {"NoAt", "5511999999999"},
    {"ServerOnly", "s.whatsapp.net"},
    {"EmptyUserPhone", "@s.whatsapp.net"},
    {"EmptyUserLid", "@lid"},
    {"EmptyUserGroup", "@g.us"},
    {"EmptyUserWithDevice", ":1@s.whatsapp.net"},
    {"EmptyServer", "5511999999999@"},
    {"TwoAts", "5511@999@s.whatsapp.net"},
    {"LettersInPhoneUser", "55abc@s.whatsapp.net"},
    {"LettersInLid", "12ab@lid"},
    {"PlusInUser", "+5511999999999@s.whatsapp.net"},
    {"SpaceInUser", "55 11@s.whatsapp.net"},
    {"TrailingSpace", "5511999999999@s.whatsapp.net "},
    {"UppercaseServer", "5511999999999@S.WHATSAPP.NET"},
    {"ServerWithSpace", "5511@s whatsapp.net"},
    {"ServerStartsWithDot", "5511@.lid"},
    {"ServerEndsWithDot", "5511@lid."},
    {"ServerTooLong", "1@" + std::string(40, 'a')},
    {"DeviceOnGroup", "120363000000000000:1@g.us"},
    {"DeviceOnBroadcast", "status:1@broadcast"},
    {"DeviceOnNewsletter", "120363111111111111:2@newsletter"},
    {"AgentOnGroup", "120363000000000000.1@g.us"},
    {"DeviceOnUnknownServer", "867051314767696:1@bot"},
    {"EmptyDevice", "5511999999999:@s.whatsapp.net"},
    {"EmptyAgent", "5511999999999.:1@s.whatsapp.net"},
    {"DeviceTooLarge", "5511999999999:65536@s.whatsapp.net"},
    {"AgentTooLarge", "5511999999999.256:1@s.whatsapp.net"},
    {"DeviceLeadingZero", "5511999999999:01@s.whatsapp.net"},
    {"NegativeDevice", "5511999999999:-1@s.whatsapp.net"},
    {"PlusDevice", "5511999999999:+1@s.whatsapp.net"},
    {"HugeDevice", "5511999999999:99999999999999999999999@s.whatsapp.net"},
    {"TwoDots", "5511999999999.1.2:3@s.whatsapp.net"},
    {"TwoColons", "5511999999999:1:2@s.whatsapp.net"},
    {"DotAfterColon", "5511999999999:1.2@s.whatsapp.net"},
    {"UserTooLong", std::string(25, '1') + "@s.whatsapp.net"},
    {"OverLongInput", std::string(200, '1') + "@s.whatsapp.net"},
    {"GroupTwoDashes", "1-2-3@g.us"},
    {"GroupTrailingDash", "5511999999999-@g.us"},
    {"GroupLeadingDash", "-1600000000@g.us"},
    {"GroupLetters", "abc@g.us"},
    {"BroadcastPunctuation", "sta-tus@broadcast"},
    {"NewsletterLetters", "news@newsletter"},
    {"UnknownServerBadChar", "a/b@bot"},
    {"NulByte", std::string("5511\0" "999@s.whatsapp.net", 23)},
    {"FullwidthDigits", "\xEF\xBC\x95\xEF\xBC\x95@s.whatsapp.net"},
};

INSTANTIATE_TEST_SUITE_P(Cases, JidParseRejects, testing::ValuesIn(kRejectCases),
                         [](const testing::TestParamInfo<RejectCase>& i) { return i.param.name; });

TEST(JidKindName, EveryKindHasItsOwnName)
{
    EXPECT_EQ(jid_kind_name(JidKind::phone_number), "phone_number");
    EXPECT_EQ(jid_kind_name(JidKind::lid), "lid");
    EXPECT_EQ(jid_kind_name(JidKind::group), "group");
    EXPECT_EQ(jid_kind_name(JidKind::broadcast), "broadcast");
    EXPECT_EQ(jid_kind_name(JidKind::newsletter), "newsletter");
    EXPECT_EQ(jid_kind_name(JidKind::hosted), "hosted");
    EXPECT_EQ(jid_kind_name(JidKind::unknown), "unknown");
}

TEST(JidStatusBroadcast, OnlyStatusAtBroadcast)
{
    EXPECT_TRUE(Jid::parse("status@broadcast")->is_status_broadcast());
    EXPECT_FALSE(Jid::parse("1600000000@broadcast")->is_status_broadcast());
    EXPECT_FALSE(Jid::parse("120363000000000000@g.us")->is_status_broadcast());
}

TEST(JidEquality, DeviceMakesADifferentJidButTheSameChat)
{
    const Jid device = *Jid::parse("5511999999999:12@s.whatsapp.net");
    const Jid chat = *Jid::parse("5511999999999@s.whatsapp.net");
    EXPECT_NE(device, chat);
    EXPECT_EQ(device.without_device(), chat);
    EXPECT_NE(*Jid::parse("5511999999999@s.whatsapp.net"), *Jid::parse("5511999999999@lid"));
}

// ---------------------------------------------------------------------------
// AD_JID domains (waweb.md section 8)

TEST(JidAdDomain, UserServersMapBothWays)
{
    const std::pair<std::string_view, std::uint8_t> pairs[] = {
        {"s.whatsapp.net", 0}, {"lid", 1}, {"hosted", 128}, {"hosted.lid", 129}};
    for (const auto& [server, domain] : pairs) {
        EXPECT_EQ(ad_domain_of_server(server), domain) << server;
        EXPECT_EQ(server_of_ad_domain(domain), server) << int(domain);
        EXPECT_TRUE(is_user_server(server)) << server;
    }
}

TEST(JidAdDomain, OtherServersAndBytesHaveNone)
{
    for (std::string_view server : {"g.us", "broadcast", "newsletter", "bot", "c.us", ""}) {
        EXPECT_FALSE(ad_domain_of_server(server).has_value()) << server;
        EXPECT_FALSE(is_user_server(server)) << server;
    }
    for (int domain : {2, 3, 127, 130, 255}) {
        EXPECT_FALSE(server_of_ad_domain(static_cast<std::uint8_t>(domain)).has_value()) << domain;
    }
}

// ---------------------------------------------------------------------------
// From parts

TEST(JidFromParts, BuildsTheSameJidAsParse)
{
    EXPECT_EQ(Jid::from_parts("5511999999999", "s.whatsapp.net", 0, 12),
              Jid::parse("5511999999999:12@s.whatsapp.net"));
    EXPECT_EQ(Jid::from_parts("123456789012345", "hosted.lid", 0, 99),
              Jid::parse("123456789012345:99@hosted.lid"));
    EXPECT_EQ(Jid::from_parts("120363000000000000", "g.us"), Jid::parse("120363000000000000@g.us"));
    // Legacy c.us is normalised the same way.
    EXPECT_EQ(Jid::from_parts("14155550100", "c.us")->server(), "s.whatsapp.net");
}

TEST(JidFromParts, AppliesParseRules)
{
    EXPECT_FALSE(Jid::from_parts("", "s.whatsapp.net"));
    EXPECT_FALSE(Jid::from_parts("55ab", "s.whatsapp.net"));
    EXPECT_FALSE(Jid::from_parts("120363000000000000", "g.us", 0, 1));
    EXPECT_FALSE(Jid::from_parts("status", "broadcast", 1, 0));
    EXPECT_FALSE(Jid::from_parts("1", "S.WHATSAPP.NET"));
    EXPECT_FALSE(Jid::from_parts("1", ""));
    EXPECT_FALSE(Jid::from_parts(std::string(25, '1'), "lid"));
}

// ---------------------------------------------------------------------------
// Signal addresses (waweb.md section 1.8: "<user>", "<user>_1", "_128",
// "_129"; the device is the JID's)

struct SignalCase {
    const char* name;
    std::string_view jid;
    std::optional<SignalAddress> address;
};

class JidSignalAddress : public testing::TestWithParam<SignalCase> {};

TEST_P(JidSignalAddress, NameAndDevice)
{
    const std::optional<Jid> jid = Jid::parse(GetParam().jid);
    ASSERT_TRUE(jid.has_value()) << GetParam().jid;
    const std::optional<SignalAddress> got = signal_address(*jid);
    if (GetParam().address) {
        ASSERT_TRUE(got.has_value());
        EXPECT_EQ(got->name, GetParam().address->name);
        EXPECT_EQ(got->device_id, GetParam().address->device_id);
    } else {
        EXPECT_FALSE(got.has_value()) << got->name;
    }
}

const SignalCase kSignalCases[] = {
    {"PhoneMainDevice", "15551234567@s.whatsapp.net", SignalAddress{"15551234567", 0}},
    {"PhoneDevice", "15551234567:3@s.whatsapp.net", SignalAddress{"15551234567", 3}},
    {"LegacyCUs", "15551234567:3@c.us", SignalAddress{"15551234567", 3}},
    {"Lid", "123456789012345@lid", SignalAddress{"123456789012345_1", 0}},
    {"LidDevice", "123456789012345:12@lid", SignalAddress{"123456789012345_1", 12}},
    {"Hosted", "15551234567:99@hosted", SignalAddress{"15551234567_128", 99}},
    {"HostedLid", "123456789012345:99@hosted.lid", SignalAddress{"123456789012345_129", 99}},
    {"LargeDevice", "15551234567:65535@s.whatsapp.net", SignalAddress{"15551234567", 65535}},
    {"GroupHasNone", "120363000000000000@g.us", std::nullopt},
    {"BroadcastHasNone", "status@broadcast", std::nullopt},
    {"NewsletterHasNone", "120363111111111111@newsletter", std::nullopt},
    {"BotHasNone", "867051314767696@bot", std::nullopt},
};

INSTANTIATE_TEST_SUITE_P(Cases, JidSignalAddress, testing::ValuesIn(kSignalCases),
                         [](const testing::TestParamInfo<SignalCase>& i) { return i.param.name; });

}  // namespace
}  // namespace chatwoot::wa::binary
