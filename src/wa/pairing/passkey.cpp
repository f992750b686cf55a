#include "wa/pairing/passkey.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "wa/binary/jid.hpp"
#include "wa/crypto/aes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/hmac.hpp"
#include "wa/crypto/kdf.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/pairing/pairing_code.hpp"
#include "wa/pairing/server_iq.hpp"
#include "wa/proto/client_payload.pb.h"
#include "wa/proto/codec.hpp"
#include "wa/proto/passkey.pb.h"

namespace chatwoot::wa::pairing {

namespace {

constexpr std::string_view b64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Bounds on the decoded fields of an assertion: authenticatorData is 37
// bytes plus extensions, clientDataJSON a few hundred, an ES256 signature
// 72 at most (RS256: 256).  Anything far beyond is not an assertion.
constexpr std::size_t client_data_max = 8 * 1024;
constexpr std::size_t field_max = 4 * 1024;
constexpr std::size_t challenge_min = 16;           // WebAuthn asks for at least 16 random bytes
constexpr std::size_t authenticator_data_min = 37;  // rpIdHash 32, flags 1, counter 4
constexpr std::uint8_t flag_user_present = 0x01;
constexpr std::uint8_t flag_user_verified = 0x04;

// Iterative: nesting depth costs heap, not stack, so a paste of a million
// '[' cannot overflow the helper's stack.  Encoding validated: a paste is
// anything a clipboard held.
constexpr unsigned json_flags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

using Json = rapidjson::Value;

Error malformed(std::string detail)
{
    return make_error(Errc::malformed, std::move(detail));
}

Status check_len(ByteView b, std::size_t want, std::string_view what)
{
    if (b.size() != want)
        return malformed(std::string(what) + " is " + std::to_string(b.size()) + " bytes, want " +
                         std::to_string(want));
    return Done{};
}

// A JSON object parsed from `text`; `what` names it in the error.
Result<rapidjson::Document> parse_object(std::string_view text, std::string_view what)
{
    rapidjson::Document doc;
    doc.Parse<json_flags>(text.data(), text.size());
    if (doc.HasParseError())
        return malformed(std::string(what) + " is not JSON (error at offset " +
                         std::to_string(doc.GetErrorOffset()) + ")");
    if (!doc.IsObject()) return malformed(std::string(what) + " is not a JSON object");
    return doc;
}

const Json* member(const Json& obj, std::string_view key)
{
    auto it = obj.FindMember(Json(rapidjson::StringRef(key.data(), key.size())));
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::optional<std::string_view> string_member(const Json& obj, std::string_view key)
{
    const Json* v = member(obj, key);
    if (v == nullptr || !v->IsString()) return std::nullopt;
    return std::string_view(v->GetString(), v->GetStringLength());
}

// The base64url string member `key`, decoded, between 1 and `max` bytes.
Result<Bytes> b64_member(const Json& obj, std::string_view key, std::string_view where,
                         std::size_t max = field_max)
{
    const std::string name = std::string(where) + std::string(key);
    const Json* v = member(obj, key);
    if (v == nullptr || v->IsNull()) return malformed(name + " is missing");
    if (!v->IsString()) return malformed(name + " is not a string");
    auto bytes = base64url_decode({v->GetString(), v->GetStringLength()});
    if (!bytes) return malformed(name + " is not base64url");
    if (bytes->empty()) return malformed(name + " is empty");
    if (bytes->size() > max) return make_error(Errc::too_large, name + " is too long");
    return std::move(*bytes);
}

bool is_host_name(std::string_view host)
{
    if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.')
        return false;
    return std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    });
}

bool is_server(std::string_view from)
{
    if (from.starts_with('@')) from.remove_prefix(1);
    return from == binary::kServerPhone;
}

Status check_server_notification(const binary::Node& n, std::string_view type)
{
    const std::string where = std::string(type) + ": ";
    if (n.tag != "notification")
        return malformed(where + "stanza is <" + n.tag + ">, not <notification>");
    if (n.attr("type") != type) return malformed(where + "notification of another type");
    auto from = n.attr("from");
    if (!from || !is_server(*from))
        return make_error(Errc::untrusted, where + "notification not from the server");
    return Done{};
}

// The bytes of a leaf that may have been written as bytes or as a string.
std::optional<Bytes> leaf_bytes(const binary::Node& n)
{
    if (const Bytes* b = n.bytes()) return *b;
    if (const binary::Value* v = n.text(); v && !v->is_jid())
        return Bytes(v->text.begin(), v->text.end());
    return std::nullopt;
}

binary::Node leaf(std::string tag, ByteView content)
{
    return binary::Node(std::move(tag), {}, Bytes(content.begin(), content.end()));
}

binary::Node md_iq(std::string_view type, binary::Node child)
{
    binary::Node iq("iq");
    iq.set_attr("xmlns", "md");
    iq.set_attr("type", type);
    iq.set_attr("to", binary::server_jid());
    iq.content = binary::Children{std::move(child)};
    return iq;
}

Status check_result_iq(const binary::Node& result, std::string_view what)
{
    if (result.tag != "iq" || result.attr("type") != "result")
        return malformed(std::string(what) + " answer is not a result iq");
    return Done{};
}

}  // namespace

