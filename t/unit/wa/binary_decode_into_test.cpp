// Decoding into a node that held another one (a session's scratch node)
// must give exactly the node a fresh decode gives: no attribute, child,
// byte or form of the earlier node may survive.
#include <gtest/gtest.h>

#include <ostream>
#include <vector>

#include "vectors.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/binary/node.hpp"

namespace chatwoot::wa::binary {

inline void PrintTo(const Node& node, std::ostream* os) { *os << "\n" << to_debug_string(node); }

namespace {

std::vector<Bytes> payloads()
{
    std::vector<Bytes> out;
    for (const auto& v : test::vector_section("binary").GetArray()) {
        out.push_back(test::vector_hex(v, "encoded_hex"));
    }
    out.push_back(test::vector_hex(test::vector_section("binary_zlib"), "encoded_hex"));
    // A few hand-made shapes the vectors lack: children after bytes,
    // bytes after children, text content, no content at all.
    Node children("a", {}, Children{Node("b"), Node("c", {{"k", Value{"v"}}})});
    Node bytes("a", {{"x", Value{"1"}}}, Bytes{1, 2, 3});
    Node text("a", {}, Value{"15551234567@s.whatsapp.net", Form::jid_pair});
    Node bare("a");
    for (const Node* n : {&children, &bytes, &text, &bare}) {
        out.push_back(*encode(*n));
    }
    return out;
}

TEST(BinaryDecodeInto, EveryPayloadOverEveryOtherEqualsAFreshDecode)
{
    const auto all = payloads();
    ASSERT_GE(all.size(), 10u);
    for (size_t i = 0; i < all.size(); ++i) {
        auto fresh = decode(all[i]);
        ASSERT_TRUE(fresh.ok()) << i << ": " << fresh.error().detail;
        for (size_t j = 0; j < all.size(); ++j) {
            Node scratch;
            ASSERT_TRUE(decode_into(all[j], scratch).ok()) << j;
            ASSERT_TRUE(decode_into(all[i], scratch).ok()) << i << " over " << j;
            EXPECT_EQ(scratch, *fresh) << i << " decoded over " << j;
        }
    }
}

TEST(BinaryDecodeInto, FailuresReportLikeDecode)
{
    const auto all = payloads();
    Node scratch;
    ASSERT_TRUE(decode_into(all[0], scratch).ok());
    Bytes cut(all[0].begin(), all[0].end() - 1);
    auto want = decode(cut);
    ASSERT_FALSE(want.ok());
    Status got = decode_into(cut, scratch);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, want.error().code);
    EXPECT_EQ(got.error().detail, want.error().detail);
    EXPECT_EQ(decode_into({}, scratch).error().code, Errc::truncated);
}

}  // namespace
}  // namespace chatwoot::wa::binary
