// The cheap checks every incoming Signal message gets before libsignal
// parses it.  (Internal to the signal/ layer.)
#pragma once

#include <cstddef>
#include <string>

#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::signal {

// The version WhatsApp speaks: 3, in the high nibble of the first byte.
inline constexpr unsigned kMessageVersion = 3;

// Errc::truncated unless `message` has more than `min_exclusive` bytes
// (libsignal's own bound for the kind); Errc::unsupported for another
// version.
inline Status check_message(ByteView message, std::size_t min_exclusive, const char* kind)
{
    if (message.size() <= min_exclusive)
        return make_error(Errc::truncated,
                          std::string(kind) + " of " + std::to_string(message.size()) + " bytes");
    unsigned version = message[0] >> 4;
    if (version != kMessageVersion)
        return make_error(Errc::unsupported,
                          std::string(kind) + " version " + std::to_string(version));
    return Done{};
}

}  // namespace chatwoot::wa::signal
