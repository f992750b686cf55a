#include "wa/message/message_stanza.hpp"

#include <algorithm>

namespace chatwoot::wa::message {

using binary::Children;
using binary::Node;

Result<Node> build_message_stanza(const MessageStanza& m)
{
    const bool any_pkmsg = std::any_of(m.participants.begin(), m.participants.end(),
                                       [](const DeviceEnc& d) {
                                           return d.enc.type == signal::MessageType::pkmsg;
                                       });
    if (any_pkmsg && m.device_identity.empty())
        return make_error(Errc::wrong_state, "message stanza: a pkmsg needs our device identity");
    if (m.participants.empty() && !m.skmsg)
        return make_error(Errc::wrong_state, "message stanza: no device to deliver to");
    if (m.tctoken && m.cstoken)
        return make_error(Errc::wrong_state, "message stanza: both a tctoken and a cstoken");

    Node msg("message");
    msg.set_attr("id", m.id);
    msg.set_attr("to", m.to);
    msg.set_attr("type", m.type);
    if (m.addressing_mode) msg.set_attr("addressing_mode", addressing_mode_name(*m.addressing_mode));
    if (m.phash) msg.set_attr("phash", *m.phash);
    if (m.peer_recipient_pn) msg.set_attr("peer_recipient_pn", m.peer_recipient_pn->without_device());

    Children content;
    if (!m.participants.empty()) {
        Children tos;
        tos.reserve(m.participants.size());
        for (const DeviceEnc& d : m.participants) {
            Node enc("enc", {}, d.enc.ciphertext);
            enc.set_attr("v", "2");
            enc.set_attr("type", signal::enc_type(d.enc.type));
            if (m.retry_count) enc.set_attr("count", std::to_string(*m.retry_count));
            if (m.mediatype) enc.set_attr("mediatype", *m.mediatype);
            Node to("to", {}, Children{std::move(enc)});
            to.set_attr("jid", d.device);
            tos.push_back(std::move(to));
        }
        content.push_back(Node("participants", {}, std::move(tos)));
    }
    if (m.skmsg) {
        Node enc("enc", {}, *m.skmsg);
        enc.set_attr("v", "2");
        enc.set_attr("type", "skmsg");
        if (m.mediatype) enc.set_attr("mediatype", *m.mediatype);
        content.push_back(std::move(enc));
    }
    if (any_pkmsg) content.push_back(Node("device-identity", {}, m.device_identity));
    if (m.tctoken) content.push_back(Node("tctoken", {}, *m.tctoken));
    if (m.cstoken) content.push_back(Node("cstoken", {}, *m.cstoken));
    msg.content = std::move(content);
    return msg;
}

Result<Node> build_retry_stanza(std::string_view id, const binary::Jid& to,
                                const std::optional<binary::Jid>& participant,
                                const signal::EncryptedMessage& enc, unsigned count,
                                ByteView device_identity, const std::optional<std::string>& mediatype)
{
    const bool pkmsg = enc.type == signal::MessageType::pkmsg;
    if (pkmsg && device_identity.empty())
        return make_error(Errc::wrong_state, "retry stanza: a pkmsg needs our device identity");
    Node msg("message");
    msg.set_attr("id", id);
    msg.set_attr("to", to);
    msg.set_attr("type", mediatype ? "media" : "text");
    if (participant) msg.set_attr("participant", *participant);
    Node e("enc", {}, enc.ciphertext);
    e.set_attr("v", "2");
    e.set_attr("type", signal::enc_type(enc.type));
    e.set_attr("count", std::to_string(count));
    if (mediatype) e.set_attr("mediatype", *mediatype);
    Children content{std::move(e)};
    if (pkmsg) content.push_back(Node("device-identity", {}, Bytes(device_identity.begin(), device_identity.end())));
    msg.content = std::move(content);
    return msg;
}

Result<Node> build_peer_stanza(std::string_view id, const binary::Jid& to,
                               const signal::EncryptedMessage& enc, ByteView device_identity)
{
    if (!to.is_user() || to.has_device())
        return make_error(Errc::wrong_state, "peer stanza: to must be our user, not a device: " + to.to_string());
    const bool pkmsg = enc.type == signal::MessageType::pkmsg;
    if (pkmsg && device_identity.empty())
        return make_error(Errc::wrong_state, "peer stanza: a pkmsg needs our device identity");
    Node msg("message");
    msg.set_attr("id", id);
    msg.set_attr("to", to);
    msg.set_attr("type", "text");
    msg.set_attr("category", "peer");
    msg.set_attr("push_priority", "high_force");
    Node e("enc", {}, enc.ciphertext);
    e.set_attr("v", "2");
    e.set_attr("type", signal::enc_type(enc.type));
    Children content{std::move(e)};
    if (pkmsg) content.push_back(Node("device-identity", {}, Bytes(device_identity.begin(), device_identity.end())));
    Node meta("meta");
    meta.set_attr("appdata", "default");
    content.push_back(std::move(meta));
    msg.content = std::move(content);
    return msg;
}

}  // namespace chatwoot::wa::message
