// Message digests: SHA-256, SHA-512, MD5.
//
// These cannot fail on valid input; an OpenSSL failure here means the
// library is unusable (allocation or provider loading), which we treat as a
// broken invariant (see openssl_util.hpp).
#pragma once

#include <memory>

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"

namespace chatwoot::wa::crypto {

Digest32 sha256(ByteView data);
Digest64 sha512(ByteView data);
Digest16 md5(ByteView data);

// Digests over data fed in pieces.  finish() returns the digest and starts
// over, so one object can hash a sequence of messages (libsignal's
// fingerprint code relies on that for SHA-512).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;

    void update(ByteView data);
    Digest32 finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class Sha512 {
public:
    Sha512();
    ~Sha512();
    Sha512(Sha512&&) noexcept;
    Sha512& operator=(Sha512&&) noexcept;

    void update(ByteView data);
    Digest64 finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace chatwoot::wa::crypto
