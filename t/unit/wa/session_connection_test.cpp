// The connection state machine against a scripted server: handshake,
// registration and login payloads, <success>, keepalive, stream errors,
// acks, and hostile bytes.
#include <gtest/gtest.h>

#include <string>

#include "session_scripted_server.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/binary/payload.hpp"
#include "wa/crypto/random.hpp"
#include "wa/session/connection.hpp"

namespace chatwoot::wa::session {
namespace {

using binary::Node;
using test::ScriptedServer;
using test::server_node;

constexpr std::int64_t unix_now = 1800000000;

DeviceCredentials credentials(bool paired)
{
    auto c = generate_credentials(crypto::seeded_random(as_bytes("device")));
    EXPECT_TRUE(c.ok());
    if (paired) {
        c->jid = binary::Jid::parse("5511999990000:7@s.whatsapp.net");
        c->lid = binary::Jid::parse("123456789012345:7@lid");
    }
    return *c;
}

// A client, a server and a clock, wired by hand so each test says what
// crosses the wire.
struct Harness {
    ScriptedServer server;
    MemorySessionStore store;
    ConnectionConfig config;
    std::optional<Connection> conn;
    Millis now = 1000;
    std::vector<Event> events;

    explicit Harness(bool paired = true, std::function<void(ConnectionConfig&)> tweak = {})
        : store(credentials(paired))
    {
        config.root_key = server.root_public();
        if (tweak) tweak(config);
        conn.emplace(config, store, crypto::seeded_random(as_bytes("connection")));
    }

    // Client -> server: every message the client has written.
    void to_server()
    {
        for (Bytes& m : conn->take_messages()) {
            ASSERT_TRUE(server.from_client(m)) << server.failure;
        }
    }

    // Server -> client, then drain the client's output and events.
    void to_client(ByteView message)
    {
        ASSERT_TRUE(conn->receive(message, now).ok());
        settle();
    }

    void send(const Node& node) { to_client(server.frame_for(node)); }

    void settle()
    {
        to_server();
        while (auto e = conn->poll_event()) events.push_back(std::move(*e));
    }

    void handshake()
    {
        ASSERT_TRUE(conn->start(now, unix_now).ok());
        to_server();
        ASSERT_EQ(server.to_client.size(), 1u);
        Bytes hello = std::move(server.to_client.front());
        server.to_client.pop_front();
        to_client(hello);
        ASSERT_TRUE(server.handshake_done());
    }

    void login()
    {
        handshake();
        send(server_node("success", {{"t", "1800000000"}, {"lid", "123456789012345@lid"}}));
        ASSERT_EQ(conn->state(), ConnectionState::connected);
    }

    // Moves the clock to the next timer and fires it.
    void fire_timer()
    {
        auto t = conn->next_timer();
        ASSERT_TRUE(t.has_value());
        now = std::max(now, *t);
        conn->on_timer(now);
        settle();
    }

    template <class E>
    std::vector<E> all()
    {
        std::vector<E> out;
        for (auto& e : events) {
            if (auto* p = std::get_if<E>(&e)) out.push_back(*p);
        }
        return out;
    }

    template <class E>
    E only()
    {
        auto v = all<E>();
        EXPECT_EQ(v.size(), 1u);
        return v.empty() ? E{} : v.front();
    }

