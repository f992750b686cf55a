// <pair-success> handling.  The positive case is the `pair_success` vector:
// a stanza Baileys' encoder wrote and Baileys' configureSuccessfulPairing
// accepted, signed by the account key clamp(SHA-256("account-key")) over
// our identity clamp(SHA-256("our-identity")).  The refusals build their
// own stanzas the same way (this file signs and MACs them), each broken in
// one place.
#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/crypto/curve_signature.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/hmac.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/pairing/pair_success.hpp"
#include "wa/proto/adv.pb.h"
#include "wa/proto/codec.hpp"

namespace chatwoot::wa::pairing {
namespace {

using binary::Children;
using binary::Node;
using test::vector_hex;
using test::vector_section;
using test::vector_string;

crypto::KeyPair named_key(std::string_view name)
{
    return crypto::x25519_key_pair(crypto::sha256(as_bytes(name))).value();
}

ByteView view(const std::string& s)
{
    return as_bytes(s);
}

Bytes bytes_of(const std::string& s)
{
    return Bytes(s.begin(), s.end());
}

const crypto::RandomSource& test_random()
{
    static const crypto::RandomSource r = crypto::seeded_random(as_bytes("pair-success-test"));
    return r;
}

struct Keys {
    crypto::Digest32 adv = crypto::sha256(as_bytes("adv-secret"));
    crypto::KeyPair ours = named_key("our-identity");
    crypto::KeyPair account = named_key("account-key");

