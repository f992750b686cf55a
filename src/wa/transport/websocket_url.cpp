#include "wa/transport/websocket_url.hpp"

#include <algorithm>
#include <cctype>

namespace chatwoot::wa::transport {

namespace {

bool starts_with_nocase(std::string_view s, std::string_view prefix)
{
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); i++) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    }
    return true;
}

// RFC 3986 reg-name characters (unreserved and sub-delims; no percent
// escapes: a host name we connect to has none).
bool host_char(char c)
{
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

// What may appear in the path and query as sent on the request line: any
// visible ASCII character except '#' (the fragment is refused earlier).
bool resource_char(char c)
{
    return c > 0x20 && c < 0x7f;
}

}  // namespace

std::string WebSocketUrl::host_header() const
{
    const std::uint16_t default_port = tls ? 443 : 80;
    if (port == default_port) return host;
    return host + ":" + std::to_string(port);
}

std::string WebSocketUrl::connect_url() const
{
    return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port) +
           resource;
}

Result<WebSocketUrl> parse_websocket_url(std::string_view url)
{
    WebSocketUrl out;
    if (starts_with_nocase(url, "wss://")) {
        out.tls = true;
        out.port = 443;
        url.remove_prefix(6);
    } else if (starts_with_nocase(url, "ws://")) {
        out.tls = false;
        out.port = 80;
        url.remove_prefix(5);
    } else {
        return make_error(Errc::unsupported, "a WebSocket URL starts with ws:// or wss://");
    }
    if (url.find('#') != std::string_view::npos)
        return make_error(Errc::malformed, "a WebSocket URL has no fragment ('#')");

    const std::size_t authority_end = std::min(url.find('/'), url.find('?'));
    std::string_view authority = url.substr(0, authority_end);
    std::string_view rest =
        authority_end == std::string_view::npos ? std::string_view{} : url.substr(authority_end);
    if (authority.find('@') != std::string_view::npos)
        return make_error(Errc::unsupported, "user information in a WebSocket URL");

    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos)
            return make_error(Errc::malformed, "an IPv6 host without its closing ']'");
        std::string_view inside = authority.substr(1, close - 1);
        if (inside.empty() || !std::all_of(inside.begin(), inside.end(), [](char c) {
                return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
            }))
            return make_error(Errc::malformed, "a bracketed host that is not an IPv6 address");
        out.host = std::string(authority.substr(0, close + 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return make_error(Errc::malformed, "text after an IPv6 host");
            port_text = after.substr(1);
            if (port_text.empty()) return make_error(Errc::malformed, "an empty port");
        }
    } else {
        const std::size_t colon = authority.find(':');
        std::string_view host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) return make_error(Errc::malformed, "an empty port");
        }
        if (host.empty()) return make_error(Errc::malformed, "a WebSocket URL without a host");
        if (!std::all_of(host.begin(), host.end(), host_char))
            return make_error(Errc::malformed, "a character a host name cannot have");
        out.host = std::string(host);
    }

    if (!port_text.empty()) {
        unsigned long port = 0;
        for (char c : port_text) {
            if (!std::isdigit(static_cast<unsigned char>(c)) || port_text.size() > 5)
                return make_error(Errc::malformed, "a port that is not a number");
            port = port * 10 + static_cast<unsigned long>(c - '0');
        }
        if (port == 0 || port > 65535)
            return make_error(Errc::malformed, "a port outside 1-65535");
        out.port = static_cast<std::uint16_t>(port);
    }

    if (!std::all_of(rest.begin(), rest.end(), resource_char))
        return make_error(Errc::malformed, "a space or control character in the path");
    if (rest.empty()) {
        out.resource = "/";
    } else if (rest.front() == '?') {
        out.resource = "/" + std::string(rest);
    } else {
        out.resource = std::string(rest);
    }
    return out;
}

}  // namespace chatwoot::wa::transport
