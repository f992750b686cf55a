// A ws:// or wss:// URL taken apart for the opening handshake and for the
// TCP/TLS connect (RFC 6455 section 3).
//
// The connect is made by libcurl's connect-only mode, which knows http://
// and https:// (Debian's libcurl has no ws), so the URL also gives the same
// place in those schemes: wss -> https, ws -> http.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wa/error.hpp"

namespace chatwoot::wa::transport {

struct WebSocketUrl {
    bool tls = true;            // wss://
    std::string host;           // as written; an IPv6 literal keeps its brackets
    std::uint16_t port = 443;   // the default for the scheme when none is written
    std::string resource;       // path and query, at least "/" (no fragment)

    // What the Host header says: the host, and ":port" when not the default.
    std::string host_header() const;

    // "https://host[:port]/resource" or "http://..." for libcurl.
    std::string connect_url() const;
};

// Accepts "ws://" and "wss://" (scheme case-insensitive), a host (name,
// IPv4 or bracketed IPv6), an optional port 1-65535, an optional path and
// query.  Refuses user info, fragments (RFC 6455 3: never in a WebSocket
// URI), spaces, control characters and anything else with a reason.
Result<WebSocketUrl> parse_websocket_url(std::string_view url);

}  // namespace chatwoot::wa::transport
