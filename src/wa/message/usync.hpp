// The usync query (waweb.md 1.15): whose devices a message goes to, who a
// phone number is (its LID), and whether it is on WhatsApp at all.
//
//   <iq xmlns="usync" type="get" to="@s.whatsapp.net">
//     <usync sid mode="query" last="true" index="0" context="message|interactive">
//       <query> <devices version="2"/> | <contact/> <lid/> </query>
//       <list> <user jid/> | <user><contact>+<phone></contact></user> ... </list>
//     </usync>
//   </iq>
//
// and the answer's <usync><list><user jid> holds, per query,
//   <devices><device-list><device id key-index [is_hosted="true"]/>...</device-list>
//            <key-index-list ts>signed bytes</key-index-list></devices>
//   <contact type="in|out"/>   (out: not on WhatsApp)
//   <lid val="<n>@lid"/>
// or an <error code text> in place of a protocol's answer.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::message {

// At most this many users and devices per user are read from an answer;
// more is refused as hostile (an account has at most 5 devices today).
inline constexpr std::size_t kMaxUsyncUsers = 2048;
inline constexpr std::size_t kMaxDevicesPerUser = 64;

struct UsyncDevice {
    std::uint16_t id = 0;
    std::uint32_t key_index = 0;
    bool hosted = false;

    bool operator==(const UsyncDevice&) const = default;
};

struct UsyncUser {
    binary::Jid jid;                                // as the answer names it (no device)
    std::optional<std::vector<UsyncDevice>> devices;  // nullopt: not asked or refused
    std::optional<binary::Jid> lid;                 // from <lid val>
    std::optional<bool> on_whatsapp;                // from <contact type>
    std::optional<std::int64_t> key_index_ts;       // <key-index-list ts>
};

// The device lists of `users` (chat JIDs, no device), for fan-out.
// `sid` is the usync session id (any unique text; the IQ id does).
binary::Node devices_query(std::string_view sid, std::span<const binary::Jid> users);

// Who the phone number `pn` is: on WhatsApp or not, its LID, and its
// devices, in one round trip.  Before a first message to a number (waweb-
// 2026.md 3: sending to a number that is not on WhatsApp is what gets an
// account restricted).
binary::Node lookup_query(std::string_view sid, const binary::Jid& pn);

// The users of a usync answer (the <iq type="result">).  Errc::malformed
// when there is no <usync><list>, a <user> without a valid jid, a device
// id or key-index that is not a number in range; Errc::too_large past the
// bounds above.  A user whose protocol answered <error> keeps that field
// nullopt.
Result<std::vector<UsyncUser>> parse_usync(const binary::Node& iq);

// The device JIDs of `user` from its list: device 0 is the user itself,
// hosted ones on hosted/hosted.lid (waweb-2026.md 4).
std::vector<binary::Jid> device_jids(const binary::Jid& user, std::span<const UsyncDevice> devices);

}  // namespace chatwoot::wa::message
