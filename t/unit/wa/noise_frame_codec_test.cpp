#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/noise/frame_codec.hpp"

namespace chatwoot::wa::noise {
namespace {

// Every frame the reassembler yields, copied out, after feeding `chunks`.
std::vector<Bytes> drain(FrameReassembler& r)
{
    std::vector<Bytes> frames;
    for (;;) {
        auto f = r.next();
        EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().detail);
        if (!f.ok() || !*f) break;
        frames.emplace_back((*f)->begin(), (*f)->end());
    }
    return frames;
}

Bytes frame_of(const Bytes& body)
{
    Bytes out;
    out.reserve(3 + body.size());
    out.push_back(static_cast<std::uint8_t>(body.size() >> 16));
    out.push_back(static_cast<std::uint8_t>(body.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(body.size()));
    for (std::uint8_t b : body) out.push_back(b);
    return out;
}

TEST(NoiseFrameWriter, HeaderOnlyBeforeTheFirstFrame)
{
    FrameWriter w;
    Bytes out;
    ASSERT_TRUE(w.append_frame(Bytes{0xaa, 0xbb}, out).ok());
    ASSERT_TRUE(w.append_frame(Bytes{0xcc}, out).ok());
    EXPECT_EQ(to_hex(out),
              "57410603"
              "000002aabb"
              "000001cc");
    EXPECT_TRUE(w.header_sent());
}

TEST(NoiseFrameWriter, LengthIsThreeBytesBigEndian)
{
    FrameWriter w(ByteView{});
    Bytes out;
    ASSERT_TRUE(w.append_frame(Bytes(0x012345, 0x5a), out).ok());
    ASSERT_EQ(out.size(), 3u + 0x012345);
    EXPECT_EQ(out[0], 0x01);
    EXPECT_EQ(out[1], 0x23);
    EXPECT_EQ(out[2], 0x45);
}

TEST(NoiseFrameWriter, RefusesABodyTheLengthCannotSay)
{
    FrameWriter w;
    Bytes out{1, 2};
    Bytes huge(max_frame_size + 1);
    Status s = w.append_frame(huge, out);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::too_large);
    EXPECT_EQ(out, (Bytes{1, 2}));  // nothing written
    EXPECT_FALSE(w.header_sent());  // the header still goes with the next frame
    ASSERT_TRUE(w.append_frame(Bytes(max_frame_size, 0), out).ok());
    EXPECT_EQ(to_hex(ByteView(out).subspan(2, 7)), "57410603ffffff");
}

TEST(NoiseFrameReassembler, SeveralFramesInOneMessage)
{
    FrameReassembler r;
    r.feed(concat({frame_of({1}), frame_of({2, 3}), frame_of({}), frame_of({4, 5, 6})}));
    auto frames = drain(r);
    ASSERT_EQ(frames.size(), 4u);
    EXPECT_EQ(frames[0], (Bytes{1}));
    EXPECT_EQ(frames[1], (Bytes{2, 3}));
    EXPECT_EQ(frames[2], Bytes{});
    EXPECT_EQ(frames[3], (Bytes{4, 5, 6}));
    EXPECT_EQ(r.buffered(), 0u);
}

TEST(NoiseFrameReassembler, OneFrameAcrossManyMessagesAndTheLengthSplit)
{
    Bytes body(1000);
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>(i * 7);
    const Bytes wire = concat({frame_of(body), frame_of({9})});
    FrameReassembler r;
    // Cut inside the length prefix, then inside the body, then across frames.
    r.feed(ByteView(wire).subspan(0, 2));
    EXPECT_TRUE(drain(r).empty());
    r.feed(ByteView(wire).subspan(2, 500));
    EXPECT_TRUE(drain(r).empty());
    EXPECT_EQ(r.buffered(), 502u);
    r.feed(ByteView(wire).subspan(502, wire.size() - 502 - 2));
    auto frames = drain(r);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0], body);
    r.feed(ByteView(wire).subspan(wire.size() - 2));
    frames = drain(r);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0], (Bytes{9}));
}

TEST(NoiseFrameReassembler, ByteByByte)
{
    const auto& v = test::vector_section("noise");
    const Bytes finish = test::vector_hex(v, "wire_client_finish_frame");
    const Bytes transport = test::vector_hex(v, "wire_first_transport_frame");
    const Bytes wire = concat({finish, transport});
    FrameReassembler r;
    std::vector<Bytes> frames;
    for (std::uint8_t b : wire) {
        r.feed(ByteView(&b, 1));
        for (Bytes& f : drain(r)) frames.push_back(std::move(f));
    }
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0], Bytes(finish.begin() + 3, finish.end()));
    EXPECT_EQ(frames[1], Bytes(transport.begin() + 3, transport.end()));
}

TEST(NoiseFrameReassembler, ViewsStayValidUntilTheNextFeed)
{
    FrameReassembler r;
    r.feed(concat({frame_of({1, 2}), frame_of({3})}));
    auto a = r.next();
    auto b = r.next();
    ASSERT_TRUE(a.ok() && *a && b.ok() && *b);
    EXPECT_EQ(Bytes((*a)->begin(), (*a)->end()), (Bytes{1, 2}));
    EXPECT_EQ(Bytes((*b)->begin(), (*b)->end()), (Bytes{3}));
}

TEST(NoiseFrameReassembler, OversizeFrameIsAnErrorThatSticks)
{
    FrameReassembler r(100);
    EXPECT_EQ(r.limit(), 100u);
    r.feed(concat({frame_of(Bytes(100, 1)), Bytes{0x00, 0x00, 0x65}}));  // 100 ok, then 101
    auto first = r.next();
    ASSERT_TRUE(first.ok() && *first);
    EXPECT_EQ((*first)->size(), 100u);
    auto second = r.next();
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, Errc::too_large);
    EXPECT_NE(second.error().detail.find("101"), std::string::npos) << second.error().detail;
    r.feed(frame_of({1}));  // a valid frame later cannot be framed any more
    auto third = r.next();
    ASSERT_FALSE(third.ok());
    EXPECT_EQ(third.error().code, Errc::too_large);
}

TEST(NoiseFrameReassembler, LimitNeverExceedsWhatALengthCanSay)
{
    FrameReassembler r(std::size_t{1} << 30);
    EXPECT_EQ(r.limit(), max_frame_size);
    r.feed(Bytes{0xff, 0xff, 0xff});
    auto f = r.next();
    ASSERT_TRUE(f.ok());  // a 16 MiB frame is allowed, it just has not arrived
    EXPECT_FALSE(*f);
}

TEST(NoiseFrameReassembler, TruncatedStreamYieldsNothing)
{
    FrameReassembler r;
    r.feed(Bytes{0x00, 0x00, 0x05, 1, 2, 3});
    EXPECT_TRUE(drain(r).empty());
    EXPECT_EQ(r.buffered(), 6u);
}

}  // namespace
}  // namespace chatwoot::wa::noise
