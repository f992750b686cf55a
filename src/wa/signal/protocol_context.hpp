// Everything a Signal operation needs, in one object: the libsignal
// context (crypto provider and the injected randomness), the store glue,
// and what libsignal said when a call failed.
//
// libsignal reports failure as one negative code, and folds different
// causes into the same one (a MAC that does not verify and a message from
// the future are both SG_ERR_INVALID_MESSAGE).  The context keeps what
// explains a failure: the store's own error, the random source's, and the
// warnings libsignal logged; failure() turns them into one Error.
//
// Single-threaded, like the SignalContext it holds.  The ProtocolStore is
// borrowed and must outlive the context.
#pragma once

#include <memory>
#include <string_view>

#include "wa/crypto/random.hpp"
#include "wa/crypto/signal_context.hpp"
#include "wa/error.hpp"
#include "wa/signal/protocol_store.hpp"
#include "wa/signal/store_context.hpp"

struct signal_context;
struct signal_protocol_store_context;

namespace chatwoot::wa::signal {

class ProtocolContext {
public:
    static Result<ProtocolContext> create(crypto::RandomSource random, ProtocolStore& store);

    ~ProtocolContext();
    ProtocolContext(ProtocolContext&&) noexcept;
    ProtocolContext& operator=(ProtocolContext&&) noexcept;
    ProtocolContext(const ProtocolContext&) = delete;
    ProtocolContext& operator=(const ProtocolContext&) = delete;

    const crypto::SignalContext& crypto_context() const noexcept;
    ::signal_context* signal() const noexcept;
    ::signal_protocol_store_context* store_context() const noexcept;
    ProtocolStore& store() const noexcept;

    // Forgets what earlier calls left behind; call before a libsignal call
    // whose failure you will report.
    void begin();

    // The Error for libsignal's negative `rc` from the operation `what`:
    // the store's or random source's own error when one failed, else a
    // code mapped from `rc` (see signal_error.hpp) with libsignal's
    // warnings as detail.
    Error failure(int rc, std::string_view what);

    // The same, but SG_ERR_INVALID_MESSAGE means `invalid_message` (a
    // decrypt call knows the message parsed, so "invalid" is a MAC or a
    // signature that does not verify).
    Error failure(int rc, std::string_view what, Errc invalid_message);

private:
    struct State;
    explicit ProtocolContext(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace chatwoot::wa::signal
