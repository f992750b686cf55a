#include "wa/message/receipts.hpp"

#include "wa/message/decimal.hpp"
#include "wa/message/group_info.hpp"

#include <algorithm>


#include <rapidjson/document.h>

namespace chatwoot::wa::message {

namespace {

using binary::Attr;
using binary::Children;
using binary::Jid;
using binary::Node;
using binary::Value;

Error bad(std::string what)
{
    return make_error(Errc::malformed, std::move(what));
}

void copy_attr(const Node& from, std::string_view key, Node& to, std::string_view as)
{
    if (const Attr* a = from.find_attr(key)) to.set_attr(as, a->value);
}

Bytes big_endian(std::uint32_t v, int n)
{
    Bytes out(static_cast<std::size_t>(n));
    for (int i = n - 1; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v & 0xff);
        v >>= 8;
    }
    return out;
}

Node bytes_node(std::string tag, ByteView bytes)
{
    return Node(std::move(tag), {}, Bytes(bytes.begin(), bytes.end()));
}

std::optional<std::int64_t> to_int(std::string_view text)
{
    return parse_decimal<std::int64_t>(text);
}

std::int64_t int_attr(const Node& n, std::string_view key)
{
    if (auto v = n.attr(key)) return to_int(*v).value_or(0);
    return 0;
}

// A JSON number or a decimal string (the server sends times as strings).
std::int64_t json_int(const rapidjson::Value& obj, const char* key)
{
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd()) return 0;
    if (it->value.IsInt64()) return it->value.GetInt64();
    if (it->value.IsString())
        return to_int({it->value.GetString(), it->value.GetStringLength()}).value_or(0);
    return 0;
}

std::string json_string(const rapidjson::Value& obj, const char* key)
{
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsString()) return {};
    return std::string(it->value.GetString(), std::min<std::size_t>(it->value.GetStringLength(), 64));
}

Result<Notification> parse_mex(const Node& n)
{
    const Node* update = n.child("update");
    if (update == nullptr) return Notification{OtherNotification{"mex"}};
    const Bytes* body = update->bytes();
    if (body == nullptr || body->size() > 64 * 1024) return bad("mex update without a JSON body");
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseStopWhenDoneFlag>(reinterpret_cast<const char*>(body->data()),
                                                 body->size());
    if (doc.HasParseError() || !doc.IsObject()) return bad("mex update is not a JSON object");
    const rapidjson::Value* data = &doc;
    if (auto d = doc.FindMember("data"); d != doc.MemberEnd() && d->value.IsObject())
        data = &d->value;
    if (auto t = data->FindMember("xwa2_notify_account_reachout_timelock");
        t != data->MemberEnd() && t->value.IsObject()) {
        ReachoutTimelock lock;
        auto a = t->value.FindMember("is_active");
        lock.active = a != t->value.MemberEnd() && a->value.IsBool() && a->value.GetBool();
        lock.enforcement_type = json_string(t->value, "enforcement_type");
        lock.ends_at = json_int(t->value, "time_enforcement_ends");
        return Notification{std::move(lock)};
    }
    if (auto c = data->FindMember("xwa2_notify_new_chat_messages_capping_info_update");
        c != data->MemberEnd() && c->value.IsObject()) {
        NewChatCapping cap;
        cap.status = json_string(c->value, "capping_status");
        cap.used = json_int(c->value, "used_quota");
        cap.total = json_int(c->value, "total_quota");
        cap.cycle_ends_at = json_int(c->value, "cycle_end_timestamp");
        return Notification{std::move(cap)};
    }
    return Notification{OtherNotification{"mex"}};
}

}  // namespace

std::string delivery_receipt_type(const Node& message, bool from_me, bool passive)
{
    if (message.attr("category") == std::optional<std::string_view>("peer")) return "peer_msg";
    if (from_me) return "sender";
    if (passive) return "inactive";
    return "";
}

Node delivery_receipt(const Node& message, std::string_view type)
{
    Node r("receipt");
    copy_attr(message, "id", r, "id");
    copy_attr(message, "from", r, "to");
    copy_attr(message, "participant", r, "participant");
    copy_attr(message, "recipient", r, "recipient");
    if (!type.empty()) r.set_attr("type", type);
    return r;
}