    Node last_received()
    {
        EXPECT_FALSE(server.received.empty());
        if (server.received.empty()) return Node{};
        Node n = server.received.back();
        return n;
    }
};

// The bytes of a node's attribute as text.
std::string attr(const Node& n, std::string_view key)
{
    return std::string(n.attr(key).value_or("<none>"));
}

TEST(SessionConnection, NewDeviceRegistersWithItsKeys)
{
    Harness h(false);
    ASSERT_TRUE(h.conn->start(h.now, unix_now).ok());
    EXPECT_EQ(h.conn->state(), ConnectionState::handshake);
    auto first = h.conn->take_messages();
    ASSERT_EQ(first.size(), 1u);
    // "WA" 6 3, then the 3-byte length of the ClientHello.
    ASSERT_GE(first[0].size(), 7u);
    EXPECT_EQ(to_hex(ByteView(first[0]).first(4)), "57410603");
    ASSERT_TRUE(h.server.from_client(first[0])) << h.server.failure;
    Bytes hello = h.server.to_client.front();
    h.to_client(hello);

    EXPECT_EQ(h.conn->state(), ConnectionState::logging_in);
    ASSERT_TRUE(h.server.client_payload.has_value());
    const auto& p = *h.server.client_payload;
    const DeviceCredentials c = credentials(false);
    EXPECT_EQ(h.server.client_static, c.noise_key.public_key);
    EXPECT_FALSE(p.passive());
    EXPECT_FALSE(p.has_username());
    ASSERT_TRUE(p.has_devicepairingdata());
    EXPECT_EQ(p.devicepairingdata().eident(),
              std::string(as_chars(c.identity_key.public_key)));
    EXPECT_EQ(p.devicepairingdata().eskeyval(),
              std::string(as_chars(c.signed_prekey.key.public_key)));
    EXPECT_TRUE(h.conn->registering());

    // The server asks a new device to show QR codes: handed up, and the
    // connection is now pairing.
    Node pair = server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "set"}, {"id", "pd-1"}},
                            {Node("pair-device", {}, binary::Children{Node("ref")})});
    h.send(pair);
    EXPECT_EQ(h.conn->state(), ConnectionState::pairing);
    auto request = h.only<event::ServerRequest>();
    EXPECT_EQ(request.iq.attr("id"), "pd-1");
    EXPECT_NE(request.iq.child("pair-device"), nullptr);
    // The pairing layer answers through the connection.
    Node ack("iq");
    ack.set_attr("to", binary::server_jid());
    ack.set_attr("type", "result");
    ack.set_attr("id", "pd-1");
    ASSERT_TRUE(h.conn->send_node(ack).ok());
    h.settle();
    EXPECT_EQ(attr(h.last_received(), "id"), "pd-1");
}

TEST(SessionConnection, PairedDeviceLogsIn)
{
    Harness h(true);
    h.handshake();
    const auto& p = *h.server.client_payload;
    EXPECT_EQ(p.username(), 5511999990000u);
    EXPECT_EQ(p.device(), 7u);
    EXPECT_TRUE(p.passive());
    EXPECT_TRUE(p.pull());
    EXPECT_FALSE(p.has_devicepairingdata());
    EXPECT_FALSE(h.conn->registering());

    h.send(server_node("success", {{"t", "1800000000"}, {"lid", "123456789012345@lid"}}));
    EXPECT_EQ(h.conn->state(), ConnectionState::connected);
    auto in = h.only<event::LoggedIn>();
    EXPECT_EQ(in.success.attr("t"), "1800000000");
    EXPECT_EQ(h.conn->connected_since(), h.now);
    // The first keepalive is 20 to 30 s away.
    auto t = h.conn->next_timer();
    ASSERT_TRUE(t.has_value());
    EXPECT_GE(*t, h.now + seconds(20));
    EXPECT_LE(*t, h.now + seconds(30));
}

TEST(SessionConnection, KeepalivePingAndPong)
{
    Harness h;
    h.login();
    h.server.received.clear();
    h.fire_timer();
    ASSERT_EQ(h.server.received.size(), 1u);
    Node ping = h.server.received.front();
    EXPECT_EQ(ping.tag, "iq");
    EXPECT_EQ(attr(ping, "type"), "get");
    EXPECT_EQ(attr(ping, "xmlns"), "w:p");
    EXPECT_EQ(attr(ping, "to"), "@s.whatsapp.net");
    EXPECT_NE(ping.child("ping"), nullptr);
    // Its answer is due within the keepalive timeout.
    EXPECT_EQ(h.conn->next_timer(), h.now + seconds(10));

    h.now += 300;
    h.send(server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "result"}, {"id", attr(ping, "id")}}));
    // No event for our own pings; the next one is scheduled.
    EXPECT_TRUE(h.all<event::IqAnswered>().empty());
    auto next = h.conn->next_timer();
    ASSERT_TRUE(next.has_value());
    EXPECT_GE(*next, h.now + seconds(20));
    EXPECT_LE(*next, h.now + seconds(30));

    // And the one after that goes out too, with a new id.
    h.fire_timer();
    ASSERT_EQ(h.server.received.size(), 2u);
    EXPECT_NE(attr(h.server.received.back(), "id"), attr(ping, "id"));
    EXPECT_EQ(h.conn->state(), ConnectionState::connected);
}

