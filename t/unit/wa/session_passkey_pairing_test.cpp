// The passkey ceremony on top of the connection, against the scripted
// server playing the loopback server's part with its own bytes
// (passkey_vectors.json): the QR held when the prologue request comes, the
// assertion checked and sent with the handoff proof, the nonce, the code,
// the sealed request with the new ADV secret, and the phone's pair-success
// verified with that secret by QrPairing.  Then every way it ends early:
// a malformed, wrong or late assertion, the server's refusal, a missing
// continuation, an unconfirmed code, no pair-success, a closed connection;
// each is one Failed event naming the step, and nothing waits forever.
#include <gtest/gtest.h>

#include <string>

#include "passkey_vectors.hpp"
#include "session_flow_harness.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/pairing/passkey.hpp"
#include "wa/session/passkey_pairing.hpp"
#include "wa/session/qr_pairing.hpp"

namespace chatwoot::wa::session {
namespace {

using binary::Children;
using binary::Node;
using test::FlowHarness;
using test::passkey_section;
using test::server_node;
using test::vector_hex;
using test::vector_string;

const rapidjson::Value& ceremony()
{
    return passkey_section("ceremony");
}

std::string options_json()
{
    return std::string(vector_string(passkey_section("assertions"), "options_json"));
}

std::string assertion(std::string_view name)
{
    for (const auto& c : passkey_section("assertions")["cases"].GetArray())
        if (vector_string(c, "name") == name) return std::string(vector_string(c, "json"));
    ADD_FAILURE() << "no assertion case " << name;
    return {};
}

// The unpaired device of the vectors: its noise and identity keys go into
// the sealed request, its ADV secret into the QR and the handoff proof.
DeviceCredentials ceremony_credentials()
{
    auto c = generate_credentials(crypto::seeded_random(as_bytes("passkey device")));
    EXPECT_TRUE(c.ok());
    const auto& v = ceremony();
    c->noise_key = crypto::x25519_key_pair(vector_hex(v, "noise_private")).value();
    c->identity_key = crypto::x25519_key_pair(vector_hex(v, "identity_private")).value();
    const Bytes adv = vector_hex(v, "qr_adv_secret");
    std::copy(adv.begin(), adv.end(), c->adv_secret.begin());
    return *c;
}

// What the ceremony draws, in order: the new ADV secret, the ephemeral
// key, the nonce, then the request's IV.
Bytes ceremony_random()
{
    const auto& v = ceremony();
    return concat({vector_hex(v, "new_adv_secret"), vector_hex(v, "ephemeral_private"),
                   vector_hex(v, "nonce"), vector_hex(v, "iv")});
}

Node from_server(std::string tag, std::string type, Children kids = {})
{
    return server_node(std::move(tag),
                       {{"from", "s.whatsapp.net"}, {"type", type}, {"id", "srv-" + type}},
                       std::move(kids));
}

Node leaf(std::string tag, ByteView content)
{
    return Node(std::move(tag), {}, Bytes(content.begin(), content.end()));
}

Node prologue_request(std::optional<std::string> options = options_json())
{
    Children kids;
    if (options) kids.push_back(leaf("passkey_request_options", as_bytes(*options)));
    return from_server("notification", "passkey_prologue_request", std::move(kids));
}

Node continuation(Bytes identity = vector_hex(ceremony(), "primary_ephemeral_identity"))
{
    return from_server("notification", "crsc_continuation",
                       {leaf("primary_ephemeral_identity", identity)});
}

Node result(const Node& iq, Children kids = {})
{
    return server_node(
        "iq", {{"from", "s.whatsapp.net"}, {"type", "result"}, {"id", std::string(*iq.attr("id"))}},
        std::move(kids));
}

Node error_answer(const Node& iq, std::string code, std::string text)
{
    return server_node(
        "iq", {{"from", "s.whatsapp.net"}, {"type", "error"}, {"id", std::string(*iq.attr("id"))}},
        {server_node("error", {{"code", code}, {"text", text}})});
}

Node pair_device()
{
    return server_node(
        "iq", {{"from", "s.whatsapp.net"}, {"type", "set"}, {"id", "pd-1"}},
        {Node("pair-device", {},
              Children{leaf("ref", as_bytes("ref-A")), leaf("ref", as_bytes("ref-B"))})});
}

struct PasskeyHarness : FlowHarness {
    QrPairing qr;
    PasskeyPairing passkey;
    std::vector<PairingEvent> qr_events;
    std::vector<PasskeyEvent> passkey_events;
    bool owner_replaces_secret = true;  // the owner's wiring of AdvSecretReplaced

