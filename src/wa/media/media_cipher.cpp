#include "wa/media/media_cipher.hpp"

#include <string>

#include "wa/crypto/aes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/hmac.hpp"
#include "wa/media/media_keys.hpp"

namespace chatwoot::wa::media {

namespace {

crypto::Digest32 media_mac(const MediaKeys& keys, ByteView ciphertext)
{
    crypto::HmacSha256 mac(keys.mac_key);
    mac.update(keys.iv);
    mac.update(ciphertext);
    return mac.finish();
}

Status check_hash_length(const std::optional<ByteView>& h, const char* name)
{
    if (h && h->size() != 32)
        return make_error(Errc::malformed, std::string(name) + " is " + std::to_string(h->size()) +
                                               " bytes, want 32");
    return Done{};
}

}  // namespace

Result<EncryptedMedia> encrypt_media(ByteView media_key, MediaType type, ByteView plaintext)
{
    Result<MediaKeys> keys = expand_media_key(media_key, type);
    if (!keys) return keys.error();
    Result<Bytes> ct = crypto::aes256_cbc_encrypt(keys->cipher_key, keys->iv, plaintext);
    if (!ct) return ct.error();

    EncryptedMedia out;
    crypto::Digest32 mac = media_mac(*keys, *ct);
    out.enc_blob = std::move(*ct);
    out.enc_blob.insert(out.enc_blob.end(), mac.begin(), mac.begin() + media_mac_size);
    out.file_sha256 = crypto::sha256(plaintext);
    out.file_enc_sha256 = crypto::sha256(out.enc_blob);
    out.file_length = plaintext.size();
    return out;
}

Result<Bytes> decrypt_media(ByteView media_key, MediaType type, ByteView enc_blob,
                            const ExpectedHashes& expected)
{
    if (Status s = check_hash_length(expected.file_enc_sha256, "file_enc_sha256"); !s)
        return s.error();
    if (Status s = check_hash_length(expected.file_sha256, "file_sha256"); !s) return s.error();
    Result<MediaKeys> keys = expand_media_key(media_key, type);
    if (!keys) return keys.error();

    if (enc_blob.size() < crypto::aes_block_size + media_mac_size)
        return make_error(Errc::truncated, "media blob is " + std::to_string(enc_blob.size()) +
                                               " bytes, below one block and the MAC");

    if (expected.file_enc_sha256 &&
        !crypto::equal_mac(crypto::sha256(enc_blob), *expected.file_enc_sha256))
        return make_error(Errc::bad_mac, "media blob does not match file_enc_sha256");

    ByteView ct = enc_blob.first(enc_blob.size() - media_mac_size);
    ByteView mac = enc_blob.last(media_mac_size);
    crypto::Digest32 want = media_mac(*keys, ct);
    if (!crypto::equal_mac(ByteView(want).first(media_mac_size), mac))
        return make_error(Errc::bad_mac, "media MAC mismatch");

    Result<Bytes> plain = crypto::aes256_cbc_decrypt(keys->cipher_key, keys->iv, ct);
    if (!plain) return plain.error();

    if (expected.file_sha256 && !crypto::equal_mac(crypto::sha256(*plain), *expected.file_sha256))
        return make_error(Errc::bad_mac, "decrypted media does not match file_sha256");
    return plain;
}

}  // namespace chatwoot::wa::media
