// Who a Signal session or sender key belongs to.
//
// A session is keyed by libsignal's address: a name and a device id.
// WhatsApp derives both from the device JID (waweb.md section 1.8): the
// name is the JID's user for phone numbers and "<user>_<domain>" for the
// other user servers (lid 1, hosted 128, hosted.lid 129), the device id is
// the JID's device.  The binary layer's JID owns that rule
// (binary::signal_address); this layer uses its SignalAddress as is.
//
// A sender key (group messages) is keyed by the group JID's text and the
// sender's address.
#pragma once

#include <cstdint>
#include <string>

#include "wa/binary/jid.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::signal {

using Address = binary::SignalAddress;

struct SenderKeyName {
    std::string group_id;  // the group JID as text, "<id>@g.us"
    Address sender;

    bool operator==(const SenderKeyName&) const = default;
};

// The address of a user device JID; Errc::unsupported for JIDs that own
// no Signal session (groups, broadcasts, channels, bots).
Result<Address> address_of(const binary::Jid& device);

// "name.device", the form libsignal and the reference clients print.
std::string to_string(const Address& address);

// What libsignal can take: a non-empty name without NUL bytes (libsignal
// logs names as C strings), a device id that fits its int32_t.
Status check_address(const Address& address);
Status check_sender_key_name(const SenderKeyName& name);

}  // namespace chatwoot::wa::signal
