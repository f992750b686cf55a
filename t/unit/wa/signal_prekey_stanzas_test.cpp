// The pre-key stanzas: the upload IQ's exact shape (and that the binary
// codec carries it), the fetch IQ, and reading a bundle from a <user> of
// the answer, which then starts a session Bob (the vectors' keys) accepts.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <stdexcept>

#include "vectors.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/memory_protocol_store.hpp"
#include "wa/signal/prekey_records.hpp"
#include "wa/signal/prekey_stanzas.hpp"
#include "wa/signal/session_cipher.hpp"

namespace chatwoot::wa::signal {
namespace {

using binary::Children;
using binary::Form;
using binary::Node;
using crypto::to_bytes;
using test::vector_hex;
using test::vector_section;

Node leaf(std::string tag, Bytes bytes)
{
    return Node(std::move(tag), {}, std::move(bytes));
}

const Bytes& bytes_of(const Node* n)
{
    static const Bytes none;
    EXPECT_NE(n, nullptr);
    if (!n || !n->bytes()) return none;
    return *n->bytes();
}

struct Keys {
    LocalIdentity identity;
    std::vector<PreKey> pre_keys;
    SignedPreKey signed_pre_key;
};

Keys make_keys()
{
    crypto::SignalContext ctx =
        crypto::SignalContext::create(crypto::seeded_random(as_bytes("stanzas"))).value();
    Keys k{generate_local_identity(ctx).value(), {}, {}};
    k.identity.registration_id = 0x01020304;  // every byte distinct
    k.pre_keys = generate_pre_keys(ctx, 0x0a0b0c, 2).value();
    k.signed_pre_key = generate_signed_pre_key(ctx, k.identity.key_pair, 0x010203).value();
    return k;
}

TEST(SignalPrekeyStanzas, UploadIqShape)
{
    Keys k = make_keys();
    Node iq = prekey_upload_iq("up-1", k.identity, k.pre_keys, k.signed_pre_key);

    EXPECT_EQ(iq.tag, "iq");
    ASSERT_EQ(iq.attrs.size(), 4u);
    EXPECT_EQ(iq.attrs[0].key, "id");
    EXPECT_EQ(iq.attrs[0].value.text, "up-1");
    EXPECT_EQ(iq.attrs[1].key, "xmlns");
    EXPECT_EQ(iq.attrs[1].value.text, "encrypt");
    EXPECT_EQ(iq.attrs[2].key, "type");
    EXPECT_EQ(iq.attrs[2].value.text, "set");
    EXPECT_EQ(iq.attrs[3].key, "to");
    EXPECT_EQ(iq.attrs[3].value, binary::server_jid());

    const Children* c = iq.children();
    ASSERT_NE(c, nullptr);
    ASSERT_EQ(c->size(), 5u);
    const char* tags[] = {"registration", "type", "identity", "list", "skey"};
    for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ((*c)[i].tag, tags[i]);

    EXPECT_EQ(bytes_of(iq.child("registration")), (Bytes{1, 2, 3, 4}));
    EXPECT_EQ(bytes_of(iq.child("type")), (Bytes{5}));
    EXPECT_EQ(bytes_of(iq.child("identity")), to_bytes(k.identity.key_pair.public_key));

    const Children* list = iq.child("list")->children();
    ASSERT_NE(list, nullptr);
    ASSERT_EQ(list->size(), 2u);
    const Bytes ids[] = {{0x0a, 0x0b, 0x0c}, {0x0a, 0x0b, 0x0d}};
    for (std::size_t i = 0; i < 2; ++i) {
        const Node& key = (*list)[i];
        EXPECT_EQ(key.tag, "key");
        ASSERT_EQ(key.children()->size(), 2u);
        EXPECT_EQ(bytes_of(key.child("id")), ids[i]);
        EXPECT_EQ(bytes_of(key.child("value")), to_bytes(k.pre_keys[i].key_pair.public_key));
    }

    const Node* skey = iq.child("skey");
    ASSERT_EQ(skey->children()->size(), 3u);
    EXPECT_EQ(bytes_of(skey->child("id")), (Bytes{1, 2, 3}));
    EXPECT_EQ(bytes_of(skey->child("value")), to_bytes(k.signed_pre_key.key_pair.public_key));
    EXPECT_EQ(bytes_of(skey->child("signature")), to_bytes(k.signed_pre_key.signature));

    // The codec carries it and gives the same node back.
    Result<Bytes> wire = binary::encode(iq);
    ASSERT_TRUE(wire.ok()) << wire.error().detail;
    Result<Node> back = binary::decode(*wire);
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(*back, iq) << binary::to_debug_string(*back);

    // Without an id the IQ layer adds it.
    Node anonymous = prekey_upload_iq("", k.identity, k.pre_keys, k.signed_pre_key);
    EXPECT_FALSE(anonymous.attr("id").has_value());
    EXPECT_EQ(anonymous.attrs.size(), 3u);
}

TEST(SignalPrekeyStanzas, FetchIqShape)
{
    std::vector<binary::Jid> devices = {*binary::Jid::parse("15551234567:3@s.whatsapp.net"),
                                        *binary::Jid::parse("123456789012345@lid")};
    Node iq = prekey_fetch_iq("f-1", devices, "identity");
    EXPECT_EQ(iq.attr("xmlns"), "encrypt");
    EXPECT_EQ(iq.attr("type"), "get");
    const Node* key = iq.child("key");
    ASSERT_NE(key, nullptr);
    ASSERT_EQ(key->children()->size(), 2u);
    const Node& first = (*key->children())[0];
    EXPECT_EQ(first.tag, "user");
    EXPECT_EQ(first.attr_jid("jid"), devices[0]);
    EXPECT_EQ(first.find_attr("jid")->value.form, Form::ad_jid);
    EXPECT_EQ(first.attr("reason"), "identity");
    EXPECT_EQ((*key->children())[1].attr_jid("jid"), devices[1]);

    Node plain = prekey_fetch_iq("f-2", devices);
    EXPECT_FALSE((*plain.child("key")->children())[0].attr("reason").has_value());
    EXPECT_TRUE(binary::encode(iq).ok());
}

// Bob's published keys, as the server would send them.
struct BobKeys {
    PreKeyBundle bundle;
    crypto::KeyPair identity, spk, otk;
};

BobKeys bob_keys()
{
    const rapidjson::Value& bob = vector_section("signal_1to1")["bob"];
    BobKeys k;
    k.identity = crypto::x25519_key_pair(vector_hex(bob, "identity_priv")).value();
    k.spk = crypto::x25519_key_pair(vector_hex(bob["signed_prekey"], "priv")).value();
    k.otk = crypto::x25519_key_pair(vector_hex(bob["one_time_prekey"], "priv")).value();
    k.bundle.registration_id = 4242;
    k.bundle.identity_key = k.identity.public_key;
    k.bundle.pre_key = PreKeyPublic{7, k.otk.public_key};
    k.bundle.signed_pre_key.id = 1;
    k.bundle.signed_pre_key.public_key = k.spk.public_key;
    Bytes sig = vector_hex(bob["signed_prekey"], "signature");
    std::copy(sig.begin(), sig.end(), k.bundle.signed_pre_key.signature.begin());
    return k;
}

Children key_children(const BobKeys& k, bool with_key)
{
    Children c;
    c.push_back(leaf("type", {5}));
    c.push_back(leaf("identity", to_bytes(k.identity.public_key)));
    if (with_key)
        c.push_back(Node(
            "key", {}, Children{leaf("id", {0, 0, 7}), leaf("value", to_bytes(k.otk.public_key))}));
    c.push_back(Node("skey", {},
                     Children{leaf("id", {0, 0, 1}), leaf("value", to_bytes(k.spk.public_key)),
                              leaf("signature", to_bytes(k.bundle.signed_pre_key.signature))}));
    return c;
}

Node user_node(const BobKeys& k, bool wrapped, bool with_key = true,
               std::string_view jid = "15550000002:4@s.whatsapp.net")
{
    Node user("user");
    user.set_attr("jid", *binary::Jid::parse(jid));
    Children c;
    c.push_back(leaf("registration", {0, 0, 0x10, 0x92}));
    Children keys = key_children(k, with_key);
    if (wrapped) {
        c.push_back(Node("keys", {}, std::move(keys)));
    } else {
        for (Node& n : keys) c.push_back(std::move(n));
    }
    user.content = std::move(c);
    return user;
}

TEST(SignalPrekeyStanzas, ParsesUserBundlePlainAndWrapped)
{
    BobKeys k = bob_keys();
    for (bool wrapped : {false, true}) {
        Result<DeviceBundle> b = parse_prekey_user(user_node(k, wrapped));
        ASSERT_TRUE(b.ok()) << b.error().detail;
        EXPECT_EQ(b->jid.to_string(), "15550000002:4@s.whatsapp.net");
        EXPECT_EQ(b->address, (Address{"15550000002", 4}));
        EXPECT_EQ(b->bundle, k.bundle);
    }
    Result<DeviceBundle> lid = parse_prekey_user(user_node(k, false, false, "123:2@lid"));
    ASSERT_TRUE(lid.ok()) << lid.error().detail;
    EXPECT_EQ(lid->address, (Address{"123_1", 2}));
    EXPECT_FALSE(lid->bundle.pre_key.has_value());
}

TEST(SignalPrekeyStanzas, ParsedBundleStartsASessionBobAccepts)
{
    BobKeys k = bob_keys();
    // Through the codec first, as it arrives.
    Node iq("iq", {}, Children{Node("list", {}, Children{user_node(k, true)})});
    Result<Node> received = binary::decode(binary::encode(iq).value());
    ASSERT_TRUE(received.ok());
    Result<DeviceBundle> b = parse_prekey_user((*received->child("list")->children())[0]);
    ASSERT_TRUE(b.ok()) << b.error().detail;

    MemoryProtocolStore dave_store;
    crypto::SignalContext keygen =
        crypto::SignalContext::create(crypto::seeded_random(as_bytes("dave-keys"))).value();
    dave_store.set_local_identity(generate_local_identity(keygen).value());
    ProtocolContext dave =
        ProtocolContext::create(crypto::seeded_random(as_bytes("dave")), dave_store).value();
    ASSERT_TRUE(process_prekey_bundle(dave, b->address, b->bundle).ok());
    Result<EncryptedMessage> m = encrypt(dave, b->address, Bytes{0x0a, 0x02, 'h', 'i', 1});
    ASSERT_TRUE(m.ok());
    ASSERT_EQ(m->type, MessageType::pkmsg);

    MemoryProtocolStore bob_store(LocalIdentity{k.identity, 4242});
    PreKey otk{7, k.otk};
    ASSERT_TRUE(store_pre_keys(bob_store, std::span<const PreKey>(&otk, 1)).ok());
    ASSERT_TRUE(
        store_signed_pre_key(bob_store, SignedPreKey{1, k.spk, k.bundle.signed_pre_key.signature})
            .ok());
    ProtocolContext bob =
        ProtocolContext::create(crypto::seeded_random(as_bytes("bob")), bob_store).value();
    Result<Bytes> plain = decrypt_pkmsg(bob, {"15550000009", 0}, m->ciphertext);
    ASSERT_TRUE(plain.ok()) << plain.error().detail;
    EXPECT_EQ(*plain, (Bytes{0x0a, 0x02, 'h', 'i', 1}));
}

TEST(SignalPrekeyStanzas, UserWithErrorIsNotFound)
{
    Node user("user");
    user.set_attr("jid", *binary::Jid::parse("15550000002:4@s.whatsapp.net"));
    Node error("error");
    error.set_attr("code", "404");
    error.set_attr("text", "item-not-found");
    user.content = Children{std::move(error)};
    Result<DeviceBundle> b = parse_prekey_user(user);
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.error().code, Errc::not_found);
    EXPECT_NE(b.error().detail.find("404"), std::string::npos) << b.error().detail;
}

TEST(SignalPrekeyStanzas, RefusesBrokenBundles)
{
    BobKeys k = bob_keys();
    struct Case {
        std::function<void(Node&)> damage;
        Errc code;
        const char* needle;
    };
    auto child = [](Node& parent, std::string_view tag) -> Node& {
        for (Node& n : *parent.children())
            if (n.tag == tag) return n;
        throw std::runtime_error("no child " + std::string(tag));
    };
    auto remove = [](Node& parent, std::string_view tag) {
        auto& c = *parent.children();
        c.erase(std::remove_if(c.begin(), c.end(), [&](const Node& n) { return n.tag == tag; }),
                c.end());
    };
    std::vector<Case> cases = {
        {[&](Node& u) { child(u, "identity").content = Bytes(31, 1); }, Errc::malformed,
         "<identity> is 31 bytes"},
        {[&](Node& u) { child(u, "identity").content = Bytes(33, 5); }, Errc::malformed,
         "<identity> is 33 bytes"},
        {[&](Node& u) { remove(u, "identity"); }, Errc::malformed, "no <identity>"},
        {[&](Node& u) { remove(u, "skey"); }, Errc::malformed, "no <skey>"},
        {[&](Node& u) { remove(u, "registration"); }, Errc::malformed, "no <registration>"},
        {[&](Node& u) {
             child(u, "registration").content = Bytes{1, 2, 3};
         },
         Errc::malformed, "<registration> is 3 bytes"},
        {[&](Node& u) { child(u, "type").content = Bytes{6}; }, Errc::unsupported, "key type"},
        {[&](Node& u) { child(child(u, "skey"), "signature").content = Bytes(63, 0); },
         Errc::malformed, "<skey><signature> is 63"},
        {[&](Node& u) { child(child(u, "key"), "id").content = Bytes{7}; }, Errc::malformed,
         "<key><id> is 1 bytes"},
        {[&](Node& u) { remove(child(u, "key"), "value"); }, Errc::malformed, "no <key><value>"},
        {[&](Node& u) { child(u, "identity").content = binary::Value{"text"}; }, Errc::malformed,
         "holds no bytes"},
        {[&](Node& u) { u.tag = "device"; }, Errc::malformed, "want <user>"},
        {[&](Node& u) { u.set_attr("jid", "not a jid"); }, Errc::malformed, "jid"},
        {[&](Node& u) { u.set_attr("jid", *binary::Jid::parse("120363012345678901@g.us")); },
         Errc::unsupported, "group"},
    };
    for (const Case& c : cases) {
        Node user = user_node(k, false);
        c.damage(user);
        Result<DeviceBundle> b = parse_prekey_user(user);
        ASSERT_FALSE(b.ok()) << c.needle;
        EXPECT_EQ(b.error().code, c.code) << c.needle << ": " << b.error().detail;
        EXPECT_NE(b.error().detail.find(c.needle), std::string::npos) << b.error().detail;
    }

    // Inside <keys> the path says so.
    Node wrapped = user_node(k, true);
    for (Node& n : *wrapped.children())
        if (n.tag == "keys")
            for (Node& m : *n.children())
                if (m.tag == "identity") m.content = Bytes(3, 0);
    Result<DeviceBundle> b = parse_prekey_user(wrapped);
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.error().detail.find("<keys><identity> is 3 bytes"), std::string::npos)
        << b.error().detail;
}

}  // namespace
}  // namespace chatwoot::wa::signal
