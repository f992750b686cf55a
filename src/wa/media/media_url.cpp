#include "wa/media/media_url.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "wa/media/media_conn.hpp"

namespace chatwoot::wa::media {

namespace {

constexpr std::string_view whatsapp_suffix = ".whatsapp.net";

bool is_unreserved(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string query_escape(std::string_view s)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (is_unreserved(c)) {
            out.push_back(c);
        } else {
            const auto b = static_cast<unsigned char>(c);
            out.push_back('%');
            out.push_back(hex[b >> 4]);
            out.push_back(hex[b & 0xf]);
        }
    }
    return out;
}

Status check_hash(ByteView h)
{
    if (h.size() != 32)
        return make_error(Errc::malformed,
                          "fileEncSha256 is " + std::to_string(h.size()) + " bytes, want 32");
    return Done{};
}

Result<std::string_view> mms_of(MediaType type)
{
    std::string_view mms = mms_type(type);
    if (mms.empty())
        return make_error(Errc::malformed, "media type " + std::string(media_type_name(type)) +
                                               " has no mms-type");
    return mms;
}

}  // namespace

std::string media_token(ByteView file_enc_sha256)
{
    // EVP_EncodeBlock writes standard base64 with padding and a NUL.
    std::string out(4 * ((file_enc_sha256.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  file_enc_sha256.data(), static_cast<int>(file_enc_sha256.size()));
    out.resize(static_cast<std::size_t>(n));
    for (char& c : out) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    return out;
}

Result<std::string> upload_url(std::string_view host, MediaType type, ByteView file_enc_sha256,
                               std::string_view auth)
{
    auto h = check_media_host(host);
    if (!h) return h.error();
    if (Status s = check_hash(file_enc_sha256); !s) return s.error();
    auto mms = mms_of(type);
    if (!mms) return mms.error();
    if (auth.empty()) return make_error(Errc::malformed, "upload without media_conn auth");
    const std::string token = media_token(file_enc_sha256);
    std::string url = "https://" + *h + "/mms/" + std::string(*mms) + "/" + token;
    url += "?auth=" + query_escape(auth);
    url += "&token=" + query_escape(token);
    return url;
}

Status check_direct_path(std::string_view path)
{
    if (path.size() > kMaxDirectPath)
        return make_error(Errc::too_large, "direct path over " + std::to_string(kMaxDirectPath) +
                                               " bytes");
    if (path.empty() || path[0] != '/')
        return make_error(Errc::malformed, "direct path is not an absolute path");
    // "//" is how a URL names a host: at the start it would be another
    // host; anywhere else WhatsApp never writes one, so none is taken.
    if (path.find("//") != std::string_view::npos)
        return make_error(Errc::malformed, "direct path has \"//\"");
    for (char c : path) {
        const auto b = static_cast<unsigned char>(c);
        if (b <= 0x20 || b >= 0x7f)
            return make_error(Errc::malformed,
                              "direct path has a space, control or non-ASCII byte");
        if (c == '@' || c == '\\' || c == '#')
            return make_error(Errc::malformed, "direct path has '@', '\\' or '#'");
    }
    return Done{};
}

Result<std::string> download_url(std::string_view host, std::string_view direct_path,
                                 MediaType type, ByteView file_enc_sha256)
{
    auto h = check_media_host(host);
    if (!h) return h.error();
    if (Status s = check_direct_path(direct_path); !s) return s.error();
    if (Status s = check_hash(file_enc_sha256); !s) return s.error();
    auto mms = mms_of(type);
    if (!mms) return mms.error();
    std::string url = "https://" + *h + std::string(direct_path);
    url += direct_path.find('?') == std::string_view::npos ? "?hash=" : "&hash=";
    url += query_escape(media_token(file_enc_sha256));
    url += "&mms-type=" + std::string(*mms);
    url += "&__wa-mms=";
    return url;
}

bool is_allowed_media_host(std::string_view host, std::span<const std::string> media_conn_hosts)
{
    auto h = check_media_host(host);
    if (!h) return false;
    if (std::find(media_conn_hosts.begin(), media_conn_hosts.end(), *h) != media_conn_hosts.end())
        return true;
    // check_media_host() has ruled out anything but labels and a port, so
    // a suffix match is a real subdomain, and ":443" is the only port
    // that is still the default one.
    std::string_view name = *h;
    if (name.ends_with(":443")) name.remove_suffix(4);
    return name.size() > whatsapp_suffix.size() && name.ends_with(whatsapp_suffix);
}

Result<std::string> check_message_url(std::string_view url,
                                      std::span<const std::string> media_conn_hosts)
{
    constexpr std::string_view scheme = "https://";
    if (url.size() < scheme.size() ||
        !std::equal(scheme.begin(), scheme.end(), url.begin(),
                    [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? b + 32 : b); }))
        return make_error(Errc::malformed, "media url is not https");
    std::string_view rest = url.substr(scheme.size());
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos)
        return make_error(Errc::malformed, "media url has no path");
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = rest.substr(slash);
    auto host = check_media_host(authority);
    if (!host) return make_error(Errc::malformed, "media url host: " + host.error().detail);
    if (Status s = check_direct_path(path); !s) return s.error();
    if (!is_allowed_media_host(*host, media_conn_hosts))
        return make_error(Errc::untrusted, "media url host is not a WhatsApp media host");
    return "https://" + *host + std::string(path);
}

}  // namespace chatwoot::wa::media
