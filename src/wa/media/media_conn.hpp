// Where media goes up and comes down: the media_conn IQ (waweb.md section 2).
//
//   <iq xmlns="w:m" type="set" to="s.whatsapp.net"><media_conn/></iq>
//   -> <iq type="result"><media_conn auth ttl [auth_ttl] [max_buckets]>
//        <host hostname="mmg.whatsapp.net"/> ...
//      </media_conn></iq>
//
// The answer says which hosts to upload to and download from, and the auth
// token uploads carry; the caller caches it for `ttl` seconds.  Every host
// named here ends up in a URL the helper fetches, so the parser is strict:
// a bare host name (optionally with a port), nothing that could smuggle a
// scheme, a path, user info or another host into the URL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wa/binary/node.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::media {

// Bounds on the answer: real ones name a handful of hosts and an auth
// token of some dozens of characters.
inline constexpr std::size_t kMaxMediaHosts = 32;
inline constexpr std::size_t kMaxMediaAuth = 1024;
inline constexpr std::size_t kMaxHostName = 253;  // RFC 1035, without the port

struct MediaConn {
    std::string auth;               // the upload token (query parameter `auth`)
    std::uint32_t ttl = 0;          // seconds the answer may be cached
    std::uint32_t auth_ttl = 0;     // seconds the auth token lasts; 0 when not said
    std::uint32_t max_buckets = 0;  // 0 when not said
    // "name" or "name:port", lower-case, in the server's order (the first
    // is the preferred one), without repeats.
    std::vector<std::string> hosts;

    bool operator==(const MediaConn&) const = default;
};

binary::Node media_conn_query();

// The answer to media_conn_query(): an <iq> (type "result" when it has a
// type) with a <media_conn> child.  Errc::malformed for a missing child, a
// missing or empty auth, an auth with a byte outside printable ASCII, a
// missing ttl, a number that is not canonical decimal within 32 bits, no
// host, or a host name check_media_host() refuses; Errc::too_large past
// kMaxMediaHosts hosts or kMaxMediaAuth bytes of auth.
Result<MediaConn> parse_media_conn(const binary::Node& iq);

// A media host as a URL authority: DNS labels (letters, digits, inner
// hyphens, 1..63 bytes each, kMaxHostName in all, no trailing dot), then
// optionally ":port" with a port of 1..65535 without leading zeros.
// Returns it lower-cased; Errc::malformed for anything else (a scheme, a
// path, '@', an IPv6 literal, spaces, percent signs, ...).
Result<std::string> check_media_host(std::string_view host);

}  // namespace chatwoot::wa::media
