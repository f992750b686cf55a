// A received <message> stanza read into what the messages layer acts on
// (waweb.md sections 1.8 and 1.17), before anything is decrypted:
//
//   <message id from t type [notify] [participant] [recipient]
//            [category="peer"] [addressing_mode] [sender_lid|sender_pn]
//            [participant_lid|participant_pn] [peer_recipient_lid|_pn]
//            [recipient_lid|recipient_pn]>
//     <enc type="pkmsg|msg|skmsg" v="2" [count] [mediatype]>bytes</enc> ...
//   </message>
//
// Who is who:
//   - a group (or broadcast) message comes from the group with the sender
//     device in `participant`; the chat is the group;
//   - a DM comes from the sender device; the chat is that user;
//   - a message our own phone (or another of our devices) sent comes from
//     our own user: the chat is `recipient` when it names one (a DM our
//     phone wrote to someone), else ourselves (peer messages: app state
//     keys, history sync notifications).
// The attributes that carry the other form of an id (PN or LID) teach the
// PN <-> LID map; they are collected as pairs of users without device.
//
// Malformed stanzas give a reason (Errc::malformed with what is wrong);
// the parser reads attributes and children only, never past its input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/message/addressing.hpp"

namespace chatwoot::wa::message {

enum class EncType : std::uint8_t { pkmsg, msg, skmsg };

std::string_view enc_type_name(EncType type);

// One <enc> child.
struct EncPart {
    EncType type = EncType::msg;
    int version = 2;        // v: 2 (Message protobuf, padded) or 3 (not bridged)
    int count = 0;          // the sender's retry count; 0 on a first delivery
    std::string mediatype;  // a hint for the placeholder when it cannot be read
    Bytes ciphertext;
};

// A person's phone-number and LID user (JIDs without device).
struct LidPair {
    binary::Jid pn;
    binary::Jid lid;

    bool operator==(const LidPair&) const = default;
};

// Our own account, to tell our own messages from others'.
struct OwnAccount {
    std::string pn_user;   // the phone number, "" when unknown
    std::string lid_user;  // the LID user, "" when unknown
};


struct MessageEnvelope {
    std::string id;
    binary::Jid from;                        // as the stanza says
    binary::Jid chat;                        // the conversation (no device)
    binary::Jid sender;                      // the device that wrote it
    std::optional<binary::Jid> participant;  // groups and broadcasts
    std::optional<binary::Jid> recipient;    // our own messages to someone
    bool from_me = false;                    // written by our own account
    bool peer = false;                       // category="peer": our phone to us
    bool group = false;                      // chat is a group or a broadcast
    std::string push_name;                   // notify, may be empty
    std::int64_t timestamp = 0;              // t, unix seconds; 0 when absent
    std::string type;                        // text, media, reaction, poll...
    std::string edit;                        // the edit attribute, may be empty
    AddressingMode addressing_mode = AddressingMode::none;
    std::vector<LidPair> lid_pairs;          // learned from the attributes
    std::vector<EncPart> encs;               // in stanza order

    // The highest retry count among the parts (a resend carries it).
    int retry_count() const;
};

// `message` must be a <message> node.  Errc::malformed (with the reason)
// for a missing or bad id/from, a group message without participant, an
// <enc> without bytes or with an unknown type or version number.  A
// message with no <enc> at all parses (the caller decides: a plaintext
// newsletter or an unavailable message is not ours to decrypt).
Result<MessageEnvelope> parse_envelope(const binary::Node& message, const OwnAccount& own);

}  // namespace chatwoot::wa::message
