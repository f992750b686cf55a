#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa {
namespace {

TEST(WaBytes, HexRoundTrip)
{
    Bytes b{0x00, 0x7f, 0x80, 0xff};
    EXPECT_EQ(to_hex(b), "007f80ff");
    EXPECT_EQ(from_hex("007F80ff"), b);
    EXPECT_EQ(from_hex(""), Bytes{});
}

TEST(WaBytes, HexRejectsOddLengthAndNonHex)
{
    EXPECT_FALSE(from_hex("abc"));
    EXPECT_FALSE(from_hex("zz"));
    EXPECT_FALSE(from_hex("0x"));
}

TEST(WaBytes, ConcatJoinsInOrder)
{
    Bytes a{1, 2}, b{3};
    EXPECT_EQ(concat({a, b, as_bytes("d")}), (Bytes{1, 2, 3, 'd'}));
}

TEST(WaError, ResultHoldsValueOrError)
{
    Result<int> good = 5;
    Result<int> bad = make_error(Errc::truncated, "frame ends early");
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(*good, 5);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::truncated);
    EXPECT_STREQ(errc_name(bad.error().code), "truncated");
}

TEST(WaVectors, FileHasEverySection)
{
    for (const char* name : {"binary", "binary_zlib", "noise", "media", "signature", "signal_1to1",
                             "sender_keys", "qr", "pair_success", "pairing_code", "history_sync"})
        EXPECT_NO_THROW(test::vector_section(name)) << name;
}

}  // namespace
}  // namespace chatwoot::wa
