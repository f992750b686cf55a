#include "wa/history/history_sync.hpp"

#include <utility>

#include "wa/proto/codec.hpp"
#include "wa/proto/history_sync.pb.h"
#include "wa/proto/message.pb.h"
#include "wa/message/content.hpp"

namespace chatwoot::wa::history {

namespace {

// Wrappers that only change how a message is shown (disappearing, view
// once) hold the real content one level down; the phone may stack two.
constexpr int kMaxUnwrap = 4;

const proto::Message* unwrap_one(const proto::Message& m)
{
    const proto::Message_FutureProofMessage* wrapper = nullptr;
    if (m.has_ephemeralmessage()) {
        wrapper = &m.ephemeralmessage();
    } else if (m.has_viewoncemessage()) {
        wrapper = &m.viewoncemessage();
    } else if (m.has_viewoncemessagev2()) {
        wrapper = &m.viewoncemessagev2();
    } else if (m.has_viewoncemessagev2extension()) {
        wrapper = &m.viewoncemessagev2extension();
    }
    if (wrapper == nullptr || !wrapper->has_message()) {
        return nullptr;
    }
    return &wrapper->message();
}

std::optional<std::string> text_of(const proto::Message& message)
{
    const proto::Message* m = &message;
    for (int depth = 0; depth <= kMaxUnwrap; ++depth) {
        if (m->has_conversation()) {
            return m->conversation();
        }
        if (m->has_extendedtextmessage() && m->extendedtextmessage().has_text()) {
            return m->extendedtextmessage().text();
        }
        m = unwrap_one(*m);
        if (m == nullptr) {
            break;
        }
    }
    return std::nullopt;
}

const char* content_kind_name(message::Content::Kind k)
{
    using K = message::Content::Kind;
    switch (k) {
    case K::text: return "text";
    case K::reaction: return "reaction";
    case K::revoke: return "revoke";
    case K::edit: return "edit";
    case K::location: return "location";
    case K::contacts: return "contacts";
    case K::placeholder: break;
    }
    return "";
}

// Not text: what the message is, its caption and its file (the live
// path's reading of a Message, so both paths name kinds alike).
void describe(const proto::Message& message, HistoryMessage& m)
{
    auto content = message::extract_content(message);
    if (!content) return;
    if (content->kind == message::Content::Kind::placeholder) {
        m.kind = content->placeholder;
        m.caption = content->caption;
        if (content->media && content->media->media_key.size() == 32) m.media = content->media;
        if (content->view_once) m.kind = "view-once " + m.kind;
    } else {
        m.kind = content_kind_name(content->kind);
    }
}

HistorySyncType type_of(const proto::HistorySync& sync)
{
    if (!sync.has_synctype()) {
        return HistorySyncType::unknown;
    }
    const int v = static_cast<int>(sync.synctype());
    if (v < 0 || v > static_cast<int>(HistorySyncType::on_demand)) {
        return HistorySyncType::unknown;
    }
    return static_cast<HistorySyncType>(v);
}

}  // namespace

Result<HistorySyncData> parse_history_sync(ByteView inflated)
{
    auto sync = proto::parse<proto::HistorySync>(inflated);
    if (!sync) {
        return make_error(sync.error().code, "history sync: " + sync.error().detail);
    }

    HistorySyncData out;
    out.type = type_of(*sync);
    out.chunk_order = sync->chunkorder();
    out.progress = sync->progress();

    out.conversations.reserve(static_cast<std::size_t>(sync->conversations_size()));
    for (const proto::Conversation& c : sync->conversations()) {
        HistoryConversation conv;
        conv.jid = c.id();
        conv.name = c.has_name() ? c.name() : c.displayname();
        conv.pn_jid = c.pnjid();
        conv.lid_jid = c.lidjid();
        if (c.has_tctoken()) {
            conv.tc_token.assign(c.tctoken().begin(), c.tctoken().end());
            conv.tc_token_timestamp = c.tctokentimestamp();
        }
        conv.messages.reserve(static_cast<std::size_t>(c.messages_size()));
        for (const proto::HistorySyncMsg& entry : c.messages()) {
            const proto::WebMessageInfo& info = entry.message();
            if (!entry.has_message() || !info.has_key() || info.key().id().empty()) {
                ++out.skipped_messages;
                continue;
            }
            const proto::MessageKey& key = info.key();
            HistoryMessage m;
            m.chat_jid = key.has_remotejid() ? key.remotejid() : conv.jid;
            m.id = key.id();
            m.from_me = key.fromme();
            m.participant = key.has_participant() ? key.participant() : info.participant();
            m.timestamp = info.messagetimestamp();
            m.push_name = info.pushname();
            if (info.has_message()) {
                m.text = text_of(info.message());
                if (!m.text) describe(info.message(), m);
            }
            conv.messages.push_back(std::move(m));
        }
        out.conversations.push_back(std::move(conv));
    }

    for (const proto::Pushname& p : sync->pushnames()) {
        out.push_names.push_back({p.id(), p.pushname()});
    }
    for (const proto::PhoneNumberToLIDMapping& m : sync->phonenumbertolidmappings()) {
        out.jid_mappings.push_back({m.pnjid(), m.lidjid()});
    }
    out.nct_salt.assign(sync->nctsalt().begin(), sync->nctsalt().end());
    return out;
}

}  // namespace chatwoot::wa::history
