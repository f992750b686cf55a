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

namespace {

void set_quote(proto::ContextInfo* ctx, const Quote& quote)
{
    ctx->set_stanzaid(quote.id);
    if (!quote.sender.empty()) ctx->set_participant(quote.sender);
    if (quote.quoted)
        *ctx->mutable_quotedmessage() = *quote.quoted;
    else
        ctx->mutable_quotedmessage()->set_conversation("");
}

}  // namespace

Result<proto::Message> media_message(const MediaContent& f, std::string_view caption,
                                     const std::optional<Quote>& quote)
{
    proto::Message m;
    const std::string cap(caption);
    if (f.kind == "image") {
        auto* x = m.mutable_imagemessage();
        x->set_url(f.url);
        x->set_mimetype(f.mimetype);
        if (!cap.empty()) x->set_caption(cap);
        x->set_filesha256(f.file_sha256);
        x->set_filelength(f.file_length);
        if (f.height) x->set_height(f.height);
        if (f.width) x->set_width(f.width);
        x->set_mediakey(f.media_key);
        x->set_fileencsha256(f.file_enc_sha256);
        x->set_directpath(f.direct_path);
        x->set_mediakeytimestamp(f.media_key_timestamp);
        if (!f.thumbnail.empty()) x->set_jpegthumbnail(f.thumbnail);
        if (quote) set_quote(x->mutable_contextinfo(), *quote);
    } else if (f.kind == "video") {
        auto* x = m.mutable_videomessage();
        x->set_url(f.url);
        x->set_mimetype(f.mimetype);
        x->set_filesha256(f.file_sha256);
        x->set_filelength(f.file_length);
        if (f.seconds) x->set_seconds(f.seconds);
        x->set_mediakey(f.media_key);
        if (!cap.empty()) x->set_caption(cap);
        if (f.gif_playback) x->set_gifplayback(true);
        if (f.height) x->set_height(f.height);
        if (f.width) x->set_width(f.width);
        x->set_fileencsha256(f.file_enc_sha256);
        x->set_directpath(f.direct_path);
        x->set_mediakeytimestamp(f.media_key_timestamp);
        if (!f.thumbnail.empty()) x->set_jpegthumbnail(f.thumbnail);
        if (quote) set_quote(x->mutable_contextinfo(), *quote);
    } else if (f.kind == "audio" || f.kind == "ptt") {
        auto* x = m.mutable_audiomessage();
        x->set_url(f.url);
        x->set_mimetype(f.mimetype);
        x->set_filesha256(f.file_sha256);
        x->set_filelength(f.file_length);
        if (f.seconds) x->set_seconds(f.seconds);
        if (f.kind == "ptt") x->set_ptt(true);
        x->set_mediakey(f.media_key);
        x->set_fileencsha256(f.file_enc_sha256);
        x->set_directpath(f.direct_path);
        x->set_mediakeytimestamp(f.media_key_timestamp);
        if (!f.waveform.empty()) x->set_waveform(f.waveform);
        if (quote) set_quote(x->mutable_contextinfo(), *quote);
    } else if (f.kind == "document") {
        proto::Message inner;
        auto* x = (cap.empty() ? m : inner).mutable_documentmessage();
        x->set_url(f.url);
        x->set_mimetype(f.mimetype);
        x->set_title(f.file_name);
        x->set_filesha256(f.file_sha256);
        x->set_filelength(f.file_length);
        x->set_mediakey(f.media_key);
        x->set_filename(f.file_name);
        x->set_fileencsha256(f.file_enc_sha256);
        x->set_directpath(f.direct_path);
        x->set_mediakeytimestamp(f.media_key_timestamp);
        if (!f.thumbnail.empty()) x->set_jpegthumbnail(f.thumbnail);
        if (quote) set_quote(x->mutable_contextinfo(), *quote);
        if (!cap.empty()) {
            x->set_caption(cap);
            *m.mutable_documentwithcaptionmessage()->mutable_message() = std::move(inner);
        }
    } else if (f.kind == "sticker") {
        auto* x = m.mutable_stickermessage();
        x->set_url(f.url);
        x->set_filesha256(f.file_sha256);
        x->set_fileencsha256(f.file_enc_sha256);
        x->set_mediakey(f.media_key);
        x->set_mimetype(f.mimetype);
        if (f.height) x->set_height(f.height);
        if (f.width) x->set_width(f.width);
        x->set_directpath(f.direct_path);
        x->set_filelength(f.file_length);
        x->set_mediakeytimestamp(f.media_key_timestamp);
        if (quote) set_quote(x->mutable_contextinfo(), *quote);
    } else {
        return make_error(Errc::malformed, "media message: unknown kind \"" + f.kind.substr(0, 32) + "\"");
    }
    return m;
}

std::string_view media_enc_type(const MediaContent& f)
{
    if (f.kind == "video" && f.gif_playback) return "gif";
    if (f.kind == "image" || f.kind == "video" || f.kind == "audio" || f.kind == "ptt"
        || f.kind == "document" || f.kind == "sticker")
        return f.kind;
    return "document";
}

std::optional<std::string> sent_media_type(const proto::Message& m)
{
    if (m.has_imagemessage()) return "image";
    if (m.has_videomessage()) return m.videomessage().gifplayback() ? "gif" : "video";
    if (m.has_audiomessage()) return m.audiomessage().ptt() ? "ptt" : "audio";
    if (m.has_documentmessage()) return "document";
    if (m.has_stickermessage()) return "sticker";
    if (m.has_documentwithcaptionmessage() && m.documentwithcaptionmessage().has_message())
        return sent_media_type(m.documentwithcaptionmessage().message());
    return std::nullopt;
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

proto::Message history_request_message(const HistoryOnDemand& request)
{
    proto::Message m;
    auto* pm = m.mutable_protocolmessage();
    pm->set_type(proto::Message::ProtocolMessage::PEER_DATA_OPERATION_REQUEST_MESSAGE);
    auto* op = pm->mutable_peerdataoperationrequestmessage();
    op->set_peerdataoperationrequesttype(proto::Message::HISTORY_SYNC_ON_DEMAND);
    auto* ask = op->mutable_historysyncondemandrequest();
    ask->set_chatjid(request.chat.without_device().to_string());
    ask->set_oldestmsgid(request.oldest_id);
    ask->set_oldestmsgfromme(request.oldest_from_me);
    ask->set_ondemandmsgcount(request.count);
    ask->set_oldestmsgtimestampms(request.oldest_timestamp_ms);
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
