// Linking a new device by phone number on top of a registration
// Connection, sans I/O (waweb.md 1.12).  The person types an 8-character
// code, shown by us, into "Link with phone number instead" on the phone;
// the rest is this exchange:
//
//   request()     <iq xmlns="md" type="set" to="s.whatsapp.net">
//                   <link_code_companion_reg jid="<phone>@s.whatsapp.net"
//                       stage="companion_hello" should_show_push_notification>
//                     link_code_pairing_wrapped_companion_ephemeral_pub
//                         (our fresh ephemeral key wrapped with the code)
//                     companion_server_auth_key_pub (our Noise key)
//                     companion_platform_id, companion_platform_display
//                     link_code_pairing_nonce (one 0 byte)
//   its result    <link_code_companion_reg><link_code_pairing_ref>: the
//                 server knows the code's phone now; event::Code shows it
//   on_stanza()   <notification type="link_code_companion_reg">
//                   <link_code_companion_reg stage="primary_hello"> with
//                 our ref, the phone's wrapped ephemeral and its identity:
//                 the person typed the code.  We send
//                   <link_code_companion_reg stage="companion_finish">
//                     link_code_pairing_wrapped_key_bundle,
//                     companion_identity_public, link_code_pairing_ref
//                 and event::AdvSecret carries the ADV secret both sides now
//                 share, which replaces the one the QR codes carried
//   then          <pair-success>, which QrPairing verifies and answers as for
//                 a scanned QR, with that secret (QrPairing::use_adv_secret)
//
// The owner applies AdvSecret before it feeds the connection anything
// else: it stores the secret with the credentials and hands it to
// QrPairing, so the pair-success that follows is checked with it.  (The
// phone can only send that after our companion_finish reached it, so an
// owner that drains these events after each call is always in time.)
//
// The QR codes keep rotating meanwhile, with the new secret once there is
// one: the server ends the registration connection when its refs run out
// whichever way the person links, and a scan still works.
//
// Errors go up as event::CodeError with the step and a reason: the
// server refusing a stage (its IQ error: a phone number it does not know,
// a platform display it does not accept), a notification that is
// malformed, for another ref, or replayed; none of these ends the
// connection.  Nothing here logs: the code and the keys are secrets, and
// the owner decides where the code may be shown.
//
// The driver feeds the connection's events in, next to QrPairing's:
//
//     IqAnswered a     -> code.on_iq_answered(conn, a.outcome, now)
//     Stanza s         -> code.on_stanza(conn, s.to_node(), now)  (acks are the connection's)
//     Closed c         -> code.on_closed(c.end)
//     while (auto e = code.poll_event()) ...
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/random.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/error.hpp"
#include "wa/pairing/qr_code.hpp"
#include "wa/session/clock.hpp"
#include "wa/session/connection.hpp"
#include "wa/session/iq_engine.hpp"
#include "wa/session/session_store.hpp"
#include "wa/session/stream_end.hpp"

