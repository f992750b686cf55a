#include "wa/signal/prekey_stanzas.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "wa/crypto/curve_signature.hpp"

namespace chatwoot::wa::signal {

namespace {

using binary::Attr;
using binary::Children;
using binary::Node;
using binary::Value;

constexpr std::size_t kIdBytes = 3;
constexpr std::size_t kRegistrationBytes = 4;

Bytes big_endian(std::uint32_t value, std::size_t width)
{
    Bytes out(width);
    for (std::size_t i = 0; i < width; ++i)
        out[width - 1 - i] = static_cast<std::uint8_t>(value >> (8 * i));
    return out;
}

Node leaf(std::string tag, ByteView bytes)
{
    return Node(std::move(tag), {}, Bytes(bytes.begin(), bytes.end()));
}

Node key_node(std::string tag, std::uint32_t id, ByteView public_key)
{
    return Node(std::move(tag), {},
                Children{leaf("id", big_endian(id, kIdBytes)), leaf("value", public_key)});
}

Node encrypt_iq(std::string_view id, std::string_view type, Children content)
{
    std::vector<Attr> attrs;
    if (!id.empty()) attrs.push_back(Attr{"id", Value{std::string(id)}});
    attrs.push_back(Attr{"xmlns", Value{"encrypt"}});
    attrs.push_back(Attr{"type", Value{std::string(type)}});
    attrs.push_back(Attr{"to", binary::server_jid()});
    return Node("iq", std::move(attrs), std::move(content));
}

// -- reading the answer --------------------------------------------------

struct Reader {
    std::string where;  // "pre-key bundle of <jid>"

    Error fail(Errc code, const std::string& what) const
    {
        return make_error(code, where + ": " + what);
    }

    // The bytes of child `tag`, exactly `size` long.
    Result<ByteView> field(const Node& parent, std::string_view tag, std::size_t size,
                           const std::string& path) const
    {
        const Node* child = parent.child(tag);
        std::string name = path + "<" + std::string(tag) + ">";
        if (!child) return fail(Errc::malformed, "no " + name);
        const Bytes* bytes = child->bytes();
        if (!bytes) return fail(Errc::malformed, name + " holds no bytes");
        if (bytes->size() != size)
            return fail(Errc::malformed, name + " is " + std::to_string(bytes->size()) +
                                             " bytes, want " + std::to_string(size));
        return ByteView(*bytes);
    }

    static std::uint32_t number(ByteView bytes)
    {
        std::uint32_t v = 0;
        for (std::uint8_t b : bytes) v = (v << 8) | b;
        return v;
    }

    template <std::size_t N>
    static std::array<std::uint8_t, N> fixed(ByteView bytes)
    {
        std::array<std::uint8_t, N> out{};
        std::copy_n(bytes.begin(), N, out.begin());
        return out;
    }

    // <key> or <skey>: id and value.
    Result<PreKeyPublic> key(const Node& node, const std::string& path) const
    {
        Result<ByteView> id = field(node, "id", kIdBytes, path);
        if (!id) return id.error();
        Result<ByteView> value = field(node, "value", 32, path);
        if (!value) return value.error();
        return PreKeyPublic{number(*id), fixed<32>(*value)};
    }
};

}  // namespace

Node prekey_upload_iq(std::string_view id, const LocalIdentity& identity,
                      std::span<const PreKey> pre_keys, const SignedPreKey& signed_pre_key)
{
    Children list;
    list.reserve(pre_keys.size());
    for (const PreKey& key : pre_keys)
        list.push_back(key_node("key", key.id, key.key_pair.public_key));

    Node skey = key_node("skey", signed_pre_key.id, signed_pre_key.key_pair.public_key);
    skey.children()->push_back(leaf("signature", signed_pre_key.signature));

    Children content;
    content.push_back(
        leaf("registration", big_endian(identity.registration_id, kRegistrationBytes)));
    content.push_back(leaf("type", Bytes{crypto::djb_key_type}));
    content.push_back(leaf("identity", identity.key_pair.public_key));
    content.push_back(Node("list", {}, std::move(list)));
    content.push_back(std::move(skey));
    return encrypt_iq(id, "set", std::move(content));
}

Node prekey_fetch_iq(std::string_view id, std::span<const binary::Jid> devices,
                     std::string_view reason)
{
    Children users;
    users.reserve(devices.size());
    for (const binary::Jid& jid : devices) {
        Node user("user");
        user.set_attr("jid", jid);
        if (!reason.empty()) user.set_attr("reason", reason);
        users.push_back(std::move(user));
    }
    Children content;
    content.push_back(Node("key", {}, std::move(users)));
    return encrypt_iq(id, "get", std::move(content));
}

Result<DeviceBundle> parse_prekey_user(const Node& user)
{
    if (user.tag != "user")
        return make_error(Errc::malformed, "pre-key bundle: <" + user.tag + ">, want <user>");
    std::optional<binary::Jid> jid = user.attr_jid("jid");
    if (!jid) return make_error(Errc::malformed, "pre-key bundle: <user> without a valid jid");
    Reader r{"pre-key bundle of " + jid->to_string()};

    if (const Node* error = user.child("error")) {
        std::string why = "server has none";
        if (auto code = error->attr("code")) why += ", code " + std::string(*code);
        if (auto text = error->attr("text")) why += ", " + std::string(*text);
        return r.fail(Errc::not_found, why);
    }
    Result<Address> address = address_of(*jid);
    if (!address) return r.fail(address.error().code, address.error().detail);

    // The keys come in <user> itself or in a <keys> child of it.
    const Node* keys_node = user.child("keys");
    const Node& keys = keys_node ? *keys_node : user;
    const std::string path = keys_node ? "<keys>" : "";

    DeviceBundle out{*jid, std::move(*address), {}};
    const Node& reg_parent = user.child("registration") ? user : keys;
    Result<ByteView> registration =
        r.field(reg_parent, "registration", kRegistrationBytes, &reg_parent == &user ? "" : path);
    if (!registration) return registration.error();
    out.bundle.registration_id = Reader::number(*registration);

    if (const Node* type = keys.child("type")) {
        const Bytes* bytes = type->bytes();
        if (!bytes || bytes->size() != 1 || (*bytes)[0] != crypto::djb_key_type)
            return r.fail(Errc::unsupported, "key type is not 0x05");
    }

    Result<ByteView> identity = r.field(keys, "identity", 32, path);
    if (!identity) return identity.error();
    out.bundle.identity_key = Reader::fixed<32>(*identity);

    if (const Node* key = keys.child("key")) {
        Result<PreKeyPublic> pre_key = r.key(*key, path + "<key>");
        if (!pre_key) return pre_key.error();
        out.bundle.pre_key = *pre_key;
    }

    const Node* skey = keys.child("skey");
    if (!skey) return r.fail(Errc::malformed, "no " + path + "<skey>");
    Result<PreKeyPublic> signed_key = r.key(*skey, path + "<skey>");
    if (!signed_key) return signed_key.error();
    Result<ByteView> signature = r.field(*skey, "signature", 64, path + "<skey>");
    if (!signature) return signature.error();
    out.bundle.signed_pre_key =
        SignedPreKeyPublic{signed_key->id, signed_key->public_key, Reader::fixed<64>(*signature)};
    return out;
}

}  // namespace chatwoot::wa::signal
