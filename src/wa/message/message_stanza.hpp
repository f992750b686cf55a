// The <message> stanza we send (waweb.md 1.16, waweb-2026.md 3):
//
//   <message id to type="text" [addressing_mode] [phash]>
//     <participants>
//       <to jid="<device>"><enc v="2" type="pkmsg|msg" [count]>...</enc></to> ...
//     </participants>
//     [<enc v="2" type="skmsg">...</enc>]                         groups
//     [<device-identity>ADVSignedDeviceIdentity</device-identity>] iff a pkmsg
//     [<tctoken>...</tctoken> | <cstoken>...</cstoken>]           DMs
//   </message>
//
// A DM goes to the contact's LID (LID-first, as the current clients do);
// peer_recipient_pn names its phone number when we know it, so the server
// can route to a contact whose LID it has not linked yet.
#pragma once

#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/message/group_info.hpp"
#include "wa/signal/session_cipher.hpp"

namespace chatwoot::wa::message {

struct DeviceEnc {
    binary::Jid device;
    signal::EncryptedMessage enc;
};

struct MessageStanza {
    MessageStanza(std::string id_, binary::Jid to_) : id(std::move(id_)), to(std::move(to_)) {}

    std::string id;
    binary::Jid to;                      // the chat: a contact's LID or PN, or a group
    std::string type = "text";           // "text" | "media" | "reaction" ...
    std::optional<AddressingMode> addressing_mode;  // groups
    std::optional<std::string> phash;    // groups
    std::optional<binary::Jid> peer_recipient_pn;   // DMs to a LID
    std::vector<DeviceEnc> participants;
    std::optional<Bytes> skmsg;          // groups
    Bytes device_identity;               // ours, serialized ADVSignedDeviceIdentity
    std::optional<Bytes> tctoken;        // DMs: the contact's trusted-contact token
    std::optional<Bytes> cstoken;        // DMs without a valid tctoken
    std::optional<unsigned> retry_count; // a resend for a retry receipt
    // type="media": every <enc> (the skmsg's too) carries mediatype=
    // (image|video|gif|audio|ptt|document|sticker), as the clients send it.
    std::optional<std::string> mediatype;
};

// Errc::wrong_state when a pkmsg is in it but device_identity is empty
// (the recipient could not verify the new session), when it has nothing
// to deliver (no participants and no skmsg), or carries both tokens.
Result<binary::Node> build_message_stanza(const MessageStanza& m);

// The answer to a recipient's retry receipt: the same id again, to the
// receipt's sender only, its enc carrying the retry count:
//
//   <message id to="<receipt from>" type="text" [participant="<device>"]>
//     <enc v="2" type="pkmsg|msg" count="N">...</enc>
//     [<device-identity>...</device-identity>]             iff a pkmsg
//   </message>
//
// `participant` is the failing device when the receipt came from a group.
// Errc::wrong_state for a pkmsg without device_identity.
// `mediatype`: the message was media; it goes as type="media" again, its
// enc with mediatype=.
Result<binary::Node> build_retry_stanza(std::string_view id, const binary::Jid& to,
                                        const std::optional<binary::Jid>& participant,
                                        const signal::EncryptedMessage& enc, unsigned count,
                                        ByteView device_identity,
                                        const std::optional<std::string>& mediatype = {});

// A peer message: ours to our own phone (device 0 of our account), as the
// clients send app-state key requests and history requests:
//
//   <message id to="<our user>" type="text" category="peer" push_priority="high_force">
//     <enc v="2" type="pkmsg|msg">...</enc>           the phone's only, no <participants>
//     [<device-identity>...</device-identity>]        iff a pkmsg
//     <meta appdata="default"/>
//   </message>
//
// No trusted-contact token: the server refuses one on a peer message.
// Errc::wrong_state for a pkmsg without device_identity, or a `to` that is
// a device or not a user.
Result<binary::Node> build_peer_stanza(std::string_view id, const binary::Jid& to,
                                       const signal::EncryptedMessage& enc, ByteView device_identity);

}  // namespace chatwoot::wa::message