TEST(SessionConnection, MissedPongMeansTheConnectionIsDead)
{
    Harness h;
    h.login();
    h.fire_timer();  // ping out
    const Millis sent = h.now;
    h.fire_timer();  // its deadline, with nothing from the server
    EXPECT_EQ(h.now, sent + seconds(10));
    auto dead = h.only<event::ConnectionDead>();
    EXPECT_GE(dead.silent_for, seconds(10));
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::transient);
    EXPECT_TRUE(closed.end.reconnect());
    EXPECT_EQ(h.conn->state(), ConnectionState::closed);
    EXPECT_FALSE(h.conn->next_timer().has_value());
}

TEST(SessionConnection, ABusyServerIsNotDead)
{
    Harness h;
    h.login();
    h.fire_timer();  // ping out
    h.now += seconds(5);
    // Not the pong, but proof of life.
    h.send(server_node("ib", {}, {Node("dirty")}));
    h.fire_timer();  // the ping's deadline
    EXPECT_TRUE(h.all<event::ConnectionDead>().empty());
    EXPECT_EQ(h.conn->state(), ConnectionState::connected);
    // Another ping is scheduled.
    auto next = h.conn->next_timer();
    ASSERT_TRUE(next.has_value());
    EXPECT_GE(*next, h.now + seconds(20));
}

TEST(SessionConnection, ServerPingIsAnswered)
{
    Harness h;
    h.login();
    h.server.received.clear();
    h.send(server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "get"}, {"xmlns", "urn:xmpp:ping"}, {"id", "sp-9"}}));
    ASSERT_EQ(h.server.received.size(), 1u);
    Node pong = h.server.received.front();
    EXPECT_EQ(pong.tag, "iq");
    EXPECT_EQ(attr(pong, "type"), "result");
    EXPECT_EQ(attr(pong, "id"), "sp-9");
    EXPECT_TRUE(h.all<event::ServerRequest>().empty());
}

TEST(SessionConnection, RestartRequiredAfterPairing)
{
    Harness h(false);
    h.handshake();
    h.send(server_node("stream:error", {{"code", "515"}}));
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::restart_required);
    EXPECT_EQ(closed.end.code, 515);
    EXPECT_TRUE(closed.end.reconnect());
    EXPECT_FALSE(closed.end.clear_keys());
    EXPECT_EQ(h.conn->state(), ConnectionState::closed);
}

TEST(SessionConnection, DeviceRemovedIsLoggedOut)
{
    Harness h;
    h.login();
    h.send(server_node("stream:error", {{"code", "401"}},
                       {server_node("conflict", {{"type", "device_removed"}})}));
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::logged_out);
    EXPECT_FALSE(closed.end.reconnect());
    EXPECT_TRUE(closed.end.clear_keys());
}

TEST(SessionConnection, ReplacedStops)
{
    Harness h;
    h.login();
    h.send(server_node("stream:error", {}, {server_node("conflict", {{"type", "replaced"}})}));
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::replaced);
    EXPECT_FALSE(closed.end.reconnect());
    EXPECT_FALSE(closed.end.clear_keys());
    EXPECT_NE(closed.end.detail.find("replaced"), std::string::npos);
}

TEST(SessionConnection, ServiceUnavailableIsTransient)
{
    Harness h;
    h.login();
    h.send(server_node("stream:error", {{"code", "503"}}));
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::transient);
    EXPECT_TRUE(closed.end.reconnect());
}

TEST(SessionConnection, OutdatedClientFailsLogin)
{
    Harness h;
    h.handshake();
    h.send(server_node("failure", {{"reason", "405"}, {"location", "frc"}}));
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::client_outdated);
    EXPECT_EQ(closed.end.code, 405);
    EXPECT_FALSE(closed.end.reconnect());
    EXPECT_TRUE(h.all<event::LoggedIn>().empty());
}

TEST(SessionConnection, LoginFailure401IsLoggedOut)
{
    Harness h;
    h.handshake();
    h.send(server_node("failure", {{"reason", "401"}}));
    EXPECT_EQ(h.only<event::Closed>().end.kind, EndKind::logged_out);
}

