#include "wa/pairing/pair_success.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "wa/crypto/curve_signature.hpp"
#include "wa/crypto/hmac.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/pairing/server_iq.hpp"
#include "wa/proto/adv.pb.h"
#include "wa/proto/codec.hpp"

namespace chatwoot::wa::pairing {

namespace {

ByteView view(const std::string& s)
{
    return as_bytes(s);
}

// The attribute as a JID; absent is nullopt, present but invalid is an
// error (a corrupt address must not be stored as ours).
Result<std::optional<binary::Jid>> optional_jid(const binary::Node& node, std::string_view key)
{
    auto text = node.attr(key);
    if (!text) {
        return std::optional<binary::Jid>{};
    }
    auto jid = binary::Jid::parse(*text);
    if (!jid) {
        return make_error(Errc::malformed,
                          "pair-success: <device " + std::string(key) + "> is not a JID");
    }
    return std::optional<binary::Jid>{std::move(*jid)};
}

// What the stanza says besides the signed record.
struct Stanza {
    std::string iq_id;
    const Bytes* device_identity = nullptr;
    binary::Jid jid;
    std::optional<binary::Jid> lid;
    std::string platform;
    std::string business_name;
};

Result<Stanza> read_stanza(const binary::Node& iq)
{
    auto checked = detail::check_server_set_iq(iq, "pair-success");
    if (!checked) {
        return checked.error();
    }
    const binary::Node& success = *checked->child;

    const binary::Node* identity = success.child("device-identity");
    if (identity == nullptr || identity->bytes() == nullptr) {
        return make_error(Errc::malformed, "pair-success: no <device-identity> bytes");
    }
    const binary::Node* device = success.child("device");
    if (device == nullptr) {
        return make_error(Errc::malformed, "pair-success: no <device>");
    }
    auto jid = optional_jid(*device, "jid");
    if (!jid) {
        return jid.error();
    }
    if (!jid->has_value()) {
        return make_error(Errc::malformed, "pair-success: <device> without jid");
    }
    auto lid = optional_jid(*device, "lid");
    if (!lid) {
        return lid.error();
    }

    Stanza out{
        std::move(checked->id), identity->bytes(), std::move(**jid), std::move(*lid), {}, {}};
    if (const binary::Node* platform = success.child("platform")) {
        out.platform = std::string(platform->attr("name").value_or(""));
    }
    if (const binary::Node* biz = success.child("biz")) {
        out.business_name = std::string(biz->attr("name").value_or(""));
    }
    return out;
}

}  // namespace

Result<PairSuccess> handle_pair_success(const binary::Node& iq, const PairingKeys& keys,
                                        const crypto::RandomSource& random)
{
    if (keys.adv_secret.size() != 32) {
        return make_error(Errc::malformed, "pair-success: adv secret is not 32 bytes");
    }
    auto our_identity = crypto::x25519_key_pair(keys.identity_private);
    if (!our_identity) {
        return make_error(Errc::malformed, "pair-success: identity key is not 32 bytes");
    }

    auto stanza = read_stanza(iq);
    if (!stanza) {
        return stanza.error();
    }

    // 1. The outer record: only the phone that read our QR code knows the
    // adv secret, so a matching HMAC ties this answer to that scan.
    auto container = proto::parse<proto::ADVSignedDeviceIdentityHMAC>(*stanza->device_identity);
    if (!container) {
        return make_error(Errc::malformed,
                          "pair-success: device-identity: " + container.error().detail);
    }
    const bool hosted = container->has_accounttype() && container->accounttype() == proto::HOSTED;
    crypto::HmacSha256 mac(keys.adv_secret);
    if (hosted) {
        mac.update(adv_hosted_account_prefix);
    }
    mac.update(view(container->details()));
    if (!crypto::equal_mac(mac.finish(), view(container->hmac()))) {
        return make_error(Errc::bad_mac, "pair-success: device-identity HMAC mismatch");
    }

    // 2. The signed record and the details its signatures cover.
    auto signed_identity = proto::parse<proto::ADVSignedDeviceIdentity>(view(container->details()));
    if (!signed_identity) {
        return make_error(Errc::malformed,
                          "pair-success: signed identity: " + signed_identity.error().detail);
    }
    proto::ADVSignedDeviceIdentity& account = *signed_identity;
    auto details = proto::parse<proto::ADVDeviceIdentity>(view(account.details()));
    if (!details) {
        return make_error(Errc::malformed,
                          "pair-success: identity details: " + details.error().detail);
    }
    if (account.accountsignaturekey().size() != 32) {
        return make_error(Errc::malformed,
                          "pair-success: account signature key is " +
                              std::to_string(account.accountsignaturekey().size()) +
                              " bytes, not 32");
    }
    if (account.accountsignature().size() != 64) {
        return make_error(Errc::malformed, "pair-success: account signature is " +
                                               std::to_string(account.accountsignature().size()) +
                                               " bytes, not 64");
    }

    // 3. The phone's account key vouches for our identity key.
    const ByteView our_public = our_identity->public_key;
    const Bytes account_message =
        concat({hosted ? ByteView(adv_hosted_account_prefix) : ByteView(adv_account_prefix),
                view(account.details()), our_public});
    Status verified = crypto::curve_verify(view(account.accountsignaturekey()), account_message,
                                           view(account.accountsignature()));
    if (!verified) {
        if (verified.error().code == Errc::bad_signature) {
            return make_error(Errc::bad_signature,
                              "pair-success: account signature does not verify");
        }
        return make_error(verified.error().code, "pair-success: " + verified.error().detail);
    }

    // 4. We accept the account with our own signature over the same
    // details, our key and the account key.
    const Bytes device_message =
        concat({hosted ? ByteView(adv_hosted_device_prefix) : ByteView(adv_device_prefix),
                view(account.details()), our_public, view(account.accountsignaturekey())});
    auto device_signature =
        crypto::curve_sign(random, our_identity->private_key, device_message);
    if (!device_signature) {
        return make_error(device_signature.error().code,
                          "pair-success: device signature: " + device_signature.error().detail);
    }
    account.set_devicesignature(std::string(as_chars(*device_signature)));

    PairSuccess out{PairedAccount{std::move(stanza->iq_id), std::move(stanza->jid),
                                  std::move(stanza->lid), std::move(stanza->platform),
                                  std::move(stanza->business_name), details->keyindex(), hosted,
                                  {}, proto::serialize(account)},
                    binary::Node{}};
    std::copy(account.accountsignaturekey().begin(), account.accountsignaturekey().end(),
              out.account.primary_identity.begin());

    // The reply leaves the account key out: the server has it already.
    account.clear_accountsignaturekey();
    binary::Node identity_node("device-identity");
    identity_node.set_attr("key-index", std::to_string(details->keyindex()));
    identity_node.content = proto::serialize(account);
    binary::Node sign("pair-device-sign", {}, binary::Children{std::move(identity_node)});
    out.reply = detail::server_iq("result", out.account.iq_id);
    out.reply.content = binary::Children{std::move(sign)};
    return out;
}

binary::Node pair_error_reply(std::string_view iq_id, Errc reason)
{
    std::string_view code = "500";
    std::string_view text = "internal-error";
    if (reason == Errc::bad_mac) {
        code = "401";
        text = "hmac-mismatch";
    } else if (reason == Errc::bad_signature) {
        code = "401";
        text = "signature-mismatch";
    }
    binary::Node error("error");
    error.set_attr("code", code);
    error.set_attr("text", text);
    binary::Node iq = detail::server_iq("error", iq_id);
    iq.content = binary::Children{std::move(error)};
    return iq;
}

}  // namespace chatwoot::wa::pairing
