#include "attachment_url.hpp"

#include <algorithm>
#include <cctype>

namespace chatwoot::bridge {

namespace {

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool host_char(char c)
{
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '.' || c == '_';
}

// "host[:port]" (an authority without userinfo) for `scheme`.
std::optional<UrlOrigin> authority(std::string scheme, std::string_view auth)
{
    UrlOrigin o;
    o.scheme = std::move(scheme);
    o.port = o.scheme == "https" ? 443 : 80;
    std::string_view host = auth;
    std::string_view port;
    if (!auth.empty() && auth.front() == '[') {
        const auto close = auth.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = auth.substr(0, close + 1);
        const auto rest = auth.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':' || rest.size() == 1) return std::nullopt;
            port = rest.substr(1);
        }
        for (char c : host.substr(1, host.size() - 2)) {
            if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
                return std::nullopt;
            }
        }
        if (host.size() < 3) return std::nullopt;
    } else {
        const auto colon = auth.find(':');
        if (colon != std::string_view::npos) {
            host = auth.substr(0, colon);
            port = auth.substr(colon + 1);
            if (port.empty()) return std::nullopt;   // "host:" with no port
        }
        if (host.empty() || !std::all_of(host.begin(), host.end(), host_char)) {
            return std::nullopt;
        }
    }
    if (!port.empty()) {
        if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
                return c >= '0' && c <= '9';
            })) {
            return std::nullopt;
        }
        const unsigned n = static_cast<unsigned>(std::stoul(std::string(port)));
        if (n == 0 || n > 65535) return std::nullopt;
        o.port = n;
    }
    o.host = lower(host);
    return o;
}

}  // namespace

std::string UrlOrigin::to_string() const
{
    return scheme + "://" + host + ":" + std::to_string(port);
}

std::optional<UrlOrigin> url_origin(std::string_view url)
{
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) return std::nullopt;
    const std::string scheme = lower(url.substr(0, sep));
    if (scheme != "http" && scheme != "https") return std::nullopt;
    std::string_view rest = url.substr(sep + 3);
    const auto end = rest.find_first_of("/?#");
    const std::string_view auth = rest.substr(0, end);
    // Userinfo would let "https://chat.example.com@evil.test/" read as
    // Chatwoot's to a careless eye; no Chatwoot URL has it.
    if (auth.empty() || auth.find('@') != std::string_view::npos
        || auth.find('\\') != std::string_view::npos) {
        return std::nullopt;
    }
    return authority(scheme, auth);
}

std::optional<UrlOrigin> parse_media_host(std::string_view text, std::string* error)
{
    std::string scheme = "https";
    std::string_view auth = text;
    if (const auto sep = text.find("://"); sep != std::string_view::npos) {
        scheme = lower(text.substr(0, sep));
        auth = text.substr(sep + 3);
        if (scheme != "http" && scheme != "https") {
            *error = "only http:// and https:// hosts can be named";
            return std::nullopt;
        }
    }
    if (!auth.empty() && auth.back() == '/') auth.remove_suffix(1);
    if (auth.find_first_of("/?#@\\") != std::string_view::npos) {
        *error = "a host (and port) is expected, without a path or user";
        return std::nullopt;
    }
    auto o = authority(scheme, auth);
    if (!o) {
        *error = "not a host[:port]";
        return std::nullopt;
    }
    return o;
}

AttachmentSource judge_attachment_url(std::string_view url, const UrlOrigin& chatwoot,
                                      std::span<const UrlOrigin> media_hosts)
{
    const auto o = url_origin(url);
    if (!o) return AttachmentSource::refused;
    if (*o == chatwoot) return AttachmentSource::chatwoot;
    for (const auto& h : media_hosts) {
        if (*o == h) return AttachmentSource::media_host;
    }
    return AttachmentSource::refused;
}

}  // namespace chatwoot::bridge
