// Linking a new device by QR code on top of a Connection, sans I/O
// (waweb.md 1.10).  The flow, as the server drives it:
//
//   <iq set><pair-device><ref/>...</pair-device></iq>
//       answered at once; each ref becomes a QR text in turn: the first
//       shown 60 s, each next one 20 s (the timer says when to rotate);
//       when the last one times out, the server has given up too: "QR
//       expired", the connection is closed and the device stays unpaired
//   <iq set><pair-success>...</pair-success></iq>
//       the phone scanned one: verified (HMAC with our ADV secret, the
//       account's signature over our identity), then "paired" goes up with
//       what to store; once the owner has stored it, commit() sends our
//       signed <pair-device-sign> reply
//   <stream:error code="515"/>
//       the server ends the registration connection: "restart to log in"
//       (a new Connection with the stored JID sends the login payload)
//
// A pair-success that fails verification is refused with an error IQ and
// reported; the device stays unpaired and the QR keeps rotating, as the
// phone may try again.  Nothing here logs: QR texts and identities go up
// as events, and the owner decides where they may be shown.
//
// The driver feeds the connection's events in and sends through the same
// Connection it passes to each call:
//
//     ServerRequest r  -> pairing.on_server_request(conn, r.iq, now)
//     Closed c         -> pairing.on_closed(c.end)
//     timer at min(conn.next_timer(), pairing.next_timer()) -> on_timer both
//     while (auto e = pairing.poll_event()) ...
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "wa/binary/node.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"
#include "wa/pairing/pair_success.hpp"
#include "wa/pairing/qr_code.hpp"
#include "wa/session/clock.hpp"
#include "wa/session/connection.hpp"
#include "wa/session/session_store.hpp"

namespace chatwoot::wa::session {

enum class PairingState {
    waiting,     // no <pair-device> yet
    showing_qr,  // a QR is on screen (event::QrCode)
    verified,    // pair-success checked; the owner stores, then commit()
    signed_off,  // our reply is sent; the server's 515 is next
    restart,     // 515 came: log in on a new connection
    expired,     // every ref timed out; the connection was closed
    failed,      // the connection ended while pairing (see the events)
};

std::string_view pairing_state_name(PairingState state);

namespace pairing_event {

// Show this QR text now, until `expires_at` (the flow's clock).  `index`
// counts refs from 0; a new one replaces the previous one on screen.
struct QrCode {
    std::string text;
    std::size_t index = 0;
    std::size_t refs = 0;  // how many refs the server sent in all
    Millis expires_at = 0;
};

// The last ref ran out without a scan.  The device is still unpaired; a
// new connection starts over with new refs.
struct QrExpired {
    std::size_t refs_shown = 0;
};

// The phone linked us.  Store `account` (our JID, LID, the ADV identity
// and the phone's identity key) with the credentials, then call commit().
struct Paired {
    pairing::PairedAccount account;
};

// A pair-success we refused (the reason says which check), or a
// <pair-device> that did not parse.  The error IQ has been sent.
struct PairingError {
    Error error;
};

// The server's 515 after our reply: connect again with the login payload.
struct RestartToLogIn {};

}  // namespace pairing_event

using PairingEvent = std::variant<pairing_event::QrCode, pairing_event::QrExpired,
                                  pairing_event::Paired, pairing_event::PairingError,
                                  pairing_event::RestartToLogIn>;

class QrPairing {
public:
    // `credentials` are the unpaired device's (their noise and identity
    // public keys and ADV secret go into each QR text); `random` signs the
    // reply (64 bytes).
    QrPairing(DeviceCredentials credentials, crypto::RandomSource random,
              pairing::CompanionPlatform platform = pairing::CompanionPlatform::chrome);

    // A ServerRequest from the connection.  True when it was a pairing
    // request (answered here, whatever its fate); false for anything else,
    // which stays the owner's.
    bool on_server_request(Connection& conn, const binary::Node& iq, Millis now);

    // Sends the reply held since event::Paired, after the owner stored the
    // account.  Errc::wrong_state when nothing is waiting, the connection's
    // error when it cannot send.
    Status commit(Connection& conn);

    // The owner could not store the account: the phone gets a 500 refusal
    // and the device stays unpaired.
    void abandon(Connection& conn);

    // Pairing by code agreed a new ADV secret with the phone
    // (code_pairing.hpp, event AdvSecret), or the passkey ceremony made one
    // (passkey_pairing.hpp, event AdvSecretReplaced): the coming
    // pair-success is checked with it.  A QR on screen is made again with
    // it (event QrCode, same ref and expiry), so no QR shown from now on
    // carries a secret that can no longer pair.
    void use_adv_secret(const crypto::Key32& adv_secret);

    // A passkey ceremony took over (passkey_pairing.hpp): the QR comes off
    // screen and stops rotating, as the ceremony may outlast every ref
    // (running out would close the connection under it).  pair-success is
    // still handled here.
    void hold();

    // The QR rotation timer; early or late calls are fine.
    void on_timer(Connection& conn, Millis now);
    std::optional<Millis> next_timer() const;

    // The connection's Closed event.
    void on_closed(const StreamEnd& end);

    std::optional<PairingEvent> poll_event();
    PairingState state() const { return state_; }
    // The QR text on screen now, if any (the status snapshot's qr_pending).
    const std::optional<std::string>& current_qr() const { return current_qr_; }

private:
    void on_pair_device(Connection& conn, const binary::Node& iq, Millis now);
    void on_pair_success(Connection& conn, const binary::Node& iq);
    void show(std::size_t index, Millis now);
    Result<std::string> make_qr(std::size_t index) const;
    void emit(PairingEvent e) { events_.push_back(std::move(e)); }

    DeviceCredentials credentials_;
    crypto::RandomSource random_;
    pairing::CompanionPlatform platform_;
    PairingState state_ = PairingState::waiting;

    std::vector<std::string> refs_;
    std::size_t shown_ = 0;  // index of the ref on screen
    std::optional<Millis> rotate_at_;
    std::optional<std::string> current_qr_;
    std::optional<binary::Node> reply_;  // our pair-device-sign, held until commit()
    std::string success_id_;             // its IQ id, for abandon()
    std::deque<PairingEvent> events_;
};

}  // namespace chatwoot::wa::session
