// QR pairing on top of the connection, against the scripted server: the
// refs become QR texts that rotate on the flow's timer (60 s, then 20 s
// each), run out into "QR expired", and a scanned code's pair-success is
// verified, stored, answered and followed by the 515 restart.  The valid
// pair-success is the `pair_success` vector (Baileys wrote and accepted
// it), so the device's identity and ADV secret are the vector's.
#include <gtest/gtest.h>

#include <string>

#include "session_flow_harness.hpp"
#include "vectors.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/pairing/qr_code.hpp"
#include "wa/session/qr_pairing.hpp"

namespace chatwoot::wa::session {
namespace {

using binary::Children;
using binary::Node;
using test::FlowHarness;
using test::server_node;

// An unpaired device holding the vector's identity key and ADV secret.
DeviceCredentials vector_credentials()
{
    auto c = generate_credentials(crypto::seeded_random(as_bytes("qr device")));
    EXPECT_TRUE(c.ok());
    const auto& v = test::vector_section("pair_success");
    c->identity_key = crypto::x25519_key_pair(test::vector_hex(v, "our_identity_priv")).value();
    const Bytes adv = test::vector_hex(v, "adv_secret");
    std::copy(adv.begin(), adv.end(), c->adv_secret.begin());
    return *c;
}

Node vector_pair_success()
{
    auto node = binary::decode(test::vector_hex(test::vector_section("pair_success"), "stanza_encoded"));
    EXPECT_TRUE(node.ok());
    return node.ok() ? *node : Node{};
}

Node pair_device(std::initializer_list<std::string> refs, std::string id = "pd-1")
{
    Children kids;
    for (const auto& r : refs) kids.emplace_back("ref", std::vector<binary::Attr>{}, Bytes(r.begin(), r.end()));
    return server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "set"}, {"id", id}},
                       {Node("pair-device", {}, std::move(kids))});
}

struct PairingHarness : FlowHarness {
    QrPairing pairing;
    std::vector<PairingEvent> flow_events;

    PairingHarness()
        : FlowHarness(vector_credentials()),
          pairing(vector_credentials(), crypto::seeded_random(as_bytes("qr signer")))
    {
        on_event = [this](const Event& e) {
            if (const auto* r = std::get_if<event::ServerRequest>(&e)) {
                EXPECT_TRUE(pairing.on_server_request(*conn, r->iq, now));
            } else if (const auto* c = std::get_if<event::Closed>(&e)) {
                pairing.on_closed(c->end);
            }
            drain();
        };
        handshake();
    }

    void drain()
    {
        while (auto e = pairing.poll_event()) flow_events.push_back(std::move(*e));
    }

    // Advances the clock to `t` and fires both timers, as a driver that
    // arms one timer at the earlier of the two does (early calls are fine).
    void advance_to(Millis t)
    {
        now = t;
        conn->on_timer(now);
        settle();
        pairing.on_timer(*conn, now);
        drain();
        settle();
    }

    template <class E>
    std::vector<E> flow() const
    {
        std::vector<E> out;
        for (const auto& e : flow_events) {
            if (const auto* p = std::get_if<E>(&e)) out.push_back(*p);
        }
        return out;
    }
};

std::string ref_of(const std::string& qr)
{
    std::string rest = qr.substr(pairing::qr_prefix.size());
    return rest.substr(0, rest.find(','));
}

TEST(SessionQrPairing, RefsBecomeQrCodesRotatingAfter60ThenEvery20Seconds)
{
    PairingHarness h;
    const Millis start = h.now;
    h.send(pair_device({"ref-A", "ref-B", "ref-C"}));

    // The server gets its ack at once, before any scan.
    auto got = h.take_received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].attr("type"), "result");
    EXPECT_EQ(got[0].attr("id"), "pd-1");
    EXPECT_EQ(h.conn->state(), ConnectionState::pairing);

    auto codes = h.flow<pairing_event::QrCode>();
    ASSERT_EQ(codes.size(), 1u);
    EXPECT_EQ(ref_of(codes[0].text), "ref-A");
    EXPECT_EQ(codes[0].index, 0u);
    EXPECT_EQ(codes[0].refs, 3u);
    EXPECT_EQ(codes[0].expires_at, start + seconds(60));
    EXPECT_EQ(h.pairing.next_timer(), start + seconds(60));
    EXPECT_EQ(h.pairing.current_qr(), codes[0].text);

    // The text carries our keys, so the phone can vouch for this device.
    const auto creds = vector_credentials();
    const std::string expected = pairing::qr_text({"ref-A", creds.noise_key.public_key,
                                                   creds.identity_key.public_key, creds.adv_secret})
                                     .value();
    EXPECT_EQ(codes[0].text, expected);

    // Early: nothing moves.
    h.advance_to(start + seconds(60) - 1);
    EXPECT_EQ(h.flow<pairing_event::QrCode>().size(), 1u);

    h.advance_to(start + seconds(60));
    codes = h.flow<pairing_event::QrCode>();
    ASSERT_EQ(codes.size(), 2u);
    EXPECT_EQ(ref_of(codes[1].text), "ref-B");
    EXPECT_EQ(codes[1].expires_at, start + seconds(80));

    // A late timer still rotates once, from when it fired.
    h.advance_to(start + seconds(85));
    codes = h.flow<pairing_event::QrCode>();
    ASSERT_EQ(codes.size(), 3u);
    EXPECT_EQ(ref_of(codes[2].text), "ref-C");
    EXPECT_EQ(codes[2].expires_at, start + seconds(105));
    EXPECT_TRUE(h.flow<pairing_event::QrExpired>().empty());
    // The login deadline (20 s) does not cut a connection showing QRs.
    EXPECT_EQ(h.conn->state(), ConnectionState::pairing);
    EXPECT_TRUE(h.all<event::Closed>().empty());
}

