// One chat per person, whatever form their id arrives in (waweb-2026.md
// section 7: peers' top bug is a second contact for the same person, one
// for the phone number and one for the LID).
//
// A person writes as "<phone>@s.whatsapp.net" (PN) or "<lid>@lid" (LID),
// and which one can change from one message to the next.  The chat the
// bridge files a message under, and so the Chatwoot contact's identifier,
// is chosen once and then kept:
//   1. the form that already has a chat (a chats row, or messages waiting
//      to be posted): the contact exists under it, keep it stable;
//   2. else the PN when the mapping is known (a phone number is what
//      agents recognise);
//   3. else the form it came in (a LID we cannot map yet).
// When both forms have a chat (the mapping was learned after each wrote),
// the PN one wins, for the same reason as 2.
#pragma once

#include <optional>
#include <string>

namespace chatwoot::bridge {

struct ChatForms {
    std::string arrived;                 // the chat JID as the stanza gave it
    std::optional<std::string> pn;       // "<phone>@s.whatsapp.net", when known
    std::optional<std::string> lid;      // "<lid>@lid", when known
    bool pn_has_chat = false;
    bool lid_has_chat = false;
};

std::string chat_identity(const ChatForms& forms);

}  // namespace chatwoot::bridge
