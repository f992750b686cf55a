#include "wa/binary/jid.hpp"

#include <charconv>

namespace chatwoot::wa::binary {

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

bool is_user_server(std::string_view server)
{
    return server == kServerPhone || server == kServerLid || server == kServerHosted ||
           server == kServerHostedLid;
}

std::optional<std::uint8_t> ad_domain_of_server(std::string_view server)
{
    if (server == kServerPhone) {
        return kDomainPhone;
    }
    if (server == kServerLid) {
        return kDomainLid;
    }
    if (server == kServerHosted) {
        return kDomainHosted;
    }
    if (server == kServerHostedLid) {
        return kDomainHostedLid;
    }
    return std::nullopt;
}

std::optional<std::string_view> server_of_ad_domain(std::uint8_t domain)
{
    switch (domain) {
    case kDomainPhone:
        return kServerPhone;
    case kDomainLid:
        return kServerLid;
    case kDomainHosted:
        return kServerHosted;
    case kDomainHostedLid:
        return kServerHostedLid;
    default:
        return std::nullopt;
    }
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

    std::uint8_t agent = 0;
    std::uint16_t device = 0;
    if (has_agent) {
        const auto parsed = parse_number<std::uint8_t>(agent_text, 255);
        if (!parsed) {
            return std::nullopt;
        }
        agent = *parsed;
    }
    if (has_device) {
        const auto parsed = parse_number<std::uint16_t>(device_text, 65535);
        if (!parsed) {
            return std::nullopt;
        }
        device = *parsed;
    }
    return from_parts(user_part, server, agent, device);
}

std::optional<Jid> Jid::from_parts(std::string_view user, std::string_view server,
                                   std::uint8_t agent, std::uint16_t device)
{
    if (!valid_server(server)) {
        return std::nullopt;
    }
    if (server == kServerLegacyPhone) {
        server = kServerPhone;
    }
    if ((agent != 0 || device != 0) && !is_user_server(server)) {
        return std::nullopt;
    }
    if (!valid_user(user, server)) {
        return std::nullopt;
    }
    // The part bounds keep every Jid's text under kMaxJidLength, so what
    // to_string() gives always parses again.
    Jid jid;
    jid.user_ = user;
    jid.server_ = server;
    jid.agent_ = agent;
    jid.device_ = device;
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

std::optional<SignalAddress> signal_address(const Jid& jid)
{
    const std::optional<std::uint8_t> domain = ad_domain_of_server(jid.server());
    if (!domain) {
        return std::nullopt;
    }
    SignalAddress address{jid.user(), jid.device()};
    if (*domain != kDomainPhone) {
        address.name += '_';
        address.name += std::to_string(*domain);
    }
    return address;
}

}  // namespace chatwoot::wa::binary