std::string base64url_encode(ByteView bytes)
{
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v =
            (std::uint32_t(bytes[i]) << 16) | (std::uint32_t(bytes[i + 1]) << 8) | bytes[i + 2];
        out += b64url_alphabet[(v >> 18) & 63];
        out += b64url_alphabet[(v >> 12) & 63];
        out += b64url_alphabet[(v >> 6) & 63];
        out += b64url_alphabet[v & 63];
    }
    if (const std::size_t rest = bytes.size() - i; rest > 0) {
        std::uint32_t v = std::uint32_t(bytes[i]) << 16;
        if (rest == 2) v |= std::uint32_t(bytes[i + 1]) << 8;
        out += b64url_alphabet[(v >> 18) & 63];
        out += b64url_alphabet[(v >> 12) & 63];
        if (rest == 2) out += b64url_alphabet[(v >> 6) & 63];
    }
    return out;
}

std::optional<Bytes> base64url_decode(std::string_view text)
{
    // Padding is allowed only as the tail that makes a multiple of 4.
    if (auto pad = text.find('='); pad != std::string_view::npos) {
        const std::string_view tail = text.substr(pad);
        if (text.size() % 4 != 0 || tail.size() > 2 ||
            tail.find_first_not_of('=') != std::string_view::npos)
            return std::nullopt;
        text = text.substr(0, pad);
    }
    if (text.size() % 4 == 1) return std::nullopt;  // no byte count encodes to this
    Bytes out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const auto pos = b64url_alphabet.find(c);
        if (pos == std::string_view::npos) return std::nullopt;
        acc = (acc << 6) | std::uint32_t(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(std::uint8_t(acc >> bits));
            acc &= (1u << bits) - 1;
        }
    }
    // Leftover bits must be zero: otherwise two texts decode to the same
    // bytes, and a comparison of texts would disagree with one of bytes.
    if (acc != 0) return std::nullopt;
    return out;
}

Result<PasskeyOptions> parse_passkey_options(std::string_view json)
{
    if (json.size() > passkey_options_max)
        return make_error(Errc::too_large, "passkey options over 16 KiB");
    auto doc = parse_object(json, "passkey options");
    if (!doc) return doc.error();
    PasskeyOptions out;
    out.json = std::string(json);

    auto challenge = b64_member(*doc, "challenge", "passkey options: ");
    if (!challenge) return challenge.error();
    if (challenge->size() < challenge_min)
        return malformed("passkey options: challenge under 16 bytes");
    out.challenge = std::move(*challenge);

    auto rp = string_member(*doc, "rpId");
    if (!rp || !is_host_name(*rp)) return malformed("passkey options: rpId is not a host name");
    out.rp_id = std::string(*rp);

    if (const Json* t = member(*doc, "timeout"); t && !t->IsNull()) {
        if (t->IsUint64() && t->GetUint64() > 0) {
            out.timeout_ms = t->GetUint64();
        } else if (t->IsDouble() && t->GetDouble() >= 1 && t->GetDouble() < 9.0e15 &&
                   std::floor(t->GetDouble()) == t->GetDouble()) {
            out.timeout_ms = static_cast<std::uint64_t>(t->GetDouble());
        } else {
            return malformed("passkey options: timeout is not a positive integer");
        }
    }

    if (const Json* list = member(*doc, "allowCredentials"); list && !list->IsNull()) {
        if (!list->IsArray()) return malformed("passkey options: allowCredentials is not a list");
        for (const Json& c : list->GetArray()) {
            if (!c.IsObject())
                return malformed("passkey options: allowCredentials entry is not an object");
            auto id = b64_member(c, "id", "passkey options: allowCredentials ");
            if (!id) return id.error();
            out.allow_credentials.push_back(std::move(*id));
        }
    }

    if (auto uv = string_member(*doc, "userVerification"))
        out.user_verification_required = *uv == "required";
    return out;
}

