// The server proves who it is with a two-certificate chain sent encrypted
// in its ServerHello (waweb.md 1.4): an intermediate signed by WhatsApp's
// long-term root key, and a leaf, signed by the intermediate, that names the
// server's Noise static key.  Signatures are the curve25519 scheme of
// waweb.md 1.11.
//
// We make whatsmeow's checks, the stricter reference (Baileys skips the
// serial and validity checks); the root key and the current time are
// injected so tests can sign their own chains.
#pragma once

#include <cstdint>

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::noise {

// "WhatsAppLongTerm1", serial 0.
inline constexpr crypto::Key32 whatsapp_root_key{
    0x14, 0x23, 0x75, 0x57, 0x4d, 0x0a, 0x58, 0x71, 0x66, 0xaa, 0xe7, 0x1e, 0xbe, 0x51, 0x64, 0x37,
    0xc4, 0xa2, 0x8b, 0x73, 0xe3, 0x69, 0x5c, 0x6c, 0xe1, 0xf7, 0xf9, 0x54, 0x5d, 0xa8, 0xee, 0x6b};
inline constexpr std::uint32_t whatsapp_root_serial = 0;

struct CertPolicy {
    crypto::Key32 root_key = whatsapp_root_key;
    std::uint32_t root_serial = whatsapp_root_serial;
    std::int64_t now = 0;  // Unix seconds, from the caller's clock
};

// What the checks established about the chain.
struct VerifiedChain {
    std::uint32_t intermediate_serial = 0;
    std::uint32_t leaf_serial = 0;
    std::uint64_t leaf_not_after = 0;  // when to expect a new chain
};

// Checks the serialized CertChain against `policy` and the server static
// key just decrypted from the handshake.  Each failure has its own detail,
// beginning "certificate chain: ":
//   Errc::malformed      not a CertChain, a certificate or field missing,
//                        a key not 32 bytes, a signature not 64
//   Errc::untrusted      intermediate not signed by the root key, an issuer
//                        serial that does not match, leaf key not the
//                        server's static key
//   Errc::bad_signature  leaf not signed by the intermediate
//   Errc::expired        `now` outside a certificate's [notBefore, notAfter]
Result<VerifiedChain> verify_cert_chain(ByteView cert_chain, ByteView server_static,
                                        const CertPolicy& policy);

}  // namespace chatwoot::wa::noise
