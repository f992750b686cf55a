#include "wa/media/media_keys.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <string>

#include "wa/crypto/kdf.hpp"

namespace chatwoot::wa::media {

Result<MediaKeys> expand_media_key(ByteView media_key, MediaType type)
{
    if (media_key.size() != media_key_size)
        return make_error(Errc::malformed,
                          "media key is " + std::to_string(media_key.size()) + " bytes, want 32");
    std::string info = hkdf_info(type);
    Result<Bytes> okm = crypto::hkdf_sha256({}, media_key, as_bytes(info), media_expanded_size);
    if (!okm) return okm.error();
    const Bytes& k = *okm;
    MediaKeys keys{};
    std::copy_n(k.begin(), 16, keys.iv.begin());
    std::copy_n(k.begin() + 16, 32, keys.cipher_key.begin());
    std::copy_n(k.begin() + 48, 32, keys.mac_key.begin());
    std::copy_n(k.begin() + 80, 32, keys.ref_key.begin());
    OPENSSL_cleanse(okm->data(), okm->size());
    return keys;
}

Result<crypto::Key32> new_media_key(const crypto::RandomSource& random)
{
    Result<Bytes> b = crypto::random_bytes(random, media_key_size);
    if (!b) return b.error();
    crypto::Key32 key{};
    std::copy(b->begin(), b->end(), key.begin());
    OPENSSL_cleanse(b->data(), b->size());
    return key;
}

}  // namespace chatwoot::wa::media
