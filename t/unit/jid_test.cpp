// JIDs: the text forms of research/waweb.md section 1.7 (with whatsmeow's
// types/jid.go as the reference parser), what is a phone number and what
// is not (LIDs!), phone numbers as people write them, the identifier the
// bridge stores in Chatwoot, and the Brazilian ninth-digit look-up form.
#include "bridge/jid.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

using namespace chatwoot::bridge;

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
// JID -> E.164

struct E164Case {
    const char* name;
    std::string_view jid;
    std::optional<std::string_view> e164;
};

class JidE164 : public testing::TestWithParam<E164Case> {};

TEST_P(JidE164, FromJid)
{
    const std::optional<Jid> jid = Jid::parse(GetParam().jid);
    ASSERT_TRUE(jid.has_value()) << GetParam().jid;
    const std::optional<std::string> got = e164_from_jid(*jid);
    if (GetParam().e164) {
        ASSERT_TRUE(got.has_value());
        EXPECT_EQ(*got, *GetParam().e164);
    } else {
        EXPECT_FALSE(got.has_value()) << *got;
    }
}

const E164Case kE164Cases[] = {
    {"PhoneNumber", "5511999999999@s.whatsapp.net", "+5511999999999"},
    {"DeviceIsIgnored", "5511999999999:12@s.whatsapp.net", "+5511999999999"},
    {"LegacyCUs", "14155550100@c.us", "+14155550100"},
    {"SevenDigitsIsShortest", "2901234@s.whatsapp.net", "+2901234"},
    {"FifteenDigitsIsLongest", "123456789012345@s.whatsapp.net", "+123456789012345"},
    {"SixDigitsTooShort", "290123@s.whatsapp.net", std::nullopt},
    {"SixteenDigitsTooLong", "1234567890123456@s.whatsapp.net", std::nullopt},
    {"LeadingZero", "05511999999999@s.whatsapp.net", std::nullopt},
    {"ServiceAccountZero", "0@s.whatsapp.net", std::nullopt},
    {"LidIsNotAPhoneNumber", "123456789012345@lid", std::nullopt},
    {"LidWithPhoneLikeDigits", "5511999999999@lid", std::nullopt},
    {"Group", "120363000000000000@g.us", std::nullopt},
    {"LegacyGroup", "5511999999999-1600000000@g.us", std::nullopt},
    {"StatusBroadcast", "status@broadcast", std::nullopt},
    {"Newsletter", "120363111111111111@newsletter", std::nullopt},
    {"Hosted", "5511999999999:99@hosted", std::nullopt},
    {"Bot", "867051314767696@bot", std::nullopt},
};

INSTANTIATE_TEST_SUITE_P(Cases, JidE164, testing::ValuesIn(kE164Cases),
                         [](const testing::TestParamInfo<E164Case>& i) { return i.param.name; });

// Whatever we derive must pass Chatwoot's own check, /\+[1-9]\d{1,14}\z/.
TEST(JidE164Validation, ResultAlwaysPassesChatwootsPhoneValidation)
{
    for (const E164Case& c : kE164Cases) {
        const std::optional<std::string> got = e164_from_jid(*Jid::parse(c.jid));
        if (!got) {
            continue;
        }
        ASSERT_GE(got->size(), 3u);
        ASSERT_LE(got->size(), 16u);
        EXPECT_EQ((*got)[0], '+');
        EXPECT_NE((*got)[1], '0');
        EXPECT_EQ(got->find_first_not_of("0123456789", 1), std::string::npos);
    }
}

// ---------------------------------------------------------------------------
// Phone number text -> JID

struct PhoneCase {
    const char* name;
    std::string_view phone;
    std::optional<std::string_view> jid;
};

class PhoneToJid : public testing::TestWithParam<PhoneCase> {};

TEST_P(PhoneToJid, Parses)
{
    const std::optional<Jid> got = jid_from_phone(GetParam().phone);
    if (GetParam().jid) {
        ASSERT_TRUE(got.has_value()) << GetParam().phone;
        EXPECT_EQ(got->to_string(), *GetParam().jid);
        EXPECT_EQ(got->kind(), JidKind::phone_number);
        EXPECT_FALSE(got->has_device());
        // The JID a phone gives is the same value parse() gives for its text.
        EXPECT_EQ(*got, *Jid::parse(*GetParam().jid));
    } else {
        EXPECT_FALSE(got.has_value()) << got->to_string();
    }
}

