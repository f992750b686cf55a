// The Message protobufs we send (waweb.md 1.14, 1.16): an agent's text,
// with a quote when it answers a message; a revoke; the wrappers a
// fan-out needs (DeviceSentMessage for our own other devices, the SKDM
// carrier for group members).
//
// Builders only: no ids, no time, no randomness, so a resend after a crash
// rebuilds the same bytes from the same outbox entry.
#pragma once

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

// Delete-for-everyone of our own message `id` in `chat`.
proto::Message revoke_message(const binary::Jid& chat, std::string_view id);

// What our own other devices get instead of `message`: they must learn
// which chat it went to (destinationJid, the chat JID without device).
proto::Message device_sent_message(const binary::Jid& destination, const proto::Message& message);

// Our sender key for `group`, alone (to a member that needs it but gets the
// skmsg for the content) or merged into a 1:1 payload.
proto::Message sender_key_message(const binary::Jid& group, ByteView skdm);

}  // namespace chatwoot::wa::message
