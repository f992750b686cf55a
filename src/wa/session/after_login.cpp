#include "wa/session/after_login.hpp"

#include <charconv>
#include <utility>

#include "wa/binary/jid.hpp"
#include "wa/signal/prekey_stanzas.hpp"

namespace chatwoot::wa::session {

namespace {

binary::Node server_get_or_set(std::string_view xmlns, std::string_view type, binary::Node child)
{
    binary::Node iq("iq");
    iq.set_attr("xmlns", xmlns);
    iq.set_attr("type", type);
    iq.set_attr("to", binary::server_jid());
    iq.content = binary::Children{std::move(child)};
    return iq;
}

Error outcome_error(const IqOutcome& outcome)
{
    switch (outcome.kind) {
    case IqOutcome::Kind::error:
        return make_error(Errc::wrong_state, "server error " + std::to_string(outcome.error.code) +
                                                 " " + outcome.error.text);
    case IqOutcome::Kind::timeout: return make_error(Errc::wrong_state, "no answer in time");
    case IqOutcome::Kind::dropped: return make_error(Errc::wrong_state, "connection ended first");
    case IqOutcome::Kind::result: break;
    }
    return make_error(Errc::wrong_state, "unexpected outcome");
}

}  // namespace

std::uint32_t prekeys_wanted(std::uint32_t count)
{
    if (count == 0) return prekey_initial_count;
    if (count < prekey_min_count) return prekey_refill_count;
    return 0;
}

Result<std::uint32_t> parse_prekey_count(const binary::Node& node)
{
    const binary::Node* count = node.child("count");
    if (count == nullptr) return make_error(Errc::malformed, "no <count>");
    auto value = count->attr("value");
    if (!value || value->empty()) return make_error(Errc::malformed, "<count> without a value");
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
    if (ec != std::errc{} || end != value->data() + value->size())
        return make_error(Errc::malformed, "<count value> is not a number");
    return n;
}

AfterLogin::AfterLogin(PreKeyKeeper& keeper, AfterLoginConfig config)
    : keeper_(keeper), config_(std::move(config))
{
}

void AfterLogin::on_logged_in(Connection& conn, Millis now)
{
    if (step_ != Step::idle) return;
    auto id = conn.send_iq(server_get_or_set("encrypt", "get", binary::Node("count")), now);
    if (!id.ok()) {
        fail("prekey count", id.error());
        activate(conn, now);
        return;
    }
    step_ = Step::counting;
    count_id_ = std::move(*id);
}

bool AfterLogin::on_iq_answered(Connection& conn, const IqOutcome& outcome, Millis now)
{
    if (count_id_ && outcome.id == *count_id_) {
        count_id_.reset();
        if (outcome.kind != IqOutcome::Kind::result) {
            fail("prekey count", outcome_error(outcome));
            on_count(conn, std::nullopt, now);
            return true;
        }
        auto count = parse_prekey_count(outcome.response);
        if (!count.ok()) {
            fail("prekey count", count.error());
            on_count(conn, std::nullopt, now);
            return true;
        }
        on_count(conn, *count, now);
        return true;
    }
    if (upload_id_ && outcome.id == *upload_id_) {
        upload_id_.reset();
        std::vector<std::uint32_t> ids = std::move(upload_ids_);
        upload_ids_.clear();
        if (outcome.kind != IqOutcome::Kind::result) {
            // Unmarked, the keeper may offer the same keys next time.
            fail("prekey upload", outcome_error(outcome));
        } else if (Status marked = keeper_.mark_uploaded(ids); !marked.ok()) {
            fail("prekey upload", marked.error());
        } else {
            emit(login_event::PreKeysUploaded{static_cast<std::uint32_t>(ids.size())});
        }
        if (step_ == Step::uploading) activate(conn, now);
        return true;
    }
    if (passive_id_ && outcome.id == *passive_id_) {
        passive_id_.reset();
        if (outcome.kind != IqOutcome::Kind::result) fail("passive active", outcome_error(outcome));
        // Presence even so: the server refusing "active" does not make us
        // less reachable, and a phone that sees us offline queues for us.
        binary::Node presence("presence");
        presence.set_attr("type", "available");
        if (!config_.push_name.empty()) presence.set_attr("name", config_.push_name);
        if (Status sent = conn.send_node(presence); !sent.ok()) {
            fail("presence", sent.error());
        }
        step_ = Step::done;
        active_ = true;
        emit(login_event::Active{});
        return true;
    }
    return false;
}

void AfterLogin::on_count(Connection& conn, std::optional<std::uint32_t> count, Millis now)
{
    if (count) {
        emit(login_event::PreKeyCount{*count});
        if (prekeys_wanted(*count) > 0 && upload(conn, prekeys_wanted(*count), now)) {
            step_ = Step::uploading;
            return;
        }
    }
    activate(conn, now);
}

bool AfterLogin::upload(Connection& conn, std::uint32_t count, Millis now)
{
    if (upload_id_) return true;  // one in flight covers this need too
    auto batch = keeper_.prepare_upload(count);
    if (!batch.ok()) {
        fail("prekey upload", batch.error());
        return false;
    }
    if (batch->pre_keys.empty()) {
        fail("prekey upload", make_error(Errc::wrong_state, "the keeper gave no prekeys"));
        return false;
    }
    binary::Node iq = signal::prekey_upload_iq({}, batch->identity, batch->pre_keys,
                                               batch->signed_pre_key);
    auto id = conn.send_iq(std::move(iq), now);
    if (!id.ok()) {
        fail("prekey upload", id.error());
        return false;
    }
    upload_id_ = std::move(*id);
    upload_ids_.clear();
    upload_ids_.reserve(batch->pre_keys.size());
    for (const auto& k : batch->pre_keys) upload_ids_.push_back(k.id);
    return true;
}

void AfterLogin::activate(Connection& conn, Millis now)
{
    step_ = Step::activating;
    auto id = conn.send_iq(server_get_or_set("passive", "set", binary::Node("active")), now);
    if (!id.ok()) {
        fail("passive active", id.error());
        step_ = Step::done;
        return;
    }
    passive_id_ = std::move(*id);
}

bool AfterLogin::on_stanza(Connection& conn, const binary::Node& stanza, Millis now)
{
    if (stanza.tag != "notification" || stanza.attr("type") != "encrypt") return false;
    if (stanza.child("count") == nullptr) return false;  // identity changes etc. are not ours
    // Only the server counts our prekeys; anyone else's "count" is not
    // a reason to spend keys.
    std::string_view from = stanza.attr("from").value_or("");
    if (from.starts_with('@')) from.remove_prefix(1);
    if (from != binary::kServerPhone) return false;
    auto count = parse_prekey_count(stanza);
    if (!count.ok()) {
        fail("prekey count", count.error());
        return true;
    }
    emit(login_event::PreKeyCount{*count});
    if (const std::uint32_t wanted = prekeys_wanted(*count); wanted > 0) (void)upload(conn, wanted, now);
    return true;
}

std::optional<LoginEvent> AfterLogin::poll_event()
{
    if (events_.empty()) return std::nullopt;
    LoginEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
}

}  // namespace chatwoot::wa::session
