// What we tell a contact without a message: that an agent is typing, and
// that their messages were read (waweb.md 1.17).
//
//   <chatstate to="<chat>"><composing/> | <paused/></chatstate>
//   <receipt id="<first>" to="<chat>" type="read" t [participant]>
//     <list><item id="<second>"/> ...</list>
//   </receipt>
//
// Neither gets an ack worth waiting for: the caller is done once sent.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::message {

binary::Node chatstate_node(const binary::Jid& to, bool composing);

// Errc::wrong_state for no ids.  `participant` names the author of the
// messages in a group.
Result<binary::Node> read_receipt_node(const binary::Jid& to, std::span<const std::string> ids,
                                       const std::optional<binary::Jid>& participant,
                                       std::int64_t t);

}  // namespace chatwoot::wa::message
