// An agent's reply, from the queued webhook record to what WhatsApp gets:
// the chat it goes to, its text in WhatsApp formatting with the agent's
// signature, and the message it quotes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::bridge {

// Between the agent's name and the text: the one default, which the
// chatwoot_inbox block's "agent_signature on delimiter=" overrides.
inline constexpr std::string_view kDefaultSignatureDelimiter = "\n\n";

struct SignatureOptions {
    bool enabled = true;
    std::string delimiter{kDefaultSignatureDelimiter};
};

// An attachment with a stored file, as Chatwoot's webhook gives it.
struct AgentAttachment {
    std::string data_url;
    std::string file_type;                  // image, audio, video, file
    std::string content_type;               // may be empty
    std::string file_name;                  // from the extension and data_url's last segment
    int64_t file_size = 0;
};

struct AgentReply {
    std::string chat;                       // chat JID
    // WhatsApp formatting, signed; the attachments' links appended: what a
    // device that sends no media (the synthetic one) sends.
    std::string text;
    std::optional<std::string> quoted;      // WhatsApp id of the quoted message
    // For a device that sends media: the attachments with a file, in
    // Chatwoot's order, and the caption that goes with the first (the
    // signed text, with the links of attachments that have no file).
    std::vector<AgentAttachment> attachments;
    std::string caption;
};

// From a queued record ({"inbox":..,"event":{"type":"send",...}}).  nullopt
// with *error when the reply cannot go to WhatsApp (say, a contact made in
// Chatwoot by hand, whose source id is no WhatsApp chat).
std::optional<AgentReply> agent_reply(std::string_view record,
                                      const SignatureOptions& signature,
                                      std::string* error);

}  // namespace chatwoot::bridge