    explicit PasskeyHarness(PasskeyConfig config = {}, Bytes random = ceremony_random())
        : FlowHarness(ceremony_credentials()),
          qr(ceremony_credentials(), crypto::seeded_random(as_bytes("qr signer"))),
          passkey(ceremony_credentials(), crypto::replay_random(std::move(random)), config)
    {
        on_event = [this](const Event& e) {
            if (const auto* s = std::get_if<event::Stanza>(&e)) {
                passkey.on_stanza(*conn, s->to_node(), now);
            } else if (const auto* a = std::get_if<event::IqAnswered>(&e)) {
                passkey.on_iq_answered(*conn, a->outcome, now);
            } else if (const auto* r = std::get_if<event::ServerRequest>(&e)) {
                passkey.on_server_request(r->iq);
                EXPECT_TRUE(qr.on_server_request(*conn, r->iq, now));
            } else if (const auto* c = std::get_if<event::Closed>(&e)) {
                passkey.on_closed(c->end);
                qr.on_closed(c->end);
            }
            drain();
        };
        handshake();
        send(pair_device());
        take_received();
    }

    // What the owner does with each event, as LiveDevice will.
    void drain()
    {
        while (auto e = passkey.poll_event()) {
            if (std::holds_alternative<passkey_event::AssertionWanted>(*e)) qr.hold();
            if (const auto* a = std::get_if<passkey_event::AdvSecretReplaced>(&*e);
                a && owner_replaces_secret)
                qr.use_adv_secret(a->adv_secret);
            passkey_events.push_back(std::move(*e));
        }
        while (auto e = qr.poll_event()) qr_events.push_back(std::move(*e));
    }

    Status submit(std::string_view json)
    {
        Status s = passkey.submit_assertion(*conn, json, now);
        drain();
        settle();
        return s;
    }

    Status confirm()
    {
        Status s = passkey.confirm(*conn, now);
        drain();
        settle();
        return s;
    }

    void advance_to(Millis t)
    {
        now = t;
        conn->on_timer(now);
        settle();
        passkey.on_timer(*conn, now);
        qr.on_timer(*conn, now);
        drain();
        settle();
    }

    // The iqs the client sent since the last look (the acks of the
    // server's notifications aside).
    std::vector<Node> sent_iqs()
    {
        std::vector<Node> iqs;
        for (Node& n : take_received())
            if (n.tag == "iq") iqs.push_back(std::move(n));
        return iqs;
    }

    Node sent_iq()
    {
        std::vector<Node> iqs = sent_iqs();
        EXPECT_EQ(iqs.size(), 1u);
        return iqs.empty() ? Node{} : iqs[0];
    }

    template <class E>
    std::vector<E> events_of() const
    {
        std::vector<E> out;
        for (const auto& e : passkey_events)
            if (const auto* p = std::get_if<E>(&e)) out.push_back(*p);
        return out;
    }

    std::optional<passkey_event::Failed> failure() const
    {
        auto f = events_of<passkey_event::Failed>();
        EXPECT_LE(f.size(), 1u);
        if (f.empty()) return std::nullopt;
        return f[0];
    }

    // The ceremony up to the prologue the server has in hand.
    Node to_prologue(std::string_view json = {})
    {
        send(prologue_request());
        EXPECT_TRUE(submit(json.empty() ? assertion("valid") : json).ok());
        Node ref = sent_iq();
        EXPECT_NE(ref.child("ref"), nullptr);
        send(result(ref, {leaf("ref", as_bytes(vector_string(ceremony(), "ref")))}));
        return sent_iq();
    }

