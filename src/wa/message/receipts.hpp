// Receipts and the notifications the messages layer acts on (waweb.md
// section 1.17, waweb-2026.md section 3).
//
// Outgoing:
//   <receipt id to [participant] [recipient] [type]/>            delivery
//     type absent, "inactive" while passive, "sender" for our own
//     account's messages, "peer_msg" for our phone's peer messages
//   <receipt id to [participant] type="retry">                   retry
//     <retry count id t v="1"/> <registration>4B</registration>
//     [<keys><type>05</type><identity/><key/><skey/><device-identity/></keys>]
//   from the second retry on, with a fresh one-time pre-key, so that the
//   sender can start a new session with us.
//
// Incoming:
//   <receipt from id [type] [participant] [recipient] t>[<list><item id/>...]
//   <notification type="devices|encrypt|privacy_token|mex|w:gp2" ...>
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/signal/prekey_bundle.hpp"
#include "wa/signal/protocol_store.hpp"

namespace chatwoot::wa::message {

// -- outgoing -------------------------------------------------------------

// The receipt type owed for a handled message: "" (plain), "inactive",
// "sender" or "peer_msg".
std::string delivery_receipt_type(const binary::Node& message, bool from_me, bool passive);

// The delivery receipt for `message` (its from, participant, recipient and
// id), of `type` ("" for none).
binary::Node delivery_receipt(const binary::Node& message, std::string_view type);

struct RetryKeys {
    crypto::Key32 identity{};               // our identity public key
    signal::PreKeyPublic pre_key;           // a fresh one-time pre-key
    signal::SignedPreKeyPublic signed_pre_key;
    Bytes device_identity;                  // our ADVSignedDeviceIdentity
};

// The retry receipt for `message`: `count` is this retry's number (the
// highest <enc count> seen plus one), `registration_id` ours, `now` unix
// seconds; `keys` from the second retry on.
binary::Node retry_receipt(const binary::Node& message, int count, std::uint32_t registration_id,
                           std::int64_t now, const std::optional<RetryKeys>& keys);

// Give up asking after this many retries (whatsmeow and Baileys: 5).
inline constexpr int kMaxRetries = 5;

// -- incoming receipts ----------------------------------------------------

struct ReceiptEvent {
    enum class Kind { delivery, read, read_self, played, retry, sender, inactive, server_error, other };
    Kind kind = Kind::delivery;
    std::string type;                      // the attribute as it came
    binary::Jid from;                      // the chat (user or group)
    std::optional<binary::Jid> participant;  // who, in groups
    std::optional<binary::Jid> recipient;
    std::vector<std::string> ids;          // the first id, then the <list> items
    std::int64_t timestamp = 0;
    int retry_count = 0;                   // retry: <retry count>
};

// Errc::malformed when from or id is missing or bad.
Result<ReceiptEvent> parse_receipt(const binary::Node& receipt);

// -- notifications --------------------------------------------------------

// <notification type="devices" from=user>: the user's device list changed.
struct DevicesChanged {
    binary::Jid user;                 // without device
    std::optional<binary::Jid> lid;   // the lid attribute, when it names one
};

// <notification type="encrypt"><count value=N/>: pre-keys left on the
// server; <identity/> instead: a contact's identity changed.
struct PreKeyCount {
    int count = 0;
};
struct IdentityChanged {
    binary::Jid user;
};

// <notification type="privacy_token" from [sender_lid]>
//   <tokens><token jid t type="trusted_contact">bytes</token>...</tokens>
// Tokens a contact gave us, to be stored under the contact's LID.
struct PrivacyToken {
    std::string jid;   // the token's jid attribute (ours)
    std::int64_t timestamp = 0;
    std::string type;
    Bytes token;
};
struct PrivacyTokens {
    binary::Jid from;
    std::optional<binary::Jid> sender_lid;
    std::vector<PrivacyToken> tokens;
    // Where they belong: sender_lid, else from when it is a LID; nullopt
    // when neither is (the caller maps the PN).
    std::optional<binary::Jid> lid() const;
};

// <notification type="mex"><update op_name>JSON</update>: the account's
// reach-out time lock (waweb-2026.md section 3) ...
struct ReachoutTimelock {
    bool active = false;
    std::string enforcement_type;
    std::int64_t ends_at = 0;  // unix seconds; 0 unknown
};
// ... and the new-chat capping state (NONE, FIRST_WARNING, SECOND_WARNING, CAPPED).
struct NewChatCapping {
    std::string status;
    std::int64_t used = 0;
    std::int64_t total = 0;
    std::int64_t cycle_ends_at = 0;
};

// <notification type="w:gp2" from=<group> participant=<who did it>>
// with one child per change (waweb.md section 1.17 lists w:gp2; the tags as
// WhatsApp Web's clients read them):
//   <add|remove|promote|demote|leave|modify><participant jid [lid|phone_number]/>...
//   <subject subject s_t s_o/>  <description id><body>text</body></description>
//   <announcement/> <not_announcement/> <locked/> <unlocked/>
//   <ephemeral expiration/> <not_ephemeral/> <membership_approval_mode> ...
// Whatever it says, the group's cached info (participants, addressing
// mode, subject) is stale; members that went must stop getting our sender
// key.  Unknown children are counted as `other`, not refused.
struct GroupChanged {
    enum class Kind { add, remove, promote, demote, leave, modify, subject, description, settings,
                      ephemeral, other };
    binary::Jid group;                        // without device
    std::optional<binary::Jid> author;        // the participant attribute
    std::vector<Kind> kinds;                  // each kind once, in the order first seen
    std::optional<std::string> subject;       // the new one, when <subject> came
    std::vector<binary::Jid> added;           // <add> participants
    std::vector<binary::Jid> gone;            // <remove> and <leave> participants

    bool has(Kind k) const;
    // A member or one of its devices may have left the group (remove,
    // leave, or modify: a member now under another number): our sender
    // key must be renewed.
    bool members_went() const;
};

// Bounds of a w:gp2 notification: changes, and participants per change
// (WhatsApp's groups have at most 1024 members; a community announcement
// group more, still far below this).
inline constexpr std::size_t kMaxGroupChanges = 64;
inline constexpr std::size_t kMaxGroupChangeParticipants = 4096;

struct OtherNotification {
    std::string type;
};

using Notification = std::variant<DevicesChanged, PreKeyCount, IdentityChanged, PrivacyTokens,
                                  ReachoutTimelock, NewChatCapping, GroupChanged, OtherNotification>;

// Errc::malformed for a notification of a known type whose content is
// wrong (the caller acks it anyway), Errc::too_large past a bound;
// OtherNotification for the rest.
Result<Notification> parse_notification(const binary::Node& notification);

}  // namespace chatwoot::wa::message
