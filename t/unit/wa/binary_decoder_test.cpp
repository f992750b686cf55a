// The decoder on hostile bytes: each way to break the format fails with
// its own Errc and says where; bounds hold before any allocation; and
// what no encoder writes is refused rather than guessed at.
#include <gtest/gtest.h>

#include <string>

#include "binary_bad_cases.hpp"
#include "vectors.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"

namespace chatwoot::wa::binary {
namespace {

Bytes hex(std::string_view h)
{
    auto b = from_hex(h);
    EXPECT_TRUE(b) << h;
    return b.value_or(Bytes{});
}

class BinaryDecodeRejects : public testing::TestWithParam<test::BinaryBadCase> {};

TEST_P(BinaryDecodeRejects, WithItsCodeAndPlace)
{
    const test::BinaryBadCase& c = GetParam();
    const Result<Node> got = decode_node(hex(c.body_hex));
    ASSERT_FALSE(got) << c.body_hex;
    EXPECT_EQ(got.error().code, c.code) << errc_name(got.error().code) << ": " << got.error().detail;
    EXPECT_NE(got.error().detail.find(c.detail), std::string::npos) << got.error().detail;
}


INSTANTIATE_TEST_SUITE_P(Cases, BinaryDecodeRejects, testing::ValuesIn(test::kBinaryBadCases),
                         [](const testing::TestParamInfo<test::BinaryBadCase>& i) { return i.param.name; });

TEST(BinaryDecode, EveryProperPrefixOfEveryVectorIsTruncated)
{
    for (const auto& v : test::vector_section("binary").GetArray()) {
        const Bytes payload = test::vector_hex(v, "encoded_hex");
        const ByteView body = ByteView(payload).subspan(1);
        for (std::size_t n = 0; n < body.size(); ++n) {
            const Result<Node> got = decode_node(body.first(n));
            ASSERT_FALSE(got) << n;
            ASSERT_EQ(got.error().code, Errc::truncated) << n << ": " << got.error().detail;
        }
        EXPECT_TRUE(decode_node(body));
    }
}

Bytes nested(std::size_t depth)
{
    // <a><a>...<a/>...</a></a>: each level LIST_8 2, "a", LIST_8 1 child.
    Bytes b;
    for (std::size_t i = 1; i < depth; ++i) {
        const Bytes level = {0xf8, 0x02, 0xfc, 0x01, 'a', 0xf8, 0x01};
        b.insert(b.end(), level.begin(), level.end());
    }
    const Bytes leaf = {0xf8, 0x01, 0xfc, 0x01, 'a'};
    b.insert(b.end(), leaf.begin(), leaf.end());
    return b;
}

TEST(BinaryDecode, DepthBoundIsSixtyFourByDefault)
{
    const Result<Node> ok = decode_node(nested(64));
    ASSERT_TRUE(ok) << ok.error().detail;
    const Result<Node> deep = decode_node(nested(65));
    ASSERT_FALSE(deep);
    EXPECT_EQ(deep.error().code, Errc::too_deep);
    // The offset is the 65th node's.
    EXPECT_NE(deep.error().detail.find("at offset " + std::to_string(64 * 7)), std::string::npos)
        << deep.error().detail;
    // And it is a limit, not a constant.
    DecodeLimits limits;
    limits.max_depth = 65;
    EXPECT_TRUE(decode_node(nested(65), limits));
    limits.max_depth = 2;
    EXPECT_FALSE(decode_node(nested(3), limits));
}

TEST(BinaryDecode, DeepHostileNestingFailsWithoutRecursingFurther)
{
    // 100,000 levels: far past the bound, must fail fast and not overflow.
    const Result<Node> got = decode_node(nested(100000));
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::too_deep);
}

TEST(BinaryDecode, AttributeCountBound)
{
    // LIST_16 with 1 + 2 * 257 items: over the default 256.
    const Bytes body = hex("f90203" "19");
    const Result<Node> got = decode_node(body);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::too_large);
    // Inside the bound the same header just runs out of input.
    EXPECT_EQ(decode_node(hex("f90201" "19")).error().code, Errc::truncated);
}

TEST(BinaryDecode, HugeChildCountWithTinyInputIsTruncatedNotAllocated)
{
    // 65535 children announced, none present.
    const Result<Node> got = decode_node(hex("f80219" "f9ffff"));
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::truncated);
}

TEST(BinaryDecode, OddPackedStringsIgnoreThePadNibble)
{
    // "123" with pad 0 instead of 15: every reader drops the pad.
    const Result<Node> got = decode_node(hex("f80319" "11" "ff821230"));
    ASSERT_TRUE(got) << got.error().detail;
    EXPECT_EQ(got->attr("to"), "123");
}

TEST(BinaryDecode, LengthOfBinary20IgnoresTheTopNibble)
{
    // 0xf0 0x01 0x00 is length 0x00100 = 256 once the top nibble goes.
    Bytes body = hex("f80219" "fdf00100");
    body.resize(body.size() + 256, 0x41);
    const Result<Node> got = decode_node(body);
    ASSERT_TRUE(got) << got.error().detail;
    ASSERT_NE(got->bytes(), nullptr);
    EXPECT_EQ(got->bytes()->size(), 256u);
}

TEST(BinaryDecode, EmptyValuesFromListEmptyAndBinary8Zero)
{
    const Result<Node> a = decode_node(hex("f80319" "11" "00"));
    const Result<Node> b = decode_node(hex("f80319" "11" "fc00"));
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_EQ(a->attr("to"), "");
    EXPECT_EQ(*a, *b);
}

TEST(BinaryDecode, StringContentKeepsItsForm)
{
    // Content: token "text", then a JID pair content.
    const Result<Node> token = decode_node(hex("f80219" "38"));
    ASSERT_TRUE(token);
    ASSERT_NE(token->text(), nullptr);
    EXPECT_EQ(*token->text(), (Value{"text", Form::text}));
    const Result<Node> jid = decode_node(hex("f80219" "fa0003"));
    ASSERT_TRUE(jid);
    EXPECT_EQ(*jid->text(), server_jid());
}

}  // namespace
}  // namespace chatwoot::wa::binary
