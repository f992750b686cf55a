#include <gtest/gtest.h>

#include "wa/transport/websocket_url.hpp"

namespace chatwoot::wa::transport {
namespace {

TEST(WebSocketUrl, WhatsAppsDefault)
{
    auto u = parse_websocket_url("wss://web.whatsapp.com/ws/chat");
    ASSERT_TRUE(u.ok()) << u.error().detail;
    EXPECT_TRUE(u->tls);
    EXPECT_EQ(u->host, "web.whatsapp.com");
    EXPECT_EQ(u->port, 443);
    EXPECT_EQ(u->resource, "/ws/chat");
    EXPECT_EQ(u->host_header(), "web.whatsapp.com");
    EXPECT_EQ(u->connect_url(), "https://web.whatsapp.com:443/ws/chat");
}

TEST(WebSocketUrl, PlainWithPortAndQuery)
{
    auto u = parse_websocket_url("WS://127.0.0.1:8081/ws/chat?ED=abc_-");
    ASSERT_TRUE(u.ok()) << u.error().detail;
    EXPECT_FALSE(u->tls);
    EXPECT_EQ(u->host, "127.0.0.1");
    EXPECT_EQ(u->port, 8081);
    EXPECT_EQ(u->resource, "/ws/chat?ED=abc_-");
    EXPECT_EQ(u->host_header(), "127.0.0.1:8081");
    EXPECT_EQ(u->connect_url(), "http://127.0.0.1:8081/ws/chat?ED=abc_-");
}

TEST(WebSocketUrl, DefaultPortIsLeftOutOfHost)
{
    auto u = parse_websocket_url("ws://localhost:80");
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(u->resource, "/");
    EXPECT_EQ(u->host_header(), "localhost");
    auto q = parse_websocket_url("wss://example.org?x=1");
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q->resource, "/?x=1");
}

TEST(WebSocketUrl, BracketedIpv6)
{
    auto u = parse_websocket_url("ws://[::1]:9000/chat");
    ASSERT_TRUE(u.ok()) << u.error().detail;
    EXPECT_EQ(u->host, "[::1]");
    EXPECT_EQ(u->port, 9000);
    EXPECT_EQ(u->host_header(), "[::1]:9000");
    EXPECT_EQ(u->connect_url(), "http://[::1]:9000/chat");
}

TEST(WebSocketUrl, RefusesWhatIsNoWebSocketUrl)
{
    for (const char* bad : {"https://web.whatsapp.com/ws/chat", "wss://", "wss:///path",
                            "wss://host:/x", "wss://host:0/", "wss://host:65536/",
                            "wss://host:12a/", "wss://host:123456/", "wss://user:pw@host/",
                            "wss://host/path#frag", "wss://ho st/", "wss://host/pa th",
                            "wss://host/\x01", "wss://[::1/", "wss://[zz]/", "wss://[::1]x/",
                            "wss://[::1]:/", "wss://host\r\nX: y/", ""}) {
        auto u = parse_websocket_url(bad);
        EXPECT_FALSE(u.ok()) << "accepted " << bad;
    }
}

}  // namespace
}  // namespace chatwoot::wa::transport
