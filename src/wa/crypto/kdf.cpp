#include "wa/crypto/kdf.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>

#include "wa/crypto/hmac.hpp"
#include "wa/crypto/openssl_util.hpp"

namespace chatwoot::wa::crypto {

// RFC 5869 written out over our HMAC: the protocol calls HKDF with an empty
// ikm (Noise split) and an empty salt (media keys), and doing the two steps
// here keeps those edge cases in plain view instead of in provider quirks.
Result<Bytes> hkdf_sha256(ByteView salt, ByteView ikm, ByteView info, std::size_t length)
{
    constexpr std::size_t hash_len = 32;
    if (length == 0) return make_error(Errc::malformed, "HKDF length 0");
    if (length > 255 * hash_len)
        return make_error(Errc::too_large, "HKDF length " + std::to_string(length) + " > 8160");

    // Extract.  HMAC pads a short key with zeros, so an empty salt equals
    // RFC 5869's default of HashLen zero bytes.
    Digest32 prk = hmac_sha256(salt, ikm);

    // Expand.
    Bytes out;
    out.reserve(length);
    Digest32 t{};
    std::size_t t_len = 0;
    for (std::uint8_t counter = 1; out.size() < length; ++counter) {
        HmacSha256 mac(prk);
        mac.update(ByteView(t.data(), t_len));
        mac.update(info);
        mac.update(ByteView(&counter, 1));
        t = mac.finish();
        t_len = t.size();
        std::size_t take = std::min(hash_len, length - out.size());
        out.insert(out.end(), t.begin(), t.begin() + static_cast<std::ptrdiff_t>(take));
    }
    OPENSSL_cleanse(prk.data(), prk.size());
    OPENSSL_cleanse(t.data(), t.size());
    return out;
}

Result<Bytes> pbkdf2_sha256(ByteView password, ByteView salt, std::uint32_t iterations,
                            std::size_t length)
{
    if (iterations == 0 || iterations > INT_MAX)
        return make_error(Errc::malformed, "PBKDF2 iterations out of range");
    if (length == 0 || length > INT_MAX) return make_error(Errc::malformed, "PBKDF2 length");
    if (password.size() > INT_MAX || salt.size() > INT_MAX)
        return make_error(Errc::too_large, "PBKDF2 input too long");
    Bytes out(length);
    static const std::uint8_t empty = 0;
    if (PKCS5_PBKDF2_HMAC(password.empty() ? reinterpret_cast<const char*>(&empty)
                                           : reinterpret_cast<const char*>(password.data()),
                          static_cast<int>(password.size()), salt.empty() ? &empty : salt.data(),
                          static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                          static_cast<int>(length), out.data()) != 1)
        return detail::openssl_error("PKCS5_PBKDF2_HMAC");
    return out;
}

}  // namespace chatwoot::wa::crypto
