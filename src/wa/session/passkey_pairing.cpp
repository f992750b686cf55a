#include "wa/session/passkey_pairing.hpp"

#include <algorithm>
#include <utility>

#include "wa/pairing/pairing_code.hpp"

namespace chatwoot::wa::session {

namespace {

Error outcome_error(const IqOutcome& outcome)
{
    switch (outcome.kind) {
    case IqOutcome::Kind::error:
        return make_error(Errc::wrong_state,
                          "the server refused it: " + std::to_string(outcome.error.code) +
                              (outcome.error.text.empty() ? "" : " " + outcome.error.text));
    case IqOutcome::Kind::timeout: return make_error(Errc::expired, "no answer in time");
    case IqOutcome::Kind::dropped:
        return make_error(Errc::wrong_state, "the connection ended first");
    case IqOutcome::Kind::result: break;
    }
    return make_error(Errc::wrong_state, "unexpected outcome");
}

bool is_notification(const binary::Node& n, std::string_view type)
{
    return n.tag == "notification" && n.attr("type") == type;
}

std::string seconds_text(Millis ms)
{
    return std::to_string(ms / 1000) + " s";
}

}  // namespace

std::string_view passkey_state_name(PasskeyState state)
{
    switch (state) {
    case PasskeyState::idle: return "idle";
    case PasskeyState::fetching_options: return "fetching_options";
    case PasskeyState::waiting_assertion: return "waiting_assertion";
    case PasskeyState::fetching_ref: return "fetching_ref";
    case PasskeyState::prologue_sent: return "prologue_sent";
    case PasskeyState::nonce_sent: return "nonce_sent";
    case PasskeyState::code_shown: return "code_shown";
    case PasskeyState::request_sent: return "request_sent";
    case PasskeyState::done: return "done";
    case PasskeyState::failed: return "failed";
    }
    return "unknown";
}

PasskeyPairing::PasskeyPairing(DeviceCredentials credentials, crypto::RandomSource random,
                               PasskeyConfig config)
    : credentials_(std::move(credentials)), random_(std::move(random)), config_(config)
{
}

bool PasskeyPairing::active() const
{
    return state_ != PasskeyState::idle && state_ != PasskeyState::done &&
           state_ != PasskeyState::failed;
}

bool PasskeyPairing::on_stanza(Connection& conn, const binary::Node& stanza, Millis now)
{
    if (is_notification(stanza, "passkey_prologue_request")) {
        on_prologue_request(conn, stanza, now);
        return true;
    }
    if (is_notification(stanza, "crsc_continuation")) {
        on_continuation(conn, stanza, now);
        return true;
    }
    return false;
}

void PasskeyPairing::on_prologue_request(Connection& conn, const binary::Node& stanza, Millis now)
{
    if (state_ == PasskeyState::done) return;  // paired already on this connection
    // Only a device being linked has a ceremony to run; a paired one that
    // gets this has nothing to offer, and its keys must not be touched.
    if (!conn.registering()) return;
    auto request = pairing::parse_prologue_request(stanza);
    if (!request.ok()) {
        // A forged one (not from the server) must not end a ceremony that
        // is under way, nor start one.
        if (request.error().code == Errc::untrusted) return;
        fail("options", request.error());
        return;
    }
    // A second request starts over: the server made a new challenge, and
    // only an assertion over that one can pass.
    reset();
    requested_at_ = now;
    if (request->has_value()) {
        want_assertion(std::move(**request), now);
        return;
    }
    if (send_step(conn, pairing::passkey_options_iq(), "options", now).ok())
        state_ = PasskeyState::fetching_options;
}

void PasskeyPairing::want_assertion(pairing::PasskeyOptions options, Millis now)
{
    Millis allowed = config_.assertion_default;
    if (options.timeout_ms)
        allowed = static_cast<Millis>(
            std::min<std::uint64_t>(*options.timeout_ms, config_.assertion_max));
    allowed = std::min(allowed, config_.assertion_max);
    state_ = PasskeyState::waiting_assertion;
    deadline_ = now + allowed;
    std::string json = options.json;
    options_ = std::move(options);
    emit(passkey_event::AssertionWanted{std::move(json), *deadline_});
}

Status PasskeyPairing::submit_assertion(Connection& conn, std::string_view json, Millis now)
{
    if (state_ != PasskeyState::waiting_assertion)
        return make_error(Errc::wrong_state,
                          active() ? "the assertion was taken already"
                                   : "no passkey ceremony is waiting for an assertion");
    if (deadline_ && now >= *deadline_) {
        Error late =
            make_error(Errc::expired, "the assertion came after the server's " +
                                          seconds_text(*deadline_ - requested_at_) + " ran out");
        fail("assertion", late);
        return late;
    }
    auto assertion = pairing::check_passkey_assertion(json, *options_);
    if (!assertion.ok()) {
        fail("assertion", assertion.error());
        return assertion.error();
    }
    assertion_ = std::move(*assertion);
    Status sent = send_step(conn, pairing::passkey_ref_iq(), "ref", now);
    if (!sent.ok()) return sent;
    // From here to the prologue, the IQ's own timeout is the deadline.
    state_ = PasskeyState::fetching_ref;
    deadline_.reset();
    return Done{};
}

bool PasskeyPairing::on_iq_answered(Connection& conn, const IqOutcome& outcome, Millis now)
{
    if (!pending_id_ || outcome.id != *pending_id_) return false;
    pending_id_.reset();
    const std::string step = std::move(pending_step_);
    if (outcome.kind != IqOutcome::Kind::result) {
        fail(step, outcome_error(outcome));
        return true;
    }
    switch (state_) {
    case PasskeyState::fetching_options: {
        auto options = pairing::parse_passkey_options_answer(outcome.response);
        if (!options.ok()) {
            fail("options", options.error());
            break;
        }
        want_assertion(std::move(*options), now);
        break;
    }
    case PasskeyState::fetching_ref: {
        auto ref = pairing::parse_passkey_ref_answer(outcome.response);
        if (!ref.ok()) {
            fail("ref", ref.error());
            break;
        }
        send_prologue(conn, std::move(*ref), now);
        break;
    }
    case PasskeyState::prologue_sent:
        // The server took the assertion; its continuation is next (the
        // deadline set when the prologue went out still holds).
        break;
    case PasskeyState::nonce_sent: {
        // The nonce opened our commitment: the code is settled on both
        // sides.
        auto code = pairing::passkey_code(nonce_, primary_public_, primary_nonce_);
        if (!code.ok()) {
            fail("companion nonce", code.error());
            break;
        }
        code_ = *code;
        state_ = PasskeyState::code_shown;
        deadline_ = now + config_.confirm_timeout;
        emit(passkey_event::Code{*code, pairing::display_pairing_code(*code), handoff_proven_,
                                 *deadline_});
        break;
    }
    case PasskeyState::request_sent:
        // The phone opened the request; pair-success is on its way.
        deadline_ = now + config_.pair_success_timeout;
        break;
    default: break;
    }
    return true;
}

void PasskeyPairing::send_prologue(Connection& conn, std::string ref, Millis now)
{
    // The QR's secret has done its job once it keys the proof: pair-success
    // will be authenticated with a fresh one that only the phone learns,
    // inside the sealed request.
    auto adv = crypto::random_bytes(random_, 32);
    if (!adv.ok()) return fail("prologue", adv.error());
    std::copy(adv->begin(), adv->end(), new_adv_.begin());
    auto ephemeral = crypto::x25519_generate(random_);
    if (!ephemeral.ok()) return fail("prologue", ephemeral.error());
    ephemeral_ = *ephemeral;
    auto nonce = crypto::random_bytes(random_, pairing::passkey_nonce_size);
    if (!nonce.ok()) return fail("prologue", nonce.error());
    std::copy(nonce->begin(), nonce->end(), nonce_.begin());

    ref_ = std::move(ref);
    auto prologue = pairing::build_prologue({.ephemeral_public = ephemeral_.public_key,
                                             .device_type = config_.device_type,
                                             .ref = ref_,
                                             .nonce = nonce_});
    if (!prologue.ok()) return fail("prologue", prologue.error());
    std::optional<crypto::Digest32> proof;
    if (now < requested_at_ + config_.handoff_validity) {
        auto p = pairing::passkey_handoff_proof(credentials_.adv_secret, prologue->payload);
        if (!p.ok()) return fail("prologue", p.error());
        proof = *p;
    }
    handoff_proven_ = proof.has_value();
    binary::Node iq = pairing::passkey_prologue_iq(assertion_->credential_id, assertion_->wire_json,
                                                   prologue->payload, proof);
    if (!send_step(conn, std::move(iq), "prologue", now).ok()) return;
    state_ = PasskeyState::prologue_sent;
    deadline_ = now + config_.continuation_timeout;
}

void PasskeyPairing::on_continuation(Connection& conn, const binary::Node& stanza, Millis now)
{
    if (state_ != PasskeyState::prologue_sent) {
        // Out of turn: in a ceremony that is under way it is the server's
        // confusion and the ceremony cannot go on; with none, nothing to do.
        if (active())
            fail("continuation",
                 make_error(Errc::wrong_state, "crsc_continuation before our prologue"));
        return;
    }
    auto primary = pairing::parse_crsc_continuation(stanza);
    if (!primary.ok()) {
        if (primary.error().code == Errc::untrusted) return;
        fail("continuation", primary.error());
        return;
    }
    primary_public_ = primary->public_key;
    primary_nonce_ = primary->nonce;
    // The prologue's answer may still be on its way; the server sent the
    // continuation, so it took the prologue, and the one IQ slot is free
    // for the nonce.  A late error answer to the prologue is then moot.
    if (pending_id_) pending_id_.reset();
    if (!send_step(conn, pairing::companion_nonce_iq(nonce_), "companion nonce", now).ok()) return;
    state_ = PasskeyState::nonce_sent;
    deadline_.reset();  // the IQ's own timeout
}

Status PasskeyPairing::confirm(Connection& conn, Millis now)
{
    if (state_ != PasskeyState::code_shown)
        return make_error(Errc::wrong_state, "no passkey code is waiting for confirmation");
    if (deadline_ && now >= *deadline_) {
        Error late = make_error(
            Errc::expired, "the code was confirmed after " + seconds_text(config_.confirm_timeout));
        fail("confirmation", late);
        return late;
    }
    auto fail_with = [this](Error e) -> Status {
        fail("pairing request", e);
        return e;
    };
    auto iv = crypto::random_bytes(random_, pairing::pairing_request_iv_size);
    if (!iv.ok()) return fail_with(iv.error());
    auto key = pairing::pairing_request_key(ephemeral_.private_key, primary_public_,
                                            config_.device_type, ref_);
    if (!key.ok()) return fail_with(key.error());
    auto sealed =
        pairing::seal_pairing_request(*key,
                                      {.noise_public = credentials_.noise_key.public_key,
                                       .identity_public = credentials_.identity_key.public_key,
                                       .adv_secret = new_adv_},
                                      *iv);
    if (!sealed.ok()) return fail_with(sealed.error());
    // Before the request goes: the server answers it with pair-success,
    // which QrPairing must check with the new secret.
    emit(passkey_event::AdvSecretReplaced{new_adv_});
    if (Status sent =
            send_step(conn, pairing::encrypted_pairing_request_iq(*sealed), "pairing request", now);
        !sent.ok())
        return sent;
    state_ = PasskeyState::request_sent;
    code_.reset();
    // Until the answer: the IQ's own timeout; after it, pair_success_timeout.
    deadline_.reset();
    return Done{};
}

void PasskeyPairing::on_server_request(const binary::Node& iq)
{
    if (state_ != PasskeyState::request_sent || iq.child("pair-success") == nullptr) return;
    state_ = PasskeyState::done;
    deadline_.reset();
    pending_id_.reset();
    options_.reset();
}

void PasskeyPairing::on_timer(Connection& conn, Millis now)
{
    if (!deadline_ || now < *deadline_) return;
    switch (state_) {
    case PasskeyState::waiting_assertion:
        fail("assertion", make_error(Errc::expired, "no assertion within " +
                                                        seconds_text(*deadline_ - requested_at_)));
        break;
    case PasskeyState::prologue_sent:
        fail("continuation",
             make_error(Errc::expired, "no crsc_continuation within " +
                                           seconds_text(config_.continuation_timeout)));
        break;
    case PasskeyState::code_shown:
        fail("confirmation", make_error(Errc::expired, "the code was not confirmed within " +
                                                           seconds_text(config_.confirm_timeout)));
        break;
    case PasskeyState::request_sent:
        fail("pair-success",
             make_error(Errc::expired,
                        "no pair-success within " + seconds_text(config_.pair_success_timeout)));
        break;
    default: deadline_.reset(); break;
    }
}

void PasskeyPairing::on_closed(const StreamEnd& end)
{
    if (!active()) return;
    fail("connection",
         make_error(Errc::wrong_state, "the connection ended during the passkey ceremony (" +
                                           std::string(end_kind_name(end.kind)) + ")"));
}

Status PasskeyPairing::send_step(Connection& conn, binary::Node iq, std::string_view step,
                                 Millis now)
{
    auto id = conn.send_iq(std::move(iq), now, 0, config_.iq_timeout);
    if (!id.ok()) {
        fail(std::string(step), id.error());
        return id.error();
    }
    pending_id_ = std::move(*id);
    pending_step_ = std::string(step);
    return Done{};
}

void PasskeyPairing::reset()
{
    state_ = PasskeyState::idle;
    deadline_.reset();
    options_.reset();
    assertion_.reset();
    requested_at_ = 0;
    handoff_proven_ = false;
    pending_id_.reset();
    pending_step_.clear();
    ref_.clear();
    new_adv_ = {};
    ephemeral_ = {};
    nonce_ = {};
    primary_public_ = {};
    primary_nonce_ = {};
    code_.reset();
}

void PasskeyPairing::fail(std::string step, Error error)
{
    state_ = PasskeyState::failed;
    deadline_.reset();
    pending_id_.reset();
    options_.reset();
    assertion_.reset();
    code_.reset();
    emit(passkey_event::Failed{std::move(step), std::move(error)});
}

std::optional<PasskeyEvent> PasskeyPairing::poll_event()
{
    if (events_.empty()) return std::nullopt;
    PasskeyEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
}

}  // namespace chatwoot::wa::session
