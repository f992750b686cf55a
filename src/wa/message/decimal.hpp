// Attribute values that are numbers (t, count, id, registration...): the
// whole text must be one, or it is not taken; a stanza from the network
// never makes us read a prefix of garbage as a number.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>

namespace chatwoot::wa::message {

template <class T>
std::optional<T> parse_decimal(std::string_view text)
{
    T v{};
    if (text.empty() || text.size() > 20) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
}

}  // namespace chatwoot::wa::message