TEST(SessionQrPairing, RunningOutOfRefsExpiresAndClosesTheConnection)
{
    PairingHarness h;
    const Millis start = h.now;
    h.send(pair_device({"only-ref", "last-ref"}));
    h.advance_to(start + seconds(60));
    ASSERT_EQ(h.flow<pairing_event::QrCode>().size(), 2u);
    ASSERT_TRUE(h.flow<pairing_event::QrExpired>().empty());

    h.advance_to(start + seconds(80));
    auto expired = h.flow<pairing_event::QrExpired>();
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0].refs_shown, 2u);
    EXPECT_EQ(h.pairing.state(), PairingState::expired);
    EXPECT_FALSE(h.pairing.current_qr().has_value());
    EXPECT_FALSE(h.pairing.next_timer().has_value());

    // The connection is over, by us; no reconnect by itself, the device
    // is still unpaired and a new connection starts over.
    auto closed = h.all<event::Closed>();
    ASSERT_EQ(closed.size(), 1u);
    EXPECT_EQ(closed[0].end.kind, EndKind::local_close);
    EXPECT_FALSE(h.store.load_credentials()->paired());
    EXPECT_EQ(h.flow<pairing_event::QrCode>().size(), 2u);
}

TEST(SessionQrPairing, ValidPairSuccessIsStoredThenSignedThen515MeansLogIn)
{
    PairingHarness h;
    h.send(pair_device({"ref-A", "ref-B"}));
    (void)h.take_received();

    h.send(vector_pair_success());
    auto paired = h.flow<pairing_event::Paired>();
    ASSERT_EQ(paired.size(), 1u);
    EXPECT_EQ(paired[0].account.jid.to_string(), "15551234567:12@s.whatsapp.net");
    ASSERT_TRUE(paired[0].account.lid.has_value());
    EXPECT_FALSE(paired[0].account.account.empty());
    EXPECT_EQ(h.pairing.state(), PairingState::verified);
    // The QR is spent, and the reply waits for the owner's commit.
    EXPECT_FALSE(h.pairing.next_timer().has_value());
    EXPECT_FALSE(h.pairing.current_qr().has_value());
    EXPECT_TRUE(h.take_received().empty());

    // The owner stores what pairing taught, then lets the reply go.
    auto creds = vector_credentials();
    creds.jid = paired[0].account.jid;
    creds.lid = paired[0].account.lid;
    h.store.set(creds);
    ASSERT_TRUE(h.pairing.commit(*h.conn).ok());
    h.settle();
    auto got = h.take_received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].attr("type"), "result");
    EXPECT_EQ(got[0].attr("id"), "pair-1");
    ASSERT_NE(got[0].child("pair-device-sign"), nullptr);
    EXPECT_NE(got[0].child("pair-device-sign")->child("device-identity"), nullptr);
    EXPECT_EQ(h.pairing.commit(*h.conn).error().code, Errc::wrong_state);

    // Time passing no longer rotates anything.
    h.advance_to(h.now + seconds(120));
    EXPECT_TRUE(h.flow<pairing_event::QrExpired>().empty());

    h.send(server_node("stream:error", {{"code", "515"}}));
    auto closed = h.all<event::Closed>();
    ASSERT_EQ(closed.size(), 1u);
    EXPECT_EQ(closed[0].end.kind, EndKind::restart_required);
    EXPECT_EQ(h.flow<pairing_event::RestartToLogIn>().size(), 1u);
    EXPECT_EQ(h.pairing.state(), PairingState::restart);

    // The restart: a new connection on the stored JID logs in.
    FlowHarness again(creds);
    again.handshake();
    ASSERT_TRUE(again.server.client_payload.has_value());
    EXPECT_TRUE(again.server.client_payload->has_username());
    EXPECT_EQ(again.server.client_payload->username(), 15551234567u);
    EXPECT_EQ(again.server.client_payload->device(), 12u);
}

