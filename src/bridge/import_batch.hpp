// What an import job hands to where it imports (issue 12): one chat's
// messages of the window, oldest first, read from the history tables
// (schema step 14) and the live path's mappings.  Two sinks take it: the
// REST path (Chatwoot's API, a message at a time, keyed "WAID:<id>") and
// the PostgreSQL path (Chatwoot's own tables, one transaction per chat,
// with WhatsApp's timestamps).  Plain values: the job reads them in one
// store read and the sink never touches the store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chatwoot::bridge {

struct ImportMessage {
    std::string wa_id;            // WhatsApp's message id; source_id "WAID:<wa_id>"
    int64_t timestamp = 0;        // unix seconds, as WhatsApp stamped it
    bool from_me = false;         // sent from our number: outgoing in Chatwoot
    std::string sender_jid;       // groups: who wrote it ("" in a 1:1 chat)
    std::string sender_name;      // groups: their push name or contact name
    std::string text;             // the content as the history has it: the
                                  // text, or a readable line for what is not
                                  // text ("[image] caption", a location...)
    bool operator==(const ImportMessage&) const = default;
};

struct ImportChat {
    std::string chat_jid;         // the form the live path keys the chat by
                                  // (bridge::chat_identity: one per person)
    bool is_group = false;
    std::string name;             // the contact's or the group's name
    std::string phone;            // E.164 ("+5511...") when known, else ""
    std::string identifier;       // the Chatwoot contact identifier the live
                                  // path uses for this chat
    std::vector<ImportMessage> messages;   // oldest first
    bool operator==(const ImportChat&) const = default;
};

}  // namespace chatwoot::bridge
