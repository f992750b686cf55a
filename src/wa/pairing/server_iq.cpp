#include "wa/pairing/server_iq.hpp"

#include "wa/binary/jid.hpp"

namespace chatwoot::wa::pairing::detail {

namespace {

// The server writes its own address as a JID with an empty user; a plain
// "s.whatsapp.net" token (what the reference JS encoder makes of that
// text) names it too.
bool is_server(std::string_view from)
{
    if (from.starts_with('@')) {
        from.remove_prefix(1);
    }
    return from == binary::kServerPhone;
}

}  // namespace

Result<ServerIq> check_server_set_iq(const binary::Node& iq, std::string_view child_tag)
{
    const std::string where = std::string(child_tag) + ": ";
    if (iq.tag != "iq") {
        return make_error(Errc::malformed, where + "stanza is <" + iq.tag + ">, not <iq>");
    }
    if (iq.attr("type") != "set") {
        return make_error(Errc::malformed, where + "iq type is not \"set\"");
    }
    auto id = iq.attr("id");
    if (!id || id->empty()) {
        return make_error(Errc::malformed, where + "iq without an id");
    }
    auto from = iq.attr("from");
    if (!from || !is_server(*from)) {
        return make_error(Errc::untrusted, where + "iq not from the server");
    }
    const binary::Node* child = iq.child(child_tag);
    if (child == nullptr) {
        return make_error(Errc::malformed, where + "iq has no <" + std::string(child_tag) + ">");
    }
    return ServerIq{std::string(*id), child};
}

std::optional<std::string> content_text(const binary::Node& node)
{
    if (const Bytes* b = node.bytes()) {
        return std::string(as_chars(*b));
    }
    if (const binary::Value* v = node.text()) {
        return v->text;
    }
    return std::nullopt;
}

binary::Node server_iq(std::string_view type, std::string_view id)
{
    binary::Node iq("iq");
    iq.set_attr("to", binary::server_jid());
    iq.set_attr("type", type);
    iq.set_attr("id", id);
    return iq;
}

}  // namespace chatwoot::wa::pairing::detail
