#include "wa/binary/tokens.hpp"

#include <array>
#include <cstddef>
#include <string_view>

namespace chatwoot::wa::binary {

namespace {

#include "wa/binary/tokens.inc"

static_assert(kSingleByteTokens.size() == kSingleByteTokenCount);
static_assert(kDoubleByteTokens.size() == kDoubleByteDictionaries);

// The reverse map: open addressing with linear probing over a power-of-two
// table a little over three times the token count, so probe runs stay
// short.  A slot holds 0 (empty) or 1 + a token number: 0..235 single,
// 256 + 256*dictionary + index double.
constexpr std::size_t kSlots = 4096;
constexpr std::size_t kMask = kSlots - 1;
constexpr std::uint16_t kDoubleBase = 256;

constexpr std::uint32_t hash(std::string_view s)
{
    // FNV-1a: cheap on short strings, and good enough for a fixed key set
    // whose worst probe length is checked below.
    std::uint32_t h = 2166136261u;
    for (char c : s) {
        h ^= static_cast<std::uint8_t>(c);
        h *= 16777619u;
    }
    return h;
}

constexpr std::string_view token_text(std::uint16_t number)
{
    if (number < kDoubleBase) {
        return kSingleByteTokens[number];
    }
    const std::uint16_t d = number - kDoubleBase;
    return kDoubleByteTokens[d >> 8][d & 0xff];
}

struct ReverseTable {
    std::array<std::uint16_t, kSlots> slots{};
    std::size_t longest_probe = 0;
};

constexpr void insert(ReverseTable& t, std::uint16_t number)
{
    std::size_t slot = hash(token_text(number)) & kMask;
    std::size_t probe = 1;
    while (t.slots[slot] != 0) {
        slot = (slot + 1) & kMask;
        ++probe;
    }
    t.slots[slot] = static_cast<std::uint16_t>(number + 1);
    if (probe > t.longest_probe) {
        t.longest_probe = probe;
    }
}

constexpr ReverseTable build_reverse_table()
{
    ReverseTable t;
    for (std::uint16_t i = 1; i < kSingleByteTokens.size(); ++i) {
        insert(t, i);
    }
    for (std::uint16_t d = 0; d < kDoubleByteTokens.size(); ++d) {
        for (std::uint16_t i = 0; i < 256; ++i) {
            insert(t, static_cast<std::uint16_t>(kDoubleBase + d * 256 + i));
        }
    }
    return t;
}

constexpr ReverseTable kReverse = build_reverse_table();
static_assert(kReverse.longest_probe <= 16, "token hash clusters badly; change the hash");

}  // namespace

const std::array<std::string_view, kSingleByteTokenCount> kSingleByteTokenTable = kSingleByteTokens;
const std::array<std::array<std::string_view, 256>, kDoubleByteDictionaries> kDoubleByteTokenTable =
    kDoubleByteTokens;

std::optional<TokenCode> find_token(std::string_view text)
{
    if (text.empty() || text.size() > kMaxTokenLength) {
        return std::nullopt;
    }
    std::size_t slot = hash(text) & kMask;
    for (;;) {
        const std::uint16_t entry = kReverse.slots[slot];
        if (entry == 0) {
            return std::nullopt;
        }
        const std::uint16_t number = entry - 1;
        if (token_text(number) == text) {
            if (number < kDoubleBase) {
                return TokenCode{-1, static_cast<std::uint8_t>(number)};
            }
            const std::uint16_t d = number - kDoubleBase;
            return TokenCode{static_cast<std::int8_t>(d >> 8), static_cast<std::uint8_t>(d & 0xff)};
        }
        slot = (slot + 1) & kMask;
    }
}

std::optional<std::string_view> single_byte_token(std::uint8_t index)
{
    if (index == 0 || index >= kSingleByteTokens.size()) {
        return std::nullopt;
    }
    return kSingleByteTokens[index];
}

std::optional<std::string_view> double_byte_token(std::uint8_t dictionary, std::uint8_t index)
{
    if (dictionary >= kDoubleByteTokens.size()) {
        return std::nullopt;
    }
    return kDoubleByteTokens[dictionary][index];
}

}  // namespace chatwoot::wa::binary
