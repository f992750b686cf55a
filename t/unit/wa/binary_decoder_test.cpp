// The decoder on hostile bytes: each way to break the format fails with
// its own Errc and says where; bounds hold before any allocation; and
// what no encoder writes is refused rather than guessed at.
#include <gtest/gtest.h>

#include <string>

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

struct BadCase {
    const char* name;
    std::string_view body_hex;  // node bytes, no flags byte
    Errc code;
    std::string_view detail;    // a part of the message
};

class BinaryDecodeRejects : public testing::TestWithParam<BadCase> {};

TEST_P(BinaryDecodeRejects, WithItsCodeAndPlace)
{
    const BadCase& c = GetParam();
    const Result<Node> got = decode_node(hex(c.body_hex));
    ASSERT_FALSE(got) << c.body_hex;
    EXPECT_EQ(got.error().code, c.code) << errc_name(got.error().code) << ": " << got.error().detail;
    EXPECT_NE(got.error().detail.find(c.detail), std::string::npos) << got.error().detail;
}

// Bytes used below: f8 LIST_8, f9 LIST_16, 19 "iq", 11 "to", 08 "id",
// fc BINARY_8, fd BINARY_20, fe BINARY_32, ff NIBBLE_8, fb HEX_8,
// fa JID_PAIR, f7 AD_JID, 03 "s.whatsapp.net", ec..ef dictionaries.
const BadCase kBadCases[] = {
    {"Empty", "", Errc::truncated, "node needs 1 bytes, 0 left at offset 0"},
    {"ListSizeMissing", "f8", Errc::truncated, "at offset 1"},
    {"List16SizeCut", "f901", Errc::truncated, "at offset 1"},
    {"NotAList", "19", Errc::malformed, "tag 25 is not a list at offset 0"},
    {"EmptyListNode", "00", Errc::malformed, "node: empty list at offset 0"},
    {"List8Zero", "f800", Errc::malformed, "node: empty list"},
    {"TagMissing", "f801", Errc::truncated, "tag needs 1 bytes"},
    {"EmptyTagListEmpty", "f80100", Errc::malformed, "tag: empty at offset 2"},
    {"EmptyTagBinary", "f801fc00", Errc::malformed, "tag: empty"},
    {"TagIsAJid", "f801fa0003", Errc::malformed, "tag: a JID where a string belongs at offset 2"},
    {"TagIsAList", "f801f801", Errc::malformed, "tag: tag 248 is not a string"},
    {"UnusedTag240", "f801f0", Errc::malformed, "tag 240 is not a string"},
    {"UnusedTag244", "f80319f411", Errc::malformed, "attribute key: tag 244"},
    {"FbJidUnsupported", "f80319" "11" "f6", Errc::unsupported, "FB_JID at offset 4"},
    {"InteropJidUnsupported", "f80319" "11" "f5", Errc::unsupported, "INTEROP_JID"},
    {"AttributeValueMissing", "f80319" "11", Errc::truncated, "attribute value needs 1 bytes"},
    {"KeyIsAJid", "f80319" "fa0003" "11", Errc::malformed, "attribute key: a JID"},
    {"DuplicateKey", "f80519" "1119" "1119", Errc::malformed, "duplicate \"to\" at offset 5"},
    {"DictionaryIndexMissing", "f801ec", Errc::truncated, "tag needs 1 bytes"},
    {"Binary8PastEnd", "f801fc05616263", Errc::truncated, "tag: length 5 past the end at offset 3"},
    {"Binary20PastEnd", "f801fd000100", Errc::truncated, "length 256 past the end"},
    {"Binary20LengthCut", "f801fd0001", Errc::truncated, "tag needs 3 bytes"},
    {"Binary32Huge", "f801feffffffff", Errc::truncated, "length 4294967295 past the end"},
    {"PackedEmpty", "f801ff00", Errc::malformed, "empty packed string at offset 3"},
    {"PackedOddEmpty", "f801ff80", Errc::malformed, "empty packed string"},
    {"PackedTooLong", "f801ff41", Errc::malformed, "packed string of 130 characters"},
    {"PackedCut", "f801ff0312", Errc::truncated, "tag needs 3 bytes, 1 left"},
    {"NibbleTwelve", "f801ff01c1", Errc::malformed, "nibble 12 in a packed string at offset 4"},
    {"NibblePadInside", "f801ff02f111", Errc::malformed, "nibble 15"},
    {"JidPairNestedUser", "f80319" "11" "fafa000303", Errc::malformed, "a JID where a string belongs"},
    {"JidPairEmptyServer", "f80319" "11" "fa1900", Errc::malformed, "JID without a server"},
    {"JidPairUserWithAt", "f80319" "11" "fafc03614062" "03", Errc::malformed, "JID user with '@'"},
    {"JidPairCut", "f80319" "11" "fa19", Errc::truncated, "attribute value needs 1 bytes"},
    {"AdJidUnknownDomain", "f80319" "11" "f70203" "19", Errc::unsupported, "AD_JID domain 2 at offset 5"},
    {"AdJidDomain130", "f80319" "11" "f78203" "19", Errc::unsupported, "AD_JID domain 130"},
    {"AdJidUserWithColon", "f80319" "11" "f70003" "fc03613a62", Errc::malformed, "AD_JID user with ':'"},
    {"AdJidCut", "f80319" "11" "f700", Errc::truncated, "attribute value needs 2 bytes"},
    {"ContentMissing", "f80219", Errc::truncated, "content needs 1 bytes"},
    {"ContentBinaryPastEnd", "f80219fc02aa", Errc::truncated, "content: length 2 past the end"},
    {"ContentUnusedTag", "f80219f2", Errc::malformed, "content: tag 242 is not a string"},
    {"ChildrenCut", "f80219f802f80119", Errc::truncated, "node needs 1 bytes"},
    {"ChildIsNotANode", "f80219f80119", Errc::malformed, "node: tag 25 is not a list at offset 5"},
    {"TrailingByte", "f8011900", Errc::malformed, "1 bytes after the node at offset 3"},
};

INSTANTIATE_TEST_SUITE_P(Cases, BinaryDecodeRejects, testing::ValuesIn(kBadCases),
                         [](const testing::TestParamInfo<BadCase>& i) { return i.param.name; });

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