TEST(SessionQrPairing, TamperedPairSuccessIsRefusedWithAnErrorIqAndQrKeepsRotating)
{
    PairingHarness h;
    const Millis start = h.now;
    h.send(pair_device({"ref-A", "ref-B"}));
    (void)h.take_received();

    Node bad = vector_pair_success();
    auto* success = const_cast<Node*>(bad.child("pair-success"));
    ASSERT_NE(success, nullptr);
    auto* identity = const_cast<Node*>(success->child("device-identity"));
    ASSERT_NE(identity, nullptr);
    ASSERT_NE(identity->bytes(), nullptr);
    Bytes& record = std::get<Bytes>(identity->content);
    record[record.size() - 3] ^= 0x40;  // inside the HMAC, at the record's end
    h.send(bad);

    EXPECT_TRUE(h.flow<pairing_event::Paired>().empty());
    auto errors = h.flow<pairing_event::PairingError>();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].error.code, Errc::bad_mac);
    auto got = h.take_received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].attr("type"), "error");
    EXPECT_EQ(got[0].attr("id"), "pair-1");
    ASSERT_NE(got[0].child("error"), nullptr);
    EXPECT_EQ(got[0].child("error")->attr("code"), "401");

    // Still waiting for a scan: the QR goes on rotating and the connection
    // stays up.
    EXPECT_EQ(h.pairing.state(), PairingState::showing_qr);
    EXPECT_EQ(h.conn->state(), ConnectionState::pairing);
    EXPECT_EQ(h.pairing.commit(*h.conn).error().code, Errc::wrong_state);
    h.advance_to(start + seconds(60));
    EXPECT_EQ(h.flow<pairing_event::QrCode>().size(), 2u);

    // A pair-success with no identity at all, and one of garbage bytes.
    Node empty = server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "set"}, {"id", "pair-2"}},
                             {Node("pair-success")});
    h.send(empty);
    Node junk = server_node(
        "iq", {{"from", "s.whatsapp.net"}, {"type", "set"}, {"id", "pair-3"}},
        {Node("pair-success", {},
              Children{Node("device-identity", {}, Bytes{0xff, 0x01, 0x02}),
                       server_node("device", {{"jid", "15551234567:4@s.whatsapp.net"}})})});
    h.send(junk);
    errors = h.flow<pairing_event::PairingError>();
    ASSERT_EQ(errors.size(), 3u);
    EXPECT_EQ(errors[1].error.code, Errc::malformed);
    EXPECT_EQ(errors[2].error.code, Errc::malformed);
    got = h.take_received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].attr("id"), "pair-2");
    EXPECT_EQ(got[0].child("error")->attr("code"), "500");
    EXPECT_EQ(got[1].attr("id"), "pair-3");
    EXPECT_EQ(h.pairing.state(), PairingState::showing_qr);
}

TEST(SessionQrPairing, PairSuccessWithAnotherDevicesSecretFailsTheHmac)
{
    // A phone answering someone else's QR: our ADV secret differs.
    auto other = vector_credentials();
    other.adv_secret[0] ^= 1;
    FlowHarness h(other);
    QrPairing pairing(other, crypto::seeded_random(as_bytes("qr signer")));
    h.on_event = [&](const Event& e) {
        if (const auto* r = std::get_if<event::ServerRequest>(&e)) {
            EXPECT_TRUE(pairing.on_server_request(*h.conn, r->iq, h.now));
        }
    };
    h.handshake();
    h.send(vector_pair_success());
    auto e = pairing.poll_event();
    ASSERT_TRUE(e.has_value());
    ASSERT_TRUE(std::holds_alternative<pairing_event::PairingError>(*e));
    EXPECT_EQ(std::get<pairing_event::PairingError>(*e).error.code, Errc::bad_mac);
}

TEST(SessionQrPairing, StoreFailureAbandonsWithA500AndNoReply)
{
    PairingHarness h;
    h.send(pair_device({"ref-A"}));
    (void)h.take_received();
    h.send(vector_pair_success());
    ASSERT_EQ(h.flow<pairing_event::Paired>().size(), 1u);
    h.pairing.abandon(*h.conn);
    h.settle();
    auto got = h.take_received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].attr("type"), "error");
    EXPECT_EQ(got[0].child("error")->attr("code"), "500");
    EXPECT_EQ(h.pairing.state(), PairingState::failed);
    EXPECT_FALSE(h.pairing.commit(*h.conn).ok());
}

TEST(SessionQrPairing, MalformedPairDeviceIsAnsweredAndReportedAndOtherRequestsAreNotOurs)
{
    PairingHarness h;
    h.send(server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "set"}, {"id", "pd-9"}},
                       {Node("pair-device")}));
    auto errors = h.flow<pairing_event::PairingError>();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].error.code, Errc::malformed);
    auto got = h.take_received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].attr("type"), "error");
    EXPECT_TRUE(h.flow<pairing_event::QrCode>().empty());

    Node other = server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "set"}, {"id", "x"}},
                             {Node("something-else")});
    EXPECT_FALSE(h.pairing.on_server_request(*h.conn, other, h.now));
}

TEST(SessionQrPairing, ClosedBeforeThe515IsAFailureNotARestart)
{
    PairingHarness h;
    h.send(pair_device({"ref-A"}));
    h.send(vector_pair_success());
    ASSERT_TRUE(h.pairing.commit(*h.conn).ok());
    h.settle();
    h.send(server_node("stream:error", {{"code", "503"}}));
    EXPECT_TRUE(h.flow<pairing_event::RestartToLogIn>().empty());
    EXPECT_EQ(h.pairing.state(), PairingState::failed);
}

}  // namespace
}  // namespace chatwoot::wa::session