    // ... up to the code on screen.
    void to_code()
    {
        Node prologue = to_prologue();
        send(result(prologue));
        send(continuation());
        send(result(sent_iq()));
    }
};

Bytes child_bytes(const Node& parent, std::string_view tag)
{
    const Node* c = parent.child(tag);
    EXPECT_NE(c, nullptr) << tag;
    if (c == nullptr || c->bytes() == nullptr) return {};
    return *c->bytes();
}

TEST(SessionPasskeyPairing, TheWholeCeremonySendsTheServersBytesAndEndsInAVerifiedPairSuccess)
{
    PasskeyHarness h;
    ASSERT_TRUE(h.qr.current_qr().has_value());
    const Millis asked = h.now;

    h.send(prologue_request());
    auto wanted = h.events_of<passkey_event::AssertionWanted>();
    ASSERT_EQ(wanted.size(), 1u);
    EXPECT_EQ(wanted[0].options_json, options_json());
    EXPECT_EQ(wanted[0].expires_at, asked + 600000);  // the options' timeout
    EXPECT_EQ(h.passkey.state(), PasskeyState::waiting_assertion);
    EXPECT_TRUE(h.passkey.active());
    ASSERT_TRUE(h.passkey.options().has_value());
    // The QR is off screen and no longer rotates: the ceremony outlasts it.
    EXPECT_FALSE(h.qr.current_qr().has_value());
    EXPECT_FALSE(h.qr.next_timer().has_value());
    EXPECT_EQ(h.passkey.next_timer(), asked + 600000);

    ASSERT_TRUE(h.submit(assertion("valid")).ok());
    Node ref = h.sent_iq();
    EXPECT_EQ(ref.attr("xmlns"), "md");
    EXPECT_EQ(ref.attr("type"), "get");
    ASSERT_NE(ref.child("ref"), nullptr);
    EXPECT_EQ(h.passkey.state(), PasskeyState::fetching_ref);
    EXPECT_FALSE(h.passkey.next_timer().has_value());  // the IQ's timeout is the connection's

    const auto& v = ceremony();
    h.send(result(ref, {leaf("ref", as_bytes(vector_string(v, "ref")))}));
    Node prologue = h.sent_iq();
    EXPECT_EQ(prologue.attr("type"), "set");
    const Node* pro = prologue.child("passkey_prologue");
    ASSERT_NE(pro, nullptr);
    EXPECT_EQ(to_hex(child_bytes(*pro, "credential_id")),
              to_hex(vector_hex(passkey_section("assertions"), "credential_id_hex")));
    EXPECT_EQ(as_chars(child_bytes(*pro, "webauthn_assertion")), assertion("valid"));
    EXPECT_EQ(to_hex(child_bytes(*pro, "prologue_payload")),
              to_hex(vector_hex(v, "prologue_payload")));
    EXPECT_EQ(to_hex(child_bytes(*pro, "pairing_handoff_proof")),
              to_hex(vector_hex(v, "handoff_proof")));
    EXPECT_EQ(h.passkey.state(), PasskeyState::prologue_sent);

    h.send(result(prologue));
    h.send(continuation());
    Node nonce = h.sent_iq();
    EXPECT_EQ(to_hex(child_bytes(nonce, "companion_nonce")), to_hex(vector_hex(v, "nonce")));
    EXPECT_TRUE(
        h.events_of<passkey_event::Code>().empty());  // not before the server took the nonce

    h.send(result(nonce));
    auto codes = h.events_of<passkey_event::Code>();
    ASSERT_EQ(codes.size(), 1u);
    const std::string code(vector_string(v, "code"));
    EXPECT_EQ(codes[0].code, code);
    EXPECT_EQ(codes[0].display, code.substr(0, 4) + "-" + code.substr(4));
    EXPECT_TRUE(codes[0].handoff_proven);
    EXPECT_EQ(h.passkey.code(), code);
    EXPECT_EQ(h.passkey.state(), PasskeyState::code_shown);

    ASSERT_TRUE(h.confirm().ok());
    auto replaced = h.events_of<passkey_event::AdvSecretReplaced>();
    ASSERT_EQ(replaced.size(), 1u);
    EXPECT_EQ(to_hex(replaced[0].adv_secret), to_hex(vector_hex(v, "new_adv_secret")));
    Node request = h.sent_iq();
    EXPECT_EQ(to_hex(child_bytes(request, "encrypted_pairing_request")),
              to_hex(vector_hex(v, "encrypted_pairing_request")));
    EXPECT_EQ(h.passkey.state(), PasskeyState::request_sent);
    h.send(result(request));

    // The phone's pair-success, keyed by the new secret.
    auto stanza = binary::decode(vector_hex(v, "pair_success_encoded"));
    ASSERT_TRUE(stanza.ok());
    h.send(*stanza);
    EXPECT_EQ(h.passkey.state(), PasskeyState::done);
    EXPECT_FALSE(h.passkey.active());
    EXPECT_FALSE(h.passkey.next_timer().has_value());
    ASSERT_EQ(h.qr_events.size(), 2u);  // the first QR, then Paired
    const auto* paired = std::get_if<pairing_event::Paired>(&h.qr_events[1]);
    ASSERT_NE(paired, nullptr);
    EXPECT_EQ(paired->account.jid.to_string(), "5521900000001:3@s.whatsapp.net");
    EXPECT_EQ(to_hex(paired->account.primary_identity), to_hex(vector_hex(v, "account_public")));
    ASSERT_TRUE(h.qr.commit(*h.conn).ok());
    h.settle();
    EXPECT_NE(h.sent_iq().child("pair-device-sign"), nullptr);
    EXPECT_FALSE(h.failure().has_value());
}

TEST(SessionPasskeyPairing, AnOwnerThatKeepsTheQrSecretHasPairSuccessRefused)
{
    // Shows what AdvSecretReplaced is for: the phone keys pair-success with
    // the new secret only.
    PasskeyHarness h;
    h.owner_replaces_secret = false;
    h.to_code();
    ASSERT_TRUE(h.confirm().ok());
    h.send(result(h.sent_iq()));
    h.send(binary::decode(vector_hex(ceremony(), "pair_success_encoded")).value());
    auto errors = std::vector<pairing_event::PairingError>{};
    for (const auto& e : h.qr_events)
        if (const auto* p = std::get_if<pairing_event::PairingError>(&e)) errors.push_back(*p);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].error.code, Errc::bad_mac);
}

