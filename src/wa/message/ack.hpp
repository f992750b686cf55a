// What comes back for a message we sent (waweb.md 1.16-1.17,
// waweb-2026.md 3-4):
//
//   <ack class="message" id from t [phash] [error]>    the server took it,
//       or refused it: 463 (no trusted-contact token, reach-out limit),
//       475 (a new, limited business account), 479 and others
//   <receipt type="retry" id from [participant] t>     a recipient device
//     <retry count id t v="1"/>                        could not decrypt it
//     <registration>4B</registration>
//     [<keys><type/><identity/>[<key/>]<skey/><device-identity/></keys>]
//   </receipt>
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/error.hpp"
#include "wa/signal/prekey_stanzas.hpp"

namespace chatwoot::wa::message {

inline constexpr std::size_t kMaxMessageIdLength = 128;

// Error codes of a message ack that mean "never retry this".
inline constexpr int kAckReachoutRestricted = 463;
inline constexpr int kAckLimitedBusiness = 475;

struct MessageAck {
    std::string id;
    std::optional<binary::Jid> from;
    std::optional<int> error;          // absent: accepted
    std::optional<std::string> phash;  // the server's, when it differs from ours
    std::optional<std::int64_t> t;
};

// Errc::unsupported for an <ack> of another class (not ours to read);
// Errc::malformed for a missing or overlong id, or an error or t that is
// not a number.
Result<MessageAck> parse_message_ack(const binary::Node& ack);

struct RetryReceipt {
    std::string id;                   // the message to send again
    binary::Jid from;                 // the receipt's from: a device, or the group
    binary::Jid device;               // the device that failed (participant in groups)
    unsigned count = 1;               // its retry count, 1 first
    std::optional<std::uint32_t> registration_id;
    // The device's fresh keys, to start a new session from (sent from the
    // second retry on, or when it lost its session).
    std::optional<signal::DeviceBundle> bundle;
};

// Errc::unsupported for a receipt of another type; Errc::malformed for a
// missing id, from or device, a count that is not a number, or keys that
// do not parse (the detail says which).
Result<RetryReceipt> parse_retry_receipt(const binary::Node& receipt);

}  // namespace chatwoot::wa::message
