// Pairing by phone number on top of the connection, against the scripted
// server.  The exchange is byte-checked against code_pairing_vectors.json,
// made by t/mock/wa/gen-code-pairing-vectors.mjs with the phone's side the
// loopback server runs (lib/pair-code.mjs): our wrapped ephemeral is what
// the phone unwraps with the code, our key bundle what it opens, our ADV
// secret the one it derives; the primary_hello notification and the
// pair-success arrive as the reference encoder wrote them.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>
#include <string>

#include "session_flow_harness.hpp"
#include "vectors.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/pairing/pairing_code.hpp"
#include "wa/pairing/qr_code.hpp"
#include "wa/session/code_pairing.hpp"
#include "wa/session/qr_pairing.hpp"

namespace chatwoot::wa::session {
namespace {

using binary::Children;
using binary::Node;
using test::FlowHarness;
using test::server_node;

const rapidjson::Value& vec()
{
    static const rapidjson::Document doc = [] {
        std::ifstream in(WA_CODE_PAIRING_VECTORS_FILE, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        rapidjson::Document d;
        d.Parse(text.str().c_str());
        return d;
    }();
    EXPECT_TRUE(doc.IsObject()) << "cannot read " WA_CODE_PAIRING_VECTORS_FILE;
    return doc;
}

Bytes vhex(std::string_view key)
{
    return test::vector_hex(vec(), key);
}

std::string vstr(std::string_view key)
{
    return std::string(test::vector_string(vec(), key));
}

// Exactly the random bytes the exchange draws, in CodePairing's order; a
// draw more (or in another order) fails the byte checks or the source.
crypto::RandomSource vector_random()
{
    const auto& r = vec()["random"];
    return crypto::replay_random(concat({test::vector_hex(r, "code_bytes"),
                                         test::vector_hex(r, "companion_ephemeral_priv"),
                                         test::vector_hex(r, "hello_salt"), test::vector_hex(r, "hello_iv"),
                                         test::vector_hex(r, "adv_random"), test::vector_hex(r, "bundle_salt"),
                                         test::vector_hex(r, "bundle_nonce")}));
}

// An unpaired device with the vector's identity key; its first ADV secret
// (the QR's) is random, so only the exchange's can verify the pair-success.
DeviceCredentials vector_credentials()
{
    auto c = generate_credentials(crypto::seeded_random(as_bytes("code device")));
    EXPECT_TRUE(c.ok());
    c->identity_key = crypto::x25519_key_pair(vhex("our_identity_priv")).value();
    return *c;
}

Bytes raw(std::string_view s)
{
    return Bytes(s.begin(), s.end());
}

Bytes bytes_of(const Node* n)
{
    if (n == nullptr) return {};
    if (const Bytes* b = n->bytes()) return *b;
    if (const binary::Value* v = n->text()) return Bytes(v->text.begin(), v->text.end());
    return {};
}

std::string text_of(const Node* n)
{
    const Bytes b = bytes_of(n);
    return std::string(b.begin(), b.end());
}

Node pair_device(std::string id = "pd-1")
{
    return server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "set"}, {"id", id}},
                       {Node("pair-device", {},
                             Children{Node("ref", {}, raw("qr-ref-A")),
                                      Node("ref", {}, raw("qr-ref-B"))})});
}

Node hello_result(std::string_view id, std::string_view ref)
{
    return server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "result"}, {"id", std::string(id)}},
                       {Node("link_code_companion_reg", {},
                             Children{Node("link_code_pairing_ref", {}, raw(ref))})});
}

Node iq_error(std::string_view id, std::string code, std::string text)
{
    return server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "error"}, {"id", std::string(id)}},
                       {server_node("error", {{"code", code}, {"text", text}})});
}

Node iq_result(std::string_view id)
{
    return server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "result"}, {"id", std::string(id)}});
}

// The vector's primary_hello as a node, to be changed by a test.
Node primary_hello()
{
    auto node = binary::decode(vhex("primary_hello_encoded"));
    EXPECT_TRUE(node.ok());
    return node.ok() ? *node : Node{};
}

Node* reg_child(Node& notification, std::string_view tag)
{
    auto* reg = const_cast<Node*>(notification.child("link_code_companion_reg"));
    if (reg == nullptr) return nullptr;
    return const_cast<Node*>(reg->child(tag));
}

