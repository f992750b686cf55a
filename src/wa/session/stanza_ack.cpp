#include "wa/session/stanza_ack.hpp"

#include <string>

namespace chatwoot::wa::session {

bool needs_ack(const binary::Node& stanza)
{
    const std::string& t = stanza.tag;
    return t == "message" || t == "receipt" || t == "notification" || t == "call";
}

Result<binary::Node> build_ack(const binary::Node& stanza, int error)
{
    const binary::Attr* id = stanza.find_attr("id");
    const binary::Attr* from = stanza.find_attr("from");
    if (id == nullptr || id->value.text.empty()) {
        return make_error(Errc::malformed, "ack: <" + stanza.tag + "> has no id");
    }
    if (from == nullptr || from->value.text.empty()) {
        return make_error(Errc::malformed, "ack: <" + stanza.tag + "> has no from");
    }
    binary::Node ack("ack");
    ack.set_attr("class", stanza.tag);
    ack.set_attr("id", id->value);
    ack.set_attr("to", from->value);
    if (const binary::Attr* p = stanza.find_attr("participant")) {
        ack.set_attr("participant", p->value);
    }
    if (const binary::Attr* r = stanza.find_attr("recipient")) {
        ack.set_attr("recipient", r->value);
    }
    if (const binary::Attr* type = stanza.find_attr("type"); type && stanza.tag != "message") {
        ack.set_attr("type", type->value);
    }
    if (error != 0) {
        ack.set_attr("error", std::to_string(error));
    }
    return ack;
}

bool needs_ack(const binary::NodeView& stanza)
{
    const std::string_view t = stanza.tag();
    return t == "message" || t == "receipt" || t == "notification" || t == "call";
}

Result<binary::Node> build_ack(const binary::NodeView& stanza, int error)
{
    const binary::AttrView* id = stanza.find_attr("id");
    const binary::AttrView* from = stanza.find_attr("from");
    if (id == nullptr || id->value.size() == 0) {
        return make_error(Errc::malformed, "ack: <" + std::string(stanza.tag()) + "> has no id");
    }
    if (from == nullptr || from->value.size() == 0) {
        return make_error(Errc::malformed,
                          "ack: <" + std::string(stanza.tag()) + "> has no from");
    }
    binary::Node ack("ack");
    ack.set_attr("class", std::string(stanza.tag()));
    ack.set_attr("id", id->value.owned());
    ack.set_attr("to", from->value.owned());
    if (const binary::AttrView* p = stanza.find_attr("participant")) {
        ack.set_attr("participant", p->value.owned());
    }
    if (const binary::AttrView* r = stanza.find_attr("recipient")) {
        ack.set_attr("recipient", r->value.owned());
    }
    if (const binary::AttrView* type = stanza.find_attr("type");
        type && stanza.tag() != "message") {
        ack.set_attr("type", type->value.owned());
    }
    if (error != 0) {
        ack.set_attr("error", std::to_string(error));
    }
    return ack;
}

}  // namespace chatwoot::wa::session
