#include "wa/signal/protocol_context.hpp"

#include <signal_protocol.h>

#include <optional>
#include <string>

#include "wa/signal/signal_error.hpp"

namespace chatwoot::wa::signal {

struct ProtocolContext::State {
    // What the last operation left behind (begin() clears it).  libsignal
    // may log the cause and then a summary ("No valid sessions"), so the
    // warnings are kept in order, a few of them.
    std::optional<Error> random_error;
    std::string warnings;

    void note(std::string_view line)
    {
        constexpr std::size_t kMaxDetail = 512;
        if (!warnings.empty()) {
            if (warnings.size() + 2 >= kMaxDetail) return;
            warnings += "; ";
        }
        warnings.append(line.substr(0, kMaxDetail - warnings.size()));
    }

    std::optional<crypto::SignalContext> crypto;
    std::optional<StoreContext> store;
};

Result<ProtocolContext> ProtocolContext::create(crypto::RandomSource random, ProtocolStore& store)
{
    if (!random) return make_error(Errc::wrong_state, "no random source");
    auto state = std::make_unique<State>();
    State* diag = state.get();

    // The wrapper notes the source's own error; libsignal only passes a
    // negative code up.
    crypto::RandomSource noted =
        [diag, random = std::move(random)](std::span<std::uint8_t> out) -> Status {
        Status s = random(out);
        if (!s && !diag->random_error) diag->random_error = s.error();
        return s;
    };
    Result<crypto::SignalContext> crypto = crypto::SignalContext::create(std::move(noted));
    if (!crypto) return crypto.error();
    state->crypto.emplace(std::move(*crypto));
    state->crypto->set_log([diag](int level, std::string_view line) {
        if (level <= SG_LOG_WARNING) diag->note(line);
    });

    Result<StoreContext> glue = StoreContext::create(*state->crypto, store);
    if (!glue) return glue.error();
    state->store.emplace(std::move(*glue));
    return ProtocolContext(std::move(state));
}

ProtocolContext::ProtocolContext(std::unique_ptr<State> state) : state_(std::move(state)) {}
ProtocolContext::~ProtocolContext() = default;
ProtocolContext::ProtocolContext(ProtocolContext&&) noexcept = default;
ProtocolContext& ProtocolContext::operator=(ProtocolContext&&) noexcept = default;

const crypto::SignalContext& ProtocolContext::crypto_context() const noexcept
{
    return *state_->crypto;
}

signal_context* ProtocolContext::signal() const noexcept
{
    return state_->crypto->get();
}

signal_protocol_store_context* ProtocolContext::store_context() const noexcept
{
    return state_->store->get();
}

ProtocolStore& ProtocolContext::store() const noexcept
{
    return state_->store->store();
}

void ProtocolContext::begin()
{
    state_->random_error.reset();
    state_->warnings.clear();
    (void)state_->store->take_error();
}

Error ProtocolContext::failure(int rc, std::string_view what)
{
    return failure(rc, what, errc_of_signal(rc));
}

Error ProtocolContext::failure(int rc, std::string_view what, Errc invalid_message)
{
    std::string prefix(what);
    prefix += ": ";
    if (std::optional<Error> e = state_->store->take_error())
        return make_error(e->code, prefix + "protocol store: " + e->detail);
    if (state_->random_error) {
        Error e = std::move(*state_->random_error);
        state_->random_error.reset();
        return make_error(Errc::crypto_failure, prefix + "random source: " + e.detail);
    }

    Errc code = errc_of_signal(rc);
    if (rc == SG_ERR_INVALID_MESSAGE) {
        // libsignal's only word for "more than 2000 messages skipped" is
        // its log line; that is a bound, not a forgery.
        code = state_->warnings.find("into the future") != std::string::npos ? Errc::too_large
                                                                             : invalid_message;
    }
    std::string detail = prefix + std::string(signal_error_name(rc));
    if (!state_->warnings.empty()) detail += " (" + state_->warnings + ")";
    state_->warnings.clear();
    return make_error(code, std::move(detail));
}

}  // namespace chatwoot::wa::signal
