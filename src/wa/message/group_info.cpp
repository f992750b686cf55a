#include "wa/message/group_info.hpp"

namespace chatwoot::wa::message {

namespace {

using binary::Jid;
using binary::Node;

Error bad(const std::string& what)
{
    return make_error(Errc::malformed, "group info: " + what);
}

// An optional user JID attribute: absent is fine, present and bad is not.
Result<std::optional<Jid>> optional_user(const Node& n, std::string_view key)
{
    auto text = n.attr(key);
    if (!text || text->empty()) return std::optional<Jid>{};
    std::optional<Jid> j = Jid::parse(*text);
    if (!j || !j->is_user()) return bad("participant " + std::string(key) + " is not a user jid");
    return std::optional<Jid>(j->without_device());
}

}  // namespace

std::string_view addressing_mode_name(AddressingMode mode)
{
    switch (mode) {
    case AddressingMode::lid: return "lid";
    case AddressingMode::pn: return "pn";
    case AddressingMode::none: break;
    }
    return "";
}

Node group_info_query(const Jid& group)
{
    Node query("query");
    query.set_attr("request", "interactive");
    Node iq("iq");
    iq.set_attr("xmlns", "w:g2");
    iq.set_attr("type", "get");
    iq.set_attr("to", group);
    iq.content = binary::Children{std::move(query)};
    return iq;
}

Result<GroupInfo> parse_group_info(const Node& iq)
{
    const Node* group = iq.child("group");
    if (!group) return bad("no <group>");
    // The id may be given bare ("1203...") or as the JID; the iq's from
    // names the group too.
    std::optional<Jid> jid;
    if (auto id = group->attr("id")) {
        jid = id->find('@') == std::string_view::npos
                  ? Jid::from_parts(*id, binary::kServerGroup)
                  : Jid::parse(*id);
    }
    if (!jid) jid = iq.attr_jid("from");
    if (!jid || jid->kind() != binary::JidKind::group) return bad("no valid group id");

    GroupInfo info{*jid, AddressingMode::pn, {}};
    if (auto mode = group->attr("addressing_mode")) {
        if (*mode == "lid")
            info.addressing_mode = AddressingMode::lid;
        else if (*mode != "pn")
            return bad("unknown addressing_mode");
    }
    if (const binary::Children* children = group->children()) {
        for (const Node& p : *children) {
            if (p.tag != "participant") continue;
            if (info.participants.size() == kMaxGroupParticipants)
                return make_error(Errc::too_large, "group info: too many participants");
            std::optional<Jid> pj = p.attr_jid("jid");
            if (!pj || !pj->is_user()) return bad("participant without a valid user jid");
            auto lid = optional_user(p, "lid");
            if (!lid) return lid.error();
            auto pn = optional_user(p, "phone_number");
            if (!pn) return pn.error();
            GroupParticipant part{pj->without_device(), *lid, *pn};
            if (pj->kind() == binary::JidKind::lid && !part.lid) part.lid = part.jid;
            if (pj->kind() == binary::JidKind::phone_number && !part.phone_number)
                part.phone_number = part.jid;
            info.participants.push_back(std::move(part));
        }
    }
    return info;
}

}  // namespace chatwoot::wa::message
