#include <gtest/gtest.h>

#include <string>

#include "wa/transport/websocket_handshake.hpp"

namespace chatwoot::wa::transport {
namespace {

// RFC 6455 section 1.3: the sample nonce, its key and the server's accept.
constexpr std::string_view rfc_nonce = "the sample nonce";
constexpr std::string_view rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view rfc_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

WebSocketUrl whatsapp_url()
{
    return parse_websocket_url("wss://web.whatsapp.com/ws/chat").value();
}

ClientHandshake rfc_handshake(HandshakeOptions options = {})
{
    auto random = crypto::replay_random(Bytes(rfc_nonce.begin(), rfc_nonce.end()));
    auto hs = ClientHandshake::start(whatsapp_url(), options, random);
    EXPECT_TRUE(hs.ok()) << (hs.ok() ? "" : hs.error().detail);
    return std::move(hs).value();
}

std::string answer(std::string_view headers)
{
    return std::string("HTTP/1.1 101 Switching Protocols\r\n") + std::string(headers) + "\r\n";
}

const std::string good_answer = answer(
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");

struct Outcome {
    bool complete = false;
    bool failed = false;
    HandshakeFailure failure = HandshakeFailure::none;
    int status = 0;
    std::size_t consumed_total = 0;
    std::string detail;
};

// Feeds `bytes` cut at the given points; stops at completion or failure.
Outcome feed_cut(std::string_view bytes, std::vector<std::size_t> cuts, HandshakeOptions o = {})
{
    ClientHandshake hs = rfc_handshake(o);
    Outcome out;
    cuts.push_back(bytes.size());
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        auto step = hs.feed(as_bytes(bytes.substr(from, cut - from)));
        if (!step) {
            out.failed = true;
            out.detail = step.error().detail;
            break;
        }
        out.consumed_total += step->consumed;
        if (step->complete) {
            out.complete = true;
            break;
        }
        from = cut;
    }
    out.failure = hs.failure();
    out.status = hs.http_status();
    return out;
}

Outcome feed_whole(std::string_view bytes, HandshakeOptions o = {})
{
    return feed_cut(bytes, {}, o);
}

// The same outcome for one piece, for every cut into two pieces, and for
// one byte at a time.
void expect_same_however_cut(std::string_view bytes, const Outcome& want)
{
    for (std::size_t i = 0; i <= bytes.size(); i++) {
        Outcome got = feed_cut(bytes, {i});
        EXPECT_EQ(got.complete, want.complete) << "cut at " << i;
        EXPECT_EQ(got.failure, want.failure) << "cut at " << i;
        EXPECT_EQ(got.status, want.status) << "cut at " << i;
        if (want.complete) {
            EXPECT_EQ(got.consumed_total, want.consumed_total) << "cut at " << i;
        }
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < bytes.size(); i++) every.push_back(i);
    Outcome got = feed_cut(bytes, every);
    EXPECT_EQ(got.complete, want.complete);
    EXPECT_EQ(got.failure, want.failure);
    EXPECT_EQ(got.status, want.status);
}

TEST(WebSocketHandshake, AcceptOfRfc6455Example)
{
    EXPECT_EQ(websocket_accept(rfc_key), rfc_accept);
}

TEST(WebSocketHandshake, KeyIsTheInjectedNonceInBase64)
{
    EXPECT_EQ(rfc_handshake().key(), rfc_key);
}

TEST(WebSocketHandshake, RequestBytes)
{
    HandshakeOptions o;
    o.extra_headers = {{"Cache-Control", "no-cache"}, {"Pragma", "no-cache"}};
    EXPECT_EQ(rfc_handshake(o).request(),
              "GET /ws/chat HTTP/1.1\r\n"
              "Host: web.whatsapp.com\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n"
              "Origin: https://web.whatsapp.com\r\n"
              "Cache-Control: no-cache\r\n"
              "Pragma: no-cache\r\n"
              "\r\n");
}

TEST(WebSocketHandshake, RequestForAPortAndNoOrigin)
{
    auto url = parse_websocket_url("ws://127.0.0.1:8081/ws/chat?ED=x").value();
    HandshakeOptions o;
    o.origin.clear();
    auto hs = ClientHandshake::start(url, o, crypto::replay_random(Bytes(16, 0)));
    ASSERT_TRUE(hs.ok());
    EXPECT_EQ(hs->request(),
              "GET /ws/chat?ED=x HTTP/1.1\r\n"
              "Host: 127.0.0.1:8081\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"
              "Sec-WebSocket-Version: 13\r\n"
              "\r\n");
}

TEST(WebSocketHandshake, RefusesBadExtraHeaders)
{
    auto url = whatsapp_url();
    auto random = crypto::seeded_random(as_bytes("k"));
    for (auto header : std::vector<std::pair<std::string, std::string>>{
             {"X-Injected", "a\r\nHost: evil"},
             {"Bad Name", "v"},
             {"", "v"},
             {"Host", "other"},
             {"sec-websocket-protocol", "chat"},
             {"Sec-WebSocket-Extensions", "permessage-deflate"},
             {"Connection", "close"},
             {"Origin", "https://elsewhere"},
         }) {
        HandshakeOptions o;
        o.extra_headers = {header};
        EXPECT_FALSE(ClientHandshake::start(url, o, random).ok()) << header.first;
    }
    HandshakeOptions o;
    o.origin = "https://x\r\nY: z";
    EXPECT_FALSE(ClientHandshake::start(url, o, random).ok());
}

TEST(WebSocketHandshake, FailsWhenRandomnessFails)
{
    auto hs = ClientHandshake::start(whatsapp_url(), {}, crypto::replay_random(Bytes(15, 1)));
    ASSERT_FALSE(hs.ok());
    EXPECT_EQ(hs.error().code, Errc::crypto_failure);
}

TEST(WebSocketHandshake, CompletesAndLeavesTheFramesThatFollow)
{
    const std::string frames = "\x82\x02hi";
    const std::string bytes = good_answer + frames;
    ClientHandshake hs = rfc_handshake();
    auto step = hs.feed(as_bytes(bytes));
    ASSERT_TRUE(step.ok()) << step.error().detail;
    EXPECT_TRUE(step->complete);
    EXPECT_EQ(step->consumed, good_answer.size());
    EXPECT_TRUE(hs.complete());
    EXPECT_EQ(hs.http_status(), 101);
    EXPECT_EQ(hs.failure(), HandshakeFailure::none);
    auto again = hs.feed(as_bytes("x"));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::wrong_state);
}

TEST(WebSocketHandshake, SameResultHoweverTheAnswerIsCut)
{
    Outcome want;
    want.complete = true;
    want.status = 101;
    want.consumed_total = good_answer.size();
    expect_same_however_cut(good_answer, want);
}

TEST(WebSocketHandshake, HeaderNamesAndTokensAreCaseInsensitive)
{
    Outcome o = feed_whole(answer(
        "upgrade: WebSocket\r\nCONNECTION: keep-alive, Upgrade\r\n"
        "sec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\nServer: test\r\n"));
    EXPECT_TRUE(o.complete) << o.detail;
    // Connection given twice: one of them holds the token.
    o = feed_whole(answer("Upgrade: websocket\r\nConnection: keep-alive\r\nConnection: upgrade\r\n"
                          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    EXPECT_TRUE(o.complete) << o.detail;
}

TEST(WebSocketHandshake, NonSwitchingStatusIsNamed)
{
    const std::string bytes = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    Outcome o = feed_whole(bytes);
    EXPECT_TRUE(o.failed);
    EXPECT_EQ(o.failure, HandshakeFailure::not_switching);
    EXPECT_EQ(o.status, 403);
    EXPECT_NE(o.detail.find("403 Forbidden"), std::string::npos) << o.detail;
    Outcome want{false, true, HandshakeFailure::not_switching, 403, 0, {}};
    expect_same_however_cut(bytes, want);

    // Known from the status line alone: no need to wait for the headers.
    ClientHandshake hs = rfc_handshake();
    auto step = hs.feed(as_bytes("HTTP/1.1 200 OK\r\n"));
    ASSERT_FALSE(step.ok());
    EXPECT_EQ(step.error().code, Errc::unsupported);
    EXPECT_EQ(hs.http_status(), 200);
}

TEST(WebSocketHandshake, AcceptMissingWrongOrRepeated)
{
    struct Case {
        const char* headers;
        HandshakeFailure want;
    };
    for (const Case& c : {
             Case{"Upgrade: websocket\r\nConnection: Upgrade\r\n",
                  HandshakeFailure::missing_accept},
             Case{"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                  HandshakeFailure::missing_accept},
             Case{"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n",
                  HandshakeFailure::wrong_accept},
             Case{"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: S3PPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                  HandshakeFailure::wrong_accept},
             Case{"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                  HandshakeFailure::bad_upgrade},
             Case{"Upgrade: h2c\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                  HandshakeFailure::bad_upgrade},
             Case{"Upgrade: websocket\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                  HandshakeFailure::bad_upgrade},
             Case{"Upgrade: websocket\r\nConnection: keep-alive\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                  HandshakeFailure::bad_connection},
             Case{"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                  "Sec-WebSocket-Extensions: permessage-deflate\r\n",
                  HandshakeFailure::unrequested_extension},
             Case{"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                  "Sec-WebSocket-Protocol: chat\r\n",
                  HandshakeFailure::unrequested_protocol},
         }) {
        const std::string bytes = answer(c.headers);
        Outcome o = feed_whole(bytes);
        EXPECT_TRUE(o.failed) << c.headers;
        EXPECT_EQ(o.failure, c.want) << c.headers << " -> " << handshake_failure_name(o.failure);
        EXPECT_EQ(o.status, 101);
        expect_same_however_cut(bytes, o);
    }
}

TEST(WebSocketHandshake, WrongAcceptIsAVerificationFailure)
{
    Outcome o = feed_whole(answer("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                  "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"));
    EXPECT_EQ(o.failure, HandshakeFailure::wrong_accept);
    ClientHandshake hs = rfc_handshake();
    auto step = hs.feed(as_bytes(answer("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                        "Sec-WebSocket-Accept: x\r\n")));
    ASSERT_FALSE(step.ok());
    EXPECT_EQ(step.error().code, Errc::bad_mac);
}

TEST(WebSocketHandshake, GarbageIsRefusedEarly)
{
    // A TLS alert, as a plain-text client gets from a TLS port: refused at
    // the first byte.
    ClientHandshake hs = rfc_handshake();
    auto step = hs.feed(as_bytes(std::string_view("\x15\x03\x01\x00\x02\x02\x46", 7)));
    ASSERT_FALSE(step.ok());
    EXPECT_EQ(hs.failure(), HandshakeFailure::not_http);
    EXPECT_EQ(step.error().code, Errc::malformed);
    // The same error again, and no more parsing.
    auto again = hs.feed(as_bytes(good_answer));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().detail, step.error().detail);

    for (const char* bad : {"SSH-2.0-OpenSSH_9.2\r\n", "HTTP/1.0 101 Switching\r\n\r\n",
                            "http/1.1 101 x\r\n\r\n", "H\r\n"}) {
        Outcome o = feed_whole(bad);
        EXPECT_TRUE(o.failed) << bad;
        EXPECT_EQ(o.failure, HandshakeFailure::not_http) << bad;
    }
}

TEST(WebSocketHandshake, BadStatusLinesAndHeaderLines)
{
    struct Case {
        std::string bytes;
        HandshakeFailure want;
    };
    const std::string ok_headers = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    for (const Case& c : {
             Case{"HTTP/1.1 101\r\n" + ok_headers + "\r\n", HandshakeFailure::bad_status_line},
             Case{"HTTP/1.1 1O1 Switching\r\n\r\n", HandshakeFailure::bad_status_line},
             Case{"HTTP/1.1  101 Switching\r\n\r\n", HandshakeFailure::bad_status_line},
             Case{"HTTP/1.1 101 Switch\x01ing\r\n\r\n", HandshakeFailure::bad_status_line},
             Case{"HTTP/1.1 101 Switching\n" + ok_headers + "\r\n",
                  HandshakeFailure::bad_status_line},
             Case{"HTTP/1.1 101 Switching\r\nUpgrade: websocket\n\r\n",
                  HandshakeFailure::bad_header},
             Case{"HTTP/1.1 101 Switching\r\n" + ok_headers + " folded\r\n\r\n",
                  HandshakeFailure::bad_header},
             Case{"HTTP/1.1 101 Switching\r\n" + ok_headers + "NoColon\r\n\r\n",
                  HandshakeFailure::bad_header},
             Case{"HTTP/1.1 101 Switching\r\n" + ok_headers + "Space : x\r\n\r\n",
                  HandshakeFailure::bad_header},
             Case{"HTTP/1.1 101 Switching\r\n" + ok_headers + "X: a\rb\r\n\r\n",
                  HandshakeFailure::bad_header},
             Case{"HTTP/1.1 101 Switching\r\n" + ok_headers + ": empty name\r\n\r\n",
                  HandshakeFailure::bad_header},
         }) {
        Outcome o = feed_whole(c.bytes);
        EXPECT_TRUE(o.failed) << c.bytes;
        EXPECT_EQ(o.failure, c.want) << c.bytes << " -> " << handshake_failure_name(o.failure);
        expect_same_however_cut(c.bytes, o);
    }
}

TEST(WebSocketHandshake, HeadIsBounded)
{
    HandshakeOptions small;
    small.max_response_head = 256;
    // Exactly at the bound: accepted.
    std::string filler_line = "X-Filler: ";
    const std::size_t room = small.max_response_head - good_answer.size() - 2;
    filler_line += std::string(room - filler_line.size(), 'a');
    filler_line += "\r\n";
    const std::string at_limit = good_answer.substr(0, good_answer.size() - 2) + filler_line + "\r\n";
    ASSERT_EQ(at_limit.size(), small.max_response_head);
    Outcome o = feed_whole(at_limit + "trailing frame bytes", small);
    EXPECT_TRUE(o.complete) << o.detail;
    EXPECT_EQ(o.consumed_total, at_limit.size());

    // One byte over: refused, without keeping more than the bound.
    const std::string over = good_answer.substr(0, good_answer.size() - 2) + "X-Filler: " +
                             std::string(room - 10 + 1, 'a') + "\r\n\r\n";
    o = feed_whole(over, small);
    EXPECT_TRUE(o.failed);
    EXPECT_EQ(o.failure, HandshakeFailure::too_large);

    // A server that never ends its head, with the default bound.
    ClientHandshake hs = rfc_handshake();
    auto step = hs.feed(as_bytes("HTTP/1.1 101 Switching Protocols\r\n"));
    ASSERT_TRUE(step.ok());
    const std::string endless(1024, 'a');
    Result<ClientHandshake::Step> last = step;
    for (int i = 0; i < 64 && last.ok(); i++) last = hs.feed(as_bytes(endless));
    ASSERT_FALSE(last.ok());
    EXPECT_EQ(last.error().code, Errc::too_large);
    EXPECT_EQ(hs.failure(), HandshakeFailure::too_large);
}

TEST(WebSocketHandshake, SeededGarbageNeverCompletes)
{
    auto random = crypto::seeded_random(as_bytes("garbage"));
    for (int round = 0; round < 500; round++) {
        Bytes junk(1 + round % 97);
        ASSERT_TRUE(random(junk).ok());
        ClientHandshake hs = rfc_handshake();
        auto step = hs.feed(junk);
        EXPECT_FALSE(step.ok() && step->complete);
    }
}

}  // namespace
}  // namespace chatwoot::wa::transport
