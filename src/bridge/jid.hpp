// WhatsApp addresses (JIDs) and how the bridge names them in Chatwoot.
//
// The JID itself (parsing, servers, kinds, devices) is protocol-level and
// lives in wa/binary/jid.hpp; the bridge uses that class under its own
// names so its code reads as before.  What is here is Chatwoot's view:
//   - A LID is not a phone number: its digits look like one but Chatwoot
//     would store a wrong phone (gowa.md, peers.md section 6).
//   - Chatwoot's phone_number must match /\+[1-9]\d{1,14}\z/ (E.164), and
//     identifier is unique per account (chatwoot/CONTRACT.md section 5.4).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "wa/binary/jid.hpp"

namespace chatwoot::bridge {

using wa::binary::Jid;
using wa::binary::jid_kind_name;
using wa::binary::JidKind;
using wa::binary::kMaxJidLength;
using wa::binary::kServerBroadcast;
using wa::binary::kServerGroup;
using wa::binary::kServerHosted;
using wa::binary::kServerHostedLid;
using wa::binary::kServerLegacyPhone;
using wa::binary::kServerLid;
using wa::binary::kServerNewsletter;
using wa::binary::kServerPhone;

// "+<digits>" for a phone-number JID whose user is a valid E.164 number
// (7..15 digits, not starting with 0); nullopt for everything else,
// notably LIDs, groups, and the 0@s.whatsapp.net service account.
std::optional<std::string> e164_from_jid(const Jid& jid);

// A phone number as people and Chatwoot write it -> its s.whatsapp.net JID.
// Accepts one optional leading '+', digits, and the separators space, '-',
// '.' and balanced, unnested parentheses; surrounding whitespace is
// ignored.  The digits must form a valid E.164 number (7..15 digits, first
// not 0), so national forms such as "(011) 5555-1234" are refused rather
// than guessed at.
std::optional<Jid> jid_from_phone(std::string_view phone);

// The contact identifier the bridge stores in Chatwoot: the chat JID
// without device, e.g. "5511999999999@s.whatsapp.net", "123456789012345@lid",
// "120363000000000000@g.us".  One value per chat, unique per account.
std::string chatwoot_identifier(const Jid& jid);

// Brazil's mobile ninth digit, for contact look-up only.  Brazilian mobile
// numbers gained a leading 9 (+55 DD 9XXXX-XXXX); WhatsApp accounts and
// Chatwoot contacts made before or by other tools may carry either form.
// Evolution API's mergeBrazilContacts (peers.md sections 1 and 2.7)
// searches Chatwoot for both: +55 with 13 digits -> drop the digit after
// the area code, +55 with 12 digits -> insert a 9 there.  Same rule here,
// except a digit is dropped only when it is a 9 (13-digit Brazilian
// numbers are the 9-prefixed mobiles).  Input and output are "+<digits>";
// nullopt when there is no other form.  Never use this to rewrite a JID
// WhatsApp gave us: WhatsApp's own JID is authoritative.
std::optional<std::string> brazil_ninth_digit_alternate(std::string_view e164);

}  // namespace chatwoot::bridge