Result<std::optional<PasskeyOptions>> parse_prologue_request(const binary::Node& notification)
{
    if (Status s = check_server_notification(notification, "passkey_prologue_request"); !s)
        return s.error();
    const binary::Node* child = notification.child("passkey_request_options");
    if (child == nullptr) return std::optional<PasskeyOptions>{};
    auto text = leaf_bytes(*child);
    if (!text)
        return malformed("passkey_prologue_request: <passkey_request_options> holds no text");
    auto options = parse_passkey_options(as_chars(*text));
    if (!options) return options.error();
    return std::optional<PasskeyOptions>(std::move(*options));
}

Result<PasskeyOptions> parse_passkey_options_answer(const binary::Node& result)
{
    if (Status s = check_result_iq(result, "passkey_request_options"); !s) return s.error();
    const binary::Node* child = result.child("passkey_request_options");
    if (child == nullptr)
        return malformed("passkey_request_options answer has no <passkey_request_options>");
    auto text = leaf_bytes(*child);
    if (!text) return malformed("<passkey_request_options> holds no text");
    return parse_passkey_options(as_chars(*text));
}

Result<PasskeyAssertion> check_passkey_assertion(std::string_view json,
                                                 const PasskeyOptions& options)
{
    if (json.size() > passkey_assertion_max)
        return make_error(Errc::too_large, "assertion over 64 KiB");
    auto doc = parse_object(json, "assertion");
    if (!doc) return doc.error();
    if (string_member(*doc, "type") != "public-key")
        return malformed(
            "assertion type is not \"public-key\" (paste what navigator.credentials.get returned)");

    PasskeyAssertion out;
    auto raw_id = b64_member(*doc, "rawId", "assertion ");
    if (!raw_id) return raw_id.error();
    if (const Json* id = member(*doc, "id"); id != nullptr) {
        auto same = b64_member(*doc, "id", "assertion ");
        if (!same) return same.error();
        if (*same != *raw_id) return malformed("assertion id and rawId name different credentials");
    }
    out.credential_id = std::move(*raw_id);
    if (!options.allow_credentials.empty() &&
        std::find(options.allow_credentials.begin(), options.allow_credentials.end(),
                  out.credential_id) == options.allow_credentials.end())
        return malformed(
            "assertion is made with a passkey the options do not allow (another account's?)");

    const Json* response = member(*doc, "response");
    if (response == nullptr || !response->IsObject())
        return malformed("assertion response is missing");
    auto client_data =
        b64_member(*response, "clientDataJSON", "assertion response.", client_data_max);
    if (!client_data) return client_data.error();
    auto auth_data = b64_member(*response, "authenticatorData", "assertion response.");
    if (!auth_data) return auth_data.error();
    auto signature = b64_member(*response, "signature", "assertion response.");
    if (!signature) return signature.error();
    if (const Json* uh = member(*response, "userHandle"); uh != nullptr && !uh->IsNull()) {
        auto handle = b64_member(*response, "userHandle", "assertion response.");
        if (!handle) return handle.error();
        out.user_handle = std::move(*handle);
    }

    // What the browser says it signed for.
    auto cd = parse_object(as_chars(*client_data), "clientDataJSON");
    if (!cd) return cd.error();
    auto cd_type = string_member(*cd, "type");
    if (cd_type != "webauthn.get")
        return malformed(
            cd_type == "webauthn.create"
                ? "clientDataJSON type is webauthn.create: a passkey registration, not an assertion"
                : "clientDataJSON type is not webauthn.get");
    auto cd_challenge = string_member(*cd, "challenge");
    auto challenge = cd_challenge ? base64url_decode(*cd_challenge) : std::nullopt;
    if (!challenge || *challenge != options.challenge)
        return malformed(
            "clientDataJSON challenge is not this ceremony's (an old or another assertion)");
    if (string_member(*cd, "origin") != passkey_origin)
        return malformed("clientDataJSON origin is not " + std::string(passkey_origin) +
                         " (run the snippet in a web.whatsapp.com tab)");

    // What the authenticator says it signed for.
    if (auth_data->size() < authenticator_data_min)
        return malformed("authenticatorData is " + std::to_string(auth_data->size()) +
                         " bytes, want at least 37");
    const crypto::Digest32 rp_hash = crypto::sha256(as_bytes(options.rp_id));
    if (!std::equal(rp_hash.begin(), rp_hash.end(), auth_data->begin()))
        return malformed("authenticatorData rpIdHash is not SHA-256(\"" + options.rp_id +
                         "\"): the assertion is for another site");
    const std::uint8_t flags = (*auth_data)[32];
    if ((flags & flag_user_present) == 0) return malformed("authenticatorData: user not present");
    if (options.user_verification_required && (flags & flag_user_verified) == 0)
        return malformed("authenticatorData: user not verified, and the options require it");

    out.client_data_json = std::move(*client_data);
    out.authenticator_data = std::move(*auth_data);
    out.signature = std::move(*signature);

    // Every value is base64url, which needs no JSON escaping.
    const std::string id = base64url_encode(out.credential_id);
    out.wire_json =
        "{\"id\":\"" + id + "\",\"rawId\":\"" + id +
        "\",\"type\":\"public-key\",\"response\":{\"clientDataJSON\":\"" +
        base64url_encode(out.client_data_json) + "\",\"authenticatorData\":\"" +
        base64url_encode(out.authenticator_data) + "\",\"signature\":\"" +
        base64url_encode(out.signature) + "\",\"userHandle\":" +
        (out.user_handle ? "\"" + base64url_encode(*out.user_handle) + "\"" : std::string("null")) +
        "}}";
    return out;
}