TEST(SessionPasskeyPairing, OptionsTheRequestDoesNotCarryAreAskedFor)
{
    PasskeyHarness h;
    h.send(prologue_request(std::nullopt));
    EXPECT_TRUE(h.events_of<passkey_event::AssertionWanted>().empty());
    EXPECT_EQ(h.passkey.state(), PasskeyState::fetching_options);
    Node ask = h.sent_iq();
    EXPECT_EQ(ask.attr("type"), "get");
    ASSERT_NE(ask.child("passkey_request_options"), nullptr);
    h.send(result(ask, {leaf("passkey_request_options", as_bytes(options_json()))}));
    auto wanted = h.events_of<passkey_event::AssertionWanted>();
    ASSERT_EQ(wanted.size(), 1u);
    EXPECT_EQ(wanted[0].options_json, options_json());
    EXPECT_TRUE(h.submit(assertion("valid")).ok());
}

TEST(SessionPasskeyPairing, AMalformedAssertionEndsTheCeremonyWithItsReasonAndSendsNothing)
{
    PasskeyHarness h;
    h.send(prologue_request());
    Status s = h.submit("{\"id\":");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::malformed);
    EXPECT_TRUE(h.sent_iqs().empty());
    auto f = h.failure();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->step, "assertion");
    EXPECT_EQ(f->error.detail, s.error().detail);
    EXPECT_EQ(h.passkey.state(), PasskeyState::failed);
    EXPECT_FALSE(h.passkey.next_timer().has_value());
    EXPECT_FALSE(h.passkey.options().has_value());

    // A second paste is late: an error, and no second event.
    Status again = h.submit(assertion("valid"));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::wrong_state);
    EXPECT_EQ(h.passkey_events.size(), 2u);  // AssertionWanted, Failed
    EXPECT_TRUE(h.sent_iqs().empty());
}

