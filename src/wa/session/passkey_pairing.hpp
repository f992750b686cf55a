// Passkey-gated linking on top of a registering Connection, sans I/O
// (waweb-2026.md section 1; the wire and crypto are pairing/passkey.hpp).
// For an account in the server's passkey cohort, the phone's scan of our
// QR (or its taking our code) does not bring <pair-success> but a prologue
// request, and the ceremony runs, driven partly by the server and partly
// by the operator:
//
//   server   <notification type="passkey_prologue_request"> (options inside,
//            or we ask for them)
//              -> event AssertionWanted: the owner stops the QR
//                 (QrPairing::hold), shows state "passkey" and the options;
//                 the operator makes an assertion on web.whatsapp.com
//   operator submit_assertion(json): checked here first, then
//              <ref/> -> <passkey_prologue> (with the handoff proof while the
//              QR's secret is under 5 minutes old)
//   server   <notification type="crsc_continuation"> -> <companion_nonce>
//              -> event Code: both screens show the same 8 characters
//   operator confirm(): <encrypted_pairing_request> with a fresh ADV secret
//              -> event AdvSecretReplaced: the owner hands it to
//                 QrPairing::use_adv_secret at once
//   server   <pair-success>, QrPairing's as usual (verified with the new
//            secret, stored, answered, 515)
//
// Any step that fails (a malformed or late assertion, the server's error
// answer, a missing or bad continuation, an IQ or a step that runs out of
// time, the connection ending) ends the ceremony with event Failed naming
// the step.  The server's ceremony is over then too: the owner closes the
// connection and opens a new one, whose refs make a fresh QR.  Nothing
// waits forever: every state but idle, done and failed has a deadline.
//
// The driver routes the connection's events, as for QrPairing:
//
//     Stanza s         -> pairing.on_stanza(conn, s.to_node(), now)  (true: ours)
//     IqAnswered a     -> pairing.on_iq_answered(conn, a.outcome, now)
//     ServerRequest r  -> pairing.on_server_request(r.iq), then QrPairing's
//     Closed c         -> pairing.on_closed(c.end)
//     timer at next_timer() -> on_timer(conn, now)
//     while (auto e = pairing.poll_event()) ...
//
// Nothing here logs.  AdvSecretReplaced carries a secret: it goes to
// QrPairing and the store, never into a log line or the status.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "wa/binary/node.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/random.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/error.hpp"
#include "wa/pairing/passkey.hpp"
#include "wa/session/clock.hpp"
#include "wa/session/connection.hpp"
#include "wa/session/session_store.hpp"

namespace chatwoot::wa::session {

struct PasskeyConfig {
    // The DeviceProps.PlatformType we registered with (CHROME); it is bound
    // into the ceremony's key.
    std::uint32_t device_type = 1;
    // How long the operator has for the assertion: the options' timeout
    // (600 s from WhatsApp), this when they carry none, never more than
    // the maximum.
    Millis assertion_default = seconds(300);
    Millis assertion_max = seconds(600);
    // whatsmeow holds the handoff key valid for 5 minutes from the prologue
    // request; an assertion later than that goes without the proof.
    Millis handoff_validity = seconds(300);
    Millis continuation_timeout = seconds(60);  // prologue sent -> crsc_continuation
    Millis confirm_timeout = seconds(300);      // code shown -> confirm()
    Millis pair_success_timeout = seconds(60);  // request accepted -> <pair-success>
    std::optional<Millis> iq_timeout;           // the ceremony's IQs; none: the connection's
};

enum class PasskeyState {
    idle,               // no prologue request on this connection
    fetching_options,   // the request had no options: asked for them
    waiting_assertion,  // event AssertionWanted is out
    fetching_ref,       // assertion checked, <ref/> asked
    prologue_sent,      // waiting for the answer and crsc_continuation
    nonce_sent,         // companion_nonce sent, its answer next
    code_shown,         // event Code is out: confirm() next
    request_sent,       // encrypted_pairing_request sent: pair-success next
    done,               // pair-success arrived (QrPairing's from here)
    failed,             // see event Failed
};

std::string_view passkey_state_name(PasskeyState state);

namespace passkey_event {

// The server wants a WebAuthn assertion: show the options to the operator
// (the login page's snippet calls navigator.credentials.get with them on
// web.whatsapp.com).  The QR must stop rotating now.
struct AssertionWanted {
    std::string options_json;
    Millis expires_at = 0;  // submit_assertion after this fails
};

// Show this code; the phone shows the same.  `handoff_proven`: the
// prologue carried the handoff proof, so the server already ties this
// ceremony to our QR; without it the operator's comparison is the only
// link, and confirm() says it matched.
struct Code {
    std::string code;     // 8 characters
    std::string display;  // "ABCD-EFGH"
    bool handoff_proven = false;
    Millis expires_at = 0;  // confirm() after this fails
};

// The ADV secret pair-success will be authenticated with.  Hand it to
// QrPairing::use_adv_secret before the connection's next input.
struct AdvSecretReplaced {
    crypto::Key32 adv_secret{};
};

// The ceremony is over without a pairing.  `step` says where ("assertion",
// "options", "ref", "prologue", "continuation", "companion nonce",
// "confirmation", "pairing request", "pair-success", "connection").
struct Failed {
    std::string step;
    Error error;
};

}  // namespace passkey_event

using PasskeyEvent = std::variant<passkey_event::AssertionWanted, passkey_event::Code,
                                  passkey_event::AdvSecretReplaced, passkey_event::Failed>;

class PasskeyPairing {
public:
    // `credentials` are the unpaired device's (the QR's ADV secret keys the
    // handoff proof; the noise and identity public keys go into the
    // request).  `random` draws, per ceremony, the new ADV secret, the
    // ephemeral key and the nonce (32 bytes each, in that order, once the
    // ref is there), then the request's IV (12, in confirm()).
    PasskeyPairing(DeviceCredentials credentials, crypto::RandomSource random,
                   PasskeyConfig config = {});