Node retry_receipt(const Node& message, int count, std::uint32_t registration_id,
                   std::int64_t now, const std::optional<RetryKeys>& keys)
{
    Node r("receipt");
    copy_attr(message, "id", r, "id");
    r.set_attr("type", "retry");
    copy_attr(message, "from", r, "to");
    copy_attr(message, "participant", r, "participant");
    copy_attr(message, "recipient", r, "recipient");
    if (message.attr("category") == std::optional<std::string_view>("peer"))
        r.set_attr("category", "peer");

    Node retry("retry");
    retry.set_attr("count", std::to_string(count));
    copy_attr(message, "id", retry, "id");
    retry.set_attr("t", std::to_string(now));
    retry.set_attr("v", "1");

    Children children;
    children.push_back(std::move(retry));
    children.push_back(bytes_node("registration", big_endian(registration_id, 4)));
    if (keys) {
        const Bytes key_type{0x05};
        Children k;
        k.push_back(bytes_node("type", key_type));
        k.push_back(bytes_node("identity", keys->identity));
        k.push_back(Node("key", {},
                         Children{bytes_node("id", big_endian(keys->pre_key.id, 3)),
                                  bytes_node("value", keys->pre_key.public_key)}));
        k.push_back(Node("skey", {},
                         Children{bytes_node("id", big_endian(keys->signed_pre_key.id, 3)),
                                  bytes_node("value", keys->signed_pre_key.public_key),
                                  bytes_node("signature", keys->signed_pre_key.signature)}));
        k.push_back(bytes_node("device-identity", keys->device_identity));
        children.push_back(Node("keys", {}, std::move(k)));
    }
    r.content = std::move(children);
    return r;
}

Result<ReceiptEvent> parse_receipt(const Node& n)
{
    if (n.tag != "receipt") return bad("not a <receipt>");
    auto from = n.attr_jid("from");
    if (!from) return bad("receipt without a JID in from");
    auto id = n.attr("id");
    if (!id || id->empty() || id->size() > 128) return bad("receipt without a usable id");
    ReceiptEvent e{ReceiptEvent::Kind::delivery, {}, *from, n.attr_jid("participant"),
                   n.attr_jid("recipient"), {std::string(*id)}, int_attr(n, "t"), 0};
    if (auto type = n.attr("type")) {
        e.type = std::string(type->substr(0, 32));
        using K = ReceiptEvent::Kind;
        if (*type == "read") e.kind = K::read;
        else if (*type == "read-self") e.kind = K::read_self;
        else if (*type == "played" || *type == "played-self") e.kind = K::played;
        else if (*type == "retry") e.kind = K::retry;
        else if (*type == "sender") e.kind = K::sender;
        else if (*type == "inactive") e.kind = K::inactive;
        else if (*type == "server-error") e.kind = K::server_error;
        else e.kind = K::other;
    }
    if (const Node* list = n.child("list"); list != nullptr && list->children() != nullptr) {
        for (const Node& item : *list->children()) {
            if (item.tag != "item") continue;
            auto iid = item.attr("id");
            if (!iid || iid->empty() || iid->size() > 128) continue;
            if (e.ids.size() >= 1024) return bad("receipt with over 1024 items");
            e.ids.emplace_back(*iid);
        }
    }
    if (const Node* retry = n.child("retry")) {
        const std::int64_t c = int_attr(*retry, "count");
        e.retry_count = c < 0 || c > 1000 ? 0 : static_cast<int>(c);
    }
    return e;
}

std::optional<Jid> PrivacyTokens::lid() const
{
    if (sender_lid && sender_lid->kind() == binary::JidKind::lid) return sender_lid->without_device();
    if (from.kind() == binary::JidKind::lid) return from.without_device();
    return std::nullopt;
}

bool GroupChanged::has(Kind k) const
{
    return std::find(kinds.begin(), kinds.end(), k) != kinds.end();
}

bool GroupChanged::members_went() const
{
    return has(Kind::remove) || has(Kind::leave) || has(Kind::modify);
}

