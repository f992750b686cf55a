// The Message protobufs we send (waweb.md 1.14, 1.16): an agent's text,
// with a quote when it answers a message; a revoke; the wrappers a
// fan-out needs (DeviceSentMessage for our own other devices, the SKDM
// carrier for group members).
//
// Builders only: no ids, no time, no randomness, so a resend after a crash
// rebuilds the same bytes from the same outbox entry.
#pragma once

#include <cstdint>
#include "wa/error.hpp"

#include <optional>
#include <string>
#include <string_view>

#include "wa/binary/jid.hpp"
#include "wa/bytes.hpp"
#include "wa/proto/message.pb.h"

namespace chatwoot::wa::message {

// The message an agent's reply answers.
struct Quote {
    std::string id;                 // its WhatsApp id (contextInfo.stanzaId)
    std::string sender;             // its author's JID: required by the
                                    // clients to show the quote; in a DM the
                                    // contact's or our own user JID
    std::optional<proto::Message> quoted;  // its content when we still have it
};

// A text.  Plain `conversation` without a quote (what the clients send for
// plain text); extendedTextMessage with contextInfo when quoting.
proto::Message text_message(std::string_view text, const std::optional<Quote>& quote = {});

// An uploaded file as a message carries it (waweb.md 2): the fields a
// recipient fetches, checks and decrypts it with, and shows.
struct MediaContent {
    std::string kind;               // image, video, audio, ptt, document, sticker
    std::string url;
    std::string direct_path;
    std::string media_key;          // 32 bytes
    std::string file_sha256;
    std::string file_enc_sha256;
    std::uint64_t file_length = 0;
    std::int64_t media_key_timestamp = 0;
    std::string mimetype;
    std::string file_name;          // documents: fileName and title
    std::string thumbnail;          // JPEG
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::uint32_t seconds = 0;
    std::string waveform;
    bool gif_playback = false;
};

// imageMessage, videoMessage (gifPlayback), audioMessage (ptt, waveform),
// documentMessage (fileName, title; with a caption inside
// documentWithCaptionMessage, as the clients send it), stickerMessage.  A
// caption on a kind that shows none (audio, ptt, sticker) is not set; the
// quote's contextInfo goes on the media message.  Errc::malformed for an
// unknown kind.
Result<proto::Message> media_message(const MediaContent& media, std::string_view caption,
                                     const std::optional<Quote>& quote = {});

// The <enc mediatype=...> of a media message's stanza: image, video, gif,
// audio, ptt, document or sticker (the clients' names).
std::string_view media_enc_type(const MediaContent& media);

// The mediatype of a message we sent, read back from its protobuf (a
// resend for a retry receipt goes as type="media" like the first time);
// nullopt for one that carries no media.
std::optional<std::string> sent_media_type(const proto::Message& message);

// Delete-for-everyone of our own message `id` in `chat`.
proto::Message revoke_message(const binary::Jid& chat, std::string_view id);

// Asks our phone for up to `count` messages of `chat` older than the one
// named (the oldest the companion has; its id, whether we sent it, and its
// time in milliseconds): a peer data operation of type
// HISTORY_SYNC_ON_DEMAND, which the phone answers with an ON_DEMAND history
// sync chunk (waweb.md 1.18).
struct HistoryOnDemand {
    binary::Jid chat;
    std::string oldest_id;
    bool oldest_from_me = false;
    std::int64_t oldest_timestamp_ms = 0;
    std::int32_t count = 50;
};
proto::Message history_request_message(const HistoryOnDemand& request);

// What our own other devices get instead of `message`: they must learn
// which chat it went to (destinationJid, the chat JID without device).
proto::Message device_sent_message(const binary::Jid& destination, const proto::Message& message);

// Our sender key for `group`, alone (to a member that needs it but gets the
// skmsg for the content) or merged into a 1:1 payload.
proto::Message sender_key_message(const binary::Jid& group, ByteView skdm);

}  // namespace chatwoot::wa::message
