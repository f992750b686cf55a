#include "wa/message/usync.hpp"

#include "wa/message/decimal.hpp"

namespace chatwoot::wa::message {

namespace {

using binary::Attr;
using binary::Children;
using binary::Jid;
using binary::Node;
using binary::Value;

Node usync_iq(std::string_view sid, std::string_view context, Children query, Children users)
{
    Node usync("usync");
    usync.set_attr("sid", sid);
    usync.set_attr("mode", "query");
    usync.set_attr("last", "true");
    usync.set_attr("index", "0");
    usync.set_attr("context", context);
    usync.content = Children{Node("query", {}, std::move(query)), Node("list", {}, std::move(users))};

    Node iq("iq");
    iq.set_attr("xmlns", "usync");
    iq.set_attr("type", "get");
    iq.set_attr("to", binary::server_jid());
    iq.content = Children{std::move(usync)};
    return iq;
}


Error bad(const std::string& what)
{
    return make_error(Errc::malformed, "usync answer: " + what);
}

Result<std::vector<UsyncDevice>> parse_devices(const Node& devices, const std::string& who)
{
    std::vector<UsyncDevice> out;
    const Node* list = devices.child("device-list");
    if (!list) return bad(who + ": <devices> without <device-list>");
    const Children* items = list->children();
    if (!items) return out;  // an empty list: the account has no device now
    for (const Node& d : *items) {
        if (d.tag != "device") continue;
        if (out.size() == kMaxDevicesPerUser)
            return make_error(Errc::too_large, "usync answer: " + who + ": too many devices");
        auto id = d.attr("id") ? parse_decimal<std::uint16_t>(*d.attr("id")) : std::nullopt;
        if (!id) return bad(who + ": <device> without a valid id");
        UsyncDevice dev;
        dev.id = *id;
        if (auto ki = d.attr("key-index")) {
            auto v = parse_decimal<std::uint32_t>(*ki);
            if (!v) return bad(who + ": <device> with a bad key-index");
            dev.key_index = *v;
        }
        dev.hosted = d.attr("is_hosted") == std::optional<std::string_view>("true");
        out.push_back(dev);
    }
    return out;
}

}  // namespace

Node devices_query(std::string_view sid, std::span<const Jid> users)
{
    Children list;
    list.reserve(users.size());
    for (const Jid& u : users) {
        Node user("user");
        user.set_attr("jid", u.without_device());
        list.push_back(std::move(user));
    }
    Node devices("devices");
    devices.set_attr("version", "2");
    return usync_iq(sid, "message", Children{std::move(devices)}, std::move(list));
}

Node lookup_query(std::string_view sid, const Jid& pn)
{
    Node contact("contact", {}, Value{"+" + pn.user()});
    Node user("user", {}, Children{std::move(contact)});
    Node devices("devices");
    devices.set_attr("version", "2");
    return usync_iq(sid, "interactive", Children{Node("contact"), Node("lid"), std::move(devices)},
                    Children{std::move(user)});
}

Result<std::vector<UsyncUser>> parse_usync(const Node& iq)
{
    const Node* usync = iq.child("usync");
    if (!usync) return bad("no <usync>");
    const Node* list = usync->child("list");
    if (!list) return bad("no <usync><list>");
    std::vector<UsyncUser> out;
    const Children* users = list->children();
    if (!users) return out;
    for (const Node& u : *users) {
        if (u.tag != "user") continue;
        if (out.size() == kMaxUsyncUsers) return make_error(Errc::too_large, "usync answer: too many users");
        std::optional<Jid> jid = u.attr_jid("jid");
        if (!jid || !jid->is_user()) return bad("<user> without a valid user jid");
        UsyncUser user{jid->without_device(), {}, {}, {}, {}};
        const std::string who = user.jid.to_string();
        if (const Node* devices = u.child("devices"); devices && !devices->child("error")) {
            auto parsed = parse_devices(*devices, who);
            if (!parsed) return parsed.error();
            user.devices = std::move(*parsed);
            if (const Node* kil = devices->child("key-index-list"))
                if (auto ts = kil->attr("ts")) user.key_index_ts = parse_decimal<std::int64_t>(*ts);
        }
        if (const Node* lid = u.child("lid"); lid && !lid->child("error")) {
            if (auto val = lid->attr("val"); val && !val->empty()) {
                std::optional<Jid> l = Jid::parse(*val);
                if (!l || l->kind() != binary::JidKind::lid) return bad(who + ": <lid> with a bad val");
                user.lid = l->without_device();
            }
        }
        if (const Node* contact = u.child("contact"); contact && !contact->child("error")) {
            if (auto type = contact->attr("type")) {
                if (*type == "in")
                    user.on_whatsapp = true;
                else if (*type == "out")
                    user.on_whatsapp = false;
                else
                    return bad(who + ": <contact> with an unknown type");
            }
        }
        out.push_back(std::move(user));
    }
    return out;
}

std::vector<Jid> device_jids(const Jid& user, std::span<const UsyncDevice> devices)
{
    std::vector<Jid> out;
    out.reserve(devices.size());
    const bool lid = user.kind() == binary::JidKind::lid;
    for (const UsyncDevice& d : devices) {
        std::string_view server = user.server();
        if (d.hosted) server = lid ? binary::kServerHostedLid : binary::kServerHosted;
        if (auto j = Jid::from_parts(user.user(), server, 0, d.id)) out.push_back(*j);
    }
    return out;
}

}  // namespace chatwoot::wa::message