struct CodeHarness : FlowHarness {
    QrPairing qr;
    CodePairing code;
    std::vector<PairingEvent> qr_events;
    std::vector<CodeEvent> code_events;
    bool apply_adv_secret = true;  // what a correct owner does with AdvSecret

    explicit CodeHarness(crypto::RandomSource random = vector_random(), CodePairingConfig config = {})
        : FlowHarness(vector_credentials()),
          qr(vector_credentials(), crypto::seeded_random(as_bytes("qr signer"))),
          code(vector_credentials(), std::move(random), std::move(config))
    {
        on_event = [this](const Event& e) {
            if (const auto* r = std::get_if<event::ServerRequest>(&e)) {
                EXPECT_TRUE(qr.on_server_request(*conn, r->iq, now));
            } else if (const auto* a = std::get_if<event::IqAnswered>(&e)) {
                code.on_iq_answered(*conn, a->outcome, now);
            } else if (const auto* s = std::get_if<event::Stanza>(&e)) {
                code.on_stanza(*conn, s->to_node(), now);
            } else if (const auto* c = std::get_if<event::Closed>(&e)) {
                qr.on_closed(c->end);
                code.on_closed(c->end);
            }
            drain();
        };
        handshake();
    }

    void drain()
    {
        while (auto e = code.poll_event()) {
            if (const auto* s = std::get_if<code_event::AdvSecret>(&*e); s && apply_adv_secret) {
                // The owner: into the stored credentials, then to QrPairing.
                auto creds = *store.load_credentials();
                creds.adv_secret = s->adv_secret;
                store.set(creds);
                qr.use_adv_secret(s->adv_secret);
            }
            code_events.push_back(std::move(*e));
        }
        while (auto e = qr.poll_event()) qr_events.push_back(std::move(*e));
    }

    // A node written by the reference encoder, as it came in the vectors.
    void send_encoded(const Bytes& plaintext) { to_client(server.frame_for_plaintext(plaintext)); }

    void advance_to(Millis t)
    {
        now = t;
        conn->on_timer(now);
        settle();
        qr.on_timer(*conn, now);
        drain();
        settle();
    }

    // The IQs the server received since the last call (acks left out).
    std::vector<Node> take_iqs()
    {
        std::vector<Node> out;
        for (Node& n : take_received())
            if (n.tag == "iq") out.push_back(std::move(n));
        return out;
    }

    template <class E>
    std::vector<E> code_flow() const
    {
        std::vector<E> out;
        for (const auto& e : code_events)
            if (const auto* p = std::get_if<E>(&e)) out.push_back(*p);
        return out;
    }

    template <class E>
    std::vector<E> qr_flow() const
    {
        std::vector<E> out;
        for (const auto& e : qr_events)
            if (const auto* p = std::get_if<E>(&e)) out.push_back(*p);
        return out;
    }

    // pair-device, then the code request; returns the hello IQ's id.
    std::string request_code()
    {
        send(pair_device());
        (void)take_received();
        EXPECT_TRUE(code.request(*conn, vstr("phone_input"), now).ok());
        settle();
        auto iqs = take_iqs();
        EXPECT_EQ(iqs.size(), 1u);
        return iqs.empty() ? std::string() : std::string(iqs[0].attr("id").value_or(""));
    }

    // Up to the code on screen.
    void show_code()
    {
        const std::string id = request_code();
        send(hello_result(id, vstr("ref")));
        ASSERT_EQ(code.state(), CodePairingState::showing_code);
    }
};

