#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "wa/transport/websocket_session.hpp"

namespace chatwoot::wa::transport {
namespace {

// What one end received, in order.
struct Received {
    std::vector<Bytes> binaries;
    std::vector<std::string> texts;
    std::vector<Bytes> pongs;
    std::vector<CloseInfo> closes;
};

WebSocketCallbacks recording(Received& r)
{
    WebSocketCallbacks c;
    c.on_binary = [&r](ByteView m) { r.binaries.emplace_back(m.begin(), m.end()); };
    c.on_text = [&r](std::string_view m) { r.texts.emplace_back(m); };
    c.on_pong = [&r](ByteView m) { r.pongs.emplace_back(m.begin(), m.end()); };
    c.on_close = [&r](const CloseInfo& i) { r.closes.push_back(i); };
    return c;
}

Bytes pattern(std::size_t n)
{
    Bytes b(n);
    for (std::size_t i = 0; i < n; i++) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
    return b;
}

// Moves each end's output to the other until neither has any; `chunk`
// bytes at a time (0: all at once).  Fails the test on a receive error.
void pump(WebSocketSession& a, WebSocketSession& b, std::size_t chunk = 0)
{
    for (int round = 0; round < 1000 && (a.has_output() || b.has_output()); round++) {
        for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
            while (from->has_output()) {
                ByteView out = from->output();
                const std::size_t n = chunk == 0 ? out.size() : std::min(chunk, out.size());
                Bytes piece(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
                from->consume(n);
                Status st = to->receive(piece);
                ASSERT_TRUE(st.ok()) << st.error().detail;
            }
        }
    }
}

struct Pair {
    Received client_got;
    Received server_got;
    WebSocketSession client;
    WebSocketSession server;

