#include "bridge/jid.hpp"

namespace chatwoot::bridge {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool valid_e164_digits(std::string_view digits)
{
    if (digits.size() < 7 || digits.size() > 15 || digits.front() == '0') {
        return false;
    }
    for (char c : digits) {
        if (!is_digit(c)) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<std::string> e164_from_jid(const Jid& jid)
{
    if (jid.kind() != JidKind::phone_number || !valid_e164_digits(jid.user())) {
        return std::nullopt;
    }
    return "+" + jid.user();
}

std::optional<Jid> jid_from_phone(std::string_view phone)
{
    // Longest plausible written number: 15 digits and a separator between
    // each, plus a '+' and a pair of parentheses.
    constexpr std::size_t kMaxPhoneText = 48;
    auto is_blank = [](char c) { return c == ' ' || c == '\t'; };
    while (!phone.empty() && is_blank(phone.front())) {
        phone.remove_prefix(1);
    }
    while (!phone.empty() && is_blank(phone.back())) {
        phone.remove_suffix(1);
    }
    if (phone.empty() || phone.size() > kMaxPhoneText) {
        return std::nullopt;
    }
    if (phone.front() == '+') {
        phone.remove_prefix(1);
    }
    std::string digits;
    bool in_parens = false;
    for (char c : phone) {
        if (is_digit(c)) {
            digits += c;
        } else if (c == ' ' || c == '-' || c == '.') {
            continue;
        } else if (c == '(' && !in_parens) {
            in_parens = true;
        } else if (c == ')' && in_parens) {
            in_parens = false;
        } else {
            return std::nullopt;  // letters, a second '+', '@', tabs inside, ...
        }
    }
    if (in_parens || !valid_e164_digits(digits)) {
        return std::nullopt;
    }
    return Jid::from_parts(digits, kServerPhone);
}

std::string chatwoot_identifier(const Jid& jid)
{
    return jid.without_device().to_string();
}

std::optional<std::string> brazil_ninth_digit_alternate(std::string_view e164)
{
    if (e164.size() < 2 || e164.front() != '+') {
        return std::nullopt;
    }
    const std::string_view digits = e164.substr(1);
    if (!valid_e164_digits(digits) || !digits.starts_with("55")) {
        return std::nullopt;
    }
    // 55 + two-digit area code (DDD) + subscriber number.
    const std::string_view country_area = digits.substr(0, 4);
    const std::string_view subscriber = digits.substr(4);
    if (subscriber.size() == 9 && subscriber.front() == '9') {
        return "+" + std::string(country_area) + std::string(subscriber.substr(1));
    }
    if (subscriber.size() == 8) {
        return "+" + std::string(country_area) + "9" + std::string(subscriber);
    }
    return std::nullopt;
}

}  // namespace chatwoot::bridge
