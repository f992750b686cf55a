#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/noise/transport.hpp"

namespace chatwoot::wa::noise {
namespace {

TransportKeys client_keys()
{
    const auto& v = test::vector_section("noise");
    TransportKeys k;
    std::ranges::copy(test::vector_hex(v, "transport_client_write_key"), k.write.begin());
    std::ranges::copy(test::vector_hex(v, "transport_client_read_key"), k.read.begin());
    return k;
}

// The server's view: it reads what the client writes.
TransportKeys server_keys()
{
    TransportKeys k = client_keys();
    std::swap(k.write, k.read);
    return k;
}

TEST(NoiseTransport, DecryptsTheVectorServerFrame)
{
    NoiseTransport client(client_keys());
    Bytes plain;
    Status s =
        client.decrypt(test::vector_hex(test::vector_section("noise"), "server_frame_body"), plain);
    ASSERT_TRUE(s.ok()) << s.error().detail;
    EXPECT_EQ(to_hex(plain), "00f8054c1aff05170000000076faff88123456789012345f76");
    EXPECT_EQ(client.received(), 1u);
}

TEST(NoiseTransport, CountersAdvancePerDirection)
{
    NoiseTransport client(client_keys()), server(server_keys());
    std::vector<Bytes> frames(3);
    for (std::uint8_t i = 0; i < 3; ++i)
        ASSERT_TRUE(client.encrypt(Bytes{0, i, i, i}, frames[i]).ok());
    EXPECT_EQ(client.sent(), 3u);
    EXPECT_EQ(client.received(), 0u);
    // Equal plaintexts, distinct nonces: distinct ciphertexts.
    EXPECT_NE(frames[1], frames[2]);
    for (std::uint8_t i = 0; i < 3; ++i) {
        Bytes plain;
        ASSERT_TRUE(server.decrypt(frames[i], plain).ok());
        EXPECT_EQ(plain, (Bytes{0, i, i, i}));
    }
    // And back the other way, starting at counter 0.
    Bytes reply, plain;
    ASSERT_TRUE(server.encrypt(Bytes{0, 42}, reply).ok());
    ASSERT_TRUE(client.decrypt(reply, plain).ok());
    EXPECT_EQ(plain, (Bytes{0, 42}));
}

TEST(NoiseTransport, EncryptAppendsAndDecryptReplaces)
{
    NoiseTransport client(client_keys()), server(server_keys());
    Bytes out{0xee};
    ASSERT_TRUE(client.encrypt(Bytes{1, 2, 3}, out).ok());
    ASSERT_EQ(out.size(), 1u + 3u + 16u);
    EXPECT_EQ(out[0], 0xee);
    Bytes plain{9, 9, 9, 9, 9, 9, 9};
    ASSERT_TRUE(server.decrypt(ByteView(out).subspan(1), plain).ok());
    EXPECT_EQ(plain, (Bytes{1, 2, 3}));
}

TEST(NoiseTransport, BadTagKillsTheSession)
{
    NoiseTransport client(client_keys()), server(server_keys());
    Bytes frame;
    ASSERT_TRUE(client.encrypt(Bytes{0, 1, 2}, frame).ok());
    frame.back() ^= 0x01;
    Bytes plain;
    Status bad = server.decrypt(frame, plain);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::bad_mac);
    EXPECT_TRUE(server.dead());
    EXPECT_EQ(server.received(), 0u);

    frame.back() ^= 0x01;  // even the genuine frame is refused now
    Status after = server.decrypt(frame, plain);
    ASSERT_FALSE(after.ok());
    EXPECT_EQ(after.error().code, Errc::wrong_state);
    Bytes out;
    EXPECT_EQ(server.encrypt(Bytes{0}, out).error().code, Errc::wrong_state);
    EXPECT_TRUE(out.empty());
}

TEST(NoiseTransport, OutOfOrderFrameFailsAuthentication)
{
    NoiseTransport client(client_keys()), server(server_keys());
    Bytes first, second, plain;
    ASSERT_TRUE(client.encrypt(Bytes{0, 1}, first).ok());
    ASSERT_TRUE(client.encrypt(Bytes{0, 2}, second).ok());
    Status s = server.decrypt(second, plain);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::bad_mac);
}

TEST(NoiseTransport, TruncatedFrameKillsTheSession)
{
    NoiseTransport server(server_keys());
    Bytes plain;
    Status s = server.decrypt(Bytes(15, 0), plain);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::truncated);
    EXPECT_TRUE(server.dead());
}

TEST(NoiseTransport, WrongKeyIsBadMac)
{
    NoiseTransport client(client_keys());
    NoiseTransport other(client_keys());  // a second client: it reads with the read key
    Bytes frame, plain;
    ASSERT_TRUE(client.encrypt(Bytes{0, 7}, frame).ok());
    Status s = other.decrypt(frame, plain);  // the client's read key is not the write key
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::bad_mac);
}

}  // namespace
}  // namespace chatwoot::wa::noise