TEST(SessionConnection, NotificationIsAckedAtOnce)
{
    Harness h;
    h.login();
    h.server.received.clear();
    h.send(server_node("notification", {{"from", "s.whatsapp.net"}, {"type", "encrypt"}, {"id", "n-1"}},
                       {server_node("count", {{"value", "3"}})}));
    ASSERT_EQ(h.server.received.size(), 1u);
    Node ack = h.server.received.front();
    EXPECT_EQ(ack.tag, "ack");
    EXPECT_EQ(attr(ack, "class"), "notification");
    EXPECT_EQ(attr(ack, "id"), "n-1");
    EXPECT_EQ(attr(ack, "to"), "@s.whatsapp.net");
    EXPECT_EQ(attr(ack, "type"), "encrypt");
    auto stanza = h.only<event::Stanza>();
    EXPECT_EQ(stanza.ack, AckState::sent);
    EXPECT_EQ(stanza.view.tag(), "notification");
}

TEST(SessionConnection, MessageAckWaitsForTheOwner)
{
    Harness h;
    h.login();
    h.server.received.clear();
    Node message = server_node("message", {{"from", "5511888880000@s.whatsapp.net"}, {"type", "text"},
                                            {"id", "3EB0AA"}, {"t", "1800000001"}},
                               {server_node("enc", {{"v", "2"}, {"type", "msg"}})});
    h.send(message);
    // Nothing acked yet: the message is not stored.
    EXPECT_TRUE(h.server.received.empty());
    auto stanza = h.only<event::Stanza>();
    EXPECT_EQ(stanza.ack, AckState::deferred);
    EXPECT_EQ(h.conn->deferred_acks(), 1u);

    ASSERT_TRUE(h.conn->send_ack(stanza.view).ok());
    h.settle();
    EXPECT_EQ(h.conn->deferred_acks(), 0u);
    ASSERT_EQ(h.server.received.size(), 1u);
    Node ack = h.server.received.front();
    EXPECT_EQ(attr(ack, "class"), "message");
    EXPECT_EQ(attr(ack, "id"), "3EB0AA");
    EXPECT_EQ(attr(ack, "to"), "5511888880000@s.whatsapp.net");
    // No type on a message's ack.
    EXPECT_EQ(attr(ack, "type"), "<none>");
}

TEST(SessionConnection, RetryReceiptAckWaitsOtherReceiptsDoNot)
{
    Harness h;
    h.login();
    h.server.received.clear();
    h.send(server_node("receipt", {{"from", "5511888880000@s.whatsapp.net"}, {"id", "r-1"}, {"type", "read"}}));
    h.send(server_node("receipt", {{"from", "5511888880000@s.whatsapp.net"}, {"id", "r-2"}, {"type", "retry"}},
                       {server_node("retry", {{"count", "1"}, {"id", "r-2"}})}));
    auto stanzas = h.all<event::Stanza>();
    ASSERT_EQ(stanzas.size(), 2u);
    EXPECT_EQ(stanzas[0].ack, AckState::sent);
    // A retry receipt is acked once it is handled (waweb-2026.md 4).
    EXPECT_EQ(stanzas[1].ack, AckState::deferred);
    ASSERT_EQ(h.server.received.size(), 1u);
    EXPECT_EQ(attr(h.server.received.front(), "id"), "r-1");
    EXPECT_EQ(attr(h.server.received.front(), "type"), "read");
}

TEST(SessionConnection, UnparseableStanzaGetsANack)
{
    Harness h;
    h.login();
    h.server.received.clear();
    h.send(server_node("message", {{"from", "5511888880000@s.whatsapp.net"}, {"id", "3EB0BB"}}));
    auto stanza = h.only<event::Stanza>();
    // The owner could not make sense of it: it still acks, with the code.
    ASSERT_TRUE(h.conn->send_ack(stanza.view, 487).ok());
    h.settle();
    ASSERT_EQ(h.server.received.size(), 1u);
    EXPECT_EQ(attr(h.server.received.front(), "error"), "487");
}

TEST(SessionConnection, StanzaWithoutAnIdCannotBeAcked)
{
    Harness h;
    h.login();
    h.server.received.clear();
    h.send(server_node("receipt", {{"from", "5511888880000@s.whatsapp.net"}}));
    EXPECT_TRUE(h.server.received.empty());
    EXPECT_TRUE(h.all<event::Stanza>().empty());
    auto error = h.only<event::ProtocolError>();
    EXPECT_EQ(error.error.code, Errc::malformed);
    EXPECT_NE(error.error.detail.find("no id"), std::string::npos);
    EXPECT_EQ(h.conn->state(), ConnectionState::connected);
}

