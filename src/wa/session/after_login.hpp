// What a device does once logged in, sans I/O (waweb.md 1.9, 1.13):
//
//   <iq xmlns="encrypt" type="get"><count/></iq>
//       how many of our one-time prekeys the server still holds; under the
//       threshold (5) we upload more: 812 when it holds none (a first
//       login, or a pool drained while we were away), 50 as a refill
//   <iq xmlns="encrypt" type="set"> registration, identity, keys, skey
//       the upload (signal/prekey_stanzas.hpp builds it); the keys are
//       marked uploaded only once the server said "result"
//   <iq xmlns="passive" type="set"><active/></iq>
//       we are ready for live traffic
//   <presence type="available" [name=push name]/>
//       and online, so phones deliver to this device too
//
// and, while connected, <notification type="encrypt"><count value=N/>:
// the server's word that our pool runs low, answered with a refill.
//
// The keys are not ours: a PreKeyKeeper (the helper's SQLite store, a
// memory one in tests) makes and keeps them.  Nothing here logs; the
// events say what happened.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "wa/binary/node.hpp"
#include "wa/error.hpp"
#include "wa/session/clock.hpp"
#include "wa/session/connection.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/protocol_store.hpp"

namespace chatwoot::wa::session {

inline constexpr std::uint32_t prekey_min_count = 5;        // refill below this
inline constexpr std::uint32_t prekey_initial_count = 812;  // when the server holds none
inline constexpr std::uint32_t prekey_refill_count = 50;    // otherwise

// How many prekeys to upload when the server holds `count`; 0 for none.
std::uint32_t prekeys_wanted(std::uint32_t count);

// What one upload carries.
struct PreKeyBatch {
    signal::LocalIdentity identity;
    std::vector<signal::PreKey> pre_keys;
    signal::SignedPreKey signed_pre_key;
};

// Whoever owns the device's keys.
class PreKeyKeeper {
public:
    virtual ~PreKeyKeeper() = default;

    // `count` one-time prekeys to upload, kept (private halves too) before
    // they are returned, with our identity and current signed prekey.  A
    // keeper may hand out keys it made for an upload that never finished.
    virtual Result<PreKeyBatch> prepare_upload(std::uint32_t count) = 0;

    // The server has these: do not hand them out again.
    virtual Status mark_uploaded(std::span<const std::uint32_t> ids) = 0;
};

struct AfterLoginConfig {
    std::string push_name;  // the presence's name; left out when empty
};

namespace login_event {

// The server's prekey count (from the count IQ or an encrypt notification).
struct PreKeyCount {
    std::uint32_t count = 0;
};

// `count` prekeys uploaded and marked.
struct PreKeysUploaded {
    std::uint32_t count = 0;
};

// passive active answered and presence sent: live.
struct Active {};

// A step that failed (an IQ error or timeout, a keeper that failed, an
// answer that did not parse).  The connection goes on; the next login or
// encrypt notification tries again.
struct StepFailed {
    std::string step;  // "prekey count", "prekey upload", "passive active", "presence"
    Error error;
};

}  // namespace login_event

using LoginEvent = std::variant<login_event::PreKeyCount, login_event::PreKeysUploaded,
                                login_event::Active, login_event::StepFailed>;

class AfterLogin {
public:
    // `keeper` must outlive this.  One AfterLogin per connection.
    AfterLogin(PreKeyKeeper& keeper, AfterLoginConfig config = {});

    AfterLogin(const AfterLogin&) = delete;
    AfterLogin& operator=(const AfterLogin&) = delete;

    // The connection's LoggedIn event: asks the count.
    void on_logged_in(Connection& conn, Millis now);

    // An IqAnswered event; true when the answer was to one of ours.
    bool on_iq_answered(Connection& conn, const IqOutcome& outcome, Millis now);

    // A Stanza event; true for an encrypt notification with a count (its
    // ack is the connection's).
    bool on_stanza(Connection& conn, const binary::Node& stanza, Millis now);

    std::optional<LoginEvent> poll_event();

    bool active() const { return active_; }
    bool uploading() const { return upload_id_.has_value(); }

private:
    enum class Step { idle, counting, uploading, activating, done };

    void on_count(Connection& conn, std::optional<std::uint32_t> count, Millis now);
    bool upload(Connection& conn, std::uint32_t count, Millis now);
    void activate(Connection& conn, Millis now);
    void fail(std::string step, Error error) { emit(login_event::StepFailed{std::move(step), std::move(error)}); }
    void emit(LoginEvent e) { events_.push_back(std::move(e)); }

    PreKeyKeeper& keeper_;
    AfterLoginConfig config_;
    Step step_ = Step::idle;
    bool active_ = false;

    std::optional<std::string> count_id_;
    std::optional<std::string> upload_id_;
    std::vector<std::uint32_t> upload_ids_;  // the prekey ids in flight
    std::optional<std::string> passive_id_;
    std::deque<LoginEvent> events_;
};

// <count value=N/> of a count answer or an encrypt notification.
// Errc::malformed when absent or not a number.
Result<std::uint32_t> parse_prekey_count(const binary::Node& node);

}  // namespace chatwoot::wa::session
