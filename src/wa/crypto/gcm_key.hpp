// An AES-256-GCM key set up once for many messages: the Noise transport
// decrypts every frame of a session under one key, and building OpenSSL's
// key schedule per frame cost more than the decryption itself (about 4x on
// 300-byte frames).  Only the 12-byte nonce changes per call.
#pragma once

#include <memory>

#include "wa/bytes.hpp"
#include "wa/error.hpp"

struct evp_cipher_ctx_st;

namespace chatwoot::wa::crypto {

class GcmKey {
public:
    // The key must be 32 bytes (Errc::malformed otherwise).
    static Result<GcmKey> create(ByteView key);

    // Appends ciphertext || 16-byte tag to `out`.
    Status encrypt(ByteView iv, ByteView plaintext, ByteView aad, Bytes& out);

    // Replaces `out` with the plaintext of ciphertext || tag.  Shorter than
    // the tag: Errc::truncated; tag mismatch: Errc::bad_mac (out is then
    // cleared, so no unauthenticated byte is ever handed on).
    Status decrypt(ByteView iv, ByteView ciphertext_and_tag, ByteView aad, Bytes& out);

private:
    struct CtxFree {
        void operator()(evp_cipher_ctx_st* ctx) const noexcept;
    };
    using Ctx = std::unique_ptr<evp_cipher_ctx_st, CtxFree>;

    GcmKey(Ctx enc, Ctx dec) : enc_(std::move(enc)), dec_(std::move(dec)) {}

    Ctx enc_;
    Ctx dec_;
};

}  // namespace chatwoot::wa::crypto