TEST(SessionConnection, IqAnswersReachTheOwnerWithTheirCookie)
{
    Harness h;
    h.login();
    Node count("iq");
    count.set_attr("to", binary::server_jid());
    count.set_attr("type", "get");
    count.set_attr("xmlns", "encrypt");
    count.content = binary::Children{Node("count")};
    auto id = h.conn->send_iq(count, h.now, 77);
    ASSERT_TRUE(id.ok());
    h.settle();
    EXPECT_EQ(attr(h.last_received(), "id"), *id);

    h.send(server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "error"}, {"id", *id}},
                       {server_node("error", {{"code", "500"}, {"text", "internal-server-error"}})}));
    auto answered = h.only<event::IqAnswered>();
    EXPECT_EQ(answered.outcome.cookie, 77u);
    EXPECT_EQ(answered.outcome.kind, IqOutcome::Kind::error);
    EXPECT_EQ(answered.outcome.error, (IqError{500, "internal-server-error"}));
}

TEST(SessionConnection, UnansweredIqTimesOutForTheOwner)
{
    Harness h;
    h.login();
    Node q("iq");
    q.set_attr("to", binary::server_jid());
    q.set_attr("type", "get");
    q.set_attr("xmlns", "w:m");
    q.content = binary::Children{Node("media_conn")};
    auto id = h.conn->send_iq(q, h.now, 9, seconds(5));
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(h.conn->next_timer(), h.now + seconds(5));
    h.fire_timer();
    auto answered = h.only<event::IqAnswered>();
    EXPECT_EQ(answered.outcome.id, *id);
    EXPECT_EQ(answered.outcome.kind, IqOutcome::Kind::timeout);
    EXPECT_EQ(answered.outcome.cookie, 9u);
    // An IQ timing out is the owner's business, not a dead connection.
    EXPECT_EQ(h.conn->state(), ConnectionState::connected);
}

TEST(SessionConnection, NothingIsSentBeforeTheHandshake)
{
    Harness h;
    Node q("iq");
    q.set_attr("type", "get");
    EXPECT_EQ(h.conn->send_iq(q, h.now).error().code, Errc::wrong_state);
    ASSERT_TRUE(h.conn->start(h.now, unix_now).ok());
    EXPECT_EQ(h.conn->send_node(q).error().code, Errc::wrong_state);
    EXPECT_EQ(h.conn->start(h.now, unix_now).error().code, Errc::wrong_state);
    EXPECT_EQ(h.conn->pending_iqs(), 0u);
}

TEST(SessionConnection, PendingIqsAreDroppedWhenTheConnectionEnds)
{
    Harness h;
    h.login();
    Node q("iq");
    q.set_attr("to", binary::server_jid());
    q.set_attr("type", "set");
    q.set_attr("xmlns", "passive");
    q.content = binary::Children{Node("active")};
    ASSERT_TRUE(h.conn->send_iq(q, h.now, 5).ok());
    h.conn->socket_closed(h.now, "peer closed");
    h.settle();
    auto answered = h.only<event::IqAnswered>();
    EXPECT_EQ(answered.outcome.kind, IqOutcome::Kind::dropped);
    EXPECT_EQ(answered.outcome.cookie, 5u);
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::transient);
    EXPECT_EQ(closed.end.detail, "peer closed");
    // A closed connection takes no more bytes and sends nothing.
    EXPECT_EQ(h.conn->receive(Bytes{0, 0, 1, 0}, h.now).error().code, Errc::wrong_state);
    EXPECT_EQ(h.conn->send_node(q).error().code, Errc::wrong_state);
}

TEST(SessionConnection, EveryByteSplitStillLogsIn)
{
    Harness h;
    ASSERT_TRUE(h.conn->start(h.now, unix_now).ok());
    h.to_server();
    Bytes hello = h.server.to_client.front();
    for (std::uint8_t b : hello) h.to_client(Bytes{b});
    ASSERT_TRUE(h.server.handshake_done());
    Bytes success = h.server.frame_for(server_node("success", {{"t", "1"}}));
    Bytes ping = h.server.frame_for(
        server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "get"}, {"xmlns", "urn:xmpp:ping"}, {"id", "x"}}));
    for (std::uint8_t b : success) h.to_client(Bytes{b});
    EXPECT_EQ(h.conn->state(), ConnectionState::connected);
    // And two frames in one message.
    Bytes both = ping;
    Bytes note = h.server.frame_for(server_node("ib", {}, {server_node("offline", {{"count", "0"}})}));
    both.insert(both.end(), note.begin(), note.end());
    h.to_client(both);
    EXPECT_EQ(h.only<event::OfflineDone>().count, 0);
    EXPECT_EQ(attr(h.last_received(), "id"), "x");
}

