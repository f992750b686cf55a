#include "wa/message/envelope.hpp"

#include "wa/message/decimal.hpp"

#include <algorithm>

namespace chatwoot::wa::message {

namespace {

using binary::Jid;
using binary::JidKind;
using binary::Node;

Error bad(std::string what)
{
    return make_error(Errc::malformed, std::move(what));
}

// A decimal attribute; nullopt when absent, an error text when not a
// number in [0, max].
template <typename T>
std::optional<T> number(std::string_view text, T max, bool& ok)
{
    auto v = parse_decimal<T>(text);
    ok = v && *v >= 0 && *v <= max;
    if (!ok) return std::nullopt;
    return v;
}

bool same_user(const Jid& jid, const OwnAccount& own)
{
    if (jid.kind() == JidKind::phone_number) return !own.pn_user.empty() && jid.user() == own.pn_user;
    if (jid.kind() == JidKind::lid) return !own.lid_user.empty() && jid.user() == own.lid_user;
    return false;
}

// `base` in one form and `other` in the other teach a pair; anything else
// (both the same form, a group, a missing attribute) teaches nothing.
void learn(std::vector<LidPair>& pairs, const std::optional<Jid>& base,
           const std::optional<Jid>& other)
{
    if (!base || !other) return;
    std::optional<LidPair> pair;
    if (base->kind() == JidKind::phone_number && other->kind() == JidKind::lid)
        pair = LidPair{base->without_device(), other->without_device()};
    else if (base->kind() == JidKind::lid && other->kind() == JidKind::phone_number)
        pair = LidPair{other->without_device(), base->without_device()};
    if (pair && std::find(pairs.begin(), pairs.end(), *pair) == pairs.end())
        pairs.push_back(std::move(*pair));
}

Result<EncPart> parse_enc(const Node& enc)
{
    EncPart part;
    auto type = enc.attr("type");
    if (!type) return bad("<enc> without type");
    if (*type == "pkmsg") part.type = EncType::pkmsg;
    else if (*type == "msg") part.type = EncType::msg;
    else if (*type == "skmsg") part.type = EncType::skmsg;
    else return bad("<enc> of unknown type \"" + std::string(type->substr(0, 16)) + "\"");
    bool ok = true;
    if (auto v = enc.attr("v")) {
        auto n = number<int>(*v, 99, ok);
        if (!ok) return bad("<enc> v is not a version number");
        part.version = *n;
    }
    if (auto c = enc.attr("count")) {
        auto n = number<int>(*c, 1000, ok);
        if (!ok) return bad("<enc> count is not a small number");
        part.count = *n;
    }
    if (auto m = enc.attr("mediatype")) part.mediatype = std::string(m->substr(0, 32));
    if (const Bytes* b = enc.bytes()) part.ciphertext = *b;
    else if (const binary::Value* s = enc.text()) part.ciphertext.assign(s->text.begin(), s->text.end());
    else return bad("<enc> without bytes");
    if (part.ciphertext.empty()) return bad("<enc> with empty bytes");
    return part;
}

}  // namespace

std::string_view enc_type_name(EncType type)
{
    switch (type) {
    case EncType::pkmsg: return "pkmsg";
    case EncType::msg: return "msg";
    case EncType::skmsg: return "skmsg";
    }
    return "?";
}

int MessageEnvelope::retry_count() const
{
    int n = 0;
    for (const EncPart& e : encs) n = std::max(n, e.count);
    return n;
}

Result<MessageEnvelope> parse_envelope(const Node& node, const OwnAccount& own)
{
    if (node.tag != "message") return bad("not a <message>");
    auto id = node.attr("id");
    if (!id || id->empty() || id->size() > 128) return bad("message without a usable id");
    auto from = node.attr_jid("from");
    if (!from) return bad("message without a JID in from");

    MessageEnvelope env{std::string(*id), *from, *from, *from, {}, {}, false, false, false,
                        {}, 0, {}, {}, AddressingMode::none, {}, {}};
    env.participant = node.attr_jid("participant");
    env.recipient = node.attr_jid("recipient");
    env.peer = node.attr("category") == std::optional<std::string_view>("peer");
    if (auto n = node.attr("notify")) env.push_name = std::string(n->substr(0, 256));
    if (auto t = node.attr("t")) {
        bool ok = true;
        auto v = number<std::int64_t>(*t, std::int64_t{1} << 40, ok);
        if (!ok) return bad("message t is not a time");
        env.timestamp = *v;
    }
    if (auto ty = node.attr("type")) env.type = std::string(ty->substr(0, 32));
    if (auto e = node.attr("edit")) env.edit = std::string(e->substr(0, 8));
    if (auto m = node.attr("addressing_mode")) {
        if (*m == "lid") env.addressing_mode = AddressingMode::lid;
        else if (*m == "pn") env.addressing_mode = AddressingMode::pn;
    }

    const JidKind kind = from->kind();
    if (kind == JidKind::group || kind == JidKind::broadcast) {
        if (!env.participant || !env.participant->is_user())
            return bad("group message without a user in participant");
        env.group = true;
        env.chat = from->without_device();
        env.sender = *env.participant;
        env.from_me = same_user(env.sender, own);
    } else if (from->is_user()) {
        env.sender = *from;
        if (same_user(*from, own)) {
            env.from_me = true;
            // Our own phone's DM to someone names them; with no recipient
            // it is a message to ourselves (peer messages, notes to self).
            env.chat = env.recipient && env.recipient->is_user() ? env.recipient->without_device()
                                                                 : from->without_device();
        } else {
            env.chat = from->without_device();
        }
    } else {
        return bad("message from a JID that is neither a user nor a group");
    }

    learn(env.lid_pairs, env.sender, node.attr_jid("sender_lid"));
    learn(env.lid_pairs, env.sender, node.attr_jid("sender_pn"));
    learn(env.lid_pairs, env.participant, node.attr_jid("participant_lid"));
    learn(env.lid_pairs, env.participant, node.attr_jid("participant_pn"));
    learn(env.lid_pairs, env.recipient, node.attr_jid("recipient_lid"));
    learn(env.lid_pairs, env.recipient, node.attr_jid("recipient_pn"));
    learn(env.lid_pairs, env.recipient, node.attr_jid("peer_recipient_lid"));
    learn(env.lid_pairs, env.recipient, node.attr_jid("peer_recipient_pn"));

    if (const binary::Children* children = node.children()) {
        for (const Node& child : *children) {
            if (child.tag != "enc") continue;
            if (env.encs.size() >= 8) return bad("message with more than 8 <enc>");
            Result<EncPart> part = parse_enc(child);
            if (!part) return part.error();
            env.encs.push_back(std::move(part).value());
        }
    }
    return env;
}

}  // namespace chatwoot::wa::message
