// Passkey-gated linking ("shortcake", waweb-2026.md section 1): the wire
// and the crypto, no state.  An account in the server's passkey cohort
// does not send <pair-success> when the phone scans our QR (or takes our
// code); it asks for a WebAuthn assertion made with the account's passkey
// first, which only a browser tab on web.whatsapp.com can make:
//
//   server  <notification type="passkey_prologue_request">
//               <passkey_request_options>{WebAuthn request options}</...>
//           (or we ask: <iq xmlns="md" type="get"><passkey_request_options/>)
//   us      <iq xmlns="md" type="get"><ref/></iq>        -> <ref>
//           <iq xmlns="md" type="set"><passkey_prologue>
//               <credential_id> <webauthn_assertion> <prologue_payload>
//               [<pairing_handoff_proof>]
//   server  <notification type="crsc_continuation">
//               <primary_ephemeral_identity>{phone's key and nonce}</...>
//   us      <iq xmlns="md" type="set"><companion_nonce>    (opens the commitment)
//           both sides now show the same 8-character code
//   us      <iq xmlns="md" type="set"><encrypted_pairing_request>
//   server  <pair-success>, authenticated with the new ADV secret
//
// The keys:
//   handoff key  HKDF-SHA256(the QR's ADV secret, no salt,
//                            "shortcake-passkey-handoff-v1", 32)
//   proof        HMAC-SHA256(handoff key, prologue_payload bytes)
//   commitment   SHA-256(CompanionEphemeralIdentity bytes || our nonce)
//   code         5 bytes: primary nonce[i] XOR SHA-256(our nonce ||
//                primary public)[i], in the pairing-code base32
//   request key  HKDF-SHA256(X25519(our ephemeral, primary public),
//                salt "Companion Pairing <deviceType> with ref <ref>",
//                "Pairing Information Encryption Key", 32)
//   request      AES-256-GCM(request key, random 12-byte IV, no AAD,
//                PairingRequest{noise public, identity public, new ADV secret})
//
// The assertion is the operator's paste: what navigator.credentials.get
// returns, JSON-serialised (PublicKeyCredential.toJSON(): base64url
// fields).  We cannot verify its signature (the account's public key is
// the server's), but we check everything else a paste gets wrong, so the
// operator hears why here rather than a bare 401 from the server.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::pairing {

inline constexpr std::string_view passkey_rp_id = "whatsapp.com";
// The one page whose tab can make the assertion (the passkey's rpId is
// whatsapp.com, and the server checks the origin the browser signed for).
inline constexpr std::string_view passkey_origin = "https://web.whatsapp.com";
inline constexpr std::string_view passkey_handoff_info = "shortcake-passkey-handoff-v1";
inline constexpr std::string_view pairing_request_info = "Pairing Information Encryption Key";
inline constexpr std::size_t passkey_nonce_size = 32;
inline constexpr std::size_t pairing_request_iv_size = 12;

// Bounds on what we parse: a real options object is a few hundred bytes,
// a real assertion under 2 KiB.
inline constexpr std::size_t passkey_options_max = 16 * 1024;
inline constexpr std::size_t passkey_assertion_max = 64 * 1024;

// Base64url (RFC 4648 section 5) without padding, as WebAuthn's JSON
// forms write binary fields.
std::string base64url_encode(ByteView bytes);

// Base64url with or without '=' padding; nullopt for any other character,
// a misplaced '=', a length no encoding has, or nonzero bits left over.
std::optional<Bytes> base64url_decode(std::string_view text);

// The WebAuthn request options the server sent (PublicKeyCredentialRequest
// Options in its JSON form).
struct PasskeyOptions {
    std::string json;  // the text as received, for the operator's browser
    Bytes challenge;
    std::string rp_id;
    std::optional<std::uint64_t> timeout_ms;
    std::vector<Bytes> allow_credentials;  // empty: any of the account's passkeys
    bool user_verification_required = false;
};

// Errc::too_large over passkey_options_max; Errc::malformed, naming the
// field, for text that is not a JSON object, a challenge that is not
// base64url of 16 bytes or more, an rpId that is not a host name, a
// timeout that is not a positive integer, or an allowCredentials entry
// without a base64url id.
Result<PasskeyOptions> parse_passkey_options(std::string_view json);

// The options carried by <notification type="passkey_prologue_request">:
// the notification's own checks (tag, type, from the server), then nullopt
// when it has no <passkey_request_options> child (ask with
// passkey_options_iq()), else the child's content parsed as above.
Result<std::optional<PasskeyOptions>> parse_prologue_request(const binary::Node& notification);

