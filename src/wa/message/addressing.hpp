// How a group (or a message in one) names its members: by phone number or
// by LID (waweb.md 1.8, the addressing_mode attribute).  One type for the
// receive and the send side.
#pragma once

#include <cstdint>
#include <string_view>

namespace chatwoot::wa::message {

enum class AddressingMode : std::uint8_t {
    none,  // a stanza without the attribute (1:1 chats)
    pn,
    lid
};

// "lid", "pn" or "" (none).
std::string_view addressing_mode_name(AddressingMode mode);

}  // namespace chatwoot::wa::message