    PairingKeys pairing() const { return {adv, ours.private_key}; }
};

// The parts of a <device-identity> record, each of which a test may spoil.
struct Record {
    Bytes details;
    Bytes account_key;
    Bytes account_signature;
    bool hosted = false;
    Bytes hmac_key;
    bool flip_hmac = false;
};

Record good_record(const Keys& k, bool hosted = false)
{
    proto::ADVDeviceIdentity d;
    d.set_rawid(99);
    d.set_timestamp(1700000000);
    d.set_keyindex(7);
    if (hosted) {
        d.set_accounttype(proto::HOSTED);
        d.set_devicetype(proto::HOSTED);
    }
    Record r;
    r.details = proto::serialize(d);
    r.account_key = crypto::to_bytes(k.account.public_key);
    r.hosted = hosted;
    const Bytes message =
        concat({hosted ? ByteView(adv_hosted_account_prefix) : ByteView(adv_account_prefix),
                r.details, k.ours.public_key});
    r.account_signature =
        crypto::to_bytes(crypto::curve_sign(test_random(), k.account.private_key, message).value());
    r.hmac_key = crypto::to_bytes(k.adv);
    return r;
}

Bytes signed_identity(const Record& r)
{
    proto::ADVSignedDeviceIdentity s;
    s.set_details(std::string(as_chars(r.details)));
    s.set_accountsignaturekey(std::string(as_chars(r.account_key)));
    s.set_accountsignature(std::string(as_chars(r.account_signature)));
    return proto::serialize(s);
}

Bytes container(const Record& r, const Bytes& details)
{
    proto::ADVSignedDeviceIdentityHMAC c;
    c.set_details(std::string(as_chars(details)));
    crypto::HmacSha256 mac(r.hmac_key);
    if (r.hosted) {
        mac.update(adv_hosted_account_prefix);
        c.set_accounttype(proto::HOSTED);
    }
    mac.update(details);
    crypto::Digest32 tag = mac.finish();
    if (r.flip_hmac) tag[5] ^= 0x01;
    c.set_hmac(std::string(as_chars(tag)));
    return proto::serialize(c);
}

Bytes container(const Record& r)
{
    return container(r, signed_identity(r));
}

Node stanza(Bytes device_identity)
{
    Node iq("iq");
    iq.set_attr("from", "s.whatsapp.net");
    iq.set_attr("type", "set");
    iq.set_attr("id", "pair-9");
    Node device("device");
    device.set_attr("jid", binary::Value{"15551234567:4@s.whatsapp.net", binary::Form::ad_jid});
    device.set_attr("lid", binary::Value{"123456789012345:4@lid", binary::Form::ad_jid});
    Children kids;
    kids.emplace_back("device-identity", std::vector<binary::Attr>{}, std::move(device_identity));
    kids.emplace_back("platform", std::vector<binary::Attr>{binary::Attr{"name", {"smba"}}});
    kids.push_back(std::move(device));
    kids.emplace_back("biz", std::vector<binary::Attr>{binary::Attr{"name", {"Acme Bakery"}}});
    iq.content = Children{Node("pair-success", {}, std::move(kids))};
    // Through the wire, so the handler sees what the decoder makes.
    return binary::decode(binary::encode(iq).value()).value();
}

Node vector_stanza()
{
    auto node = binary::decode(vector_hex(vector_section("pair_success"), "stanza_encoded"));
    EXPECT_TRUE(node.ok()) << node.error().detail;
    return node.ok() ? *node : Node{};
}

PairingKeys vector_keys(Bytes& adv, Bytes& priv)
{
    const auto& v = vector_section("pair_success");
    adv = vector_hex(v, "adv_secret");
    priv = vector_hex(v, "our_identity_priv");
    return {adv, priv};
}

// The <device-identity> of a reply, parsed.
proto::ADVSignedDeviceIdentity reply_identity(const Node& reply, std::string* key_index)
{
    EXPECT_EQ(reply.tag, "iq");
    const Node* sign = reply.child("pair-device-sign");
    EXPECT_NE(sign, nullptr);
    if (sign == nullptr) return {};
    const Node* identity = sign->child("device-identity");
    EXPECT_NE(identity, nullptr);
    if (identity == nullptr || identity->bytes() == nullptr) return {};
    if (key_index) *key_index = std::string(identity->attr("key-index").value_or(""));
    return proto::parse<proto::ADVSignedDeviceIdentity>(*identity->bytes()).value();
}

Node* device_identity_node(Node& iq)
{
    return const_cast<Node*>(iq.children()->front().child("device-identity"));
}

TEST(PairingPairSuccess, VectorReplyCarriesKeyIndexAndVerifyingDeviceSignature)
{
    Bytes adv, priv;
    PairingKeys keys = vector_keys(adv, priv);
    const auto& v = vector_section("pair_success");
    auto result = handle_pair_success(vector_stanza(), keys, test_random());
    ASSERT_TRUE(result.ok()) << result.error().detail;

    const Node& reply = result->reply;
    EXPECT_EQ(reply.attr("to"), "@s.whatsapp.net");
    EXPECT_EQ(reply.attr("type"), "result");
    EXPECT_EQ(reply.attr("id"), "pair-1");

    std::string key_index;
    proto::ADVSignedDeviceIdentity sent = reply_identity(reply, &key_index);
    EXPECT_EQ(key_index, vector_string(v, "reply_key_index"));
    EXPECT_FALSE(v["reply_has_account_sig_key"].GetBool());
    EXPECT_FALSE(sent.has_accountsignaturekey());
    ASSERT_TRUE(v["device_sig_verifies"].GetBool());

    const crypto::Key32 ours = crypto::x25519_public_key(priv).value();
    const Bytes message = concat({adv_device_prefix, view(sent.details()), ours,
                                  result->account.primary_identity});
    EXPECT_TRUE(crypto::curve_verify(ours, message, view(sent.devicesignature())).ok());
    // The account key the phone used is the generator's.
    EXPECT_EQ(result->account.primary_identity, named_key("account-key").public_key);
}

TEST(PairingPairSuccess, VectorLearnedFacts)
{
    Bytes adv, priv;
    auto result = handle_pair_success(vector_stanza(), vector_keys(adv, priv), test_random());
    ASSERT_TRUE(result.ok()) << result.error().detail;
    const PairedAccount& a = result->account;
    EXPECT_EQ(a.iq_id, "pair-1");
    EXPECT_EQ(a.jid.to_string(), "15551234567:12@s.whatsapp.net");
    ASSERT_TRUE(a.lid.has_value());
    EXPECT_EQ(a.lid->to_string(), "123456789012345:12@lid");
    EXPECT_EQ(a.platform, "android");
    EXPECT_EQ(a.business_name, "");
    EXPECT_EQ(a.key_index, 2u);
    EXPECT_FALSE(a.hosted);

    // The stored account keeps the key and gains our signature; everything
    // else is what the phone signed.
    auto stored = proto::parse<proto::ADVSignedDeviceIdentity>(a.account).value();
    std::string key_index;
    proto::ADVSignedDeviceIdentity sent = reply_identity(result->reply, &key_index);
    EXPECT_EQ(bytes_of(stored.accountsignaturekey()), crypto::to_bytes(a.primary_identity));
    EXPECT_EQ(stored.details(), sent.details());
    EXPECT_EQ(stored.accountsignature(), sent.accountsignature());
    EXPECT_EQ(stored.devicesignature(), sent.devicesignature());
    EXPECT_EQ(stored.devicesignature().size(), 64u);
    auto details = proto::parse<proto::ADVDeviceIdentity>(view(stored.details())).value();
    EXPECT_EQ(details.rawid(), 99u);
    EXPECT_EQ(details.keyindex(), 2u);
}

TEST(PairingPairSuccess, ReplyEncodesAndDecodesBack)
{
    Bytes adv, priv;
    auto result = handle_pair_success(vector_stanza(), vector_keys(adv, priv), test_random());
    ASSERT_TRUE(result.ok());
    auto bytes = binary::encode(result->reply);
    ASSERT_TRUE(bytes.ok()) << bytes.error().detail;
    auto back = binary::decode(*bytes);
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(*back, result->reply) << binary::to_debug_string(*back);
}

TEST(PairingPairSuccess, DeviceSignatureUsesTheInjectedRandom)
{
    Bytes adv, priv;
    const Bytes r64(64, 0x5a);
    auto a =
        handle_pair_success(vector_stanza(), vector_keys(adv, priv), crypto::replay_random(r64));
    auto b =
        handle_pair_success(vector_stanza(), vector_keys(adv, priv), crypto::replay_random(r64));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->account.account, b->account.account);
}

TEST(PairingPairSuccess, OwnStanzaWithBusinessName)
{
    Keys k;
    auto result =
        handle_pair_success(stanza(container(good_record(k))), k.pairing(), test_random());
    ASSERT_TRUE(result.ok()) << result.error().detail;
    EXPECT_EQ(result->account.business_name, "Acme Bakery");
    EXPECT_EQ(result->account.platform, "smba");
    EXPECT_EQ(result->account.key_index, 7u);
    EXPECT_EQ(result->account.jid.to_string(), "15551234567:4@s.whatsapp.net");
    std::string key_index;
    reply_identity(result->reply, &key_index);
    EXPECT_EQ(key_index, "7");
}

TEST(PairingPairSuccess, HostedAccountUsesHostedPrefixes)
{
    Keys k;
    auto result =
        handle_pair_success(stanza(container(good_record(k, true))), k.pairing(), test_random());
    ASSERT_TRUE(result.ok()) << result.error().detail;
    EXPECT_TRUE(result->account.hosted);
    proto::ADVSignedDeviceIdentity sent = reply_identity(result->reply, nullptr);
    const Bytes hosted_message = concat({adv_hosted_device_prefix, view(sent.details()),
                                         k.ours.public_key, k.account.public_key});
    EXPECT_TRUE(
        crypto::curve_verify(k.ours.public_key, hosted_message, view(sent.devicesignature())).ok());
    const Bytes plain_message = concat({adv_device_prefix, view(sent.details()), k.ours.public_key,
                                        k.account.public_key});
    EXPECT_FALSE(
        crypto::curve_verify(k.ours.public_key, plain_message, view(sent.devicesignature())).ok());
}

Errc failure(const Node& iq, const PairingKeys& keys)
{
    auto result = handle_pair_success(iq, keys, test_random());
    EXPECT_FALSE(result.ok());
    return result.ok() ? Errc::not_found : result.error().code;
}

TEST(PairingPairSuccess, VectorWithFlippedHmacByteIsBadMac)
{
    Bytes adv, priv;
    PairingKeys keys = vector_keys(adv, priv);
    Node iq = vector_stanza();
    Bytes& blob = std::get<Bytes>(device_identity_node(iq)->content);
    blob.back() ^= 0x80;  // the HMAC is the last field
    EXPECT_EQ(failure(iq, keys), Errc::bad_mac);
}

TEST(PairingPairSuccess, WrongAdvSecretIsBadMac)
{
    Bytes adv, priv;
    PairingKeys keys = vector_keys(adv, priv);
    adv[0] ^= 1;
    EXPECT_EQ(failure(vector_stanza(), keys), Errc::bad_mac);
}

TEST(PairingPairSuccess, HmacRefusals)
{
    Keys k;
    Record flipped = good_record(k);
    flipped.flip_hmac = true;
    EXPECT_EQ(failure(stanza(container(flipped)), k.pairing()), Errc::bad_mac);

    // A hosted container MACed without the hosted prefix.
    Record unprefixed = good_record(k);
    Bytes blob = container(unprefixed);
    auto c = proto::parse<proto::ADVSignedDeviceIdentityHMAC>(blob).value();
    c.set_accounttype(proto::HOSTED);
    EXPECT_EQ(failure(stanza(proto::serialize(c)), k.pairing()), Errc::bad_mac);

    // No HMAC at all.
    c.clear_hmac();
    c.clear_accounttype();
    EXPECT_EQ(failure(stanza(proto::serialize(c)), k.pairing()), Errc::bad_mac);
}

TEST(PairingPairSuccess, AccountSignatureRefusals)
{
    Keys k;
    Record flipped = good_record(k);
    flipped.account_signature[10] ^= 0x04;
    EXPECT_EQ(failure(stanza(container(flipped)), k.pairing()), Errc::bad_signature);

    // Signed for another device's identity key.
    Keys other;
    other.ours = named_key("someone-else");
    EXPECT_EQ(failure(stanza(container(good_record(other))), k.pairing()), Errc::bad_signature);

    // Signed by a key other than the one it names.
    Record wrong_key = good_record(k);
    wrong_key.account_key = crypto::to_bytes(named_key("impostor").public_key);
    EXPECT_EQ(failure(stanza(container(wrong_key)), k.pairing()), Errc::bad_signature);

    // Hosted container, but the account signed with the plain prefix.
    Record mixed = good_record(k);
    mixed.hosted = true;
    EXPECT_EQ(failure(stanza(container(mixed)), k.pairing()), Errc::bad_signature);
}

TEST(PairingPairSuccess, MalformedRecords)
{
    Keys k;
    Record good = good_record(k);

    // The outer record cut inside its details field.
    Bytes cut = container(good);
    cut.resize(20);
    EXPECT_EQ(failure(stanza(cut), k.pairing()), Errc::malformed);

    // Garbage where the signed identity should be, with a valid HMAC.
    const Bytes garbage{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    EXPECT_EQ(failure(stanza(container(good, garbage)), k.pairing()), Errc::malformed);

    // The signed identity cut short, with a valid HMAC.
    Bytes short_identity = signed_identity(good);
    short_identity.resize(short_identity.size() - 3);
    EXPECT_EQ(failure(stanza(container(good, short_identity)), k.pairing()), Errc::malformed);

    // Details that are not an ADVDeviceIdentity.
    Record bad_details = good;
    bad_details.details = {0x08, 0x80};  // a varint that never ends
    EXPECT_EQ(failure(stanza(container(bad_details)), k.pairing()), Errc::malformed);

    Record short_key = good;
    short_key.account_key.pop_back();
    EXPECT_EQ(failure(stanza(container(short_key)), k.pairing()), Errc::malformed);

    Record short_sig = good;
    short_sig.account_signature.pop_back();
    EXPECT_EQ(failure(stanza(container(short_sig)), k.pairing()), Errc::malformed);

    Record no_sig = good;
    no_sig.account_signature.clear();
    EXPECT_EQ(failure(stanza(container(no_sig)), k.pairing()), Errc::malformed);
}

TEST(PairingPairSuccess, VectorTruncatedIdentityIsMalformed)
{
    Bytes adv, priv;
    PairingKeys keys = vector_keys(adv, priv);
    for (std::size_t keep : {1u, 2u, 50u, 100u}) {
        Node iq = vector_stanza();
        Bytes& blob = std::get<Bytes>(device_identity_node(iq)->content);
        ASSERT_LT(keep, blob.size());
        blob.resize(keep);
        const Errc code = failure(iq, keys);
        EXPECT_EQ(code, Errc::malformed) << "kept " << keep << " bytes: " << errc_name(code);
    }
}

TEST(PairingPairSuccess, MissingOrWrongNodes)
{
    Keys k;
    const Bytes blob = container(good_record(k));
    auto edit = [&](auto change) {
        Node iq = stanza(blob);
        change(iq);
        return failure(iq, k.pairing());
    };
    auto success_children = [](Node& iq) -> Children& {
        return std::get<Children>(iq.children()->front().content);
    };
    auto drop = [&](std::string_view tag) {
        return [&, tag](Node& iq) {
            Children& kids = success_children(iq);
            std::erase_if(kids, [&](const Node& n) { return n.tag == tag; });
        };
    };

    EXPECT_EQ(edit(drop("device-identity")), Errc::malformed);
    EXPECT_EQ(edit(drop("device")), Errc::malformed);
    EXPECT_EQ(edit([](Node& iq) { iq.content = Children{}; }), Errc::malformed);
    EXPECT_EQ(edit([](Node& iq) { iq.attrs.erase(iq.attrs.begin() + 2); }), Errc::malformed);
    EXPECT_EQ(edit([](Node& iq) { iq.set_attr("type", "result"); }), Errc::malformed);
    EXPECT_EQ(edit([](Node& iq) { iq.set_attr("from", "15550000001@s.whatsapp.net"); }),
              Errc::untrusted);
    EXPECT_EQ(edit([&](Node& iq) {
                  Node* d = device_identity_node(iq);
                  d->content = binary::Value{"text"};
              }),
              Errc::malformed);
    EXPECT_EQ(edit([&](Node& iq) {
                  for (Node& n : success_children(iq))
                      if (n.tag == "device") n.attrs.clear();
              }),
              Errc::malformed);
    EXPECT_EQ(edit([&](Node& iq) {
                  for (Node& n : success_children(iq))
                      if (n.tag == "device") n.set_attr("jid", "not a jid");
              }),
              Errc::malformed);
    EXPECT_EQ(edit([&](Node& iq) {
                  for (Node& n : success_children(iq))
                      if (n.tag == "device") n.set_attr("lid", "12@@lid");
              }),
              Errc::malformed);

    // Without platform, biz and lid the stanza still pairs.
    Node minimal = stanza(blob);
    Children& kids = success_children(minimal);
    std::erase_if(kids, [](const Node& n) { return n.tag == "platform" || n.tag == "biz"; });
    for (Node& n : kids)
        if (n.tag == "device") n.attrs.erase(n.attrs.begin() + 1);
    auto ok = handle_pair_success(minimal, k.pairing(), test_random());
    ASSERT_TRUE(ok.ok()) << ok.error().detail;
    EXPECT_FALSE(ok->account.lid.has_value());
    EXPECT_EQ(ok->account.platform, "");
}

TEST(PairingPairSuccess, BadKeysAndRandom)
{
    Keys k;
    Node iq = stanza(container(good_record(k)));
    const Bytes short_key(31, 1);
    EXPECT_EQ(failure(iq, {short_key, k.ours.private_key}), Errc::malformed);
    EXPECT_EQ(failure(iq, {k.adv, short_key}), Errc::malformed);
    auto result = handle_pair_success(iq, k.pairing(), crypto::replay_random({}));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, Errc::crypto_failure);
}

TEST(PairingPairSuccess, ErrorReplies)
{
    struct Case {
        Errc reason;
        const char* code;
        const char* text;
    };
    for (const Case& c : {Case{Errc::bad_mac, "401", "hmac-mismatch"},
                          Case{Errc::bad_signature, "401", "signature-mismatch"},
                          Case{Errc::malformed, "500", "internal-error"}}) {
        Node reply = pair_error_reply("pair-3", c.reason);
        EXPECT_EQ(reply.attr("to"), "@s.whatsapp.net");
        EXPECT_EQ(reply.attr("type"), "error");
        EXPECT_EQ(reply.attr("id"), "pair-3");
        const Node* error = reply.child("error");
        ASSERT_NE(error, nullptr);
        EXPECT_EQ(error->attr("code"), c.code);
        EXPECT_EQ(error->attr("text"), c.text);
        EXPECT_TRUE(binary::encode(reply).ok());
    }
}

}  // namespace
}  // namespace chatwoot::wa::pairing
