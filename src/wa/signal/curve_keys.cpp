#include "wa/signal/curve_keys.hpp"

#include <algorithm>
#include <array>

#include "wa/crypto/curve_signature.hpp"

namespace chatwoot::wa::signal {

Result<SignalRef<ec_public_key>> ec_public_of(const crypto::Key32& public_key)
{
    std::array<std::uint8_t, 33> typed{};
    typed[0] = crypto::djb_key_type;
    std::copy(public_key.begin(), public_key.end(), typed.begin() + 1);
    ec_public_key* raw = nullptr;
    int rc = curve_decode_point(&raw, typed.data(), typed.size(), nullptr);
    SignalRef<ec_public_key> key(raw);
    if (rc < 0 || !key) return make_error(Errc::crypto_failure, "curve_decode_point");
    return key;
}

Result<SignalRef<ec_key_pair>> ec_pair_of(const crypto::KeyPair& pair)
{
    Result<SignalRef<ec_public_key>> pub = ec_public_of(pair.public_key);
    if (!pub) return pub.error();
    ec_private_key* raw_priv = nullptr;
    int rc = curve_decode_private_point(&raw_priv, pair.private_key.data(), pair.private_key.size(),
                                        nullptr);
    SignalRef<ec_private_key> priv(raw_priv);
    if (rc < 0 || !priv) return make_error(Errc::crypto_failure, "curve_decode_private_point");
    ec_key_pair* raw_pair = nullptr;
    rc = ec_key_pair_create(&raw_pair, pub->get(), priv.get());  // takes its own references
    SignalRef<ec_key_pair> out(raw_pair);
    if (rc < 0 || !out) return make_error(Errc::crypto_failure, "ec_key_pair_create");
    return out;
}

Result<crypto::Key32> raw_public_of(const ec_public_key* key)
{
    signal_buffer* raw = nullptr;
    int rc = ec_public_key_serialize(&raw, key);
    SignalBuffer buffer(raw);
    ByteView bytes = buffer_view(buffer.get());
    if (rc < 0 || bytes.size() != 33 || bytes[0] != crypto::djb_key_type)
        return make_error(Errc::crypto_failure, "ec_public_key_serialize");
    crypto::Key32 out{};
    std::copy(bytes.begin() + 1, bytes.end(), out.begin());
    return out;
}

Result<crypto::KeyPair> key_pair_of(const ec_key_pair* pair)
{
    Result<crypto::Key32> pub = raw_public_of(ec_key_pair_get_public(pair));
    if (!pub) return pub.error();
    signal_buffer* raw = nullptr;
    int rc = ec_private_key_serialize(&raw, ec_key_pair_get_private(pair));
    SignalBuffer buffer(raw);
    ByteView bytes = buffer_view(buffer.get());
    if (rc < 0 || bytes.size() != 32)
        return make_error(Errc::crypto_failure, "ec_private_key_serialize");
    crypto::KeyPair out{};
    std::copy(bytes.begin(), bytes.end(), out.private_key.begin());
    out.public_key = *pub;
    return out;
}

}  // namespace chatwoot::wa::signal