TEST(SessionPasskeyPairing, AnAssertionForAnotherSiteIsRefusedBeforeTheServerSeesIt)
{
    for (const char* name : {"wrong rpId", "wrong origin", "another challenge", "a registration"}) {
        PasskeyHarness h;
        h.send(prologue_request());
        Status s = h.submit(assertion(name));
        ASSERT_FALSE(s.ok()) << name;
        EXPECT_EQ(s.error().code, Errc::malformed) << name;
        ASSERT_TRUE(h.failure().has_value()) << name;
        EXPECT_EQ(h.failure()->step, "assertion");
        EXPECT_TRUE(h.sent_iqs().empty()) << name;
    }
}

TEST(SessionPasskeyPairing, NoAssertionBeforeTheOptionsRunOutFailsAsExpired)
{
    PasskeyHarness h;
    h.send(prologue_request());
    const Millis deadline = *h.passkey.next_timer();
    h.advance_to(deadline - 1);
    EXPECT_FALSE(h.failure().has_value());
    h.advance_to(deadline);
    auto f = h.failure();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->step, "assertion");
    EXPECT_EQ(f->error.code, Errc::expired);
    EXPECT_NE(f->error.detail.find("600 s"), std::string::npos) << f->error.detail;
    // The paste that comes after that is turned away.
    EXPECT_EQ(h.submit(assertion("valid")).error().code, Errc::wrong_state);
}

TEST(SessionPasskeyPairing, AnAssertionPastedAfterTheDeadlineIsLateEvenBeforeTheTimerFires)
{
    PasskeyHarness h;
    h.send(prologue_request());
    h.now = *h.passkey.next_timer();
    Status s = h.submit(assertion("valid"));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::expired);
    ASSERT_TRUE(h.failure().has_value());
    EXPECT_TRUE(h.sent_iqs().empty());
}

TEST(SessionPasskeyPairing, TheOptionsTimeoutIsCappedAndDefaulted)
{
    PasskeyConfig config;
    config.assertion_max = seconds(120);
    PasskeyHarness h(config);
    const Millis asked = h.now;
    h.send(prologue_request());
    EXPECT_EQ(h.passkey.next_timer(), asked + seconds(120));

    PasskeyHarness d;
    const Millis asked2 = d.now;
    d.send(prologue_request(R"({"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"whatsapp.com"})"));
    EXPECT_EQ(d.passkey.next_timer(), asked2 + seconds(300));
}

TEST(SessionPasskeyPairing, TheServerRefusingThePrologueEndsTheCeremonyNamingItsCode)
{
    PasskeyHarness h;
    Node prologue = h.to_prologue(assertion("signed by another key"));  // only the server can tell
    h.send(error_answer(prologue, "401", "not-authorized"));
    auto f = h.failure();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->step, "prologue");
    EXPECT_NE(f->error.detail.find("401"), std::string::npos);
    EXPECT_EQ(h.passkey.state(), PasskeyState::failed);
    // A continuation now belongs to no ceremony.
    h.send(continuation());
    EXPECT_TRUE(h.sent_iqs().empty());
    EXPECT_EQ(h.passkey_events.size(), 2u);
}

