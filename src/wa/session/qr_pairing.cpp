#include "wa/session/qr_pairing.hpp"

#include <utility>

#include "wa/pairing/pair_device.hpp"

namespace chatwoot::wa::session {

std::string_view pairing_state_name(PairingState state)
{
    switch (state) {
    case PairingState::waiting: return "waiting";
    case PairingState::showing_qr: return "showing_qr";
    case PairingState::verified: return "verified";
    case PairingState::signed_off: return "signed_off";
    case PairingState::restart: return "restart";
    case PairingState::expired: return "expired";
    case PairingState::failed: return "failed";
    }
    return "unknown";
}

QrPairing::QrPairing(DeviceCredentials credentials, crypto::RandomSource random,
                     pairing::CompanionPlatform platform)
    : credentials_(std::move(credentials)), random_(std::move(random)), platform_(platform)
{
}

bool QrPairing::on_server_request(Connection& conn, const binary::Node& iq, Millis now)
{
    if (iq.tag != "iq") return false;
    if (iq.child("pair-device") != nullptr) {
        on_pair_device(conn, iq, now);
        return true;
    }
    if (iq.child("pair-success") != nullptr) {
        on_pair_success(conn, iq);
        return true;
    }
    return false;
}

void QrPairing::on_pair_device(Connection& conn, const binary::Node& iq, Millis now)
{
    auto request = pairing::parse_pair_device(iq);
    if (!request.ok()) {
        // Answer what has an id, so the server does not wait on us.
        if (auto id = iq.attr("id"); id && !id->empty())
            (void)conn.send_node(pairing::pair_error_reply(*id, request.error().code));
        emit(pairing_event::PairingError{request.error()});
        return;
    }
    if (state_ == PairingState::verified || state_ == PairingState::signed_off) {
        // Linked already on this connection: fresh refs are the server's
        // confusion; acknowledge and keep to the pairing we have.
        (void)conn.send_node(pairing::pair_device_ack(request->iq_id));
        return;
    }
    // Acknowledge first: the server waits for it before the phone may scan.
    if (Status sent = conn.send_node(pairing::pair_device_ack(request->iq_id)); !sent.ok()) {
        emit(pairing_event::PairingError{sent.error()});
        return;
    }
    // A second <pair-device> (the server refreshed the refs) starts over.
    refs_ = std::move(request->refs);
    show(0, now);
}

Result<std::string> QrPairing::make_qr(std::size_t index) const
{
    return pairing::qr_text(pairing::QrFields{
        .ref = refs_[index],
        .noise_public = credentials_.noise_key.public_key,
        .identity_public = credentials_.identity_key.public_key,
        .adv_secret = credentials_.adv_secret,
        .platform = platform_,
    });
}

void QrPairing::show(std::size_t index, Millis now)
{
    shown_ = index;
    auto text = make_qr(index);
    if (!text.ok()) {
        // Only keys of a wrong size get here: the credentials are broken,
        // and no QR made from them could ever pair.
        state_ = PairingState::failed;
        rotate_at_.reset();
        current_qr_.reset();
        emit(pairing_event::PairingError{text.error()});
        return;
    }
    state_ = PairingState::showing_qr;
    rotate_at_ = now + seconds(pairing::ref_display_seconds(index));
    current_qr_ = *text;
    emit(pairing_event::QrCode{std::move(*text), index, refs_.size(), *rotate_at_});
}

void QrPairing::use_adv_secret(const crypto::Key32& adv_secret)
{
    credentials_.adv_secret = adv_secret;
    if (state_ != PairingState::showing_qr || !rotate_at_) return;
    // Same keys and ref as the text on screen, so only a broken secret
    // could fail here, and a Key32 cannot be of the wrong size.
    auto text = make_qr(shown_);
    if (!text.ok()) return;
    current_qr_ = *text;
    emit(pairing_event::QrCode{std::move(*text), shown_, refs_.size(), *rotate_at_});
}

void QrPairing::on_timer(Connection& conn, Millis now)
{
    if (state_ != PairingState::showing_qr || !rotate_at_ || now < *rotate_at_) return;
    if (shown_ + 1 < refs_.size()) {
        show(shown_ + 1, now);
        return;
    }
    // The server gives up on the refs as we do; the connection has nothing
    // left to wait for.
    state_ = PairingState::expired;
    rotate_at_.reset();
    current_qr_.reset();
    emit(pairing_event::QrExpired{refs_.size()});
    conn.close(now);
}

void QrPairing::hold()
{
    rotate_at_.reset();
    current_qr_.reset();
}

std::optional<Millis> QrPairing::next_timer() const
{
    return rotate_at_;
}

void QrPairing::on_pair_success(Connection& conn, const binary::Node& iq)
{
    if (state_ == PairingState::verified || state_ == PairingState::signed_off) {
        if (auto id = iq.attr("id"); id && !id->empty())
            (void)conn.send_node(pairing::pair_error_reply(*id, Errc::wrong_state));
        emit(pairing_event::PairingError{
            make_error(Errc::wrong_state, "a second pair-success on one connection")});
        return;
    }
    const pairing::PairingKeys keys{credentials_.adv_secret,
                                    credentials_.identity_key.private_key};
    auto result = pairing::handle_pair_success(iq, keys, random_);
    if (!result.ok()) {
        if (auto id = iq.attr("id"); id && !id->empty())
            (void)conn.send_node(pairing::pair_error_reply(*id, result.error().code));
        emit(pairing_event::PairingError{
            make_error(result.error().code, "pair-success refused: " + result.error().detail)});
        return;
    }
    // The QR is spent: stop rotating, and hold the reply until the owner
    // has the account on disk (a reply sent first and a crash would leave
    // the phone listing a device whose keys nobody kept).
    state_ = PairingState::verified;
    rotate_at_.reset();
    current_qr_.reset();
    success_id_ = result->account.iq_id;
    reply_ = std::move(result->reply);
    emit(pairing_event::Paired{std::move(result->account)});
}

Status QrPairing::commit(Connection& conn)
{
    if (state_ != PairingState::verified || !reply_)
        return make_error(Errc::wrong_state, "no verified pairing to commit");
    Status sent = conn.send_node(*reply_);
    if (!sent.ok()) return sent;
    reply_.reset();
    state_ = PairingState::signed_off;
    return Done{};
}

void QrPairing::abandon(Connection& conn)
{
    if (state_ != PairingState::verified) return;
    (void)conn.send_node(pairing::pair_error_reply(success_id_, Errc::store_failure));
    reply_.reset();
    state_ = PairingState::failed;
}

void QrPairing::on_closed(const StreamEnd& end)
{
    rotate_at_.reset();
    current_qr_.reset();
    if (state_ == PairingState::signed_off && end.kind == EndKind::restart_required) {
        state_ = PairingState::restart;
        emit(pairing_event::RestartToLogIn{});
        return;
    }
    if (state_ != PairingState::expired && state_ != PairingState::restart)
        state_ = PairingState::failed;
}

std::optional<PairingEvent> QrPairing::poll_event()
{
    if (events_.empty()) return std::nullopt;
    PairingEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
}

}  // namespace chatwoot::wa::session
