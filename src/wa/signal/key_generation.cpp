#include "wa/signal/key_generation.hpp"

#include <curve.h>
#include <key_helper.h>

#include <string>

#include "wa/crypto/curve_signature.hpp"
#include "wa/signal/curve_keys.hpp"
#include "wa/signal/signal_error.hpp"

namespace chatwoot::wa::signal {

namespace {

constexpr std::uint32_t kMaxWireKeyId = 0xFFFFFF;  // 3 bytes on the wire

Error random_failure(const crypto::SignalContext& context, int rc, const char* what)
{
    std::string detail = std::string(what) + ": " + std::string(signal_error_name(rc));
    if (const Error* e = context.last_random_error()) detail += ": " + e->detail;
    return make_error(Errc::crypto_failure, detail);
}

}  // namespace

Result<crypto::KeyPair> generate_key_pair(const crypto::SignalContext& context)
{
    if (!context.get()) return make_error(Errc::wrong_state, "no signal context");
    ec_key_pair* raw = nullptr;
    int rc = curve_generate_key_pair(context.get(), &raw);
    SignalRef<ec_key_pair> pair(raw);
    if (rc < 0 || !pair) return random_failure(context, rc, "curve_generate_key_pair");
    return key_pair_of(pair.get());
}

Result<std::uint32_t> generate_registration_id(const crypto::SignalContext& context)
{
    if (!context.get()) return make_error(Errc::wrong_state, "no signal context");
    std::uint32_t id = 0;
    // extended_range 0: 1..16380, the 14-bit ids WhatsApp uses.
    int rc = signal_protocol_key_helper_generate_registration_id(&id, 0, context.get());
    if (rc < 0) return random_failure(context, rc, "generate_registration_id");
    return id;
}

Result<LocalIdentity> generate_local_identity(const crypto::SignalContext& context)
{
    Result<crypto::KeyPair> pair = generate_key_pair(context);
    if (!pair) return pair.error();
    Result<std::uint32_t> id = generate_registration_id(context);
    if (!id) return id.error();
    return LocalIdentity{*pair, *id};
}

std::uint32_t next_pre_key_id(std::uint32_t id)
{
    return id >= kMaxPreKeyId ? 1 : id + 1;
}

Result<std::vector<PreKey>> generate_pre_keys(const crypto::SignalContext& context,
                                              std::uint32_t first_id, std::uint32_t count)
{
    if (first_id < 1 || first_id > kMaxPreKeyId)
        return make_error(Errc::malformed, "first pre-key id " + std::to_string(first_id) +
                                               " outside 1.." + std::to_string(kMaxPreKeyId));
    if (count > kMaxPreKeyId)
        return make_error(Errc::too_large,
                          std::to_string(count) + " pre-keys would reuse ids in one batch");
    std::vector<PreKey> keys;
    keys.reserve(count);
    std::uint32_t id = first_id;
    for (std::uint32_t i = 0; i < count; ++i) {
        Result<crypto::KeyPair> pair = generate_key_pair(context);
        if (!pair) return pair.error();
        keys.push_back(PreKey{id, *pair});
        id = next_pre_key_id(id);
    }
    return keys;
}

Result<SignedPreKey> generate_signed_pre_key(const crypto::SignalContext& context,
                                             const crypto::KeyPair& identity, std::uint32_t id)
{
    if (id < 1 || id > kMaxWireKeyId)
        return make_error(Errc::malformed, "signed pre-key id " + std::to_string(id) +
                                               " outside 1.." + std::to_string(kMaxWireKeyId));
    Result<crypto::KeyPair> pair = generate_key_pair(context);
    if (!pair) return pair.error();
    Bytes message = concat({ByteView(&crypto::djb_key_type, 1), pair->public_key});
    Result<crypto::Signature64> signature =
        crypto::curve_sign(context, identity.private_key, message);
    if (!signature) return signature.error();
    return SignedPreKey{id, *pair, *signature};
}

}  // namespace chatwoot::wa::signal
