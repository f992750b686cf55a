#include "bridge/jid.hpp"

#include <charconv>

namespace chatwoot::bridge {

namespace {

// Bounds per part.  E.164 numbers have at most 15 digits; LIDs seen so far
// 14-15, channel and group ids 18; 24 leaves room without admitting junk.
constexpr std::size_t kMaxDigitUser = 24;
// Legacy group ids are "<creator phone>-<unix time>".
constexpr std::size_t kMaxGroupUser = 40;
constexpr std::size_t kMaxOtherUser = 64;
constexpr std::size_t kMaxServer = 32;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

bool all_digits(std::string_view s)
{
    for (char c : s) {
        if (!is_digit(c)) {
            return false;
        }
    }
    return !s.empty();
}

// Servers whose users are people (or their devices): the only ones where an
// agent/device suffix means something.
bool is_user_server(std::string_view server)
{
    return server == kServerPhone || server == kServerLid || server == kServerHosted ||
           server == kServerHostedLid;
}

bool valid_server(std::string_view s)
{
    if (s.empty() || s.size() > kMaxServer || !is_lower_alnum(s.front()) ||
        !is_lower_alnum(s.back())) {
        return false;
    }
    for (char c : s) {
        if (!is_lower_alnum(c) && c != '.' && c != '-') {
            return false;
        }
    }
    return true;
}

bool valid_user(std::string_view user, std::string_view server)
{
    if (user.empty()) {
        return false;
    }
    if (is_user_server(server) || server == kServerNewsletter) {
        return user.size() <= kMaxDigitUser && all_digits(user);
    }
    if (server == kServerGroup) {
        if (user.size() > kMaxGroupUser) {
            return false;
        }
        // "120363..." (current) or "<digits>-<digits>" (groups created before
        // the switch to opaque ids).
        const std::size_t dash = user.find('-');
        if (dash == std::string_view::npos) {
            return all_digits(user);
        }
        return all_digits(user.substr(0, dash)) && all_digits(user.substr(dash + 1));
    }
    if (server == kServerBroadcast) {
        // "status" or a broadcast list's numeric id.
        if (user.size() > kMaxGroupUser) {
            return false;
        }
        for (char c : user) {
            if (!is_alnum(c)) {
                return false;
            }
        }
        return true;
    }
    if (user.size() > kMaxOtherUser) {
        return false;
    }
    for (char c : user) {
        if (!is_alnum(c) && c != '_' && c != '-') {
            return false;
        }
    }
    return true;
}

// A canonical unsigned decimal ("0" or no leading zero) no larger than max.
template <typename T>
std::optional<T> parse_number(std::string_view s, T max)
{
    if (s.empty() || !all_digits(s) || (s.size() > 1 && s.front() == '0')) {
        return std::nullopt;
    }
    unsigned long v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || v > max) {
        return std::nullopt;
    }
    return static_cast<T>(v);
}

bool valid_e164_digits(std::string_view digits)
{
    return digits.size() >= 7 && digits.size() <= 15 && all_digits(digits) &&
           digits.front() != '0';
}

}  // namespace

std::string_view jid_kind_name(JidKind k)
{
    switch (k) {
    case JidKind::phone_number:
        return "phone_number";
    case JidKind::lid:
        return "lid";
    case JidKind::group:
        return "group";
    case JidKind::broadcast:
        return "broadcast";
    case JidKind::newsletter:
        return "newsletter";
    case JidKind::hosted:
        return "hosted";
    case JidKind::unknown:
        break;
    }
    return "unknown";
}

std::optional<Jid> Jid::parse(std::string_view text)
{
    if (text.empty() || text.size() > kMaxJidLength) {
        return std::nullopt;
    }
    const std::size_t at = text.find('@');
    if (at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view user_part = text.substr(0, at);
    std::string_view server = text.substr(at + 1);
    if (!valid_server(server)) {
        return std::nullopt;
    }
    if (server == kServerLegacyPhone) {
        server = kServerPhone;
    }

    // Split "user[.agent][:device]".  Only one of each separator, in that
    // order; whatsmeow's parser has the same shape.
    std::string_view agent_text;
    std::string_view device_text;
    bool has_agent = false;
    bool has_device = false;
    const std::size_t colon = user_part.find(':');
    if (colon != std::string_view::npos) {
        device_text = user_part.substr(colon + 1);
        user_part = user_part.substr(0, colon);
        has_device = true;
    }
    const std::size_t dot = user_part.find('.');
    if (dot != std::string_view::npos) {
        agent_text = user_part.substr(dot + 1);
        user_part = user_part.substr(0, dot);
        has_agent = true;
    }
    if ((has_agent || has_device) && !is_user_server(server)) {
        return std::nullopt;
    }
    if (!valid_user(user_part, server)) {
        return std::nullopt;
    }

    Jid jid;
    if (has_agent) {
        const auto agent = parse_number<std::uint8_t>(agent_text, 255);
        if (!agent) {
            return std::nullopt;
        }
        jid.agent_ = *agent;
    }
    if (has_device) {
        const auto device = parse_number<std::uint16_t>(device_text, 65535);
        if (!device) {
            return std::nullopt;
        }
        jid.device_ = *device;
    }
    jid.user_ = user_part;
    jid.server_ = server;
    return jid;
}

JidKind Jid::kind() const
{
    if (server_ == kServerPhone) {
        return JidKind::phone_number;
    }
    if (server_ == kServerLid) {
        return JidKind::lid;
    }
    if (server_ == kServerGroup) {
        return JidKind::group;
    }
    if (server_ == kServerBroadcast) {
        return JidKind::broadcast;
    }
    if (server_ == kServerNewsletter) {
        return JidKind::newsletter;
    }
    if (server_ == kServerHosted || server_ == kServerHostedLid) {
        return JidKind::hosted;
    }
    return JidKind::unknown;
}

bool Jid::is_status_broadcast() const
{
    return server_ == kServerBroadcast && user_ == "status";
}

std::string Jid::to_string() const
{
    std::string out = user_;
    if (agent_ != 0) {
        out += '.';
        out += std::to_string(agent_);
        out += ':';
        out += std::to_string(device_);
    } else if (device_ != 0) {
        out += ':';
        out += std::to_string(device_);
    }
    out += '@';
    out += server_;
    return out;
}

Jid Jid::without_device() const
{
    Jid j = *this;
    j.agent_ = 0;
    j.device_ = 0;
    return j;
}

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
    Jid jid;
    jid.user_ = std::move(digits);
    jid.server_ = kServerPhone;
    return jid;
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
