#include "wa/crypto/curve_signature.hpp"

#include <curve.h>
#include <signal_protocol.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>

namespace chatwoot::wa::crypto {

namespace {

struct Unref {
    void operator()(void* p) const { signal_type_unref(static_cast<signal_type_base*>(p)); }
};
struct BufferFree {
    void operator()(signal_buffer* p) const { signal_buffer_bzero_free(p); }
};

using PrivateKey = std::unique_ptr<ec_private_key, Unref>;
using PublicKey = std::unique_ptr<ec_public_key, Unref>;
using Buffer = std::unique_ptr<signal_buffer, BufferFree>;

}  // namespace

Result<Signature64> curve_sign(const SignalContext& context, ByteView private_key, ByteView message)
{
    if (private_key.size() != 32)
        return make_error(Errc::malformed, "signing key is " + std::to_string(private_key.size()) +
                                               " bytes, want 32");
    if (!context.get()) return make_error(Errc::wrong_state, "no signal context");

    ec_private_key* raw_key = nullptr;
    if (curve_decode_private_point(&raw_key, private_key.data(), private_key.size(),
                                   context.get()) != 0)
        return make_error(Errc::crypto_failure, "curve_decode_private_point");
    PrivateKey key(raw_key);

    signal_buffer* raw_sig = nullptr;
    int rc = curve_calculate_signature(context.get(), &raw_sig, key.get(), message.data(),
                                       message.size());
    Buffer sig(raw_sig);
    if (rc < 0 || !sig) {
        std::string why = "curve_calculate_signature failed (" + std::to_string(rc) + ")";
        if (const Error* e = context.last_random_error()) why += ": " + e->detail;
        return make_error(Errc::crypto_failure, why);
    }
    if (signal_buffer_len(sig.get()) != 64)
        return make_error(Errc::crypto_failure, "signature is not 64 bytes");
    Signature64 out{};
    std::copy_n(signal_buffer_data(sig.get()), 64, out.begin());
    return out;
}

Result<Signature64> curve_sign(const RandomSource& random, ByteView private_key, ByteView message)
{
    Result<SignalContext> ctx = SignalContext::create(random);
    if (!ctx) return ctx.error();
    return curve_sign(*ctx, private_key, message);
}

Status curve_verify(ByteView public_key, ByteView message, ByteView signature)
{
    std::array<std::uint8_t, 33> typed{};
    if (public_key.size() == 32) {
        typed[0] = djb_key_type;
        std::copy(public_key.begin(), public_key.end(), typed.begin() + 1);
    } else if (public_key.size() == 33 && public_key[0] == djb_key_type) {
        std::copy(public_key.begin(), public_key.end(), typed.begin());
    } else {
        return make_error(Errc::malformed, "signature key is " + std::to_string(public_key.size()) +
                                               " bytes, want 32 (or 33 with type 0x05)");
    }
    if (signature.size() != 64)
        return make_error(Errc::malformed,
                          "signature is " + std::to_string(signature.size()) + " bytes, want 64");

    // With a well-formed 33-byte key curve_decode_point never logs, so it
    // needs no context.
    ec_public_key* raw_key = nullptr;
    if (curve_decode_point(&raw_key, typed.data(), typed.size(), nullptr) != 0)
        return make_error(Errc::crypto_failure, "curve_decode_point");
    PublicKey key(raw_key);

    int rc = curve_verify_signature(key.get(), message.data(), message.size(), signature.data(),
                                    signature.size());
    if (rc == 1) return Done{};
    if (rc == 0) return make_error(Errc::bad_signature, "curve25519 signature does not verify");
    return make_error(Errc::crypto_failure,
                      "curve_verify_signature failed (" + std::to_string(rc) + ")");
}

}  // namespace chatwoot::wa::crypto
