// The flags byte and zlib: a compressed payload inflates within its bound
// and no further, and cut, corrupt or padded streams fail with their code.
#include <gtest/gtest.h>

#include <zlib.h>

#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/binary/payload.hpp"

namespace chatwoot::wa::binary {
namespace {

Bytes zlib_compress(const Bytes& plain)
{
    uLongf size = compressBound(static_cast<uLong>(plain.size()));
    Bytes out(size);
    EXPECT_EQ(compress(out.data(), &size, plain.data(), static_cast<uLong>(plain.size())), Z_OK);
    out.resize(size);
    return out;
}

TEST(BinaryInflate, ExactlyTheBoundIsAllowedOneMoreIsNot)
{
    const Bytes plain(100000, 'a');
    const Bytes z = zlib_compress(plain);
    const Result<Bytes> ok = inflate_bounded(z, plain.size());
    ASSERT_TRUE(ok) << ok.error().detail;
    EXPECT_EQ(*ok, plain);
    const Result<Bytes> over = inflate_bounded(z, plain.size() - 1);
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().code, Errc::too_large);
}

TEST(BinaryInflate, ZipBombStopsAtTheBound)
{
    // 64 MiB of zeros is about 64 KiB compressed: the default bound of
    // decode() (16 MiB) must stop it without inflating it all.
    const Bytes z = zlib_compress(Bytes(64u << 20, 0));
    ASSERT_LT(z.size(), 100000u);
    Bytes payload{0x02};
    payload.insert(payload.end(), z.begin(), z.end());
    const Result<Node> got = decode(payload);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::too_large);
}

TEST(BinaryInflate, EmptyInputIsTruncated)
{
    const Result<Bytes> got = inflate_bounded({}, 100);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::truncated);
}

TEST(BinaryInflate, CutStreamIsTruncatedAtEveryLength)
{
    const Bytes z = zlib_compress(Bytes(5000, 'q'));
    for (std::size_t n = 0; n < z.size(); ++n) {
        const Result<Bytes> got = inflate_bounded(ByteView(z).first(n), 1u << 20);
        ASSERT_FALSE(got) << n;
        EXPECT_EQ(got.error().code, Errc::truncated) << n << ": " << got.error().detail;
    }
}

TEST(BinaryInflate, CorruptStreamIsMalformed)
{
    Bytes z = zlib_compress(Bytes(5000, 'q'));
    z[0] ^= 0xff;  // the zlib header's method byte
    const Result<Bytes> got = inflate_bounded(z, 1u << 20);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::malformed);
}

TEST(BinaryInflate, BytesAfterTheStreamAreMalformed)
{
    Bytes z = zlib_compress(Bytes(50, 'q'));
    z.push_back(0);
    const Result<Bytes> got = inflate_bounded(z, 1u << 20);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::malformed);
}

TEST(BinaryPayload, CompressedAndPlainPayloadsDecodeAlike)
{
    const Node n{"iq", {{"id", {"1", Form::text}}}, Bytes(3000, 'r')};
    const Result<Bytes> plain = encode(n);
    ASSERT_TRUE(plain);
    EXPECT_EQ((*plain)[0], 0x00);
    const Result<Bytes> packed = compress_payload(ByteView(*plain).subspan(1));
    ASSERT_TRUE(packed);
    EXPECT_EQ((*packed)[0], 0x02);
    EXPECT_LT(packed->size(), plain->size());
    EXPECT_EQ(*decode(*plain), n);
    EXPECT_EQ(*decode(*packed), n);
}

TEST(BinaryPayload, OtherFlagBitsDoNotMeanCompression)
{
    const Result<Bytes> plain = encode(Node{"iq"});
    ASSERT_TRUE(plain);
    Bytes flagged = *plain;
    flagged[0] = 0xfd;  // every bit but 0x02
    const Result<Node> got = decode(flagged);
    ASSERT_TRUE(got) << got.error().detail;
    EXPECT_EQ(got->tag, "iq");
}

TEST(BinaryPayload, EmptyPayloadIsTruncated)
{
    const Result<Node> got = decode(ByteView{});
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::truncated);
}

}  // namespace
}  // namespace chatwoot::wa::binary
