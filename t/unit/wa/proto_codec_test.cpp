#include <gtest/gtest.h>

#include "wa/proto/codec.hpp"
#include "wa/proto/handshake.pb.h"
#include "wa/proto/message.pb.h"

namespace chatwoot::wa::proto {
namespace {

TEST(ProtoCodec, TruncatedInputIsMalformedAndNamesTheType)
{
    // Field 1 (conversation), length 5, but only 2 bytes follow.
    const Bytes cut{0x0a, 0x05, 'h', 'i'};
    auto m = parse<Message>(cut);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, Errc::malformed);
    EXPECT_NE(m.error().detail.find("chatwoot.wa.proto.Message"), std::string::npos)
        << m.error().detail;
}

TEST(ProtoCodec, BrokenVarintAndWrongWireTypeAreMalformed)
{
    const Bytes endless_varint(11, 0xff);
    EXPECT_EQ(parse<Message>(endless_varint).error().code, Errc::malformed);
    // Field 0 is never valid; wire type 7 does not exist.
    EXPECT_EQ(parse<Message>(Bytes{0x00, 0x01}).error().code, Errc::malformed);
    EXPECT_EQ(parse<Message>(Bytes{0x0f}).error().code, Errc::malformed);
}

TEST(ProtoCodec, HostileNestingIsRefusedNotFollowed)
{
    // quotedMessage inside contextInfo inside extendedTextMessage, 300
    // times: 900 levels of nesting, past protobuf's limit of 100.
    Message m;
    Message* cur = &m;
    for (int i = 0; i < 300; ++i)
        cur = cur->mutable_extendedtextmessage()->mutable_contextinfo()->mutable_quotedmessage();
    cur->set_conversation("bottom");
    const Bytes deep = serialize(m);
    auto parsed = parse<Message>(deep);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, Errc::malformed);
}

TEST(ProtoCodec, UnknownFieldsSurviveARoundTrip)
{
    // conversation "hi" plus field 49 (pollCreationMessage, not in our
    // subset) holding an opaque 3-byte body.
    const Bytes bytes{0x0a, 0x02, 'h', 'i', 0x8a, 0x03, 0x03, 0x12, 0x01, 'x'};
    auto m = parse<Message>(bytes);
    ASSERT_TRUE(m.ok()) << m.error().detail;
    EXPECT_EQ(m->conversation(), "hi");
    EXPECT_EQ(serialize(*m), bytes);
}

TEST(ProtoCodec, SerializeAppendKeepsWhatWasThere)
{
    HandshakeMessage hm;
    hm.mutable_clienthello()->set_ephemeral(std::string(32, '\x01'));
    Bytes out{0xaa, 0xbb};
    serialize_append(hm, out);
    ASSERT_EQ(out.size(), 2u + 36u);
    EXPECT_EQ(out[0], 0xaa);
    EXPECT_EQ(out[2], 0x12);  // field 2, length-delimited
    EXPECT_EQ(out[3], 0x22);  // 34 bytes of ClientHello
    EXPECT_EQ(out[4], 0x0a);  // its field 1
    EXPECT_EQ(out[5], 0x20);  // 32 bytes
}

TEST(ProtoCodec, EmptyInputIsAnEmptyMessage)
{
    auto m = parse<HandshakeMessage>(ByteView{});
    ASSERT_TRUE(m.ok());
    EXPECT_FALSE(m->has_serverhello());
}

}  // namespace
}  // namespace chatwoot::wa::proto
