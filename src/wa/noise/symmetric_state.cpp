#include "wa/noise/symmetric_state.hpp"

#include <algorithm>

#include "wa/crypto/aes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/kdf.hpp"

namespace chatwoot::wa::noise {
namespace {

// The 64 HKDF bytes cut into two keys.
Result<std::pair<crypto::Key32, crypto::Key32>> hkdf_two_keys(const crypto::Key32& salt,
                                                              ByteView ikm)
{
    auto out = crypto::hkdf_sha256(salt, ikm, ByteView{}, 64);
    if (!out) return out.error();
    std::pair<crypto::Key32, crypto::Key32> keys;
    std::copy_n(out->begin(), 32, keys.first.begin());
    std::copy_n(out->begin() + 32, 32, keys.second.begin());
    return keys;
}

}  // namespace

std::array<std::uint8_t, 12> noise_nonce(std::uint32_t counter)
{
    std::array<std::uint8_t, 12> iv{};
    iv[8] = static_cast<std::uint8_t>(counter >> 24);
    iv[9] = static_cast<std::uint8_t>(counter >> 16);
    iv[10] = static_cast<std::uint8_t>(counter >> 8);
    iv[11] = static_cast<std::uint8_t>(counter);
    return iv;
}

SymmetricState::SymmetricState()
{
    std::copy(noise_protocol_name.begin(), noise_protocol_name.end(), h_.begin());
    std::copy(noise_protocol_name.begin(), noise_protocol_name.end(), ck_.begin());
}

void SymmetricState::mix_hash(ByteView data)
{
    crypto::Sha256 sha;
    sha.update(h_);
    sha.update(data);
    h_ = sha.finish();
}

Status SymmetricState::mix_key(ByteView input_key_material)
{
    auto keys = hkdf_two_keys(ck_, input_key_material);
    if (!keys) return keys.error();
    ck_ = keys->first;
    k_ = keys->second;
    has_key_ = true;
    nonce_ = 0;
    return Done{};
}

Result<Bytes> SymmetricState::encrypt_and_hash(ByteView plaintext)
{
    if (!has_key_) return make_error(Errc::wrong_state, "noise: encrypt before any key");
    auto ct = crypto::aes256_gcm_encrypt(k_, noise_nonce(nonce_), plaintext, h_);
    if (!ct) return ct.error();
    ++nonce_;
    mix_hash(*ct);
    return ct;
}

Result<Bytes> SymmetricState::decrypt_and_hash(ByteView ciphertext)
{
    if (!has_key_) return make_error(Errc::wrong_state, "noise: decrypt before any key");
    auto pt = crypto::aes256_gcm_decrypt(k_, noise_nonce(nonce_), ciphertext, h_);
    if (!pt) return pt.error();
    ++nonce_;
    mix_hash(ciphertext);
    return pt;
}

Result<std::pair<crypto::Key32, crypto::Key32>> SymmetricState::split() const
{
    return hkdf_two_keys(ck_, ByteView{});
}

}  // namespace chatwoot::wa::noise