    // A Stanza event: true for the two notifications of the ceremony
    // (their acks are the connection's).
    bool on_stanza(Connection& conn, const binary::Node& stanza, Millis now);

    // An IqAnswered event: true when it answers one of ours.
    bool on_iq_answered(Connection& conn, const IqOutcome& outcome, Millis now);

    // A ServerRequest event, before QrPairing handles it: a pair-success
    // ends the ceremony's watch.  Never answers anything.
    void on_server_request(const binary::Node& iq);

    // The operator's paste.  Errc::wrong_state when no ceremony waits for
    // one (nothing changes); otherwise any error is also event Failed (a
    // malformed assertion, Errc::malformed naming the problem; a late one,
    // Errc::expired), and Done means the ceremony went on.
    Status submit_assertion(Connection& conn, std::string_view json, Millis now);

    // The operator saw the same code on the phone.  Errc::wrong_state when
    // no code is shown; a late confirmation is Errc::expired and Failed.
    Status confirm(Connection& conn, Millis now);

    void on_timer(Connection& conn, Millis now);
    std::optional<Millis> next_timer() const { return deadline_; }

    // The connection's Closed event.
    void on_closed(const StreamEnd& end);

    std::optional<PasskeyEvent> poll_event();

    PasskeyState state() const { return state_; }
    // A ceremony is under way: the QR stays held, the state is "passkey".
    bool active() const;
    // For the device API: the options while an assertion is wanted, the
    // code while it is shown.
    const std::optional<pairing::PasskeyOptions>& options() const { return options_; }
    const std::optional<std::string>& code() const { return code_; }

private:
    void on_prologue_request(Connection& conn, const binary::Node& stanza, Millis now);
    void want_assertion(pairing::PasskeyOptions options, Millis now);
    void on_continuation(Connection& conn, const binary::Node& stanza, Millis now);
    void send_prologue(Connection& conn, std::string ref, Millis now);
    Status send_step(Connection& conn, binary::Node iq, std::string_view step, Millis now);
    void fail(std::string step, Error error);
    void reset();  // the ceremony's fields; events stay
    void emit(PasskeyEvent e) { events_.push_back(std::move(e)); }

    DeviceCredentials credentials_;
    crypto::RandomSource random_;
    PasskeyConfig config_;
    PasskeyState state_ = PasskeyState::idle;
    std::optional<Millis> deadline_;

    std::optional<pairing::PasskeyOptions> options_;
    std::optional<pairing::PasskeyAssertion> assertion_;
    Millis requested_at_ = 0;  // the prologue request: the handoff key's age counts from here
    bool handoff_proven_ = false;
    std::optional<std::string> pending_id_;  // the ceremony's IQ in flight
    std::string pending_step_;

    std::string ref_;
    crypto::Key32 new_adv_{};
    crypto::KeyPair ephemeral_{};
    crypto::Key32 nonce_{};
    crypto::Key32 primary_public_{};
    crypto::Key32 primary_nonce_{};
    std::optional<std::string> code_;
    std::deque<PasskeyEvent> events_;
};

}  // namespace chatwoot::wa::session
