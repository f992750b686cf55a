// How the protocol layers report failure: a value, never an exception and
// never a crash, because every decoder here reads bytes from the network.
//
// Result<T> holds either a T or an Error.  Error names the layer's reason in
// a stable code (for counters and tests) plus a short human detail for logs;
// the detail never carries key material.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace chatwoot::wa {

enum class Errc {
    truncated,        // input ended inside a value
    too_large,        // a length or count over the layer's bound
    too_deep,         // nesting over the layer's bound
    malformed,        // bytes that break the format's grammar
    unsupported,      // well-formed, but a form we do not implement
    bad_mac,          // an authentication tag or HMAC did not verify
    bad_signature,    // a curve25519 signature did not verify
    untrusted,        // a certificate chain that does not lead to our root
    expired,          // a certificate outside its validity window
    wrong_state,      // a call the state machine does not allow now
    crypto_failure,   // OpenSSL or libsignal refused an operation
    not_found,        // a key, session or record the store does not hold
    store_failure,    // the store itself failed (disk, lock, I/O): the input
                      // may be fine, so a caller must not treat it as bad
};

const char* errc_name(Errc code);

struct Error {
    Errc code;
    std::string detail;
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

// For operations that produce nothing but can fail.
struct Done {};
using Status = Result<Done>;

inline Error make_error(Errc code, std::string detail)
{
    return Error{code, std::move(detail)};
}

}  // namespace chatwoot::wa
