// The tag bytes of the binary node format (research/waweb.md sections 1.7
// and 8).  A byte below DICTIONARY_0 other than LIST_EMPTY is a
// single-byte token.
#pragma once

#include <cstdint>

namespace chatwoot::wa::binary::tag {

inline constexpr std::uint8_t kListEmpty = 0;
inline constexpr std::uint8_t kDictionary0 = 236;
inline constexpr std::uint8_t kDictionary3 = 239;
inline constexpr std::uint8_t kInteropJid = 245;
inline constexpr std::uint8_t kFbJid = 246;
inline constexpr std::uint8_t kAdJid = 247;
inline constexpr std::uint8_t kList8 = 248;
inline constexpr std::uint8_t kList16 = 249;
inline constexpr std::uint8_t kJidPair = 250;
inline constexpr std::uint8_t kHex8 = 251;
inline constexpr std::uint8_t kBinary8 = 252;
inline constexpr std::uint8_t kBinary20 = 253;
inline constexpr std::uint8_t kBinary32 = 254;
inline constexpr std::uint8_t kNibble8 = 255;

// Longest string the packed forms carry, in characters.
inline constexpr std::size_t kPackedMax = 127;

// The payload's first byte; this bit means the rest is zlib-compressed.
inline constexpr std::uint8_t kFlagCompressed = 0x02;

}  // namespace chatwoot::wa::binary::tag