TEST(SessionConnection, OfflineBacklogEndAndRoutingInfoAreEvents)
{
    Harness h;
    h.login();
    EXPECT_FALSE(h.conn->offline_done());
    Node routing = server_node("edge_routing", {});
    routing.content = binary::Children{Node("routing_info", {}, Bytes{0x08, 0x02, 0x08, 0x05})};
    h.send(server_node("ib", {}, {routing}));
    EXPECT_EQ(to_hex(h.only<event::RoutingInfo>().routing_info), "08020805");

    h.send(server_node("ib", {}, {server_node("offline", {{"count", "12"}})}));
    EXPECT_EQ(h.only<event::OfflineDone>().count, 12);
    EXPECT_TRUE(h.conn->offline_done());
    // Neither is handed on as a stanza, and neither takes an ack.
    EXPECT_TRUE(h.all<event::Stanza>().empty());

    h.send(server_node("ib", {}, {server_node("edge_routing", {})}));
    EXPECT_NE(h.only<event::ProtocolError>().error.detail.find("routing_info"), std::string::npos);
}

TEST(SessionConnection, UntrustedCertificateChainEndsTheHandshake)
{
    Harness h;
    h.server.sign_with_root(*crypto::x25519_key_pair(Bytes(32, 0x42)));
    ASSERT_TRUE(h.conn->start(h.now, unix_now).ok());
    h.to_server();
    Bytes hello = h.server.to_client.front();
    h.to_client(hello);
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::protocol_error);
    EXPECT_NE(closed.end.detail.find("certificate chain"), std::string::npos) << closed.end.detail;
    EXPECT_FALSE(h.server.handshake_done());
}

TEST(SessionConnection, GarbageInsteadOfServerHello)
{
    Harness h;
    ASSERT_TRUE(h.conn->start(h.now, unix_now).ok());
    h.to_client(Bytes{0, 0, 4, 0xde, 0xad, 0xbe, 0xef});
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::protocol_error);
    EXPECT_NE(closed.end.detail.find("server hello"), std::string::npos) << closed.end.detail;
}

TEST(SessionConnection, ForgedFrameEndsTheConnection)
{
    Harness h;
    h.login();
    Bytes frame = h.server.frame_for(server_node("ib", {}));
    frame.back() ^= 0x01;  // inside the GCM tag
    h.to_client(frame);
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::protocol_error);
    EXPECT_NE(closed.end.detail.find("transport"), std::string::npos) << closed.end.detail;
    EXPECT_TRUE(closed.end.reconnect());
}

TEST(SessionConnection, OversizeFrameEndsTheConnection)
{
    Harness h(true, [](ConnectionConfig& c) { c.max_frame_size = 1024; });
    h.login();
    h.to_client(Bytes{0x00, 0x08, 0x00});  // announces 2048 bytes
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::protocol_error);
    EXPECT_NE(closed.end.detail.find("frame"), std::string::npos) << closed.end.detail;
}

TEST(SessionConnection, UndecodableNodeIsReportedAndSkipped)
{
    Harness h;
    h.login();
    // Authenticates, but is not a node: flags 0, then LIST_8 of 200 items
    // with nothing after it.
    h.to_client(h.server.frame_for_plaintext(Bytes{0x00, 0xf8, 200}));
    auto error = h.only<event::ProtocolError>();
    EXPECT_EQ(error.error.code, Errc::truncated);
    EXPECT_EQ(h.conn->state(), ConnectionState::connected);
    // The stream goes on: the next frame is read.
    h.send(server_node("ib", {}, {Node("dirty")}));
    EXPECT_EQ(h.only<event::Stanza>().view.tag(), "ib");
}