    explicit Pair(WebSocketLimits limits = {})
        : client(WebSocketSession::client(crypto::seeded_random(as_bytes("masks")),
                                          recording(client_got), limits)
                     .value()),
          server(WebSocketSession::server(recording(server_got), limits).value())
    {
    }
};

TEST(WebSocketSession, BinaryMessagesBothWays)
{
    Pair p;
    const Bytes big = pattern(100000);
    ASSERT_TRUE(p.client.send_binary(pattern(5)).ok());
    ASSERT_TRUE(p.client.send_binary(big).ok());
    ASSERT_TRUE(p.client.send_binary(Bytes{}).ok());
    ASSERT_TRUE(p.server.send_binary(pattern(300)).ok());
    pump(p.client, p.server);
    ASSERT_EQ(p.server_got.binaries.size(), 3u);
    EXPECT_EQ(p.server_got.binaries[0], pattern(5));
    EXPECT_EQ(p.server_got.binaries[1], big);
    EXPECT_TRUE(p.server_got.binaries[2].empty());
    ASSERT_EQ(p.client_got.binaries.size(), 1u);
    EXPECT_EQ(p.client_got.binaries[0], pattern(300));
    EXPECT_TRUE(p.client_got.closes.empty());
}

TEST(WebSocketSession, TextMessages)
{
    Pair p;
    ASSERT_TRUE(p.server.send_text("héllo").ok());
    pump(p.client, p.server);
    ASSERT_EQ(p.client_got.texts.size(), 1u);
    EXPECT_EQ(p.client_got.texts[0], "héllo");
}

TEST(WebSocketSession, ClientMasksWithTheInjectedBytesServerDoesNot)
{
    Received got;
    auto client = WebSocketSession::client(crypto::replay_random(Bytes{1, 2, 3, 4}),
                                           recording(got));
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(client->send_binary(as_bytes("hi")).ok());
    // FIN + binary, mask bit + length 2, the mask, "hi" XOR the mask.
    EXPECT_EQ(to_hex(client->output()), "828201020304696b");

    auto server = WebSocketSession::server(recording(got));
    ASSERT_TRUE(server.ok());
    ASSERT_TRUE(server->send_binary(as_bytes("hi")).ok());
    EXPECT_EQ(to_hex(server->output()), "82026869");
}

TEST(WebSocketSession, MaskRandomnessFailureIsAnError)
{
    Received got;
    auto client = WebSocketSession::client(crypto::replay_random(Bytes{1, 2, 3, 4}),
                                           recording(got));
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(client->send_binary(as_bytes("one")).ok());
    Status st = client->send_binary(as_bytes("two"));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::crypto_failure);
    // The connection is unusable from then on.
    EXPECT_FALSE(client->ping().ok());
}

TEST(WebSocketSession, FragmentedMessagesAreJoined)
{
    Pair p;
    const Bytes message = pattern(10000);
    ASSERT_TRUE(p.server.send_binary(message, 1000).ok());
    // On the wire: a first frame without FIN (opcode 2), 1000 bytes long
    // (126 = 16-bit length follows).
    ByteView wire = p.server.output();
    ASSERT_GE(wire.size(), 4u);
    EXPECT_EQ(wire[0], 0x02);
    EXPECT_EQ(wire[1], 126);
    EXPECT_EQ((wire[2] << 8) | wire[3], 1000);
    EXPECT_EQ(wire.size(), 10000u + 10 * 4);  // ten frames of 1000 with 4-byte headers

    ASSERT_TRUE(p.client.send_binary(message, 4096).ok());
    pump(p.client, p.server);
    ASSERT_EQ(p.client_got.binaries.size(), 1u);
    EXPECT_EQ(p.client_got.binaries[0], message);
    ASSERT_EQ(p.server_got.binaries.size(), 1u);
    EXPECT_EQ(p.server_got.binaries[0], message);
}

TEST(WebSocketSession, BytesCutAnywhere)
{
    Pair p;
    ASSERT_TRUE(p.server.send_binary(pattern(70000)).ok());  // 64-bit length form
    ASSERT_TRUE(p.server.send_binary(pattern(200), 50).ok());
    ASSERT_TRUE(p.server.ping(as_bytes("k")).ok());
    ASSERT_TRUE(p.server.send_binary(pattern(3)).ok());
    pump(p.client, p.server, 1);
    ASSERT_EQ(p.client_got.binaries.size(), 3u);
    EXPECT_EQ(p.client_got.binaries[0], pattern(70000));
    EXPECT_EQ(p.client_got.binaries[1], pattern(200));
    EXPECT_EQ(p.client_got.binaries[2], pattern(3));
    // The client answered the ping by itself.
    ASSERT_EQ(p.server_got.pongs.size(), 1u);
    EXPECT_EQ(p.server_got.pongs[0], Bytes{'k'});
}

TEST(WebSocketSession, EveryCutOfAFrameGivesTheSameMessage)
{
    auto server = WebSocketSession::server({}).value();
    ASSERT_TRUE(server.send_binary(pattern(300), 100).ok());
    const Bytes wire(server.output().begin(), server.output().end());
    for (std::size_t cut = 0; cut <= wire.size(); cut++) {
        Received got;
        auto client = WebSocketSession::client(crypto::seeded_random(as_bytes("m")),
                                               recording(got))
                          .value();
        ASSERT_TRUE(client.receive(ByteView(wire).first(cut)).ok());
        ASSERT_TRUE(client.receive(ByteView(wire).subspan(cut)).ok());
        ASSERT_EQ(got.binaries.size(), 1u) << "cut at " << cut;
        EXPECT_EQ(got.binaries[0], pattern(300));
    }
}

TEST(WebSocketSession, PingIsAnsweredWithItsPayload)
{
    Pair p;
    ASSERT_TRUE(p.client.ping(as_bytes("abc")).ok());
    pump(p.client, p.server);
    ASSERT_EQ(p.client_got.pongs.size(), 1u);
    EXPECT_EQ(p.client_got.pongs[0], (Bytes{'a', 'b', 'c'}));
    EXPECT_FALSE(p.client.ping(Bytes(126, 0)).ok());
}

TEST(WebSocketSession, ClosingHandshakeFromTheClient)
{
    Pair p;
    ASSERT_TRUE(p.client.close(1000, "bye").ok());
    EXPECT_TRUE(p.client.close_sent());
    EXPECT_FALSE(p.client.finished());  // waits for the server's close
    Status late = p.client.send_binary(as_bytes("late"));
    ASSERT_FALSE(late.ok());
    EXPECT_EQ(late.error().code, Errc::wrong_state);
    pump(p.client, p.server);
    ASSERT_EQ(p.server_got.closes.size(), 1u);
    EXPECT_EQ(p.server_got.closes[0].code, 1000);
    EXPECT_EQ(p.server_got.closes[0].reason, "bye");
    ASSERT_EQ(p.client_got.closes.size(), 1u);
    EXPECT_EQ(p.client_got.closes[0].code, 1000);  // wslay echoes the code
    EXPECT_TRUE(p.client.finished());
    EXPECT_TRUE(p.server.finished());
    EXPECT_FALSE(p.server.send_binary(as_bytes("x")).ok());
    // Bytes after the close are ignored.
    EXPECT_TRUE(p.client.receive(as_bytes("\x82\x01x")).ok());
    EXPECT_TRUE(p.client_got.binaries.empty());
}

TEST(WebSocketSession, ClosingHandshakeFromTheServer)
{
    Pair p;
    ASSERT_TRUE(p.server.close(4000, "go away").ok());
    pump(p.client, p.server);
    ASSERT_EQ(p.client_got.closes.size(), 1u);
    EXPECT_EQ(p.client_got.closes[0].code, 4000);
    EXPECT_EQ(p.client_got.closes[0].reason, "go away");
    EXPECT_TRUE(p.client.finished());
    EXPECT_FALSE(p.client.close(1000).ok());
    EXPECT_FALSE(p.server.close(1005).ok());  // reserved, never sent
}

TEST(WebSocketSession, CallbackMaySendFromInsideReceive)
{
    Received client_got;
    WebSocketSession* server_ptr = nullptr;
    WebSocketCallbacks echo;
    echo.on_binary = [&server_ptr](ByteView m) {
        ASSERT_TRUE(server_ptr->send_binary(m).ok());
    };
    auto server = WebSocketSession::server(echo).value();
    server_ptr = &server;
    auto client = WebSocketSession::client(crypto::seeded_random(as_bytes("e")),
                                           recording(client_got))
                      .value();
    ASSERT_TRUE(client.send_binary(pattern(10)).ok());
    ASSERT_TRUE(client.send_binary(pattern(20)).ok());
    pump(client, server);
    ASSERT_EQ(client_got.binaries.size(), 2u);
    EXPECT_EQ(client_got.binaries[1], pattern(20));
}

TEST(WebSocketSession, ThrowingCallbackFailsTheConnectionWith1011)
{
    WebSocketCallbacks c;
    c.on_binary = [](ByteView) { throw std::runtime_error("handler broke"); };
    auto client = WebSocketSession::client(crypto::seeded_random(as_bytes("t")), c).value();
    auto server = WebSocketSession::server({}).value();
    ASSERT_TRUE(server.send_binary(pattern(4)).ok());
    ASSERT_TRUE(server.send_binary(pattern(4)).ok());
    Status st = client.receive(server.output());
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().detail.find("handler broke"), std::string::npos);
    EXPECT_EQ(client.close_code_sent(), 1011);
    EXPECT_TRUE(client.has_output());
}

