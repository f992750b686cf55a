// An agent's reply, from the queued webhook record to what WhatsApp gets:
// the chat it goes to, its text in WhatsApp formatting with the agent's
// signature, and the message it quotes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chatwoot::bridge {

// Between the agent's name and the text: the one default, which the
// chatwoot_inbox block's "agent_signature on delimiter=" overrides.
inline constexpr std::string_view kDefaultSignatureDelimiter = "\n\n";

struct SignatureOptions {
    bool enabled = true;
    std::string delimiter{kDefaultSignatureDelimiter};
};

struct AgentReply {
    std::string chat;                       // chat JID
    std::string text;                       // WhatsApp formatting
    std::optional<std::string> quoted;      // WhatsApp id of the quoted message
};

// From a queued record ({"inbox":..,"event":{"type":"send",...}}).  nullopt
// with *error when the reply cannot go to WhatsApp (say, a contact made in
// Chatwoot by hand, whose source id is no WhatsApp chat).
std::optional<AgentReply> agent_reply(std::string_view record,
                                      const SignatureOptions& signature,
                                      std::string* error);

}  // namespace chatwoot::bridge