namespace chatwoot::wa::session {

inline constexpr std::size_t phone_number_min_digits = 7;
inline constexpr std::size_t phone_number_max_digits = 15;  // E.164

// "+55 11 91234 5678" -> "5511912345678": '+' and spaces go, what is left
// must be 7-15 digits with a country code (no leading 0).  Anything else,
// dashes and brackets included: Errc::malformed naming what is wrong.
Result<std::string> normalize_phone_number(std::string_view text);

enum class CodePairingState {
    idle,          // no code asked for
    requesting,    // companion_hello sent, waiting for the server's ref
    showing_code,  // event::Code is up; waiting for the person to type it
    finishing,     // the phone answered; companion_finish sent
    finished,      // the server took companion_finish: pair-success is next
    failed,        // a step failed or the connection ended; request() again
};

std::string_view code_pairing_state_name(CodePairingState state);

// The steps an error can come from.
enum class CodeStep {
    companion_hello,   // our request and the server's answer to it
    primary_hello,     // the phone's notification
    companion_finish,  // our finish and the server's answer to it
};

std::string_view code_step_name(CodeStep step);

struct CodePairingConfig {
    // How the phone names us while the person types (companion_platform_id
    // and _display).  The server accepts only "Browser (OS)" with browsers
    // and systems it knows, and answers 400 to anything else.
    pairing::CompanionPlatform platform = pairing::CompanionPlatform::chrome;
    std::string platform_display = "Chrome (Linux)";
    // Whether the phone gets a notification asking to enter a code.
    bool show_push_notification = true;
};

namespace code_event {

// Show this code to the person, for the phone whose number was given.
struct Code {
    std::string code;     // "ABCDEFGH"
    std::string display;  // "ABCD-EFGH", as a person reads and types it
    std::string phone;    // the digits it was asked for
};

// The ADV secret of this pairing: store it with the credentials and hand
// it to QrPairing::use_adv_secret before anything else reaches the
// connection.
struct AdvSecret {
    crypto::Key32 adv_secret{};
};

// The server took our companion_finish; the phone's pair-success follows.
struct Finished {};

// A step failed.  `server` is the server's IQ error when that was the
// cause (code 0 otherwise).
struct CodeError {
    CodeStep step = CodeStep::companion_hello;
    Error error;
    IqError server;
};

}  // namespace code_event

using CodeEvent = std::variant<code_event::Code, code_event::AdvSecret, code_event::Finished,
                               code_event::CodeError>;

class CodePairing {
public:
    // `credentials` are the unpaired device's (its Noise public key goes
    // into companion_hello, its identity key into the finish).  `random`
    // makes, in this order: the code (5 bytes), our ephemeral key (32),
    // the wrapping salt (32) and IV (16) in request(); then the ADV random
    // (32), the bundle salt (32) and nonce (12) when the phone answers.
    CodePairing(DeviceCredentials credentials, crypto::RandomSource random,
                CodePairingConfig config = {});
    ~CodePairing();

    CodePairing(const CodePairing&) = delete;
    CodePairing& operator=(const CodePairing&) = delete;

    // Asks the server for a code for `phone` (normalize_phone_number's
    // input).  Errc::malformed for a number that is not one;
    // Errc::wrong_state on a connection that has no pairing refs yet or is
    // logged in, while a request is in flight, and once the phone has
    // answered.  A request while a code is shown replaces it (a new code,
    // a new ref; the old one is forgotten).  The connection's error when
    // it cannot send, or the random source's.
    Status request(Connection& conn, std::string_view phone, Millis now);

    // An IqAnswered event; true when it answered one of ours.
    bool on_iq_answered(Connection& conn, const IqOutcome& outcome, Millis now);

    // A Stanza event; true for a <notification type="link_code_companion_reg">,
    // whatever its fate (its ack is the connection's).
    bool on_stanza(Connection& conn, const binary::Node& stanza, Millis now);

    // The connection's Closed event: a code still shown is dead.
    void on_closed(const StreamEnd& end);

    std::optional<CodeEvent> poll_event();
    CodePairingState state() const { return state_; }
    // The code on screen now ("ABCD-EFGH"), if any: the status snapshot's.
    const std::optional<std::string>& current_code() const { return display_; }

private:
    void on_hello_answer(const IqOutcome& outcome);
    void on_finish_answer(const IqOutcome& outcome);
    void on_primary_hello(Connection& conn, const binary::Node& reg, Millis now);
    void fail(CodeStep step, Error error, IqError server = {});
    void report(CodeStep step, Error error);  // an error that changes nothing
    void forget_secrets();
    void emit(CodeEvent e) { events_.push_back(std::move(e)); }

    DeviceCredentials credentials_;
    crypto::RandomSource random_;
    CodePairingConfig config_;
    CodePairingState state_ = CodePairingState::idle;

    std::string phone_;
    std::optional<binary::Jid> phone_jid_;
    std::string code_;                       // secret until shown; wiped when done
    std::optional<crypto::KeyPair> ephemeral_;  // wiped once the finish is made
    std::string ref_;
    std::optional<std::string> display_;
    std::optional<std::string> hello_id_;
    std::optional<std::string> finish_id_;
    std::deque<CodeEvent> events_;
};

}  // namespace chatwoot::wa::session