TEST(SessionPasskeyPairing, AfterFiveMinutesThePrologueGoesWithoutTheHandoffProof)
{
    PasskeyHarness h;
    h.send(prologue_request());
    h.advance_to(h.now + seconds(300));
    ASSERT_TRUE(h.submit(assertion("valid")).ok());
    h.send(result(h.sent_iq(), {leaf("ref", as_bytes(vector_string(ceremony(), "ref")))}));
    Node prologue = h.sent_iq();
    const Node* pro = prologue.child("passkey_prologue");
    ASSERT_NE(pro, nullptr);
    EXPECT_EQ(pro->child("pairing_handoff_proof"), nullptr);
    EXPECT_EQ(to_hex(child_bytes(*pro, "prologue_payload")),
              to_hex(vector_hex(ceremony(), "prologue_payload")));
    h.send(result(prologue));
    h.send(continuation());
    h.send(result(h.sent_iq()));
    auto codes = h.events_of<passkey_event::Code>();
    ASSERT_EQ(codes.size(), 1u);
    EXPECT_FALSE(codes[0].handoff_proven);  // the operator's comparison is the link
}

TEST(SessionPasskeyPairing, NoContinuationInTimeFails)
{
    PasskeyHarness h;
    Node prologue = h.to_prologue();
    h.send(result(prologue));
    h.advance_to(h.now + seconds(60));
    auto f = h.failure();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->step, "continuation");
    EXPECT_EQ(f->error.code, Errc::expired);
}

TEST(SessionPasskeyPairing, AContinuationBeforeThePrologueAnswerIsTakenAsTheServersYes)
{
    PasskeyHarness h;
    Node prologue = h.to_prologue();
    h.send(continuation());
    Node nonce = h.sent_iq();
    ASSERT_NE(nonce.child("companion_nonce"), nullptr);
    h.send(result(prologue));  // late, and moot
    h.send(result(nonce));
    EXPECT_EQ(h.events_of<passkey_event::Code>().size(), 1u);
    EXPECT_FALSE(h.failure().has_value());
}

TEST(SessionPasskeyPairing, ABadOrUnexpectedContinuationFails)
{
    {
        PasskeyHarness h;
        h.to_prologue();
        h.send(continuation(Bytes{0x0a, 0x03, 1, 2, 3}));  // a 3-byte key
        auto f = h.failure();
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->step, "continuation");
        EXPECT_EQ(f->error.code, Errc::malformed);
    }
    {
        PasskeyHarness h;
        h.send(prologue_request());
        h.send(continuation());  // before we sent anything
        auto f = h.failure();
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->step, "continuation");
    }
    {
        // From someone other than the server: not the ceremony's.
        PasskeyHarness h;
        h.to_prologue();
        Node forged = continuation();
        forged.set_attr("from", "5511999999999@s.whatsapp.net");
        h.send(forged);
        EXPECT_FALSE(h.failure().has_value());
        EXPECT_EQ(h.passkey.state(), PasskeyState::prologue_sent);
    }
}

TEST(SessionPasskeyPairing, AForgedPrologueRequestStartsNothing)
{
    PasskeyHarness h;
    Node forged = prologue_request();
    forged.set_attr("from", "5511999999999@s.whatsapp.net");
    h.send(forged);
    EXPECT_TRUE(h.passkey_events.empty());
    EXPECT_EQ(h.passkey.state(), PasskeyState::idle);
    EXPECT_TRUE(h.qr.current_qr().has_value());
}

TEST(SessionPasskeyPairing, APairedDeviceHasNoCeremonyToRun)
{
    DeviceCredentials paired = ceremony_credentials();
    paired.jid = binary::Jid::parse("5521900000001:3@s.whatsapp.net").value();
    FlowHarness h(paired);
    PasskeyPairing passkey(paired, crypto::replay_random(ceremony_random()));
    h.on_event = [&](const Event& e) {
        if (const auto* s = std::get_if<event::Stanza>(&e)) {
            EXPECT_TRUE(passkey.on_stanza(*h.conn, s->to_node(), h.now));
        }
    };
    h.handshake();
    h.send(server_node("success", {{"t", "1800000000"}}));
    ASSERT_EQ(h.conn->state(), ConnectionState::connected);
    h.send(prologue_request());
    EXPECT_FALSE(passkey.poll_event().has_value());
    EXPECT_EQ(passkey.state(), PasskeyState::idle);
    for (const Node& n : h.take_received()) {
        EXPECT_NE(n.tag, "iq") << binary::to_debug_string(n);
    }
}

