// A WhatsApp message event as JSON: how a device hands it over and how the
// store keeps it until it is in Chatwoot.
//
//   {"id":"3EB0A1","chat":"5511987654321@s.whatsapp.net",
//    "sender":"5511987654321@s.whatsapp.net","push_name":"Maria",
//    "chat_name":"","from_me":false,"text":"Olá","reply_to":null}
//
// id, chat and text are required; chat must be a valid chat JID (no
// device); the rest default to empty/false/null.  Kinds other than a plain
// message carry "kind" ("reaction", "revoke", "edit", "read") and their
// reference: "target" (reaction, revoke, edit; required) or "targets" (read;
// a non-empty array of ids); text may then be absent (reaction: the emoji,
// edit: the new text).  "t" is WhatsApp's timestamp (unix seconds).
// "wa_chat" and "wa_sender" are the chat and the author as WhatsApp
// addressed them (LID or phone number), when not the same as chat and
// sender.
#pragma once

#include "forward_job.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace chatwoot::bridge {

// nullopt with *error set when the JSON is not such an event.
std::optional<WaMessage> parse_wa_message(std::string_view json, std::string* error);

std::string to_json(const WaMessage& m);

}  // namespace chatwoot::bridge
