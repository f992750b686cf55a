// A history-sync chunk as plain values (waweb.md 1.18): the conversations
// the phone sends a new companion, each with its stored messages, plus the
// push names and phone-number/LID pairs it knows.
//
// Only what the bridge imports is kept: who, which message, when, and the
// text.  Messages of other kinds (media, system entries) are still listed,
// without text, so a caller can count or skip them knowingly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/message/content.hpp"

namespace chatwoot::wa::history {

// HistorySync.syncType; `unknown` when absent or a value we do not know.
enum class HistorySyncType : std::uint8_t {
    initial_bootstrap = 0,
    initial_status_v3 = 1,
    full = 2,
    recent = 3,
    push_name = 4,
    non_blocking_data = 5,
    on_demand = 6,
    unknown = 255,
};

struct HistoryMessage {
    std::string chat_jid;     // key.remoteJid; the conversation's id when left out
    std::string id;           // key.id
    bool from_me = false;     // key.fromMe
    std::string participant;  // a group message's author (key.participant, else participant)
    std::uint64_t timestamp = 0;  // messageTimestamp, seconds
    std::string push_name;        // the author's name as the phone saw it
    // Message.conversation, or extendedTextMessage.text, also inside an
    // ephemeral or view-once wrapper; nullopt for every other kind.
    std::optional<std::string> text;
    // When there is no text: what it is ("image", "location", "reaction",
    // "poll"...; message::extract_content's names), "" when nothing a
    // person wrote (a system entry, a protocol message, no content).
    std::string kind;
    std::string caption;  // a media message's caption
    // A media message's file, for a later download (not view-once media,
    // which WhatsApp shows on the phone only).
    std::optional<message::MediaRef> media;
};

struct HistoryConversation {
    std::string jid;      // Conversation.id: the chat
    std::string name;     // a group's subject or a saved contact name, if sent
    std::string pn_jid;   // the chat's phone-number JID, when the id is a LID
    std::string lid_jid;  // the chat's LID, when the id is a phone number
    // The contact's trusted-contact token for us and its time (seconds);
    // empty when not sent.
    Bytes tc_token;
    std::uint64_t tc_token_timestamp = 0;
    std::vector<HistoryMessage> messages;  // in the order the phone sent them
};

struct HistoryPushName {
    std::string jid;
    std::string name;
};

struct HistoryJidMapping {
    std::string pn_jid;
    std::string lid_jid;
};

struct HistorySyncData {
    HistorySyncType type = HistorySyncType::unknown;
    std::uint32_t chunk_order = 0;
    std::uint32_t progress = 0;  // percent
    std::vector<HistoryConversation> conversations;
    std::vector<HistoryPushName> push_names;
    std::vector<HistoryJidMapping> jid_mappings;
    Bytes nct_salt;  // the cstoken salt, when the chunk carries it
    // Entries dropped because they could not name a message: no key or no
    // message id.
    std::size_t skipped_messages = 0;
};

// The inflated HistorySync protobuf to values.  Bytes that are not a valid
// encoding: Errc::malformed (protobuf also bounds nesting).
Result<HistorySyncData> parse_history_sync(ByteView inflated);

}  // namespace chatwoot::wa::history