TEST(SessionCodePairing, TheWholeExchangeMatchesThePhonesSideAndThePairSuccessVerifies)
{
    CodeHarness h;
    h.send(pair_device());
    (void)h.take_received();
    ASSERT_EQ(h.qr_flow<pairing_event::QrCode>().size(), 1u);

    // companion_hello, byte for byte.
    ASSERT_TRUE(h.code.request(*h.conn, vstr("phone_input"), h.now).ok());
    EXPECT_EQ(h.code.state(), CodePairingState::requesting);
    h.settle();
    auto iqs = h.take_iqs();
    ASSERT_EQ(iqs.size(), 1u);
    const Node& hello = iqs[0];
    EXPECT_EQ(hello.attr("xmlns"), "md");
    EXPECT_EQ(hello.attr("type"), "set");
    EXPECT_EQ(hello.find_attr("to")->value, binary::server_jid());
    const std::string hello_id(hello.attr("id").value_or(""));
    ASSERT_FALSE(hello_id.empty());
    const Node* reg = hello.child("link_code_companion_reg");
    ASSERT_NE(reg, nullptr);
    EXPECT_EQ(reg->attr("jid"), vstr("phone") + "@s.whatsapp.net");
    EXPECT_TRUE(reg->find_attr("jid")->value.is_jid());
    EXPECT_EQ(reg->attr("stage"), "companion_hello");
    EXPECT_EQ(reg->attr("should_show_push_notification"), "true");
    ASSERT_NE(reg->children(), nullptr);
    std::vector<std::string> tags;
    for (const Node& c : *reg->children()) tags.push_back(c.tag);
    EXPECT_EQ(tags, (std::vector<std::string>{"link_code_pairing_wrapped_companion_ephemeral_pub",
                                              "companion_server_auth_key_pub", "companion_platform_id",
                                              "companion_platform_display", "link_code_pairing_nonce"}));
    EXPECT_EQ(to_hex(bytes_of(reg->child("link_code_pairing_wrapped_companion_ephemeral_pub"))),
              vstr("wrapped_companion_ephemeral"));
    const auto creds = vector_credentials();
    EXPECT_EQ(bytes_of(reg->child("companion_server_auth_key_pub")),
              Bytes(creds.noise_key.public_key.begin(), creds.noise_key.public_key.end()));
    EXPECT_EQ(text_of(reg->child("companion_platform_id")), "1");
    EXPECT_EQ(text_of(reg->child("companion_platform_display")), "Chrome (Linux)");
    EXPECT_EQ(bytes_of(reg->child("link_code_pairing_nonce")), Bytes{0});
    // No code before the server has taken it: a code it does not know
    // would be typed in vain.
    EXPECT_TRUE(h.code_flow<code_event::Code>().empty());
    EXPECT_FALSE(h.code.current_code().has_value());

    // The server's ref: the code goes up.
    h.send(hello_result(hello_id, vstr("ref")));
    auto codes = h.code_flow<code_event::Code>();
    ASSERT_EQ(codes.size(), 1u);
    EXPECT_EQ(codes[0].code, vstr("code"));
    EXPECT_EQ(codes[0].display, vstr("display"));
    EXPECT_EQ(codes[0].phone, vstr("phone"));
    EXPECT_EQ(h.code.current_code(), vstr("display"));
    EXPECT_EQ(h.code.state(), CodePairingState::showing_code);

    // The person typed it: the phone's notification, as its encoder wrote it.
    h.send_encoded(vhex("primary_hello_encoded"));
    auto got = h.take_received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].tag, "ack");  // the connection's, at once
    EXPECT_EQ(got[0].attr("class"), "notification");
    const Node& finish = got[1];
    EXPECT_EQ(finish.tag, "iq");
    EXPECT_EQ(finish.attr("xmlns"), "md");
    EXPECT_EQ(finish.attr("type"), "set");
    const std::string finish_id(finish.attr("id").value_or(""));
    reg = finish.child("link_code_companion_reg");
    ASSERT_NE(reg, nullptr);
    EXPECT_EQ(reg->attr("jid"), vstr("phone") + "@s.whatsapp.net");
    EXPECT_EQ(reg->attr("stage"), "companion_finish");
    tags.clear();
    for (const Node& c : *reg->children()) tags.push_back(c.tag);
    EXPECT_EQ(tags, (std::vector<std::string>{"link_code_pairing_wrapped_key_bundle",
                                              "companion_identity_public", "link_code_pairing_ref"}));
    EXPECT_EQ(to_hex(bytes_of(reg->child("link_code_pairing_wrapped_key_bundle"))),
              vstr("wrapped_key_bundle"));
    EXPECT_EQ(bytes_of(reg->child("companion_identity_public")),
              Bytes(creds.identity_key.public_key.begin(), creds.identity_key.public_key.end()));
    EXPECT_EQ(text_of(reg->child("link_code_pairing_ref")), vstr("ref"));

    // The secret the phone derived, up for the owner to keep.
    auto secrets = h.code_flow<code_event::AdvSecret>();
    ASSERT_EQ(secrets.size(), 1u);
    EXPECT_EQ(to_hex(secrets[0].adv_secret), vstr("adv_secret"));
    EXPECT_EQ(to_hex(h.store.load_credentials()->adv_secret), vstr("adv_secret"));
    EXPECT_EQ(h.code.state(), CodePairingState::finishing);
    EXPECT_FALSE(h.code.current_code().has_value());

    h.send(iq_result(finish_id));
    EXPECT_EQ(h.code_flow<code_event::Finished>().size(), 1u);
    EXPECT_EQ(h.code.state(), CodePairingState::finished);
    EXPECT_TRUE(h.code_flow<code_event::CodeError>().empty());

    // Then pair-success, MACed with that secret: verified, stored, signed.
    h.send_encoded(vhex("pair_success_encoded"));
    auto paired = h.qr_flow<pairing_event::Paired>();
    ASSERT_EQ(paired.size(), 1u) << (h.qr_flow<pairing_event::PairingError>().empty()
                                         ? ""
                                         : h.qr_flow<pairing_event::PairingError>()[0].error.detail);
    EXPECT_EQ(paired[0].account.jid.to_string(), vstr("pair_success_jid"));
    EXPECT_EQ(to_hex(paired[0].account.primary_identity), vstr("primary_identity_pub"));
    ASSERT_TRUE(h.qr.commit(*h.conn).ok());
    h.settle();
    got = h.take_iqs();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].attr("id"), "code-pair-1");
    EXPECT_EQ(got[0].attr("type"), "result");
    EXPECT_NE(got[0].child("pair-device-sign"), nullptr);

    h.send(server_node("stream:error", {{"code", "515"}}));
    EXPECT_EQ(h.qr_flow<pairing_event::RestartToLogIn>().size(), 1u);
    EXPECT_EQ(h.code.state(), CodePairingState::finished);
    EXPECT_TRUE(h.code_flow<code_event::CodeError>().empty());
}

