// What a decrypted Message says, for the bridge (issue 10 "Kinds"): the
// wrappers unwrapped (deviceSentMessage, ephemeral, view-once, edited,
// documentWithCaption), then one of
//   text        conversation / extendedText, with the quoted id as reply_to
//   reaction    reactionMessage: the emoji on key.id ("" takes it back)
//   revoke      protocolMessage REVOKE of key.id
//   edit        protocolMessage MESSAGE_EDIT of key.id, with the new text
//   location    locationMessage / liveLocationMessage: coordinates, name, address
//   contacts    contactMessage / contactsArrayMessage: names and vCards
//   placeholder a kind not bridged yet (media, polls, calls...): its name
//               and caption, so agents see that something came
// or nothing to post (sender-key distributions alone, protocol messages
// such as history sync notifications and app-state keys).
//
// No text is formatted here: src/bridge/wa_content.hpp does that.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wa/proto/message.pb.h"

namespace chatwoot::wa::message {

struct Location {
    double latitude = 0;
    double longitude = 0;
    std::string name;
    std::string address;
    bool live = false;
};

struct ContactCard {
    std::string display_name;
    std::string vcard;
};

// Where a media message's file is and how to check it (waweb.md section
// 2): everything the download needs, kept in the message's row so that a
// download cut short by a crash starts again from the row.
struct MediaRef {
    std::string type;              // media_type_name(): "image", "video", "gif",
                                   // "audio", "ptt", "document", "sticker", "ptv"
    std::string media_key;         // 32 bytes
    std::string file_sha256;       // 32 bytes, or empty when not given
    std::string file_enc_sha256;   // 32 bytes, or empty when not given
    std::optional<std::uint64_t> file_length;
    std::string direct_path;
    std::string url;
    std::string mimetype;
    std::string file_name;         // documents
};

struct Content {
    enum class Kind { text, reaction, revoke, edit, location, contacts, placeholder };
    Kind kind = Kind::text;
    std::string text;                     // text, reaction emoji, edit's new text
    std::optional<std::string> reply_to;  // the quoted message id
    std::string target;                   // reaction, revoke, edit
    std::optional<Location> location;
    std::vector<ContactCard> contacts;
    std::string contacts_title;           // contactsArrayMessage's displayName
    std::string placeholder;              // "image", "video", "poll"...: its name
    std::string caption;                  // a placeholder's caption, may be empty
    // A placeholder's file, when it is media that can be downloaded; not
    // for view-once media (WhatsApp's rules: shown once on a phone only).
    std::optional<MediaRef> media;
    bool view_once = false;
    // Our own phone's message to someone (deviceSentMessage): whom.
    std::string destination;
};

// nullopt: nothing to post.
std::optional<Content> extract_content(const proto::Message& message);

}  // namespace chatwoot::wa::message