// Several frames in one WebSocket message: each stanza's view borrows from
// its own frame, so all stay valid (and equal to what was sent) once the
// whole message is read, and its node bytes are the node as encoded.
TEST(SessionConnection, StanzaViewsOfOneMessageStayValid)
{
    Harness h;
    h.login();
    Node a = server_node("message", {{"from", "5511888880000@s.whatsapp.net"}, {"id", "A1"},
                                           {"type", "text"}},
                               {server_node("enc", {{"v", "2"}, {"type", "msg"}})});
    Node b = server_node("receipt", {{"from", "5511777770000@s.whatsapp.net"}, {"id", "B2"}});
    Node c = server_node("notification", {{"from", "s.whatsapp.net"}, {"id", "C3"},
                                          {"type", "server_sync"}});
    std::get<binary::Children>(a.content)[0].content = Bytes{1, 2, 3, 4, 5};
    Bytes message = h.server.frame_for(a);
    for (const Node* n : {&b, &c}) {
        Bytes f = h.server.frame_for(*n);
        message.insert(message.end(), f.begin(), f.end());
    }
    h.to_client(message);
    auto stanzas = h.all<event::Stanza>();
    ASSERT_EQ(stanzas.size(), 3u);
    const Node* sent[] = {&a, &b, &c};
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_TRUE(stanzas[i].view == *sent[i]) << binary::to_debug_string(stanzas[i].view);
        EXPECT_EQ(stanzas[i].to_node(), *sent[i]);
        auto encoded = binary::encode(*sent[i]);
        ASSERT_TRUE(encoded.ok());
        // encode() puts the flags byte first; node_bytes() is without it.
        EXPECT_EQ(Bytes(stanzas[i].node_bytes().begin(), stanzas[i].node_bytes().end()),
                  Bytes(encoded->begin() + 1, encoded->end()));
    }
    const binary::NodeView* enc = stanzas[0].view.child("enc");
    ASSERT_NE(enc, nullptr);
    ASSERT_TRUE(enc->bytes().has_value());
    EXPECT_EQ(Bytes(enc->bytes()->begin(), enc->bytes()->end()), (Bytes{1, 2, 3, 4, 5}));
}

// An event the owner keeps is not overwritten by the frames that follow:
// its frame is reused only once no event holds it.
TEST(SessionConnection, KeptStanzaSurvivesLaterFrames)
{
    Harness h;
    h.login();
    const Node first = server_node("receipt", {{"from", "5511888880000@s.whatsapp.net"}, {"id", "k-1"}});
    h.send(first);
    const event::Stanza kept = h.only<event::Stanza>();
    for (int i = 0; i < 10; ++i) {
        h.send(server_node("receipt", {{"from", "5511777770000@s.whatsapp.net"},
                                       {"id", "later-" + std::to_string(i)}, {"type", "read"}}));
        h.send(server_node("iq", {{"from", "s.whatsapp.net"}, {"id", "p" + std::to_string(i)},
                                  {"type", "get"}, {"xmlns", "urn:xmpp:ping"}}));
    }
    EXPECT_EQ(h.all<event::Stanza>().size(), 11u);
    EXPECT_TRUE(kept.view == first) << binary::to_debug_string(kept.view);
    auto decoded = binary::decode_node(kept.node_bytes());
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, first);
}

// A zlib-flagged frame: the view and the node bytes are the inflated node.
TEST(SessionConnection, CompressedStanzaIsDeliveredInflated)
{
    Harness h;
    h.login();
    const Node n = server_node("message", {{"from", "5511888880000@s.whatsapp.net"}, {"id", "Z1"}});
    auto encoded = binary::encode(n);
    ASSERT_TRUE(encoded.ok());
    const Bytes body(encoded->begin() + 1, encoded->end());
    auto compressed = binary::compress_payload(body);
    ASSERT_TRUE(compressed.ok());
    h.to_client(h.server.frame_for_plaintext(*compressed));
    auto stanza = h.only<event::Stanza>();
    EXPECT_TRUE(stanza.view == n);
    EXPECT_EQ(Bytes(stanza.node_bytes().begin(), stanza.node_bytes().end()), body);
    EXPECT_EQ(stanza.ack, AckState::deferred);
}

