// The ClientPayload we send encrypted inside the Noise ClientFinish
// (waweb.md 1.6): one form to register a new companion device (pairing),
// one to log in again as a device that is already paired.
//
// The field values follow whatsmeow (store/clientpayload.go), the stricter
// of the two references; where Baileys differs the option says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/proto/client_payload.pb.h"

namespace chatwoot::wa::proto {

// The WhatsApp Web version we claim to be.  The server answers a stale one
// with <failure reason="405">, so it is configuration, not a constant.
struct WaVersion {
    std::uint32_t primary = 2;
    std::uint32_t secondary = 3000;
    std::uint32_t tertiary = 0;

    // "2.3000.<tertiary>": the string whose MD5 is the registration's
    // build hash.
    std::string to_string() const;
    friend bool operator==(const WaVersion&, const WaVersion&) = default;
};

// whatsmeow's constant at the commit waweb.md was written from.
inline constexpr WaVersion default_wa_version{2, 3000, 1045649367};

// Parses "2.3000.1045649367"; nullopt unless three decimal uint32 parts.
std::optional<WaVersion> parse_wa_version(std::string_view text);

// What both payload forms share.
struct ClientOptions {
    WaVersion version = default_wa_version;
    std::string push_name;  // sent only when not empty
    ClientPayload::ConnectReason connect_reason = ClientPayload::USER_ACTIVATED;
    std::string locale_language = "en";  // ISO 639-1
    std::string locale_country = "US";   // ISO 3166-1 alpha-2
};

// How the phone lists us under "Linked devices", and how much history we
// ask for.  `platform` also picks the platform id in the pairing QR text.
struct CompanionProps {
    std::string os = "Chatwoot";
    WaVersion os_version{0, 1, 0};
    DeviceProps::PlatformType platform = DeviceProps::CHROME;
    bool require_full_sync = false;
    std::uint32_t storage_quota_mb = 10240;
};

// The Signal keys a new device announces (all public halves).
struct RegistrationKeys {
    std::uint32_t registration_id = 0;
    ByteView identity_public;            // 32 bytes
    std::uint32_t signed_prekey_id = 0;  // sent as 3 bytes, so < 2^24
    ByteView signed_prekey_public;       // 32 bytes
    ByteView signed_prekey_signature;    // 64 bytes
};

// The serialized DeviceProps carried in the registration data.
DeviceProps companion_device_props(const CompanionProps& props);

// A first connection that asks the server to pair a new device: passive and
// pull false, the keys in devicePairingData with the build hash.
// Errc::malformed names a key of the wrong length; Errc::too_large a signed
// prekey id that does not fit 3 bytes.
Result<ClientPayload> registration_payload(const RegistrationKeys& keys,
                                           const CompanionProps& props,
                                           const ClientOptions& options = {});

// A reconnection of paired device `device` of account `user` (the phone
// number as a number): passive and pull true.  whatsmeow also sends
// lidDbMigrated=true and lc=1 (Baileys sends lidDbMigrated=false, no lc).
ClientPayload login_payload(std::uint64_t user, std::uint32_t device,
                            const ClientOptions& options = {});

}  // namespace chatwoot::wa::proto
