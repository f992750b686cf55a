#include "wa/session/code_pairing.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

#include "wa/pairing/pairing_code.hpp"

namespace chatwoot::wa::session {

namespace {

constexpr std::string_view reg_tag = "link_code_companion_reg";

bool from_server(const binary::Node& node)
{
    std::string_view from = node.attr("from").value_or("");
    if (from.starts_with('@')) from.remove_prefix(1);
    return from == binary::kServerPhone;
}

// The bytes of a child's content, which the encoder may have written as
// raw bytes or, for text that happens to fit, as a token or packed string.
std::optional<Bytes> child_bytes(const binary::Node& parent, std::string_view tag)
{
    const binary::Node* c = parent.child(tag);
    if (c == nullptr) return std::nullopt;
    if (const Bytes* b = c->bytes()) return *b;
    if (const binary::Value* v = c->text(); v != nullptr && !v->is_jid())
        return Bytes(v->text.begin(), v->text.end());
    return std::nullopt;
}

Result<Bytes> required_child(const binary::Node& parent, std::string_view tag, std::size_t size = 0)
{
    std::optional<Bytes> b = child_bytes(parent, tag);
    if (!b || b->empty()) return make_error(Errc::malformed, "no <" + std::string(tag) + ">");
    if (size != 0 && b->size() != size)
        return make_error(Errc::malformed, "<" + std::string(tag) + "> is " +
                                               std::to_string(b->size()) + " bytes, want " +
                                               std::to_string(size));
    return *b;
}

binary::Node leaf(std::string_view tag, Bytes content)
{
    return binary::Node(std::string(tag), {}, std::move(content));
}

binary::Node text_leaf(std::string_view tag, std::string_view text)
{
    return binary::Node(std::string(tag), {}, binary::Value{std::string(text)});
}

binary::Node md_set_iq(binary::Node reg)
{
    binary::Node iq("iq");
    iq.set_attr("xmlns", "md");
    iq.set_attr("type", "set");
    iq.set_attr("to", binary::server_jid());
    iq.content = binary::Children{std::move(reg)};
    return iq;
}

Error outcome_error(const IqOutcome& outcome)
{
    switch (outcome.kind) {
    case IqOutcome::Kind::error:
        return make_error(Errc::wrong_state, "the server answered " +
                                                 std::to_string(outcome.error.code) +
                                                 (outcome.error.text.empty() ? "" : " ") +
                                                 outcome.error.text);
    case IqOutcome::Kind::timeout: return make_error(Errc::wrong_state, "no answer in time");
    case IqOutcome::Kind::dropped:
        return make_error(Errc::wrong_state, "the connection ended before the answer");
    case IqOutcome::Kind::result: break;
    }
    return make_error(Errc::wrong_state, "unexpected outcome");
}

void wipe(std::string& s)
{
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

}  // namespace

Result<std::string> normalize_phone_number(std::string_view text)
{
    std::string digits;
    for (char ch : text) {
        if (ch == '+' || ch == ' ') continue;
        if (ch < '0' || ch > '9')
            return make_error(Errc::malformed,
                              "phone number: only digits, '+' and spaces, not '" +
                                  std::string(1, ch) + "'");
        digits.push_back(ch);
    }
    if (digits.size() < phone_number_min_digits || digits.size() > phone_number_max_digits)
        return make_error(Errc::malformed, "phone number: " + std::to_string(digits.size()) +
                                               " digits, want 7 to 15");
    if (digits.front() == '0')
        return make_error(Errc::malformed,
                          "phone number: starts with 0; give it with its country code");
    return digits;
}

std::string_view code_pairing_state_name(CodePairingState state)
{
    switch (state) {
    case CodePairingState::idle: return "idle";
    case CodePairingState::requesting: return "requesting";
    case CodePairingState::showing_code: return "showing_code";
    case CodePairingState::finishing: return "finishing";
    case CodePairingState::finished: return "finished";
    case CodePairingState::failed: return "failed";
    }
    return "unknown";
}

std::string_view code_step_name(CodeStep step)
{
    switch (step) {
    case CodeStep::companion_hello: return "companion_hello";
    case CodeStep::primary_hello: return "primary_hello";
    case CodeStep::companion_finish: return "companion_finish";
    }
    return "unknown";
}

CodePairing::CodePairing(DeviceCredentials credentials, crypto::RandomSource random,
                         CodePairingConfig config)
    : credentials_(std::move(credentials)), random_(std::move(random)), config_(std::move(config))
{
}

CodePairing::~CodePairing()
{
    forget_secrets();
}

void CodePairing::forget_secrets()
{
    wipe(code_);
    if (ephemeral_) {
        OPENSSL_cleanse(ephemeral_->private_key.data(), ephemeral_->private_key.size());
        ephemeral_.reset();
    }
}

Status CodePairing::request(Connection& conn, std::string_view phone, Millis now)
{
    Result<std::string> digits = normalize_phone_number(phone);
    if (!digits) return digits.error();
    // Only a registration connection the server has offered pairing on
    // (its <pair-device> refs came) takes a code request.
    if (!conn.registering() || conn.state() != ConnectionState::pairing)
        return make_error(Errc::wrong_state, conn.registering()
                                                 ? "no pairing refs from the server yet"
                                                 : "the device is paired already");
    if (state_ == CodePairingState::requesting)
        return make_error(Errc::wrong_state, "a code request is in flight");
    if (state_ == CodePairingState::finishing || state_ == CodePairingState::finished)
        return make_error(Errc::wrong_state, "the phone has answered a code already");
    auto jid = binary::Jid::from_parts(*digits, binary::kServerPhone);
    if (!jid) return make_error(Errc::malformed, "phone number: not a JID user");

    Result<std::string> code = pairing::generate_pairing_code(random_);
    if (!code) return code.error();
    Result<crypto::KeyPair> ephemeral = crypto::x25519_generate(random_);
    if (!ephemeral) {
        wipe(*code);
        return ephemeral.error();
    }
    Result<Bytes> wrapped = pairing::wrap_ephemeral(*code, ephemeral->public_key, random_);
    if (!wrapped) {
        wipe(*code);
        OPENSSL_cleanse(ephemeral->private_key.data(), ephemeral->private_key.size());
        return wrapped.error();
    }

    binary::Node reg{std::string(reg_tag)};
    reg.set_attr("jid", *jid);
    reg.set_attr("stage", "companion_hello");
    reg.set_attr("should_show_push_notification", config_.show_push_notification ? "true" : "false");
    reg.content = binary::Children{
        leaf("link_code_pairing_wrapped_companion_ephemeral_pub", std::move(*wrapped)),
        leaf("companion_server_auth_key_pub", Bytes(credentials_.noise_key.public_key.begin(),
                                                    credentials_.noise_key.public_key.end())),
        text_leaf("companion_platform_id", pairing::platform_id(config_.platform)),
        text_leaf("companion_platform_display", config_.platform_display),
        leaf("link_code_pairing_nonce", Bytes{0}),
    };
    Result<std::string> id = conn.send_iq(md_set_iq(std::move(reg)), now);
    if (!id) {
        wipe(*code);
        OPENSSL_cleanse(ephemeral->private_key.data(), ephemeral->private_key.size());
        return id.error();
    }

    // A code shown before is replaced: its ref is forgotten, so the phone's
    // answer to it would be refused as another pairing's.
    forget_secrets();
    phone_ = std::move(*digits);
    phone_jid_ = std::move(*jid);
    code_ = std::move(*code);
    ephemeral_ = *ephemeral;
    OPENSSL_cleanse(ephemeral->private_key.data(), ephemeral->private_key.size());
    ref_.clear();
    display_.reset();
    hello_id_ = std::move(*id);
    state_ = CodePairingState::requesting;
    return Done{};
}

bool CodePairing::on_iq_answered(Connection& conn, const IqOutcome& outcome, Millis now)
{
    (void)conn;
    (void)now;
    if (hello_id_ && outcome.id == *hello_id_) {
        hello_id_.reset();
        on_hello_answer(outcome);
        return true;
    }
    if (finish_id_ && outcome.id == *finish_id_) {
        finish_id_.reset();
        on_finish_answer(outcome);
        return true;
    }
    return false;
}

void CodePairing::on_hello_answer(const IqOutcome& outcome)
{
    if (outcome.kind != IqOutcome::Kind::result) {
        fail(CodeStep::companion_hello, outcome_error(outcome), outcome.error);
        return;
    }
    const binary::Node* reg = outcome.response.child(reg_tag);
    std::optional<Bytes> ref = reg ? child_bytes(*reg, "link_code_pairing_ref") : std::nullopt;
    if (!ref || ref->empty()) {
        fail(CodeStep::companion_hello,
             make_error(Errc::malformed, "the answer has no <link_code_pairing_ref>"));
        return;
    }
    ref_.assign(ref->begin(), ref->end());
    display_ = pairing::display_pairing_code(code_);
    state_ = CodePairingState::showing_code;
    emit(code_event::Code{code_, *display_, phone_});
}

void CodePairing::on_finish_answer(const IqOutcome& outcome)
{
    if (outcome.kind != IqOutcome::Kind::result) {
        fail(CodeStep::companion_finish, outcome_error(outcome), outcome.error);
        return;
    }
    state_ = CodePairingState::finished;
    emit(code_event::Finished{});
}

bool CodePairing::on_stanza(Connection& conn, const binary::Node& stanza, Millis now)
{
    if (stanza.tag != "notification" || stanza.attr("type") != reg_tag) return false;
    if (!from_server(stanza)) {
        report(CodeStep::primary_hello,
               make_error(Errc::untrusted, "a link_code_companion_reg notification not from the server"));
        return true;
    }
    const binary::Node* reg = stanza.child(reg_tag);
    if (reg == nullptr) {
        report(CodeStep::primary_hello, make_error(Errc::malformed, "no <link_code_companion_reg>"));
        return true;
    }
    const std::string_view stage = reg->attr("stage").value_or("");
    if (stage != "primary_hello") {
        report(CodeStep::primary_hello,
               make_error(Errc::unsupported, "stage \"" + std::string(stage) + "\""));
        return true;
    }
    on_primary_hello(conn, *reg, now);
    return true;
}

void CodePairing::on_primary_hello(Connection& conn, const binary::Node& reg, Millis now)
{
    Result<Bytes> ref = required_child(reg, "link_code_pairing_ref");
    if (!ref) return report(CodeStep::primary_hello, ref.error());
    Result<Bytes> wrapped = required_child(reg, "link_code_pairing_wrapped_primary_ephemeral_pub",
                                           pairing::wrapped_ephemeral_size);
    if (!wrapped) return report(CodeStep::primary_hello, wrapped.error());
    Result<Bytes> primary_identity = required_child(reg, "primary_identity_pub", 32);
    if (!primary_identity) return report(CodeStep::primary_hello, primary_identity.error());

    // Only the one answer to the code on screen moves us: a repeat after it
    // (the server redelivering, or someone replaying) must not make a
    // second finish with a second secret.
    if (state_ == CodePairingState::finishing || state_ == CodePairingState::finished)
        return report(CodeStep::primary_hello,
                      make_error(Errc::wrong_state, "the phone answered already (a repeat)"));
    if (state_ != CodePairingState::showing_code || !ephemeral_)
        return report(CodeStep::primary_hello,
                      make_error(Errc::wrong_state, "no code is waiting for the phone"));
    if (!std::equal(ref->begin(), ref->end(), ref_.begin(), ref_.end()))
        return report(CodeStep::primary_hello,
                      make_error(Errc::untrusted, "link_code_pairing_ref is not our code's"));

    const pairing::FinishInputs in{
        .code = code_,
        .companion_ephemeral_private = ephemeral_->private_key,
        .wrapped_primary_ephemeral = *wrapped,
        .identity_private = credentials_.identity_key.private_key,
        .identity_public = credentials_.identity_key.public_key,
        .primary_identity_public = *primary_identity,
    };
    Result<pairing::CompanionFinish> finish = pairing::companion_finish(in, random_);
    if (!finish) return report(CodeStep::primary_hello, finish.error());

    binary::Node out{std::string(reg_tag)};
    out.set_attr("jid", *phone_jid_);
    out.set_attr("stage", "companion_finish");
    out.content = binary::Children{
        leaf("link_code_pairing_wrapped_key_bundle", std::move(finish->wrapped_key_bundle)),
        leaf("companion_identity_public", Bytes(credentials_.identity_key.public_key.begin(),
                                                credentials_.identity_key.public_key.end())),
        leaf("link_code_pairing_ref", std::move(*ref)),
    };
    Result<std::string> id = conn.send_iq(md_set_iq(std::move(out)), now);
    if (!id) {
        OPENSSL_cleanse(finish->adv_secret.data(), finish->adv_secret.size());
        fail(CodeStep::companion_finish, id.error());
        return;
    }
    // The code has done its work: the phone checks our bundle with it, and
    // nothing of ours needs it or the ephemeral key again.
    forget_secrets();
    display_.reset();
    finish_id_ = std::move(*id);
    state_ = CodePairingState::finishing;
    emit(code_event::AdvSecret{finish->adv_secret});
    OPENSSL_cleanse(finish->adv_secret.data(), finish->adv_secret.size());
}

void CodePairing::fail(CodeStep step, Error error, IqError server)
{
    forget_secrets();
    display_.reset();
    hello_id_.reset();
    finish_id_.reset();
    state_ = CodePairingState::failed;
    emit(code_event::CodeError{step, std::move(error), std::move(server)});
}

void CodePairing::report(CodeStep step, Error error)
{
    emit(code_event::CodeError{step, std::move(error), {}});
}

void CodePairing::on_closed(const StreamEnd& end)
{
    (void)end;
    // In-flight requests were reported as dropped (IqAnswered) before this;
    // a code still on screen dies with the connection that asked for it.
    if (state_ == CodePairingState::showing_code)
        fail(CodeStep::primary_hello,
             make_error(Errc::wrong_state, "the connection ended before the phone answered"));
    forget_secrets();
    display_.reset();
}

std::optional<CodeEvent> CodePairing::poll_event()
{
    if (events_.empty()) return std::nullopt;
    CodeEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
}

}  // namespace chatwoot::wa::session
