// HMAC-SHA256, one-shot and incremental.
#pragma once

#include <memory>

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"

namespace chatwoot::wa::crypto {

Digest32 hmac_sha256(ByteView key, ByteView data);

// Constant-time comparison of two MACs (or MAC prefixes); false when the
// lengths differ.
bool equal_mac(ByteView a, ByteView b);

class HmacSha256 {
public:
    explicit HmacSha256(ByteView key);
    ~HmacSha256();
    HmacSha256(HmacSha256&&) noexcept;
    HmacSha256& operator=(HmacSha256&&) noexcept;

    void update(ByteView data);
    // Returns the MAC and starts over with the same key.
    Digest32 finish();
    // Starts over with another key: what a new object would do, without
    // making the OpenSSL context anew (libsignal asks for thousands of
    // short MACs, each under its own key).
    void rekey(ByteView key);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace chatwoot::wa::crypto
