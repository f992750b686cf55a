// The URLs media moves through (waweb.md section 2), and the rule that
// keeps a message from pointing the helper at an arbitrary server.
//
//   upload    https://<host>/mms/<mms-type>/<token>?auth=<auth>&token=<token>
//   download  https://<host><directPath>&hash=<token>&mms-type=<mms-type>&__wa-mms=
//
// where <token> is base64url(fileEncSha256) with '=' padding (the form
// whatsmeow sends; the servers also take it unpadded).  Query values are
// percent-encoded; the path keeps the token as it is.
//
// A download normally goes to a media_conn host with the message's
// directPath.  A message's `url` field (used when it has no directPath) is
// taken only from a host media_conn named or a subdomain of whatsapp.net:
// a message cannot make the helper fetch anything else.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/media/media_type.hpp"

namespace chatwoot::wa::media {

inline constexpr std::size_t kMaxDirectPath = 4096;

// base64url(file_enc_sha256) with '=' padding: 44 characters for 32 bytes.
std::string media_token(ByteView file_enc_sha256);

// Errc::malformed for a host check_media_host() refuses, a hash that is
// not 32 bytes, an empty auth, or a type with no mms-type (thumbnails).
Result<std::string> upload_url(std::string_view host, MediaType type, ByteView file_enc_sha256,
                               std::string_view auth);

// Whether `path` may follow a host in a URL: it starts with '/', has no
// "//" anywhere (at the start it would name another host; WhatsApp's paths
// never hold one), is printable ASCII without space, '@', '\\' or '#', and
// is at most kMaxDirectPath bytes.  Errc::malformed
// (too_large for the length) with the reason.
Status check_direct_path(std::string_view path);

// The direct path gets "&hash=..." when it has a query already (it always
// has, from WhatsApp), "?hash=..." otherwise.  Errc::malformed for a bad
// host, direct path, hash, or a type with no mms-type.
Result<std::string> download_url(std::string_view host, std::string_view direct_path,
                                 MediaType type, ByteView file_enc_sha256);

// A host WhatsApp's media may come from: one of `media_conn_hosts` (as
// parse_media_conn() gives them, port included), or any subdomain of
// whatsapp.net on the default port.  `host` is compared lower-cased.
bool is_allowed_media_host(std::string_view host, std::span<const std::string> media_conn_hosts);

// A message's `url` field, accepted as it is when it is
// "https://<host>[:port]/<path>" with a host is_allowed_media_host()
// admits and a path check_direct_path() admits.  Errc::malformed for
// another form, Errc::untrusted for a well-formed URL on another host.
Result<std::string> check_message_url(std::string_view url,
                                      std::span<const std::string> media_conn_hosts);

}  // namespace chatwoot::wa::media
