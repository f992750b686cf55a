// The <ack> the server expects for each stanza it delivers (waweb.md 1.17,
// whatsmeow receipt.go): until it gets one it redelivers, and unacked
// stanzas pile up on the server for this device.
//
//   <ack class=<stanza tag> id=<id> to=<from> [participant] [recipient]
//        [type (not for messages)] [error=<code>]/>
//
// A stanza we cannot handle is acked too, with an error code (a "nack"),
// so the server stops redelivering something we will never understand.
#pragma once

#include <string_view>

#include "wa/binary/node.hpp"
#include "wa/binary/node_view.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::session {

// Nack codes (whatsmeow message.go; waweb.md 1.17).
inline constexpr int nack_parsing_error = 487;
inline constexpr int nack_unrecognized_stanza = 488;
inline constexpr int nack_unrecognized_class = 489;
inline constexpr int nack_unrecognized_type = 490;
inline constexpr int nack_invalid_protobuf = 491;
inline constexpr int nack_missing_message_secret = 495;
inline constexpr int nack_old_counter = 496;
inline constexpr int nack_unhandled_error = 500;

// <message>, <receipt>, <notification> and <call>.
bool needs_ack(const binary::Node& stanza);
bool needs_ack(const binary::NodeView& stanza);

// The ack (or, with a nonzero `error`, nack) for `stanza`.  Attribute
// values are copied with their wire form, so a JID goes back as the JID it
// came as.  Errc::malformed when the stanza has no id or no from: there is
// nothing to address the ack to.
Result<binary::Node> build_ack(const binary::Node& stanza, int error = 0);
// The same from a view (the receive loop's), copying only what the ack
// repeats.
Result<binary::Node> build_ack(const binary::NodeView& stanza, int error = 0);

}  // namespace chatwoot::wa::session
