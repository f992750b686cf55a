// The libsignal-protocol-c global context, with OpenSSL as its crypto
// provider and randomness from an injected RandomSource.
//
// libsignal asks its provider for random bytes, HMAC-SHA256, SHA-512 and
// AES (CBC with PKCS#5/7 padding, CTR).  Every libsignal call that needs one
// of these takes the signal_context*, so the context is what the signal/
// layer passes around; a test that replays randomness gets reproducible
// signatures and keys.
//
// The object owns the context; moving it keeps the raw pointer valid (the
// provider's state lives on the heap).  One context must not be used from
// two threads at once: we set no locking functions, as the core is driven
// from a single event loop.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "wa/crypto/random.hpp"
#include "wa/error.hpp"

struct signal_context;

namespace chatwoot::wa::crypto {

class SignalContext {
public:
    // level is libsignal's SG_LOG_* (0 error .. 4 debug).
    using LogFunction = std::function<void(int level, std::string_view message)>;

    // Errc::crypto_failure when libsignal refuses to create the context.
    static Result<SignalContext> create(RandomSource random);

    ~SignalContext();
    SignalContext(SignalContext&&) noexcept;
    SignalContext& operator=(SignalContext&&) noexcept;
    SignalContext(const SignalContext&) = delete;
    SignalContext& operator=(const SignalContext&) = delete;

    ::signal_context* get() const noexcept;

    // Where libsignal's own log lines go; none by default.
    void set_log(LogFunction log);

    // The error of the last failed random request (libsignal only sees a
    // negative return code), for callers that want the reason.
    const Error* last_random_error() const noexcept;

private:
    struct State;
    explicit SignalContext(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace chatwoot::wa::crypto