Result<Prologue> build_prologue(const PrologueInputs& in)
{
    if (Status s = check_len(in.ephemeral_public, 32, "ephemeral public key"); !s) return s.error();
    if (Status s = check_len(in.nonce, passkey_nonce_size, "companion nonce"); !s) return s.error();
    if (in.ref.empty()) return malformed("prologue ref is empty");
    // A closed enum in proto2: a number outside it would not serialise.
    if (!proto::DeviceProps_PlatformType_IsValid(static_cast<int>(in.device_type)))
        return malformed("device type " + std::to_string(in.device_type) +
                         " is not a DeviceProps.PlatformType");

    proto::CompanionEphemeralIdentity identity;
    identity.set_publickey(in.ephemeral_public.data(), in.ephemeral_public.size());
    identity.set_devicetype(static_cast<proto::DeviceProps_PlatformType>(in.device_type));
    identity.set_ref(std::string(in.ref));
    Prologue out;
    out.identity = proto::serialize(identity);
    out.commitment = crypto::sha256(concat({out.identity, in.nonce}));

    proto::ProloguePayload payload;
    payload.set_companionephemeralidentity(out.identity.data(), out.identity.size());
    payload.mutable_commitment()->set_hash(out.commitment.data(), out.commitment.size());
    out.payload = proto::serialize(payload);
    return out;
}

Result<crypto::Key32> passkey_handoff_key(ByteView qr_adv_secret)
{
    if (Status s = check_len(qr_adv_secret, 32, "ADV secret"); !s) return s.error();
    auto key = crypto::hkdf_sha256({}, qr_adv_secret, as_bytes(passkey_handoff_info), 32);
    if (!key) return key.error();
    crypto::Key32 out{};
    std::copy(key->begin(), key->end(), out.begin());
    return out;
}

Result<crypto::Digest32> passkey_handoff_proof(ByteView qr_adv_secret, ByteView prologue_payload)
{
    auto key = passkey_handoff_key(qr_adv_secret);
    if (!key) return key.error();
    return crypto::hmac_sha256(*key, prologue_payload);
}

Result<PrimaryEphemeral> parse_crsc_continuation(const binary::Node& notification)
{
    if (Status s = check_server_notification(notification, "crsc_continuation"); !s)
        return s.error();
    const binary::Node* child = notification.child("primary_ephemeral_identity");
    if (child == nullptr) return malformed("crsc_continuation has no <primary_ephemeral_identity>");
    const Bytes* bytes = child->bytes();
    if (bytes == nullptr) return malformed("<primary_ephemeral_identity> holds no bytes");
    auto msg = proto::parse<proto::PrimaryEphemeralIdentity>(*bytes);
    if (!msg)
        return malformed("<primary_ephemeral_identity> does not decode: " + msg.error().detail);
    if (msg->publickey().size() != 32) return malformed("primary ephemeral key is not 32 bytes");
    if (msg->nonce().size() != 32) return malformed("primary nonce is not 32 bytes");
    PrimaryEphemeral out;
    std::copy(msg->publickey().begin(), msg->publickey().end(), out.public_key.begin());
    std::copy(msg->nonce().begin(), msg->nonce().end(), out.nonce.begin());
    return out;
}

