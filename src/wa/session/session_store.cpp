#include "wa/session/session_store.hpp"

#include <algorithm>

#include "wa/crypto/curve_signature.hpp"

namespace chatwoot::wa::session {

Result<DeviceCredentials> MemorySessionStore::load_credentials()
{
    ++loads_;
    if (failure_) {
        return *failure_;
    }
    if (!credentials_) {
        return make_error(Errc::not_found, "session store: no credentials for this device");
    }
    return *credentials_;
}

Result<DeviceCredentials> generate_credentials(const crypto::RandomSource& random)
{
    DeviceCredentials c;
    auto noise = crypto::x25519_generate(random);
    if (!noise) return noise.error();
    auto identity = crypto::x25519_generate(random);
    if (!identity) return identity.error();
    auto prekey = crypto::x25519_generate(random);
    if (!prekey) return prekey.error();
    auto extra = crypto::random_bytes(random, 2 + 32);
    if (!extra) return extra.error();

    c.noise_key = *noise;
    c.identity_key = *identity;
    // libsignal's generate_registration_id: 1..16380.
    const std::uint32_t r = (std::uint32_t((*extra)[0]) << 8) | (*extra)[1];
    c.registration_id = (r & 0x3ffe) + 1;
    std::copy_n(extra->begin() + 2, 32, c.adv_secret.begin());

    c.signed_prekey.id = 1;
    c.signed_prekey.key = *prekey;
    Bytes signed_part{0x05};
    signed_part.insert(signed_part.end(), prekey->public_key.begin(), prekey->public_key.end());
    auto signature = crypto::curve_sign(random, c.identity_key.private_key, signed_part);
    if (!signature) return signature.error();
    c.signed_prekey.signature = *signature;
    return c;
}

}  // namespace chatwoot::wa::session
