#include "wa/pairing/pairing_code.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "wa/crypto/aes.hpp"
#include "wa/crypto/kdf.hpp"
#include "wa/crypto/x25519.hpp"

namespace chatwoot::wa::pairing {

namespace {

Status check_len(ByteView v, std::size_t want, const char* what)
{
    if (v.size() != want)
        return make_error(Errc::malformed, std::string(what) + " is " + std::to_string(v.size()) +
                                               " bytes, want " + std::to_string(want));
    return Done{};
}

template <std::size_t N>
std::array<std::uint8_t, N> take(ByteView v)
{
    std::array<std::uint8_t, N> out{};
    std::copy_n(v.begin(), N, out.begin());
    return out;
}

}  // namespace

Result<std::string> encode_pairing_code(ByteView five_bytes)
{
    if (Status s = check_len(five_bytes, 5, "pairing code seed"); !s) return s.error();
    std::uint64_t bits = 0;
    for (std::uint8_t b : five_bytes) bits = (bits << 8) | b;
    std::string code(pairing_code_length, '\0');
    for (std::size_t i = 0; i < pairing_code_length; ++i)
        code[i] = pairing_code_alphabet[(bits >> (35 - 5 * i)) & 31];
    return code;
}

Result<std::string> generate_pairing_code(const crypto::RandomSource& random)
{
    Result<Bytes> seed = crypto::random_bytes(random, 5);
    if (!seed) return seed.error();
    return encode_pairing_code(*seed);
}

Status check_pairing_code(std::string_view code)
{
    if (code.size() != pairing_code_length)
        return make_error(Errc::malformed, "pairing code has " + std::to_string(code.size()) +
                                               " characters, want 8");
    for (std::size_t i = 0; i < code.size(); ++i)
        if (pairing_code_alphabet.find(code[i]) == std::string_view::npos)
            return make_error(Errc::malformed,
                              "pairing code character " + std::to_string(i) + " not in alphabet");
    return Done{};
}

std::string display_pairing_code(std::string_view code)
{
    if (code.size() != pairing_code_length) return std::string(code);
    return std::string(code.substr(0, 4)) + "-" + std::string(code.substr(4));
}

Result<crypto::Key32> pairing_code_key(std::string_view code, ByteView salt)
{
    if (Status s = check_pairing_code(code); !s) return s.error();
    if (Status s = check_len(salt, 32, "pairing code salt"); !s) return s.error();
    Result<Bytes> key = crypto::pbkdf2_sha256(as_bytes(code), salt, pairing_code_iterations, 32);
    if (!key) return key.error();
    crypto::Key32 out = take<32>(*key);
    OPENSSL_cleanse(key->data(), key->size());
    return out;
}

Result<Bytes> wrap_ephemeral(std::string_view code, ByteView salt, ByteView iv,
                             ByteView ephemeral_public)
{
    if (Status s = check_len(iv, 16, "pairing code IV"); !s) return s.error();
    if (Status s = check_len(ephemeral_public, 32, "ephemeral public key"); !s) return s.error();
    Result<crypto::Key32> key = pairing_code_key(code, salt);
    if (!key) return key.error();
    Result<Bytes> ct = crypto::aes256_ctr(*key, iv, ephemeral_public);
    OPENSSL_cleanse(key->data(), key->size());
    if (!ct) return ct.error();
    return concat({salt, iv, *ct});
}

Result<Bytes> wrap_ephemeral(std::string_view code, ByteView ephemeral_public,
                             const crypto::RandomSource& random)
{
    // Salt first, then IV: the order Baileys draws them in, so replayed
    // randomness reproduces its bytes.
    Result<Bytes> salt = crypto::random_bytes(random, 32);
    if (!salt) return salt.error();
    Result<Bytes> iv = crypto::random_bytes(random, 16);
    if (!iv) return iv.error();
    return wrap_ephemeral(code, *salt, *iv, ephemeral_public);
}

Result<crypto::Key32> unwrap_ephemeral(std::string_view code, ByteView wrapped)
{
    if (Status s = check_len(wrapped, wrapped_ephemeral_size, "wrapped ephemeral key"); !s)
        return s.error();
    Result<crypto::Key32> key = pairing_code_key(code, wrapped.first(32));
    if (!key) return key.error();
    Result<Bytes> pub = crypto::aes256_ctr(*key, wrapped.subspan(32, 16), wrapped.subspan(48, 32));
    OPENSSL_cleanse(key->data(), key->size());
    if (!pub) return pub.error();
    return take<32>(*pub);
}

Result<CompanionFinish> companion_finish(const FinishInputs& in, const FinishRandom& random)
{
    if (Status s = check_len(in.companion_ephemeral_private, 32, "companion ephemeral key"); !s)
        return s.error();
    if (Status s = check_len(in.identity_private, 32, "identity private key"); !s) return s.error();
    if (Status s = check_len(in.identity_public, 32, "identity public key"); !s) return s.error();
    if (Status s = check_len(in.primary_identity_public, 32, "primary identity key"); !s)
        return s.error();

    Result<crypto::Key32> primary_eph = unwrap_ephemeral(in.code, in.wrapped_primary_ephemeral);
    if (!primary_eph) return primary_eph.error();
    Result<crypto::Key32> eph_shared =
        crypto::x25519_shared(in.companion_ephemeral_private, *primary_eph);
    if (!eph_shared) return eph_shared.error();
    Result<crypto::Key32> id_shared =
        crypto::x25519_shared(in.identity_private, in.primary_identity_public);
    if (!id_shared) return id_shared.error();

    Result<Bytes> bundle_key =
        crypto::hkdf_sha256(random.bundle_salt, *eph_shared, as_bytes(key_bundle_info), 32);
    if (!bundle_key) return bundle_key.error();
    Bytes plaintext = concat({in.identity_public, in.primary_identity_public, random.adv_random});
    Result<Bytes> sealed =
        crypto::aes256_gcm_encrypt(*bundle_key, random.bundle_nonce, plaintext, {});
    OPENSSL_cleanse(bundle_key->data(), bundle_key->size());
    if (!sealed) return sealed.error();

    Bytes ikm = concat({*eph_shared, *id_shared, random.adv_random});
    Result<Bytes> adv = crypto::hkdf_sha256({}, ikm, as_bytes(adv_secret_info), 32);
    OPENSSL_cleanse(ikm.data(), ikm.size());
    OPENSSL_cleanse(eph_shared->data(), eph_shared->size());
    OPENSSL_cleanse(id_shared->data(), id_shared->size());
    if (!adv) return adv.error();

    CompanionFinish out;
    out.wrapped_key_bundle = concat({random.bundle_salt, random.bundle_nonce, *sealed});
    out.adv_secret = take<32>(*adv);
    OPENSSL_cleanse(adv->data(), adv->size());
    return out;
}

Result<CompanionFinish> companion_finish(const FinishInputs& in, const crypto::RandomSource& random)
{
    // adv random, then bundle salt, then nonce: Baileys' order.
    Result<Bytes> bytes = crypto::random_bytes(random, 32 + 32 + 12);
    if (!bytes) return bytes.error();
    FinishRandom r{};
    ByteView b = *bytes;
    r.adv_random = take<32>(b.first(32));
    r.bundle_salt = take<32>(b.subspan(32, 32));
    r.bundle_nonce = take<12>(b.subspan(64, 12));
    Result<CompanionFinish> out = companion_finish(in, r);
    OPENSSL_cleanse(bytes->data(), bytes->size());
    OPENSSL_cleanse(r.adv_random.data(), r.adv_random.size());
    return out;
}

}  // namespace chatwoot::wa::pairing