TEST(SessionCodePairing, WithoutTheNewSecretThePairSuccessFailsItsHmac)
{
    // An owner that drops AdvSecret: QrPairing still holds the QR's secret.
    CodeHarness h;
    h.apply_adv_secret = false;
    h.show_code();
    h.send_encoded(vhex("primary_hello_encoded"));
    ASSERT_EQ(h.code_flow<code_event::AdvSecret>().size(), 1u);
    h.send_encoded(vhex("pair_success_encoded"));
    EXPECT_TRUE(h.qr_flow<pairing_event::Paired>().empty());
    auto errors = h.qr_flow<pairing_event::PairingError>();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].error.code, Errc::bad_mac);
}

TEST(SessionCodePairing, TheNewSecretRemakesTheQrOnScreenWithTheSameRefAndExpiry)
{
    CodeHarness h;
    h.show_code();
    auto before = h.qr_flow<pairing_event::QrCode>();
    ASSERT_EQ(before.size(), 1u);
    h.send_encoded(vhex("primary_hello_encoded"));
    auto after = h.qr_flow<pairing_event::QrCode>();
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[1].index, before[0].index);
    EXPECT_EQ(after[1].expires_at, before[0].expires_at);
    const auto creds = vector_credentials();
    const Bytes adv = vhex("adv_secret");
    const std::string expected = pairing::qr_text({"qr-ref-A", creds.noise_key.public_key,
                                                   creds.identity_key.public_key, adv})
                                     .value();
    EXPECT_EQ(after[1].text, expected);
    EXPECT_EQ(h.qr.current_qr(), expected);
    EXPECT_NE(after[1].text, before[0].text);
}

TEST(SessionCodePairing, PhoneNumbersAreDigitsAfterPlusAndSpaces)
{
    EXPECT_EQ(normalize_phone_number("+55 11 91234 5678").value(), "5511912345678");
    EXPECT_EQ(normalize_phone_number("5511912345678").value(), "5511912345678");
    EXPECT_EQ(normalize_phone_number("+1 2345678").value(), "12345678");
    EXPECT_EQ(normalize_phone_number("1234567").value(), "1234567");            // 7
    EXPECT_EQ(normalize_phone_number("123456789012345").value(), "123456789012345");  // 15
    for (std::string_view bad : {"", "+", "   ", "123456", "1234567890123456", "+55-11-912345678",
                                 "(11) 91234 5678", "55119123x5678", "0551191234567", "+५५११९१२३४५६७८"}) {
        auto r = normalize_phone_number(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().code, Errc::malformed) << bad;
    }
}