TEST(SessionPasskeyPairing, ARequestWithOptionsThatDoNotParseFails)
{
    PasskeyHarness h;
    h.send(prologue_request("{\"challenge\":1}"));
    auto f = h.failure();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->step, "options");
    EXPECT_EQ(f->error.code, Errc::malformed);
}

TEST(SessionPasskeyPairing, ASecondPrologueRequestStartsOverWithItsOwnChallenge)
{
    PasskeyHarness h;
    h.send(prologue_request());
    const std::string other =
        R"({"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"whatsapp.com","timeout":60000})";
    h.send(prologue_request(other));
    auto wanted = h.events_of<passkey_event::AssertionWanted>();
    ASSERT_EQ(wanted.size(), 2u);
    EXPECT_EQ(wanted[1].options_json, other);
    // The assertion over the first challenge no longer fits.
    Status s = h.submit(assertion("valid"));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().detail.find("challenge"), std::string::npos);
}

TEST(SessionPasskeyPairing, ACodeNotConfirmedInTimeFailsAndALateConfirmIsTurnedAway)
{
    PasskeyHarness h;
    h.to_code();
    EXPECT_EQ(h.passkey.state(), PasskeyState::code_shown);
    h.advance_to(h.now + seconds(300));
    auto f = h.failure();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->step, "confirmation");
    EXPECT_EQ(f->error.code, Errc::expired);
    EXPECT_FALSE(h.passkey.code().has_value());
    EXPECT_EQ(h.confirm().error().code, Errc::wrong_state);
    EXPECT_TRUE(h.sent_iqs().empty());
}

TEST(SessionPasskeyPairing, ConfirmBeforeACodeIsAWrongStateAndChangesNothing)
{
    PasskeyHarness h;
    EXPECT_EQ(h.confirm().error().code, Errc::wrong_state);
    h.send(prologue_request());
    EXPECT_EQ(h.confirm().error().code, Errc::wrong_state);
    EXPECT_EQ(h.passkey.state(), PasskeyState::waiting_assertion);
    EXPECT_FALSE(h.failure().has_value());
}

TEST(SessionPasskeyPairing, NoPairSuccessAfterTheRequestFails)
{
    PasskeyHarness h;
    h.to_code();
    ASSERT_TRUE(h.confirm().ok());
    h.send(result(h.sent_iq()));
    EXPECT_EQ(h.passkey.next_timer(), h.now + seconds(60));
    h.advance_to(h.now + seconds(60));
    auto f = h.failure();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->step, "pair-success");
}

TEST(SessionPasskeyPairing, AStepTheServerNeverAnswersFailsWithTheIqTimeout)
{
    PasskeyConfig config;
    config.iq_timeout = seconds(20);
    PasskeyHarness h(config);
    h.send(prologue_request());
    ASSERT_TRUE(h.submit(assertion("valid")).ok());
    h.take_received();
    h.advance_to(h.now + seconds(20));
    auto f = h.failure();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->step, "ref");
    EXPECT_EQ(f->error.code, Errc::expired);
}

TEST(SessionPasskeyPairing, TheConnectionEndingMidCeremonyFailsIt)
{
    PasskeyHarness h;
    h.to_code();
    h.conn->socket_closed(h.now);
    h.settle();
    auto f = h.failure();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->step, "connection");
    EXPECT_FALSE(h.passkey.next_timer().has_value());
}

TEST(SessionPasskeyPairing, ARandomSourceThatFailsEndsTheCeremonyInsteadOfSendingWeakKeys)
{
    PasskeyHarness h({}, Bytes(40, 7));  // the new ADV secret, and then nothing
    h.send(prologue_request());
    ASSERT_TRUE(h.submit(assertion("valid")).ok());
    h.send(result(h.sent_iq(), {leaf("ref", as_bytes("2@r"))}));
    auto f = h.failure();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->step, "prologue");
    EXPECT_EQ(f->error.code, Errc::crypto_failure);
    EXPECT_TRUE(h.sent_iqs().empty());
}

}  // namespace
}  // namespace chatwoot::wa::session