// The options in the answer to passkey_options_iq().
Result<PasskeyOptions> parse_passkey_options_answer(const binary::Node& result);

// A pasted assertion that passed check_passkey_assertion.
struct PasskeyAssertion {
    Bytes credential_id;  // rawId: goes into <credential_id>
    Bytes client_data_json;
    Bytes authenticator_data;
    Bytes signature;
    std::optional<Bytes> user_handle;
    // {id, rawId, type, response:{clientDataJSON, authenticatorData,
    // signature, userHandle|null}} in base64url without padding, whatever
    // padding or extra members the paste had: <webauthn_assertion>.
    std::string wire_json;
};

// Checks the paste against the options; every refusal is Errc::malformed
// (Errc::too_large over passkey_assertion_max) with a detail an operator
// can act on:
//   not a JSON object; type not "public-key"; rawId/id missing, not
//   base64url or not the same credential; a credential allowCredentials
//   does not name; response or one of clientDataJSON, authenticatorData,
//   signature missing or not base64url; userHandle neither null nor
//   base64url;
//   clientDataJSON not a JSON object; its type not "webauthn.get" (a
//   registration was pasted); its challenge not the one of the options (an
//   old assertion, or one for another ceremony); its origin not
//   passkey_origin (the snippet ran on another site);
//   authenticatorData under 37 bytes, its rpIdHash not SHA-256(rpId),
//   user presence not set, user verification not set when required.
Result<PasskeyAssertion> check_passkey_assertion(std::string_view json,
                                                 const PasskeyOptions& options);

// Our side of the prologue.
struct PrologueInputs {
    ByteView ephemeral_public;      // 32: X25519, for this ceremony only
    std::uint32_t device_type = 1;  // DeviceProps.PlatformType we registered as (CHROME)
    std::string_view ref;           // from the <ref> answer
    ByteView nonce;                 // 32 random bytes, revealed after the phone's
};

struct Prologue {
    Bytes identity;  // CompanionEphemeralIdentity, serialised
    Bytes payload;   // ProloguePayload: <prologue_payload>
    crypto::Digest32 commitment{};
};

// Errc::malformed for a key or nonce that is not 32 bytes, an empty ref,
// or a device type DeviceProps.PlatformType does not have.
Result<Prologue> build_prologue(const PrologueInputs& in);

// Errc::malformed for a secret that is not 32 bytes.
Result<crypto::Key32> passkey_handoff_key(ByteView qr_adv_secret);
Result<crypto::Digest32> passkey_handoff_proof(ByteView qr_adv_secret, ByteView prologue_payload);

// The phone's side, from <notification type="crsc_continuation">.
struct PrimaryEphemeral {
    crypto::Key32 public_key{};
    crypto::Key32 nonce{};
};

// Errc::malformed (or untrusted, not from the server) naming what is
// missing or of the wrong size.
Result<PrimaryEphemeral> parse_crsc_continuation(const binary::Node& notification);

// The 8 characters both screens show (no separator; display_pairing_code
// adds one).  Errc::malformed for inputs that are not 32 bytes.
Result<std::string> passkey_code(ByteView companion_nonce, ByteView primary_public,
                                 ByteView primary_nonce);

// Errc::malformed for wrong lengths or an empty ref; Errc::crypto_failure
// for a small-order primary key.
Result<crypto::Key32> pairing_request_key(ByteView ephemeral_private, ByteView primary_public,
                                          std::uint32_t device_type, std::string_view ref);

struct PairingRequestFields {
    ByteView noise_public;     // 32
    ByteView identity_public;  // 32
    ByteView adv_secret;       // 32: the new one
};

// EncryptedPairingRequest, serialised: <encrypted_pairing_request>.
// Errc::malformed for a key, field or IV of the wrong size.
Result<Bytes> seal_pairing_request(ByteView key, const PairingRequestFields& fields, ByteView iv);

// The IQs we send; ids come from the connection's send_iq.
binary::Node passkey_options_iq();  // get <passkey_request_options/>
binary::Node passkey_ref_iq();      // get <ref/>
binary::Node passkey_prologue_iq(ByteView credential_id, std::string_view assertion_json,
                                 ByteView prologue_payload,
                                 std::optional<crypto::Digest32> handoff_proof);
binary::Node companion_nonce_iq(ByteView nonce);
binary::Node encrypted_pairing_request_iq(ByteView sealed);

// The <ref> of the answer to passkey_ref_iq().  Errc::malformed when
// absent or empty.
Result<std::string> parse_passkey_ref_answer(const binary::Node& result);

}  // namespace chatwoot::wa::pairing
