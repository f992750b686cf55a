// The token tables (generated from npm baileys by t/mock/wa/gen-tokens.mjs)
// and the compile-time reverse map: every token finds its own code, and
// nothing else finds one.
#include <gtest/gtest.h>

#include <string>

#include "wa/binary/tokens.hpp"

namespace chatwoot::wa::binary {
namespace {

TEST(BinaryTokens, KnownEntriesOfWawebMd)
{
    // waweb.md section 1.7 names these.
    EXPECT_EQ(single_byte_token(1), "xmlstreamstart");
    EXPECT_EQ(single_byte_token(3), "s.whatsapp.net");
    EXPECT_EQ(single_byte_token(25), "iq");
    EXPECT_EQ(find_token("iq"), (TokenCode{-1, 25}));
    EXPECT_EQ(find_token("s.whatsapp.net"), (TokenCode{-1, 3}));
    // Seen in the vectors: "w:p" one byte, "protocol" in dictionary 0.
    EXPECT_EQ(find_token("protocol"), (TokenCode{0, 3}));
    EXPECT_EQ(double_byte_token(0, 3), "protocol");
}

TEST(BinaryTokens, EverySingleByteTokenMapsBack)
{
    for (int i = 1; i < static_cast<int>(kSingleByteTokenCount); ++i) {
        const auto text = single_byte_token(static_cast<std::uint8_t>(i));
        ASSERT_TRUE(text.has_value()) << i;
        ASSERT_FALSE(text->empty()) << i;
        EXPECT_EQ(find_token(*text), (TokenCode{-1, static_cast<std::uint8_t>(i)})) << *text;
    }
}

TEST(BinaryTokens, EveryDoubleByteTokenMapsBack)
{
    for (int d = 0; d < static_cast<int>(kDoubleByteDictionaries); ++d) {
        for (int i = 0; i < 256; ++i) {
            const auto text = double_byte_token(static_cast<std::uint8_t>(d), static_cast<std::uint8_t>(i));
            ASSERT_TRUE(text.has_value());
            EXPECT_EQ(find_token(*text),
                      (TokenCode{static_cast<std::int8_t>(d), static_cast<std::uint8_t>(i)}))
                << *text;
        }
    }
}

TEST(BinaryTokens, OutOfTableIndexesHaveNoString)
{
    EXPECT_FALSE(single_byte_token(0));
    EXPECT_FALSE(single_byte_token(236));
    EXPECT_FALSE(single_byte_token(255));
    EXPECT_FALSE(double_byte_token(4, 0));
    EXPECT_FALSE(double_byte_token(255, 255));
}

TEST(BinaryTokens, NonTokensAreNotFound)
{
    for (const std::string& s : std::initializer_list<std::string>{"", "IQ", "iq ", " iq", "i", "s.whatsapp.ne", "s.whatsapp.nett",
                          "1234.5678-1", "hello world", std::string(49, 'a'), std::string("i\0q", 3)}) {
        EXPECT_FALSE(find_token(s)) << s;
    }
}

}  // namespace
}  // namespace chatwoot::wa::binary