// A deferred ack is settled by the view or by an owned copy alike: both
// name the same stanza in the ledger.
TEST(SessionConnection, DeferredAckSettledFromViewOrNode)
{
    Harness h;
    h.login();
    h.send(server_node("message", {{"from", "5511888880000@s.whatsapp.net"}, {"id", "D1"},
                                   {"participant", "5511666660000@s.whatsapp.net"}}));
    h.send(server_node("message", {{"from", "5511888880000@s.whatsapp.net"}, {"id", "D2"}}));
    auto stanzas = h.all<event::Stanza>();
    ASSERT_EQ(stanzas.size(), 2u);
    EXPECT_EQ(h.conn->deferred_acks(), 2u);
    ASSERT_TRUE(h.conn->send_ack(stanzas[0].view).ok());
    EXPECT_EQ(h.conn->deferred_acks(), 1u);
    ASSERT_TRUE(h.conn->send_ack(stanzas[1].to_node()).ok());
    EXPECT_EQ(h.conn->deferred_acks(), 0u);
    h.settle();
    ASSERT_GE(h.server.received.size(), 2u);
    const Node& ack = h.server.received[h.server.received.size() - 2];
    EXPECT_EQ(attr(ack, "id"), "D1");
    EXPECT_EQ(attr(ack, "participant"), "5511666660000@s.whatsapp.net");
}

TEST(SessionConnection, CompressedFlagOnGarbageIsReportedAndSkipped)
{
    Harness h;
    h.login();
    // flags 0x02 says zlib, but what follows is not a zlib stream.
    h.to_client(h.server.frame_for_plaintext(Bytes{0x02, 0x01, 0x02, 0x03}));
    EXPECT_EQ(h.all<event::ProtocolError>().size(), 1u);
    EXPECT_EQ(h.conn->state(), ConnectionState::connected);
}

// Random bytes at every stage: the machine reports and closes, never
// crashes, never reads past what it was given (the ASan build checks).
TEST(SessionConnection, HostileBytesNeverCrash)
{
    auto random = crypto::seeded_random(as_bytes("hostile"));
    for (int round = 0; round < 200; ++round) {
        Harness h;
        const int stage = round % 3;
        if (stage == 0) {
            ASSERT_TRUE(h.conn->start(h.now, unix_now).ok());
        } else if (stage == 1) {
            h.handshake();
        } else {
            h.login();
        }
        auto n = crypto::random_bytes(random, 1);
        auto junk = crypto::random_bytes(random, 1 + (*n)[0] % 64);
        if (stage != 0 && round % 2 == 0) {
            // Well framed, so it reaches the transport.
            Bytes framed{0, 0, std::uint8_t(junk->size())};
            framed.insert(framed.end(), junk->begin(), junk->end());
            junk = framed;
        }
        Status s = h.conn->receive(*junk, h.now);
        EXPECT_TRUE(s.ok());
        h.settle();
        // Either still waiting for more, or closed with a reason.
        for (auto& closed : h.all<event::Closed>()) {
            EXPECT_EQ(closed.end.kind, EndKind::protocol_error) << closed.end.detail;
        }
    }
}

TEST(SessionConnection, LoginThatNeverCompletesTimesOut)
{
    Harness h;
    ASSERT_TRUE(h.conn->start(h.now, unix_now).ok());
    EXPECT_EQ(h.conn->next_timer(), h.now + seconds(20));
    h.fire_timer();
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::transient);
    EXPECT_EQ(closed.end.detail, "login timed out");
}

TEST(SessionConnection, DeviceWithoutCredentialsDoesNotConnect)
{
    Harness h;
    h.store.clear();
    ASSERT_TRUE(h.conn->start(h.now, unix_now).ok());
    h.settle();
    EXPECT_TRUE(h.server.received.empty());
    auto closed = h.only<event::Closed>();
    EXPECT_EQ(closed.end.kind, EndKind::refused);
    EXPECT_FALSE(closed.end.reconnect());
    EXPECT_NE(closed.end.detail.find("session store"), std::string::npos);
}

TEST(SessionConnection, EdgeRoutingPrefaceGoesFirst)
{
    Harness h(true, [](ConnectionConfig& c) { c.routing_info = Bytes{0x08, 0x02, 0x08, 0x05}; });
    h.login();
    // 'E' 'D' 0 1, u24be(4), the info; the handshake still verified, so
    // the preface stayed out of the Noise prologue.
    EXPECT_EQ(to_hex(h.server.preface), "45440001000004" "08020805");
}

}  // namespace
}  // namespace chatwoot::wa::session
