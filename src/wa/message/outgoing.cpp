#include "wa/message/outgoing.hpp"

namespace chatwoot::wa::message {

proto::Message text_message(std::string_view text, const std::optional<Quote>& quote)
{
    proto::Message m;
    if (!quote) {
        m.set_conversation(std::string(text));
        return m;
    }
    auto* ext = m.mutable_extendedtextmessage();
    ext->set_text(std::string(text));
    auto* ctx = ext->mutable_contextinfo();
    ctx->set_stanzaid(quote->id);
    if (!quote->sender.empty()) ctx->set_participant(quote->sender);
    // The clients draw the quote from quotedMessage; without it they show
    // the reply alone.  An empty conversation still links the two.
    if (quote->quoted)
        *ctx->mutable_quotedmessage() = *quote->quoted;
    else
        ctx->mutable_quotedmessage()->set_conversation("");
    return m;
}

proto::Message revoke_message(const binary::Jid& chat, std::string_view id)
{
    proto::Message m;
    auto* pm = m.mutable_protocolmessage();
    pm->set_type(proto::Message::ProtocolMessage::REVOKE);
    auto* key = pm->mutable_key();
    key->set_remotejid(chat.without_device().to_string());
    key->set_fromme(true);
    key->set_id(std::string(id));
    return m;
}

proto::Message device_sent_message(const binary::Jid& destination, const proto::Message& message)
{
    proto::Message m;
    auto* dsm = m.mutable_devicesentmessage();
    dsm->set_destinationjid(destination.without_device().to_string());
    *dsm->mutable_message() = message;
    // The receiving device reads the context of the inner message; the
    // clients copy messageContextInfo to the wrapper as well.
    if (message.has_messagecontextinfo())
        *m.mutable_messagecontextinfo() = message.messagecontextinfo();
    return m;
}

proto::Message sender_key_message(const binary::Jid& group, ByteView skdm)
{
    proto::Message m;
    auto* d = m.mutable_senderkeydistributionmessage();
    d->set_groupid(group.to_string());
    d->set_axolotlsenderkeydistributionmessage(std::string(as_chars(skdm)));
    return m;
}

}  // namespace chatwoot::wa::message
