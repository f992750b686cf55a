// Which URLs an agent's attachment may be fetched from (issue 11,
// Chatwoot -> WhatsApp): a webhook names the attachment's data_url, and a
// forged or careless one must not make the helper fetch an arbitrary host
// (an internal service, a cloud metadata address) or hand the inbox's API
// token to one.
//
//   - the inbox's Chatwoot origin (scheme, host and port of its `url`):
//     plain http allowed when that url is plain http (a test, a private
//     network); the api_access_token goes only there;
//   - a host the operator names with `media_host` (S3, GCS, a CDN): https,
//     unless named with an explicit "http://"; never the token.
// Anything else, userinfo ("user@host"), or a scheme other than http(s) is
// refused.  Hosts compare lower-cased; a missing port is the scheme's.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace chatwoot::bridge {

struct UrlOrigin {
    std::string scheme;   // http or https
    std::string host;     // lower-cased; an IPv6 literal keeps its brackets
    unsigned port = 0;    // the scheme's default when the URL says none

    bool operator==(const UrlOrigin&) const = default;
    std::string to_string() const;
};

// The origin of an absolute http(s) URL; nullopt for anything else
// (relative, another scheme, userinfo, a bad port, an empty host).
std::optional<UrlOrigin> url_origin(std::string_view url);

// A media_host argument: "host", "host:port", "https://host[:port]" or
// "http://host[:port]" (no path).  nullopt with *error when malformed.
std::optional<UrlOrigin> parse_media_host(std::string_view text, std::string* error);

enum class AttachmentSource {
    chatwoot,     // the inbox's own origin: the token may go with it
    media_host,   // a storage host the operator named: no token
    refused,
};

AttachmentSource judge_attachment_url(std::string_view url, const UrlOrigin& chatwoot,
                                      std::span<const UrlOrigin> media_hosts);

}  // namespace chatwoot::bridge
