// The text a companion shows as a QR code while it waits to be linked
// (waweb.md 1.10, step 3).  The phone scans it and learns everything it
// needs to vouch for us: the server's pairing reference, our Noise and
// Signal identity public keys, and the secret that will authenticate the
// phone's answer (pair_success.hpp).
//
//   https://wa.me/settings/linked_devices#<ref>,<b64 noise pub>,
//       <b64 identity pub>,<b64 adv secret>,<platform id>
//
// Base64 is the standard alphabet with padding.  The platform id names the
// kind of client the phone lists us as; it should agree with the
// DeviceProps.platformType we registered with.
#pragma once

#include <string>
#include <string_view>

#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::pairing {

inline constexpr std::string_view qr_prefix = "https://wa.me/settings/linked_devices#";

// The client kinds a QR code can announce, with the id written for each.
enum class CompanionPlatform {
    chrome,     // "1"
    edge,       // "2"
    firefox,    // "3"
    ie,         // "4"
    opera,      // "5"
    safari,     // "6"
    electron,   // "7"
    uwp,        // "8"
    other_web,  // "9"
    macos,      // "c"
    android,    // "e"
};

std::string_view platform_id(CompanionPlatform platform);

struct QrFields {
    std::string_view ref;      // one <ref> of <pair-device>, as the server sent it
    ByteView noise_public;     // 32 bytes: our static Noise key
    ByteView identity_public;  // 32 bytes: our Signal identity key (no 0x05 prefix)
    ByteView adv_secret;       // 32 bytes, made once at registration and kept
    CompanionPlatform platform = CompanionPlatform::chrome;
};

// Errc::malformed for a key or secret that is not 32 bytes, and for an
// empty ref or one holding a ',' (it would shift every field after it).
Result<std::string> qr_text(const QrFields& fields);

// Standard base64 with padding (RFC 4648 section 4).
std::string base64_encode(ByteView bytes);

}  // namespace chatwoot::wa::pairing
