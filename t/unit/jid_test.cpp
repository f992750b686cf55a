// JIDs as the bridge sees them: what is a phone number and what is not
// (LIDs!), phone numbers as people write them, the identifier the bridge
// stores in Chatwoot, and the Brazilian ninth-digit look-up form.  Parsing
// itself is the protocol's (t/unit/wa/binary_jid_test.cpp).
#include "bridge/jid.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

using namespace chatwoot::bridge;

namespace {

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