TEST(SessionCodePairing, ARequestNeedsRefsOnARegistrationConnectionAndAGoodNumber)
{
    // Before <pair-device>: the server has not offered pairing yet.
    CodeHarness h;
    auto early = h.code.request(*h.conn, "5511912345678", h.now);
    ASSERT_FALSE(early.ok());
    EXPECT_EQ(early.error().code, Errc::wrong_state);

    h.send(pair_device());
    (void)h.take_received();
    auto bad = h.code.request(*h.conn, "+55 (11) 91234-5678", h.now);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::malformed);
    h.settle();
    EXPECT_TRUE(h.take_iqs().empty());
    EXPECT_EQ(h.code.state(), CodePairingState::idle);

    // One request at a time.
    ASSERT_TRUE(h.code.request(*h.conn, "5511912345678", h.now).ok());
    auto twice = h.code.request(*h.conn, "5511912345678", h.now);
    ASSERT_FALSE(twice.ok());
    EXPECT_EQ(twice.error().code, Errc::wrong_state);

    // A logged-in connection is paired already.
    auto paired = generate_credentials(crypto::seeded_random(as_bytes("paired"))).value();
    paired.jid = binary::Jid::parse("5511999990000:7@s.whatsapp.net");
    FlowHarness login(paired);
    login.handshake();
    login.send(server_node("success", {{"t", "1800000000"}}));
    ASSERT_EQ(login.conn->state(), ConnectionState::connected);
    CodePairing other(paired, crypto::seeded_random(as_bytes("x")));
    auto logged_in = other.request(*login.conn, "5511912345678", login.now);
    ASSERT_FALSE(logged_in.ok());
    EXPECT_EQ(logged_in.error().code, Errc::wrong_state);
}

TEST(SessionCodePairing, TheServerRefusingTheHelloIsAnErrorAndANewRequestMayFollow)
{
    CodeHarness h(crypto::seeded_random(as_bytes("refused")));
    const std::string id = h.request_code();
    h.send(iq_error(id, "400", "bad-request"));
    auto errors = h.code_flow<code_event::CodeError>();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].step, CodeStep::companion_hello);
    EXPECT_EQ(errors[0].server.code, 400);
    EXPECT_EQ(errors[0].server.text, "bad-request");
    EXPECT_NE(errors[0].error.detail.find("400"), std::string::npos);
    EXPECT_EQ(h.code.state(), CodePairingState::failed);
    EXPECT_TRUE(h.code_flow<code_event::Code>().empty());

    // An answer without a ref is no code either.
    ASSERT_TRUE(h.code.request(*h.conn, "5511912345678", h.now).ok());
    h.settle();
    auto iqs = h.take_iqs();
    ASSERT_EQ(iqs.size(), 1u);
    h.send(iq_result(iqs[0].attr("id").value_or("")));
    errors = h.code_flow<code_event::CodeError>();
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_EQ(errors[1].error.code, Errc::malformed);
    EXPECT_EQ(errors[1].server.code, 0);

    // And no answer at all times out on the connection's IQ deadline.
    ASSERT_TRUE(h.code.request(*h.conn, "5511912345678", h.now).ok());
    h.settle();
    ASSERT_EQ(h.take_iqs().size(), 1u);
    h.advance_to(h.now + default_iq_timeout);
    errors = h.code_flow<code_event::CodeError>();
    ASSERT_EQ(errors.size(), 3u);
    EXPECT_EQ(errors[2].step, CodeStep::companion_hello);
    EXPECT_NE(errors[2].error.detail.find("no answer"), std::string::npos);
    EXPECT_TRUE(h.code_flow<code_event::Code>().empty());
}

// A notification that must not move the pairing: reported, acked by the
// connection, nothing else sent, and the code still waits for the phone.
void expect_refused(CodeHarness& h, const Node& notification, Errc code, std::string_view why)
{
    SCOPED_TRACE(why);
    const std::size_t before = h.code_flow<code_event::CodeError>().size();
    const std::size_t secrets = h.code_flow<code_event::AdvSecret>().size();
    h.send(notification);
    auto errors = h.code_flow<code_event::CodeError>();
    ASSERT_EQ(errors.size(), before + 1);
    EXPECT_EQ(errors.back().step, CodeStep::primary_hello);
    EXPECT_EQ(errors.back().error.code, code) << errors.back().error.detail;
    auto got = h.take_received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].tag, "ack");
    EXPECT_EQ(h.code_flow<code_event::AdvSecret>().size(), secrets);
}

