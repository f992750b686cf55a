// The phone's answer to a scanned QR code (or a finished pairing code), and
// ours to it (waweb.md 1.10 steps 4-6, 1.11).
//
//   <iq type="set" id=... from="s.whatsapp.net"><pair-success>
//       <device-identity>ADVSignedDeviceIdentityHMAC</device-identity>
//       <device jid=... lid=.../>  <platform name=.../>  [<biz name=.../>]
//       [<client-props>...</client-props>]
//   </pair-success></iq>
//
// The outer record is authenticated with the adv secret we showed in the
// QR code: only the phone that scanned it can produce a matching HMAC.
// Inside, the phone's account key signs our identity key ("this device is
// mine"); we countersign with our identity key ("and I accept"), and send
// the record back without the account key, which the server already has:
//
//   <iq to="@s.whatsapp.net" type="result" id=...><pair-device-sign>
//       <device-identity key-index=N>ADVSignedDeviceIdentity</device-identity>
//   </pair-device-sign></iq>
//
// Hosted (Meta-hosted business) accounts use other prefixes.  whatsmeow
// decides "hosted" once, from the outer record's accountType, for the HMAC
// and both signatures, and so do we; Baileys takes the account-signature
// prefix from the inner deviceType and never uses the hosted device prefix.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::pairing {

// What each signed message starts with (waweb.md section 8).
inline constexpr std::array<std::uint8_t, 2> adv_account_prefix{6, 0};
inline constexpr std::array<std::uint8_t, 2> adv_device_prefix{6, 1};
inline constexpr std::array<std::uint8_t, 2> adv_hosted_account_prefix{6, 5};
inline constexpr std::array<std::uint8_t, 2> adv_hosted_device_prefix{6, 6};

struct PairingKeys {
    ByteView adv_secret;        // 32 bytes, the one shown in the QR code
    ByteView identity_private;  // 32 bytes, our Signal identity key
};

// What pairing taught us, to be stored before the reply is sent.
struct PairedAccount {
    std::string iq_id;
    binary::Jid jid;                 // this device: "<phone>:<device>@s.whatsapp.net"
    std::optional<binary::Jid> lid;  // the same device under its LID
    std::string platform;            // <platform name>: the phone's kind ("android", "smba", ...)
    std::string business_name;       // <biz name>; empty for a personal account
    std::uint32_t key_index = 0;     // ADVDeviceIdentity.keyIndex
    bool hosted = false;
    // The phone's identity key (accountSignatureKey): the Signal identity of
    // device 0 at our LID.
    crypto::Key32 primary_identity{};
    // ADVSignedDeviceIdentity with the account key and our device signature:
    // the <device-identity> later pkmsg stanzas carry.
    Bytes account;
};

struct PairSuccess {
    PairedAccount account;
    binary::Node reply;  // the <iq type="result"><pair-device-sign> to send
};

// Verifies the stanza and signs.  The 64 random bytes of the device
// signature come from `random`.  Errors, in the order they are checked:
//   keys not 32 bytes                                     Errc::malformed
//   not a set-iq from the server with <pair-success>      Errc::malformed / untrusted
//   no <device-identity> bytes, no <device jid>, a jid
//   or lid that is not a valid JID                        Errc::malformed
//   the outer record does not parse                       Errc::malformed
//   its HMAC does not match (or is missing)               Errc::bad_mac
//   the signed identity or its details do not parse, or
//   the account key/signature has the wrong length        Errc::malformed
//   the account signature does not verify                 Errc::bad_signature
//   the random source fails                               Errc::crypto_failure
Result<PairSuccess> handle_pair_success(const binary::Node& iq, const PairingKeys& keys,
                                        const crypto::RandomSource& random);

// The refusal to send when handle_pair_success fails (and the iq had an
// id): <iq to="@s.whatsapp.net" type="error" id=...><error code text/></iq>,
// 401 hmac-mismatch for Errc::bad_mac, 401 signature-mismatch for
// Errc::bad_signature, 500 internal-error for anything else.
binary::Node pair_error_reply(std::string_view iq_id, Errc reason);

}  // namespace chatwoot::wa::pairing