// Received bytes that break RFC 6455 (built by hand: wslay never sends
// them).  Each gives an error, a close frame with the matching code in the
// output, and an end that can be closed.
TEST(WebSocketSession, ProtocolViolationsFailWithACloseCode)
{
    struct Case {
        const char* name;
        Bytes wire;
        std::uint16_t code;
        Errc errc;
    };
    const std::vector<Case> cases = {
        {"reserved opcode", {0x83, 0x00}, 1002, Errc::malformed},
        {"reserved bit", {0xc2, 0x01, 'x'}, 1002, Errc::malformed},
        {"masked frame from a server", {0x82, 0x81, 1, 2, 3, 4, 'x'}, 1002, Errc::malformed},
        {"continuation without a start", {0x80, 0x01, 'x'}, 1002, Errc::malformed},
        // Errors wslay's frame parser finds itself: it answers with a close
        // frame without a status code.
        {"fragmented ping", {0x09, 0x00}, 1005, Errc::malformed},
        {"ping over 125 bytes", {0x89, 0x7e, 0x00, 0x7e}, 1005, Errc::malformed},
        {"bad UTF-8 text", {0x81, 0x02, 0xc3, 0x28}, 1007, Errc::malformed},
        {"close code 1005 on the wire", {0x88, 0x02, 0x03, 0xed}, 1002, Errc::malformed},
        {"over the message limit", {0x82, 0x7e, 0x04, 0x00, 0x00}, 1009, Errc::too_large},
    };
    for (const Case& c : cases) {
        Received got;
        WebSocketLimits limits;
        limits.max_message = 1000;
        auto client =
            WebSocketSession::client(crypto::seeded_random(as_bytes("v")), recording(got), limits)
                .value();
        Status st = client.receive(c.wire);
        ASSERT_FALSE(st.ok()) << c.name;
        EXPECT_EQ(st.error().code, c.errc) << c.name;
        EXPECT_EQ(client.close_code_sent(), c.code) << c.name;
        EXPECT_FALSE(client.can_read()) << c.name;
        // The output is our close frame: FIN + close, masked, with the
        // 2-byte code (or without one: 1005).
        ByteView out = client.output();
        const std::size_t payload = c.code == 1005 ? 0 : 2;
        ASSERT_EQ(out.size(), 6u + payload) << c.name;
        EXPECT_EQ(out[0], 0x88);
        EXPECT_EQ(out[1], 0x80 | payload);
        EXPECT_FALSE(client.finished());
        client.consume(out.size());
        EXPECT_TRUE(client.finished()) << c.name;
        // Sticky: the same error again, nothing delivered.
        Status again = client.receive(as_bytes("\x82\x01x"));
        ASSERT_FALSE(again.ok());
        EXPECT_EQ(again.error().detail, st.error().detail);
        EXPECT_TRUE(got.binaries.empty());
        EXPECT_TRUE(got.texts.empty());
    }
}

TEST(WebSocketSession, UnmaskedFrameFromAClientFailsTheServer)
{
    auto server = WebSocketSession::server({}).value();
    Status st = server.receive(Bytes{0x82, 0x01, 'x'});
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(server.close_code_sent(), 1002);
}

TEST(WebSocketSession, SeededGarbageNeverCrashes)
{
    auto random = crypto::seeded_random(as_bytes("junk"));
    int failed = 0;
    for (int round = 0; round < 2000; round++) {
        Bytes junk(1 + round % 300);
        ASSERT_TRUE(random(junk).ok());
        Received got;
        WebSocketLimits limits;
        limits.max_message = 4096;
        auto client =
            WebSocketSession::client(crypto::seeded_random(as_bytes("g")), recording(got), limits)
                .value();
        Status st = client.receive(junk);
        if (!st.ok()) {
            failed++;
            // An error always leaves a close frame to send, or the close
            // already answered.
            EXPECT_TRUE(client.has_output() || client.close_sent());
        }
    }
    EXPECT_GT(failed, 1000);  // most random bytes break the protocol
}

}  // namespace
}  // namespace chatwoot::wa::transport