TEST(SessionCodePairing, MalformedForeignAndUnknownNotificationsLeaveTheCodeWaiting)
{
    CodeHarness h;
    h.show_code();

    Node n = primary_hello();
    reg_child(n, "link_code_pairing_wrapped_primary_ephemeral_pub")->content = Bytes(79, 1);
    expect_refused(h, n, Errc::malformed, "a wrapped key of 79 bytes");

    n = primary_hello();
    reg_child(n, "primary_identity_pub")->tag = "something_else";
    expect_refused(h, n, Errc::malformed, "no primary identity");

    n = primary_hello();
    reg_child(n, "link_code_pairing_ref")->content = raw("2@another-pairing");
    expect_refused(h, n, Errc::untrusted, "another ref");

    n = primary_hello();
    const_cast<Node*>(n.child("link_code_companion_reg"))->set_attr("stage", "refresh_code");
    expect_refused(h, n, Errc::unsupported, "an unknown stage");

    n = primary_hello();
    n.content = Children{};
    expect_refused(h, n, Errc::malformed, "no link_code_companion_reg");

    n = primary_hello();
    n.set_attr("from", *binary::Jid::parse("5511912345678@s.whatsapp.net"));
    expect_refused(h, n, Errc::untrusted, "not from the server");

    // A small-order primary key: the shared secret would be all zeros.
    n = primary_hello();
    {
        // Wrap the zero point with the code, as a hostile phone could.
        const auto& r = vec()["random"];
        auto wrapped = pairing::wrap_ephemeral(vstr("code"), test::vector_hex(r, "hello_salt"),
                                               test::vector_hex(r, "hello_iv"), Bytes(32, 0));
        ASSERT_TRUE(wrapped.ok());
        reg_child(n, "link_code_pairing_wrapped_primary_ephemeral_pub")->content = *wrapped;
    }
    // (companion_finish has drawn the vector's finish randomness by now,
    // so this case comes last.)
    expect_refused(h, n, Errc::crypto_failure, "a small-order key");

    EXPECT_EQ(h.code.state(), CodePairingState::showing_code);
    EXPECT_EQ(h.code.current_code(), vstr("display"));
    // Notifications of other types are not ours.
    EXPECT_FALSE(h.code.on_stanza(*h.conn, server_node("notification", {{"from", "s.whatsapp.net"},
                                                                        {"type", "encrypt"},
                                                                        {"id", "n1"}}),
                                  h.now));
}

TEST(SessionCodePairing, AfterRefusalsTheRealAnswerStillFinishes)
{
    CodeHarness h;
    h.show_code();
    Node n = primary_hello();
    reg_child(n, "link_code_pairing_ref")->content = raw("2@another-pairing");
    expect_refused(h, n, Errc::untrusted, "another ref");
    h.send_encoded(vhex("primary_hello_encoded"));
    auto secrets = h.code_flow<code_event::AdvSecret>();
    ASSERT_EQ(secrets.size(), 1u);
    EXPECT_EQ(to_hex(secrets[0].adv_secret), vstr("adv_secret"));
}

TEST(SessionCodePairing, AReplayedPrimaryHelloMakesNoSecondFinish)
{
    CodeHarness h;
    h.show_code();
    h.send_encoded(vhex("primary_hello_encoded"));
    auto iqs = h.take_iqs();
    ASSERT_EQ(iqs.size(), 1u);
    const std::string finish_id(iqs[0].attr("id").value_or(""));

    // While the finish is in flight, and after the server took it.
    expect_refused(h, primary_hello(), Errc::wrong_state, "a repeat while finishing");
    h.send(iq_result(finish_id));
    ASSERT_EQ(h.code.state(), CodePairingState::finished);
    h.send_encoded(vhex("primary_hello_encoded"));
    auto errors = h.code_flow<code_event::CodeError>();
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_EQ(errors[1].error.code, Errc::wrong_state);
    EXPECT_TRUE(h.take_iqs().empty());
    EXPECT_EQ(h.code_flow<code_event::AdvSecret>().size(), 1u);
    EXPECT_EQ(h.code.state(), CodePairingState::finished);

    // And no request once the phone has answered.
    auto again = h.code.request(*h.conn, "5511912345678", h.now);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::wrong_state);
}

