// The cryptography of pairing by code (waweb.md 1.12): the user types an
// 8-character code shown by the companion into the phone, and both sides
// derive from it the key that wraps their ephemeral X25519 keys.
//
//   code          5 random bytes in base32 over 123456789ABCDEFGHJKLMNPQRSTVWXYZ
//   code key      PBKDF2-HMAC-SHA256(code, salt32, 131072 iterations, 32)
//   wrapped key   salt32 || iv16 || AES-256-CTR(code key, iv, ephemeral pub)
//   finish        bundle key = HKDF(X25519(companion eph, primary eph),
//                               salt32, "link_code_pairing_key_bundle_encryption_key")
//                 bundle     = salt32 || nonce12 ||
//                              AES-256-GCM(bundle key, nonce, our identity pub ||
//                                          primary identity pub || adv random32)
//                 adv secret = HKDF(ephemeral shared || X25519(our identity,
//                              primary identity) || adv random, no salt, "adv_secret")
//
// Only the crypto lives here; the stanzas around it belong to the pairing
// flow.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::pairing {

inline constexpr std::string_view pairing_code_alphabet = "123456789ABCDEFGHJKLMNPQRSTVWXYZ";
inline constexpr std::size_t pairing_code_length = 8;
inline constexpr std::uint32_t pairing_code_iterations = 2u << 16;  // 131072
inline constexpr std::size_t wrapped_ephemeral_size = 32 + 16 + 32;
inline constexpr std::size_t wrapped_key_bundle_size = 32 + 12 + (32 + 32 + 32) + 16;
inline constexpr std::string_view key_bundle_info = "link_code_pairing_key_bundle_encryption_key";
inline constexpr std::string_view adv_secret_info = "adv_secret";

// The 8 characters for 5 bytes (40 bits, 5 per character, most significant
// first).  Not 5 bytes: Errc::malformed.
Result<std::string> encode_pairing_code(ByteView five_bytes);

// A fresh code from 5 bytes of `random`.
Result<std::string> generate_pairing_code(const crypto::RandomSource& random);

// Done for 8 characters of the alphabet (upper case, no separator), else
// Errc::malformed naming the position.
Status check_pairing_code(std::string_view code);

// "ABCD-2345": how the code is shown to a person.
std::string display_pairing_code(std::string_view code);

// PBKDF2-HMAC-SHA256(code, salt, 131072, 32).  The code is checked first;
// the salt must be 32 bytes (Errc::malformed).
Result<crypto::Key32> pairing_code_key(std::string_view code, ByteView salt);

// salt || iv || AES-256-CTR(code key, iv, ephemeral_public): 80 bytes.
Result<Bytes> wrap_ephemeral(std::string_view code, ByteView salt, ByteView iv,
                             ByteView ephemeral_public);

// The same, drawing the salt (32) and then the IV (16) from `random`.
Result<Bytes> wrap_ephemeral(std::string_view code, ByteView ephemeral_public,
                             const crypto::RandomSource& random);

// The inverse of wrap_ephemeral, for the primary's 80-byte
// link_code_pairing_wrapped_primary_ephemeral_pub.  Another length:
// Errc::malformed.  CTR has no integrity: a wrong code yields a wrong key,
// which only shows later when the phone rejects the bundle.
Result<crypto::Key32> unwrap_ephemeral(std::string_view code, ByteView wrapped);

// The random inputs of the finish step, drawn in this order by the
// RandomSource overload below.
struct FinishRandom {
    crypto::Key32 adv_random;
    crypto::Key32 bundle_salt;
    std::array<std::uint8_t, 12> bundle_nonce;
};

struct CompanionFinish {
    Bytes wrapped_key_bundle;  // link_code_pairing_wrapped_key_bundle, 156 bytes
    crypto::Key32 adv_secret;  // keeps pair-success verifiable (ADV HMAC key)
};

struct FinishInputs {
    std::string_view code;
    ByteView companion_ephemeral_private;  // the key wrapped in companion_hello
    ByteView wrapped_primary_ephemeral;    // 80 bytes from the notification
    ByteView identity_private;             // our Signal identity key pair
    ByteView identity_public;
    ByteView primary_identity_public;  // primary_identity_pub from the notification
};

// Errors: Errc::malformed for any wrong length or a bad code;
// Errc::crypto_failure for a small-order primary key.
Result<CompanionFinish> companion_finish(const FinishInputs& in, const FinishRandom& random);
Result<CompanionFinish> companion_finish(const FinishInputs& in,
                                         const crypto::RandomSource& random);

}  // namespace chatwoot::wa::pairing
