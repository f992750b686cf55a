#include <gtest/gtest.h>

#include <string>

#include "vectors.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/noise/frame_codec.hpp"
#include "wa/noise/handshake.hpp"
#include "wa/noise/transport.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/handshake.pb.h"

namespace chatwoot::wa::noise {
namespace {

constexpr std::int64_t now = 1700000000;

// The nodes of the vector's first transport frames, as npm baileys
// 7.0.0-rc14 encodeBinaryNode wrote them (leading flags byte 0):
//   <iq id="1" to="s.whatsapp.net" type="get" xmlns="w:p"><ping/></iq>
//   <success t="1700000000" lid="123456789012345@lid"/>
constexpr const char* first_node_hex = "00f80a190855110304291657f801f80156";
constexpr const char* success_node_hex = "00f8054c1aff05170000000076faff88123456789012345f76";

const rapidjson::Value& vec()
{
    return test::vector_section("noise");
}

HandshakeConfig vector_config()
{
    HandshakeConfig c;
    c.ephemeral = *crypto::x25519_key_pair(test::vector_hex(vec(), "client_ephemeral_priv"));
    c.noise_static = *crypto::x25519_key_pair(test::vector_hex(vec(), "noise_key_priv"));
    std::ranges::copy(test::vector_hex(vec(), "root_pub"), c.cert_policy.root_key.begin());
    c.cert_policy.now = now;
    return c;
}

// The vector's ServerHello with `edit` applied.
Bytes edited_server_hello(const std::function<void(proto::HandshakeMessage&)>& edit)
{
    auto msg = proto::parse<proto::HandshakeMessage>(test::vector_hex(vec(), "server_hello_msg"));
    EXPECT_TRUE(msg.ok());
    edit(*msg);
    return proto::serialize(*msg);
}

// A handshake that has sent its ClientHello.
ClientHandshake started(HandshakeConfig config = vector_config())
{
    ClientHandshake hs(std::move(config));
    EXPECT_TRUE(hs.client_hello().ok());
    return hs;
}

void expect_fails(ClientHandshake& hs, ByteView server_hello, Errc code, const std::string& words)
{
    Status s = hs.read_server_hello(server_hello);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, code) << s.error().detail;
    EXPECT_NE(s.error().detail.find(words), std::string::npos) << s.error().detail;
    // A failed handshake is over.
    auto finish = hs.client_finish(Bytes{1});
    ASSERT_FALSE(finish.ok());
    EXPECT_EQ(finish.error().code, Errc::wrong_state);
}

TEST(NoiseHandshake, ReproducesTheVectorByteForByte)
{
    ClientHandshake hs(vector_config());
    FrameWriter writer;

    auto hello = hs.client_hello();
    ASSERT_TRUE(hello.ok()) << hello.error().detail;
    Bytes wire;
    ASSERT_TRUE(writer.append_frame(*hello, wire).ok());
    EXPECT_EQ(to_hex(wire), test::vector_string(vec(), "wire_client_hello_frame"));

    Status read = hs.read_server_hello(test::vector_hex(vec(), "server_hello_msg"));
    ASSERT_TRUE(read.ok()) << read.error().detail;
    auto server_static = crypto::x25519_key_pair(test::vector_hex(vec(), "server_static_priv"));
    ASSERT_TRUE(hs.server_static().has_value());
    EXPECT_EQ(*hs.server_static(), server_static->public_key);
    ASSERT_TRUE(hs.server_chain().has_value());
    EXPECT_EQ(hs.server_chain()->leaf_serial, 8u);

    auto finish = hs.client_finish(test::vector_hex(vec(), "client_payload_plain"));
    ASSERT_TRUE(finish.ok()) << finish.error().detail;
    wire.clear();
    ASSERT_TRUE(writer.append_frame(*finish, wire).ok());
    EXPECT_EQ(to_hex(wire), test::vector_string(vec(), "wire_client_finish_frame"));

    auto keys = hs.transport_keys();
    ASSERT_TRUE(keys.ok()) << keys.error().detail;
    EXPECT_EQ(to_hex(keys->write), test::vector_string(vec(), "transport_client_write_key"));
    EXPECT_EQ(to_hex(keys->read), test::vector_string(vec(), "transport_client_read_key"));

    NoiseTransport transport(*keys);
    Bytes body;
    ASSERT_TRUE(transport.encrypt(*from_hex(first_node_hex), body).ok());
    wire.clear();
    ASSERT_TRUE(writer.append_frame(body, wire).ok());
    EXPECT_EQ(to_hex(wire), test::vector_string(vec(), "wire_first_transport_frame"));

    Bytes plain;
    Status dec = transport.decrypt(test::vector_hex(vec(), "server_frame_body"), plain);
    ASSERT_TRUE(dec.ok()) << dec.error().detail;
    EXPECT_EQ(to_hex(plain), success_node_hex);
    // flags 0 (not compressed), LIST_8 of 5 items, then the tag as
    // single-byte token 76: "success" in dictionary version 3.  Decoding
    // the rest is the binary layer's job.
    ASSERT_GE(plain.size(), 4u);
    EXPECT_EQ(plain[0], 0x00);
    EXPECT_EQ(plain[1], 0xf8);
    EXPECT_EQ(plain[3], 76);
    EXPECT_EQ(test::vector_string(vec(), "client_decoded_server_tag"), "success");
}

TEST(NoiseHandshake, SameKeysSameBytes)
{
    // No hidden randomness: two runs with one config agree.
    ClientHandshake a(vector_config()), b(vector_config());
    EXPECT_EQ(*a.client_hello(), *b.client_hello());
}

TEST(NoiseHandshake, WrongRootIsUntrusted)
{
    HandshakeConfig c = vector_config();
    c.cert_policy.root_key = whatsapp_root_key;  // the vector is signed by a test root
    ClientHandshake hs = started(c);
    expect_fails(hs, test::vector_hex(vec(), "server_hello_msg"), Errc::untrusted,
                 "not signed by the root");
}

TEST(NoiseHandshake, ExpiredChainIsRefused)
{
    HandshakeConfig c = vector_config();
    c.cert_policy.now = 4102444801;  // one second after the vector's notAfter
    ClientHandshake hs = started(c);
    expect_fails(hs, test::vector_hex(vec(), "server_hello_msg"), Errc::expired,
                 "expired at 4102444800");
}

TEST(NoiseHandshake, BadTagOnTheServerStatic)
{
    ClientHandshake hs = started();
    Bytes hello = edited_server_hello([](proto::HandshakeMessage& m) {
        std::string s = m.serverhello().static_();
        s[40] ^= 0x80;  // inside the GCM tag
        m.mutable_serverhello()->set_static_(s);
    });
    expect_fails(hs, hello, Errc::bad_mac, "server static key");
}

TEST(NoiseHandshake, BadTagOnTheCertificatePayload)
{
    ClientHandshake hs = started();
    Bytes hello = edited_server_hello([](proto::HandshakeMessage& m) {
        std::string p = m.serverhello().payload();
        p[3] ^= 0x01;  // ciphertext, caught by the tag
        m.mutable_serverhello()->set_payload(p);
    });
    expect_fails(hs, hello, Errc::bad_mac, "certificate chain");
}

TEST(NoiseHandshake, ServerHelloMissingFields)
{
    {
        ClientHandshake hs = started();
        expect_fails(
            hs, edited_server_hello([](auto& m) { m.mutable_serverhello()->clear_ephemeral(); }),
            Errc::malformed, "ephemeral is 0 bytes");
    }
    {
        ClientHandshake hs = started();
        expect_fails(hs,
                     edited_server_hello([](auto& m) { m.mutable_serverhello()->clear_static_(); }),
                     Errc::malformed, "static is 0 bytes");
    }
    {
        ClientHandshake hs = started();
        expect_fails(hs,
                     edited_server_hello([](auto& m) { m.mutable_serverhello()->clear_payload(); }),
                     Errc::malformed, "payload is 0 bytes");
    }
    {
        ClientHandshake hs = started();
        expect_fails(hs, edited_server_hello([](auto& m) {
                         m.clear_serverhello();
                         m.mutable_clienthello()->set_ephemeral(std::string(32, 'e'));
                     }),
                     Errc::malformed, "no serverHello");
    }
}

TEST(NoiseHandshake, TruncatedOrGarbageServerHello)
{
    const Bytes hello = test::vector_hex(vec(), "server_hello_msg");
    {
        ClientHandshake hs = started();
        expect_fails(hs, ByteView(hello).first(hello.size() - 10), Errc::malformed,
                     "HandshakeMessage");
    }
    {
        ClientHandshake hs = started();
        expect_fails(hs, Bytes{0xde, 0xad, 0xbe, 0xef}, Errc::malformed, "HandshakeMessage");
    }
}

TEST(NoiseHandshake, SmallOrderServerEphemeralIsRefused)
{
    ClientHandshake hs = started();
    Bytes hello = edited_server_hello(
        [](auto& m) { m.mutable_serverhello()->set_ephemeral(std::string(32, '\0')); });
    expect_fails(hs, hello, Errc::crypto_failure, "ee");
}

TEST(NoiseHandshake, StepsOutOfOrderAreWrongState)
{
    ClientHandshake hs(vector_config());
    Status early = hs.read_server_hello(test::vector_hex(vec(), "server_hello_msg"));
    ASSERT_FALSE(early.ok());
    EXPECT_EQ(early.error().code, Errc::wrong_state);
    EXPECT_EQ(hs.client_finish(Bytes{}).error().code, Errc::wrong_state);
    EXPECT_EQ(hs.transport_keys().error().code, Errc::wrong_state);

    // Out-of-order calls do not spoil the handshake.
    ASSERT_TRUE(hs.client_hello().ok());
    EXPECT_EQ(hs.client_hello().error().code, Errc::wrong_state);
    ASSERT_TRUE(hs.read_server_hello(test::vector_hex(vec(), "server_hello_msg")).ok());
    EXPECT_EQ(hs.transport_keys().error().code, Errc::wrong_state);
    ASSERT_TRUE(hs.client_finish(test::vector_hex(vec(), "client_payload_plain")).ok());
    EXPECT_TRUE(hs.transport_keys().ok());
}

}  // namespace
}  // namespace chatwoot::wa::noise
