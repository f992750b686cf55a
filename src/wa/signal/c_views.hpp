// Our addresses as libsignal's C structs, and back.
//
// The C structs borrow: they point into the std::string they were made
// from, which must outlive them (and libsignal's ciphers keep the pointer
// for their whole life).  std::string keeps a NUL after its bytes, which
// libsignal's log lines rely on ("%s").
#pragma once

#include <signal_protocol.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "wa/signal/address.hpp"
#include "wa/signal/signal_ref.hpp"

namespace chatwoot::wa::signal {

// Callers check_address() first, so the device id fits.
inline signal_protocol_address c_address(const Address& address)
{
    return {address.name.c_str(), address.name.size(),
            static_cast<std::int32_t>(address.device_id)};
}

inline signal_protocol_sender_key_name c_sender_key_name(const SenderKeyName& name)
{
    return {name.group_id.c_str(), name.group_id.size(), c_address(name.sender)};
}

inline Address from_c(const signal_protocol_address& address)
{
    return {std::string(address.name, address.name_len),
            static_cast<std::uint32_t>(address.device_id)};
}

inline SenderKeyName from_c(const signal_protocol_sender_key_name& name)
{
    return {std::string(name.group_id, name.group_id_len), from_c(name.sender)};
}

// A buffer holding a copy of `bytes`; null when out of memory.  (Unlike
// signal_buffer_create, never hands memcpy a null pointer for no bytes.)
inline SignalBuffer make_buffer(ByteView bytes)
{
    SignalBuffer buffer(signal_buffer_alloc(bytes.size()));
    if (buffer && !bytes.empty())
        std::memcpy(signal_buffer_data(buffer.get()), bytes.data(), bytes.size());
    return buffer;
}

}  // namespace chatwoot::wa::signal
