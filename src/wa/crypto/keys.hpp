// Fixed-size key and digest values shared by the crypto wrappers.
//
// A std::array says its length in the type, so a 32-byte key cannot be
// confused with a message; byte strings from the wire stay ByteView and are
// length-checked where they enter.
#pragma once

#include <array>
#include <cstdint>

#include "wa/bytes.hpp"

namespace chatwoot::wa::crypto {

using Key32 = std::array<std::uint8_t, 32>;
using Digest32 = std::array<std::uint8_t, 32>;
using Digest64 = std::array<std::uint8_t, 64>;
using Digest16 = std::array<std::uint8_t, 16>;
using Signature64 = std::array<std::uint8_t, 64>;

template <std::size_t N>
Bytes to_bytes(const std::array<std::uint8_t, N>& a)
{
    return Bytes(a.begin(), a.end());
}

}  // namespace chatwoot::wa::crypto
