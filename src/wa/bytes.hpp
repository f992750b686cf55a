// Byte strings as the protocol layers pass them around.
//
// Owned bytes are a std::vector<std::uint8_t>; borrowed bytes are a span, so
// a layer never copies what it only reads.  Hex is for tests, logs of
// non-secret values and the QR text, never on a hot path.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::wa {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s)
{
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string_view as_chars(ByteView b)
{
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline Bytes concat(std::initializer_list<ByteView> parts)
{
    std::size_t n = 0;
    for (ByteView p : parts) n += p.size();
    Bytes out;
    out.reserve(n);
    for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

std::string to_hex(ByteView bytes);

// Lower- or upper-case hex of even length; nullopt for anything else.
std::optional<Bytes> from_hex(std::string_view hex);

}  // namespace chatwoot::wa