const PhoneCase kPhoneCases[] = {
    {"InternationalWithSpacesAndDash", "+55 11 99999-9999", "5511999999999@s.whatsapp.net"},
    {"BareDigits", "5511999999999", "5511999999999@s.whatsapp.net"},
    {"ChatwootE164", "+5511999999999", "5511999999999@s.whatsapp.net"},
    {"AreaCodeInParentheses", "+55 (11) 99999-9999", "5511999999999@s.whatsapp.net"},
    {"Dots", "+1.415.555.0100", "14155550100@s.whatsapp.net"},
    {"SurroundingWhitespace", "  +14155550100\t", "14155550100@s.whatsapp.net"},
    {"ShortestE164", "+2901234", "2901234@s.whatsapp.net"},
    {"LongestE164", "+123456789012345", "123456789012345@s.whatsapp.net"},
    {"NationalTrunkZeroRefused", "(011) 99999-9999", std::nullopt},
    {"NationalNumberWithTrunkZeroRefused", "011999999999", std::nullopt},
    {"InternationalDoubleZeroRefused", "0055 11 99999-9999", std::nullopt},
    {"TooShort", "+290123", std::nullopt},
    {"TooLong", "+1234567890123456", std::nullopt},
    {"Empty", "", std::nullopt},
    {"OnlyPlus", "+", std::nullopt},
    {"OnlySeparators", " - ( ) . ", std::nullopt},
    {"Letters", "+55 11 CALL-NOW", std::nullopt},
    {"SecondPlus", "+55+11999999999", std::nullopt},
    {"PlusNotFirst", "55+11999999999", std::nullopt},
    {"UnclosedParenthesis", "+55 (11 99999-9999", std::nullopt},
    {"UnopenedParenthesis", "+55 11) 99999-9999", std::nullopt},
    {"NestedParentheses", "+55 ((11)) 99999-9999", std::nullopt},
    {"TabInside", "+55\t11999999999", std::nullopt},
    {"JidTextIsNotAPhone", "5511999999999@s.whatsapp.net", std::nullopt},
    {"Extension", "+14155550100 ext 12", std::nullopt},
    {"FullwidthDigits", "\xEF\xBC\x95\xEF\xBC\x95\xEF\xBC\x91\xEF\xBC\x91", std::nullopt},
    {"OverLong", "+1                                                    2345678", std::nullopt},
};

INSTANTIATE_TEST_SUITE_P(Cases, PhoneToJid, testing::ValuesIn(kPhoneCases),
                         [](const testing::TestParamInfo<PhoneCase>& i) { return i.param.name; });

TEST(PhoneToJidRoundTrip, RoundTripsThroughE164)
{
    for (std::string_view phone : {"+5511999999999", "+14155550100", "+2901234"}) {
        const std::optional<Jid> jid = jid_from_phone(phone);
        ASSERT_TRUE(jid.has_value());
        EXPECT_EQ(e164_from_jid(*jid), std::string(phone));
    }
}

// ---------------------------------------------------------------------------
// Chatwoot contact identifier

struct IdentifierCase {
    const char* name;
    std::string_view jid;
    std::string_view identifier;
};

class JidChatwootIdentifier : public testing::TestWithParam<IdentifierCase> {};

TEST_P(JidChatwootIdentifier, IsTheChatJid)
{
    const std::optional<Jid> jid = Jid::parse(GetParam().jid);
    ASSERT_TRUE(jid.has_value());
    EXPECT_EQ(chatwoot_identifier(*jid), GetParam().identifier);
}

const IdentifierCase kIdentifierCases[] = {
    {"PhoneNumber", "5511999999999@s.whatsapp.net", "5511999999999@s.whatsapp.net"},
    {"PhoneDeviceDropped", "5511999999999:12@s.whatsapp.net", "5511999999999@s.whatsapp.net"},
    {"AgentAndDeviceDropped", "5511999999999.0:12@s.whatsapp.net",
     "5511999999999@s.whatsapp.net"},
    {"LegacyCUsNormalised", "5511999999999@c.us", "5511999999999@s.whatsapp.net"},
    {"Lid", "123456789012345@lid", "123456789012345@lid"},
    {"LidDeviceDropped", "123456789012345:3@lid", "123456789012345@lid"},
    {"Group", "120363000000000000@g.us", "120363000000000000@g.us"},
    {"Newsletter", "120363111111111111@newsletter", "120363111111111111@newsletter"},
    {"StatusBroadcast", "status@broadcast", "status@broadcast"},
};

INSTANTIATE_TEST_SUITE_P(Cases, JidChatwootIdentifier, testing::ValuesIn(kIdentifierCases),
                         [](const testing::TestParamInfo<IdentifierCase>& i) {
                             return i.param.name;
                         });

// ---------------------------------------------------------------------------
// Brazil's ninth digit (look-up alternative only, peers.md: Evolution API)

struct BrazilCase {
    const char* name;
    std::string_view e164;
    std::optional<std::string_view> alternate;
};

class BrazilNinthDigitPhone : public testing::TestWithParam<BrazilCase> {};

TEST_P(BrazilNinthDigitPhone, Alternate)
{
    const std::optional<std::string> got = brazil_ninth_digit_alternate(GetParam().e164);
    if (GetParam().alternate) {
        ASSERT_TRUE(got.has_value()) << GetParam().e164;
        EXPECT_EQ(*got, *GetParam().alternate);
        // The relation is symmetric: the alternate's alternate is the input.
        EXPECT_EQ(brazil_ninth_digit_alternate(*got), std::string(GetParam().e164));
    } else {
        EXPECT_FALSE(got.has_value()) << *got;
    }
}

const BrazilCase kBrazilCases[] = {
    {"MobileWithNineLosesIt", "+5511999998888", "+551199998888"},
    {"EightDigitNumberGainsNine", "+551199998888", "+5511999998888"},
    {"OtherAreaCode", "+5521987654321", "+552187654321"},
    {"ThirteenDigitsWithoutLeadingNine", "+5511899998888", std::nullopt},
    {"NotBrazil", "+14155550100", std::nullopt},
    {"BrazilTooShort", "+55119999888", std::nullopt},
    {"BrazilTooLong", "+55119999988887", std::nullopt},
    {"NoPlus", "5511999998888", std::nullopt},
    {"NotDigits", "+55abc9998888", std::nullopt},
    {"Empty", "", std::nullopt},
};

INSTANTIATE_TEST_SUITE_P(Cases, BrazilNinthDigitPhone, testing::ValuesIn(kBrazilCases),
                         [](const testing::TestParamInfo<BrazilCase>& i) { return i.param.name; });

}  // namespace