TEST(SessionCodePairing, APrimaryHelloWithNoCodeAskedForIsRefused)
{
    CodeHarness h;
    h.send(pair_device());
    (void)h.take_received();
    expect_refused(h, primary_hello(), Errc::wrong_state, "no request");
    EXPECT_EQ(h.code.state(), CodePairingState::idle);
}

TEST(SessionCodePairing, TheServerRefusingTheFinishFailsThePairing)
{
    CodeHarness h;
    h.show_code();
    h.send_encoded(vhex("primary_hello_encoded"));
    auto iqs = h.take_iqs();
    ASSERT_EQ(iqs.size(), 1u);
    h.send(iq_error(iqs[0].attr("id").value_or(""), "400", "bad-request"));
    auto errors = h.code_flow<code_event::CodeError>();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].step, CodeStep::companion_finish);
    EXPECT_EQ(errors[0].server.code, 400);
    EXPECT_EQ(h.code.state(), CodePairingState::failed);
    EXPECT_TRUE(h.code_flow<code_event::Finished>().empty());
}

TEST(SessionCodePairing, ANewRequestReplacesTheCodeAndTheOldRefIsRefused)
{
    CodeHarness h(crypto::seeded_random(as_bytes("twice")));
    h.send(pair_device());
    (void)h.take_received();
    ASSERT_TRUE(h.code.request(*h.conn, "5511912345678", h.now).ok());
    h.settle();
    auto iqs = h.take_iqs();
    ASSERT_EQ(iqs.size(), 1u);
    h.send(hello_result(iqs[0].attr("id").value_or(""), "2@first-ref"));
    ASSERT_EQ(h.code_flow<code_event::Code>().size(), 1u);

    ASSERT_TRUE(h.code.request(*h.conn, "5511912345678", h.now).ok());
    EXPECT_FALSE(h.code.current_code().has_value());
    h.settle();
    iqs = h.take_iqs();
    ASSERT_EQ(iqs.size(), 1u);
    h.send(hello_result(iqs[0].attr("id").value_or(""), "2@second-ref"));
    auto codes = h.code_flow<code_event::Code>();
    ASSERT_EQ(codes.size(), 2u);
    EXPECT_NE(codes[0].code, codes[1].code);
    EXPECT_EQ(h.code.current_code(), codes[1].display);

    Node n = primary_hello();
    reg_child(n, "link_code_pairing_ref")->content = raw("2@first-ref");
    expect_refused(h, n, Errc::untrusted, "the replaced code's ref");
}

TEST(SessionCodePairing, TheConnectionEndingKillsTheCodeOnScreen)
{
    CodeHarness h;
    h.show_code();
    h.send(server_node("stream:error", {{"code", "503"}}));
    auto errors = h.code_flow<code_event::CodeError>();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].step, CodeStep::primary_hello);
    EXPECT_EQ(h.code.state(), CodePairingState::failed);
    EXPECT_FALSE(h.code.current_code().has_value());

    // A request in flight is dropped with its connection.
    CodeHarness g(crypto::seeded_random(as_bytes("dropped")));
    (void)g.request_code();
    g.conn->socket_closed(g.now);
    g.settle();
    errors = g.code_flow<code_event::CodeError>();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].step, CodeStep::companion_hello);
    EXPECT_EQ(g.code.state(), CodePairingState::failed);
}

TEST(SessionCodePairing, TheConfigNamesThePlatformAndThePushNotification)
{
    CodePairingConfig config;
    config.platform = pairing::CompanionPlatform::firefox;
    config.platform_display = "Firefox (Mac OS)";
    config.show_push_notification = false;
    CodeHarness h(crypto::seeded_random(as_bytes("config")), config);
    h.send(pair_device());
    (void)h.take_received();
    ASSERT_TRUE(h.code.request(*h.conn, "5511912345678", h.now).ok());
    h.settle();
    auto iqs = h.take_iqs();
    ASSERT_EQ(iqs.size(), 1u);
    const Node* reg = iqs[0].child("link_code_companion_reg");
    ASSERT_NE(reg, nullptr);
    EXPECT_EQ(reg->attr("should_show_push_notification"), "false");
    EXPECT_EQ(text_of(reg->child("companion_platform_id")), "3");
    EXPECT_EQ(text_of(reg->child("companion_platform_display")), "Firefox (Mac OS)");
}

}  // namespace
}  // namespace chatwoot::wa::session
