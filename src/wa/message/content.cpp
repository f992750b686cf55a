#include "wa/message/content.hpp"

namespace chatwoot::wa::message {

namespace {

using proto::Message;

// Bounds the wrapper chain: a hostile Message could nest them deeply, and
// protobuf has already bounded the depth at parse time, but each level
// here costs nothing to refuse.
constexpr int kMaxWrappers = 8;

std::optional<std::string> quoted_id(const proto::ContextInfo& c)
{
    if (c.has_stanzaid() && !c.stanzaid().empty()) return c.stanzaid();
    return std::nullopt;
}

template <typename M>
std::optional<std::string> reply_of(const M& m)
{
    return m.has_contextinfo() ? quoted_id(m.contextinfo()) : std::nullopt;
}

Content placeholder(std::string kind, std::string caption = {},
                    std::optional<std::string> reply = std::nullopt)
{
    Content c;
    c.kind = Content::Kind::placeholder;
    c.placeholder = std::move(kind);
    c.caption = std::move(caption);
    c.reply_to = std::move(reply);
    return c;
}

template <typename M>
MediaRef media_of(const M& m, std::string type)
{
    MediaRef r;
    r.type = std::move(type);
    r.media_key = m.mediakey();
    r.file_sha256 = m.filesha256();
    r.file_enc_sha256 = m.fileencsha256();
    if (m.has_filelength()) r.file_length = m.filelength();
    r.direct_path = m.directpath();
    r.url = m.url();
    r.mimetype = m.mimetype();
    return r;
}

bool is_view_once_wrapper(const Message& m)
{
    return m.has_viewoncemessage() || m.has_viewoncemessagev2()
           || m.has_viewoncemessagev2extension();
}

// A text message's text, when the Message is one (used for edits too).
std::optional<std::string> plain_text(const Message& m)
{
    if (m.has_conversation()) return m.conversation();
    if (m.has_extendedtextmessage()) return m.extendedtextmessage().text();
    if (m.has_imagemessage()) return m.imagemessage().caption();
    if (m.has_videomessage()) return m.videomessage().caption();
    if (m.has_documentmessage()) return m.documentmessage().caption();
    return std::nullopt;
}

const Message* unwrap(const Message& m)
{
    if (m.has_ephemeralmessage()) return &m.ephemeralmessage().message();
    if (m.has_viewoncemessage()) return &m.viewoncemessage().message();
    if (m.has_viewoncemessagev2()) return &m.viewoncemessagev2().message();
    if (m.has_viewoncemessagev2extension()) return &m.viewoncemessagev2extension().message();
    if (m.has_documentwithcaptionmessage()) return &m.documentwithcaptionmessage().message();
    if (m.has_editedmessage()) return &m.editedmessage().message();
    return nullptr;
}

std::optional<Content> protocol(const Message::ProtocolMessage& p)
{
    if (!p.has_type()) return std::nullopt;
    Content c;
    c.target = p.key().id();
    switch (p.type()) {
    case Message::ProtocolMessage::REVOKE:
        if (c.target.empty()) return std::nullopt;
        c.kind = Content::Kind::revoke;
        return c;
    case Message::ProtocolMessage::MESSAGE_EDIT: {
        if (c.target.empty() || !p.has_editedmessage()) return std::nullopt;
        const Message* edited = &p.editedmessage();
        for (int i = 0; i < kMaxWrappers; ++i) {
            const Message* inner = unwrap(*edited);
            if (inner == nullptr) break;
            edited = inner;
        }
        auto text = plain_text(*edited);
        if (!text) return std::nullopt;
        c.kind = Content::Kind::edit;
        c.text = std::move(*text);
        return c;
    }
    default:
        // History sync notifications, app-state keys, ephemeral settings...:
        // the session's business, nothing for agents.
        return std::nullopt;
    }
}

// Nothing but device-list metadata (what a sender-key-only skmsg or an
// empty wrapper leaves): no content.
bool only_context_info(const Message& m)
{
    Message rest(m);
    rest.clear_messagecontextinfo();
    return rest.ByteSizeLong() == 0;
}

}  // namespace

std::optional<Content> extract_content(const Message& message)
{
    const Message* m = &message;
    std::string destination;
    bool view_once = false;
    for (int i = 0; i < kMaxWrappers; ++i) {
        if (m->has_devicesentmessage()) {
            if (destination.empty()) destination = m->devicesentmessage().destinationjid();
            m = &m->devicesentmessage().message();
            continue;
        }
        const Message* inner = unwrap(*m);
        if (inner == nullptr) break;
        if (is_view_once_wrapper(*m)) view_once = true;
        m = inner;
    }

    std::optional<Content> out;
    if (m->has_protocolmessage()) {
        out = protocol(m->protocolmessage());
    } else if (m->has_reactionmessage()) {
        const auto& r = m->reactionmessage();
        if (r.key().id().empty()) return std::nullopt;
        out.emplace();
        out->kind = Content::Kind::reaction;
        out->target = r.key().id();
        out->text = r.text();
    } else if (m->has_conversation() && !m->conversation().empty()) {
        out.emplace();
        out->text = m->conversation();
    } else if (m->has_extendedtextmessage()) {
        const auto& e = m->extendedtextmessage();
        out.emplace();
        out->text = e.text();
        out->reply_to = reply_of(e);
    } else if (m->has_locationmessage() || m->has_livelocationmessage()) {
        Location loc;
        std::optional<std::string> reply;
        if (m->has_locationmessage()) {
            const auto& l = m->locationmessage();
            loc = {l.degreeslatitude(), l.degreeslongitude(), l.name(), l.address(), l.islive()};
            reply = reply_of(l);
        } else {
            const auto& l = m->livelocationmessage();
            loc = {l.degreeslatitude(), l.degreeslongitude(), {}, l.caption(), true};
            reply = reply_of(l);
        }
        out.emplace();
        out->kind = Content::Kind::location;
        out->location = std::move(loc);
        out->reply_to = std::move(reply);
    } else if (m->has_contactmessage()) {
        const auto& c = m->contactmessage();
        out.emplace();
        out->kind = Content::Kind::contacts;
        out->contacts.push_back({c.displayname(), c.vcard()});
        out->reply_to = reply_of(c);
    } else if (m->has_contactsarraymessage()) {
        const auto& a = m->contactsarraymessage();
        out.emplace();
        out->kind = Content::Kind::contacts;
        out->contacts_title = a.displayname();
        for (const auto& c : a.contacts()) out->contacts.push_back({c.displayname(), c.vcard()});
        out->reply_to = reply_of(a);
    } else if (m->has_imagemessage()) {
        const auto& i = m->imagemessage();
        out = placeholder("image", i.caption(), reply_of(i));
        out->media = media_of(i, "image");
        view_once = view_once || i.viewonce();
    } else if (m->has_videomessage()) {
        const auto& v = m->videomessage();
        out = placeholder("video", v.caption(), reply_of(v));
        out->media = media_of(v, v.gifplayback() ? "gif" : "video");
        view_once = view_once || v.viewonce();
    } else if (m->has_ptvmessage()) {
        const auto& v = m->ptvmessage();
        out = placeholder("video note", {}, reply_of(v));
        out->media = media_of(v, "ptv");
    } else if (m->has_audiomessage()) {
        const auto& a = m->audiomessage();
        out = placeholder(a.ptt() ? "voice message" : "audio", {}, reply_of(a));
        out->media = media_of(a, a.ptt() ? "ptt" : "audio");
        view_once = view_once || a.viewonce();
    } else if (m->has_documentmessage()) {
        const auto& d = m->documentmessage();
        std::string caption = d.caption();
        if (caption.empty()) caption = d.filename();
        out = placeholder("document", std::move(caption), reply_of(d));
        out->media = media_of(d, "document");
        out->media->file_name = d.filename();
    } else if (m->has_stickermessage()) {
        out = placeholder("sticker", {}, reply_of(m->stickermessage()));
        out->media = media_of(m->stickermessage(), "sticker");
    } else if (m->has_senderkeydistributionmessage() ||
               m->has_fastratchetkeysenderkeydistributionmessage() ||
               m->has_encreactionmessage()) {
        // A sender key alone (the skmsg carries the content), or an
        // encrypted poll-vote style reaction we cannot open.
        return std::nullopt;
    } else if (only_context_info(*m)) {
        return std::nullopt;
    } else {
        // Polls, calls, payments, events, lists...: say so rather than stay
        // silent.  Unknown fields show what it was not; the name is generic.
        out = placeholder("message");
    }
    if (out) {
        out->destination = std::move(destination);
        if (view_once && out->media) {
            out->view_once = true;
            out->media.reset();
        }
    }
    return out;
}

}  // namespace chatwoot::wa::message
