// Signal addresses from JIDs (waweb.md section 1.8) and what libsignal can
// take as a name.
#include <gtest/gtest.h>

#include "wa/signal/address.hpp"

namespace chatwoot::wa::signal {
namespace {

Address of(std::string_view jid_text)
{
    std::optional<binary::Jid> jid = binary::Jid::parse(jid_text);
    EXPECT_TRUE(jid.has_value()) << jid_text;
    if (!jid) return {};
    Result<Address> a = address_of(*jid);
    EXPECT_TRUE(a.ok()) << jid_text << ": " << (a.ok() ? "" : a.error().detail);
    return a.ok() ? *a : Address{};
}

TEST(SignalAddress, FromUserDeviceJids)
{
    EXPECT_EQ(of("15551234567:3@s.whatsapp.net"), (Address{"15551234567", 3}));
    EXPECT_EQ(of("15551234567@s.whatsapp.net"), (Address{"15551234567", 0}));
    EXPECT_EQ(of("123@lid"), (Address{"123_1", 0}));
    EXPECT_EQ(of("123456789012345:12@lid"), (Address{"123456789012345_1", 12}));
    EXPECT_EQ(of("1555:3@hosted"), (Address{"1555_128", 3}));
    EXPECT_EQ(of("123:99@hosted.lid"), (Address{"123_129", 99}));
    // The legacy server name is the phone-number server.
    EXPECT_EQ(of("15551234567:2@c.us"), (Address{"15551234567", 2}));
}

TEST(SignalAddress, NonUserJidsHaveNone)
{
    for (std::string_view text :
         {"120363012345678901@g.us", "status@broadcast", "120363111111111111@newsletter"}) {
        std::optional<binary::Jid> jid = binary::Jid::parse(text);
        ASSERT_TRUE(jid.has_value()) << text;
        Result<Address> a = address_of(*jid);
        ASSERT_FALSE(a.ok()) << text;
        EXPECT_EQ(a.error().code, Errc::unsupported) << text;
    }
}

TEST(SignalAddress, PrintsNameDotDevice)
{
    EXPECT_EQ(to_string(Address{"123_1", 7}), "123_1.7");
}

TEST(SignalAddress, ChecksWhatLibsignalCanTake)
{
    EXPECT_TRUE(check_address({"15551234567", 0}).ok());
    EXPECT_TRUE(check_address({"15551234567", 0x7fffffff}).ok());

    Status empty = check_address({"", 1});
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error().code, Errc::malformed);

    Status nul = check_address({std::string("12\0"
                                            "3",
                                            4),
                                1});
    ASSERT_FALSE(nul.ok());
    EXPECT_EQ(nul.error().code, Errc::malformed);

    Status device = check_address({"1", 0x80000000u});
    ASSERT_FALSE(device.ok());
    EXPECT_EQ(device.error().code, Errc::malformed);

    Status longname = check_address({std::string(129, '1'), 1});
    ASSERT_FALSE(longname.ok());
    EXPECT_EQ(longname.error().code, Errc::too_large);

    Status group = check_sender_key_name({"", {"1", 0}});
    ASSERT_FALSE(group.ok());
    EXPECT_EQ(group.error().code, Errc::malformed);
    EXPECT_TRUE(check_sender_key_name({"120363012345678901@g.us", {"1", 0}}).ok());
}

}  // namespace
}  // namespace chatwoot::wa::signal