Result<std::string> passkey_code(ByteView companion_nonce, ByteView primary_public,
                                 ByteView primary_nonce)
{
    if (Status s = check_len(companion_nonce, 32, "companion nonce"); !s) return s.error();
    if (Status s = check_len(primary_public, 32, "primary public key"); !s) return s.error();
    if (Status s = check_len(primary_nonce, 32, "primary nonce"); !s) return s.error();
    const crypto::Digest32 d = crypto::sha256(concat({companion_nonce, primary_public}));
    std::array<std::uint8_t, 5> five{};
    for (std::size_t i = 0; i < five.size(); ++i) five[i] = primary_nonce[i] ^ d[i];
    return encode_pairing_code(five);
}

Result<crypto::Key32> pairing_request_key(ByteView ephemeral_private, ByteView primary_public,
                                          std::uint32_t device_type, std::string_view ref)
{
    if (ref.empty()) return malformed("pairing request ref is empty");
    auto shared = crypto::x25519_shared(ephemeral_private, primary_public);
    if (!shared) return shared.error();
    const std::string salt =
        "Companion Pairing " + std::to_string(device_type) + " with ref " + std::string(ref);
    auto key = crypto::hkdf_sha256(as_bytes(salt), *shared, as_bytes(pairing_request_info), 32);
    if (!key) return key.error();
    crypto::Key32 out{};
    std::copy(key->begin(), key->end(), out.begin());
    return out;
}

Result<Bytes> seal_pairing_request(ByteView key, const PairingRequestFields& fields, ByteView iv)
{
    if (Status s = check_len(key, 32, "pairing request key"); !s) return s.error();
    if (Status s = check_len(fields.noise_public, 32, "noise public key"); !s) return s.error();
    if (Status s = check_len(fields.identity_public, 32, "identity public key"); !s)
        return s.error();
    if (Status s = check_len(fields.adv_secret, 32, "ADV secret"); !s) return s.error();
    if (Status s = check_len(iv, pairing_request_iv_size, "pairing request IV"); !s)
        return s.error();

    proto::PairingRequest request;
    request.set_companionpublickey(fields.noise_public.data(), fields.noise_public.size());
    request.set_companionidentitykey(fields.identity_public.data(), fields.identity_public.size());
    request.set_advsecret(fields.adv_secret.data(), fields.adv_secret.size());
    auto sealed = crypto::aes256_gcm_encrypt(key, iv, proto::serialize(request), {});
    if (!sealed) return sealed.error();

    proto::EncryptedPairingRequest out;
    out.set_encryptedpayload(sealed->data(), sealed->size());
    out.set_iv(iv.data(), iv.size());
    return proto::serialize(out);
}

binary::Node passkey_options_iq()
{
    return md_iq("get", binary::Node("passkey_request_options"));
}

binary::Node passkey_ref_iq()
{
    return md_iq("get", binary::Node("ref"));
}

binary::Node passkey_prologue_iq(ByteView credential_id, std::string_view assertion_json,
                                 ByteView prologue_payload,
                                 std::optional<crypto::Digest32> handoff_proof)
{
    binary::Children kids;
    kids.push_back(leaf("credential_id", credential_id));
    kids.push_back(leaf("webauthn_assertion", as_bytes(assertion_json)));
    kids.push_back(leaf("prologue_payload", prologue_payload));
    if (handoff_proof) kids.push_back(leaf("pairing_handoff_proof", *handoff_proof));
    return md_iq("set", binary::Node("passkey_prologue", {}, std::move(kids)));
}

binary::Node companion_nonce_iq(ByteView nonce)
{
    return md_iq("set", leaf("companion_nonce", nonce));
}

binary::Node encrypted_pairing_request_iq(ByteView sealed)
{
    return md_iq("set", leaf("encrypted_pairing_request", sealed));
}

Result<std::string> parse_passkey_ref_answer(const binary::Node& result)
{
    if (Status s = check_result_iq(result, "ref"); !s) return s.error();
    const binary::Node* ref = result.child("ref");
    if (ref == nullptr) return malformed("ref answer has no <ref>");
    auto text = detail::content_text(*ref);
    if (!text || text->empty()) return malformed("<ref> is empty");
    return std::move(*text);
}

}  // namespace chatwoot::wa::pairing
