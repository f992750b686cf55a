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

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF,
// no sequence cut short.  The subject ends up in JSON for Chatwoot.
bool valid_utf8(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t need = 0;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) need = 1;
        else if (c == 0xe0) { need = 2; lo = 0xa0; }
        else if (c == 0xed) { need = 2; hi = 0x9f; }
        else if (c >= 0xe1 && c <= 0xef) need = 2;
        else if (c == 0xf0) { need = 3; lo = 0x90; }
        else if (c == 0xf4) { need = 3; hi = 0x8f; }
        else if (c >= 0xf1 && c <= 0xf3) need = 3;
        else return false;
        if (s.size() - i <= need) return false;
        const auto first = static_cast<unsigned char>(s[i + 1]);
        if (first < lo || first > hi) return false;
        for (std::size_t k = 2; k <= need; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if (b < 0x80 || b > 0xbf) return false;
        }
        i += need + 1;
    }
    return true;
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

    GroupInfo info{*jid, AddressingMode::pn, {}, {}};
    if (auto subject = group->attr("subject")) {
        if (subject->size() > kMaxGroupSubject)
            return make_error(Errc::too_large, "group info: subject too long");
        if (!valid_utf8(*subject)) return bad("subject is not UTF-8");
        info.subject = std::string(*subject);
    }
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
