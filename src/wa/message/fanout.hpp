// Which devices one message goes to, and the participant hash that tells
// the server which set we used (waweb.md 1.14-1.16, waweb-2026.md 4).
//
//   DM:     every device of the recipient, and every device of our own
//           account but the one sending (our phone and other companions
//           get a DeviceSentMessage so their chat shows what we sent).
//   group:  every device of every member (us included, minus the sending
//           device); hosted devices are left out (they get group
//           messages from the server, not from us).
//
// phash = "2:" + base64(SHA-256(the sorted ADStrings joined)[0..6]) with
// ADString = "user.agent:device@server" (agent and device always written,
// "123.0:5@lid"); the server's ack carries its own when ours is stale.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "wa/binary/jid.hpp"

namespace chatwoot::wa::message {

bool is_hosted(const binary::Jid& device);

// "user.agent:device@server".
std::string ad_string(const binary::Jid& device);

// Recipient devices first, then our own; duplicates and `sender` dropped,
// order otherwise kept (the stanza lists them in this order).
std::vector<binary::Jid> dm_fanout(std::span<const binary::Jid> recipient_devices,
                                   std::span<const binary::Jid> own_devices,
                                   const binary::Jid& sender);

// Every member device, hosted ones and `sender` dropped, duplicates too.
std::vector<binary::Jid> group_fanout(std::span<const binary::Jid> member_devices,
                                      const binary::Jid& sender);

// The phash of `devices` (order does not matter).
std::string participant_hash(std::span<const binary::Jid> devices);

}  // namespace chatwoot::wa::message