namespace {

std::optional<GroupChanged::Kind> group_change_kind(std::string_view tag)
{
    using K = GroupChanged::Kind;
    if (tag == "add") return K::add;
    if (tag == "remove") return K::remove;
    if (tag == "promote") return K::promote;
    if (tag == "demote") return K::demote;
    if (tag == "leave") return K::leave;
    if (tag == "modify") return K::modify;
    if (tag == "subject") return K::subject;
    if (tag == "description") return K::description;
    if (tag == "announcement" || tag == "not_announcement" || tag == "locked" ||
        tag == "unlocked" || tag == "membership_approval_mode" || tag == "member_add_mode")
        return K::settings;
    if (tag == "ephemeral" || tag == "not_ephemeral") return K::ephemeral;
    return std::nullopt;
}

// The <participant jid> children of an add/remove/leave change, bounded.
Status take_participants(const Node& change, std::vector<Jid>& into)
{
    if (change.children() == nullptr) return Done{};
    for (const Node& p : *change.children()) {
        if (p.tag != "participant") continue;
        auto jid = p.attr_jid("jid");
        if (!jid || !jid->is_user())
            return make_error(Errc::malformed, "<" + change.tag + "> participant without a user jid");
        if (into.size() >= kMaxGroupChangeParticipants)
            return make_error(Errc::too_large, "<" + change.tag + "> with over " +
                                                   std::to_string(kMaxGroupChangeParticipants) +
                                                   " participants");
        into.push_back(jid->without_device());
    }
    return Done{};
}

Result<Notification> parse_group_change(const Node& n)
{
    auto from = n.attr_jid("from");
    if (!from || from->kind() != binary::JidKind::group)
        return bad("w:gp2 notification without a group in from");
    GroupChanged g{from->without_device(), std::nullopt, {}, std::nullopt, {}, {}};
    if (auto author = n.attr_jid("participant"); author && author->is_user())
        g.author = author->without_device();
    if (n.children() == nullptr || n.children()->empty())
        return bad("w:gp2 notification without a change");
    if (n.children()->size() > kMaxGroupChanges)
        return make_error(Errc::too_large, "w:gp2 notification with over " +
                                               std::to_string(kMaxGroupChanges) + " changes");
    using K = GroupChanged::Kind;
    for (const Node& change : *n.children()) {
        const K kind = group_change_kind(change.tag).value_or(K::other);
        if (!g.has(kind)) g.kinds.push_back(kind);
        if (kind == K::add) {
            if (auto st = take_participants(change, g.added); !st) return st.error();
        } else if (kind == K::remove || kind == K::leave) {
            if (auto st = take_participants(change, g.gone); !st) return st.error();
        } else if (kind == K::subject) {
            auto subject = change.attr("subject");
            if (!subject) return bad("<subject> without a subject");
            if (subject->size() > kMaxGroupSubject)
                return make_error(Errc::too_large, "subject over " +
                                                       std::to_string(kMaxGroupSubject) + " bytes");
            g.subject = std::string(*subject);
        }
    }
    return Notification{std::move(g)};
}

}  // namespace

Result<Notification> parse_notification(const Node& n)
{
    if (n.tag != "notification") return bad("not a <notification>");
    const std::string type(n.attr("type").value_or("").substr(0, 32));
    auto from = n.attr_jid("from");

    if (type == "devices") {
        if (!from || !from->is_user()) return bad("devices notification without a user in from");
        DevicesChanged d{from->without_device(), {}};
        if (auto lid = n.attr_jid("lid"); lid && lid->kind() == binary::JidKind::lid)
            d.lid = lid->without_device();
        return Notification{std::move(d)};
    }
    if (type == "encrypt") {
        if (const Node* count = n.child("count")) {
            auto v = count->attr("value");
            auto c = v ? to_int(*v) : std::nullopt;
            if (!c || *c < 0 || *c > 1000000) return bad("encrypt notification with a bad count");
            return Notification{PreKeyCount{static_cast<int>(*c)}};
        }
        if (n.child("identity") != nullptr) {
            if (!from || !from->is_user()) return bad("identity notification without a user");
            return Notification{IdentityChanged{from->without_device()}};
        }
        return Notification{OtherNotification{type}};
    }
    if (type == "privacy_token") {
        if (!from || !from->is_user()) return bad("privacy_token notification without a user");
        PrivacyTokens p{from->without_device(), n.attr_jid("sender_lid"), {}};
        const Node* tokens = n.child("tokens");
        if (tokens == nullptr || tokens->children() == nullptr)
            return bad("privacy_token notification without <tokens>");
        for (const Node& t : *tokens->children()) {
            if (t.tag != "token") continue;
            const Bytes* b = t.bytes();
            if (b == nullptr || b->empty() || b->size() > 4096) return bad("token without bytes");
            if (p.tokens.size() >= 16) return bad("privacy_token with over 16 tokens");
            p.tokens.push_back(PrivacyToken{std::string(t.attr("jid").value_or("").substr(0, 128)),
                                            int_attr(t, "t"),
                                            std::string(t.attr("type").value_or("").substr(0, 32)),
                                            *b});
        }
        return Notification{std::move(p)};
    }
    if (type == "mex") return parse_mex(n);
    if (type == "w:gp2") return parse_group_change(n);
    return Notification{OtherNotification{type}};
}

}  // namespace chatwoot::wa::message
