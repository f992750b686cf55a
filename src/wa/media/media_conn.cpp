#include "wa/media/media_conn.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace chatwoot::wa::media {

namespace {

using binary::Node;

Error bad(const std::string& what)
{
    return make_error(Errc::malformed, "media_conn: " + what);
}

bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Canonical decimal ("0" or no leading zero) that fits `max`.
std::optional<std::uint64_t> canonical_number(std::string_view s, std::uint64_t max)
{
    if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || v > max) return std::nullopt;
    return v;
}

Result<std::uint32_t> number_attr(const Node& n, std::string_view key, bool required)
{
    auto text = n.attr(key);
    if (!text) {
        if (required) return bad("no " + std::string(key));
        return std::uint32_t{0};
    }
    auto v = canonical_number(*text, UINT32_MAX);
    if (!v) return bad(std::string(key) + " is not a 32-bit decimal number");
    return static_cast<std::uint32_t>(*v);
}

}  // namespace

Result<std::string> check_media_host(std::string_view host)
{
    std::string_view name = host;
    std::string_view port;
    if (auto colon = host.find(':'); colon != std::string_view::npos) {
        name = host.substr(0, colon);
        port = host.substr(colon + 1);
        auto p = canonical_number(port, 65535);
        if (!p || *p == 0) return make_error(Errc::malformed, "media host port is not 1..65535");
    }
    if (name.empty() || name.size() > kMaxHostName)
        return make_error(Errc::malformed, "media host name is empty or over 253 bytes");
    std::string out;
    out.reserve(host.size());
    std::size_t label = 0;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (c == '.') {
            if (label == 0 || name[i - 1] == '-')
                return make_error(Errc::malformed, "media host has an empty label or one "
                                                   "ending in '-'");
            label = 0;
        } else if (is_alnum(c) || c == '-') {
            if (c == '-' && label == 0)
                return make_error(Errc::malformed, "media host label starts with '-'");
            if (++label > 63)
                return make_error(Errc::malformed, "media host label over 63 bytes");
        } else {
            return make_error(Errc::malformed, "media host has a character outside "
                                               "letters, digits, '-' and '.'");
        }
        out.push_back(lower(c));
    }
    if (label == 0 || name.back() == '-')
        return make_error(Errc::malformed, "media host ends in '.' or '-'");
    if (!port.empty()) {
        out.push_back(':');
        out.append(port);
    }
    return out;
}

Node media_conn_query()
{
    Node iq("iq");
    iq.set_attr("xmlns", "w:m");
    iq.set_attr("type", "set");
    iq.set_attr("to", binary::server_jid());
    iq.content = binary::Children{Node("media_conn")};
    return iq;
}

Result<MediaConn> parse_media_conn(const Node& iq)
{
    if (iq.tag != "iq") return bad("answer is <" + iq.tag + ">, not <iq>");
    if (auto type = iq.attr("type"); type && *type != "result")
        return bad("answer is an iq of type " + std::string(*type));
    const Node* mc = iq.child("media_conn");
    if (mc == nullptr) return bad("no <media_conn>");

    MediaConn out;
    auto auth = mc->attr("auth");
    if (!auth || auth->empty()) return bad("no auth");
    if (auth->size() > kMaxMediaAuth)
        return make_error(Errc::too_large, "media_conn: auth over " +
                                               std::to_string(kMaxMediaAuth) + " bytes");
    // It goes into a query string (percent-encoded there) and never into
    // a log; printable ASCII is all a token needs.
    if (!std::all_of(auth->begin(), auth->end(), [](char c) { return c > 0x20 && c < 0x7f; }))
        return bad("auth has a byte outside printable ASCII");
    out.auth = std::string(*auth);

    auto ttl = number_attr(*mc, "ttl", true);
    if (!ttl) return ttl.error();
    out.ttl = *ttl;
    auto auth_ttl = number_attr(*mc, "auth_ttl", false);
    if (!auth_ttl) return auth_ttl.error();
    out.auth_ttl = *auth_ttl;
    auto buckets = number_attr(*mc, "max_buckets", false);
    if (!buckets) return buckets.error();
    out.max_buckets = *buckets;

    if (const binary::Children* kids = mc->children()) {
        std::size_t count = 0;
        for (const Node& h : *kids) {
            if (h.tag != "host") continue;  // other children are not ours
            if (++count > kMaxMediaHosts)
                return make_error(Errc::too_large, "media_conn: over " +
                                                       std::to_string(kMaxMediaHosts) + " hosts");
            auto name = h.attr("hostname");
            if (!name) return bad("a <host> without hostname");
            auto checked = check_media_host(*name);
            if (!checked) return bad(checked.error().detail);
            if (std::find(out.hosts.begin(), out.hosts.end(), *checked) == out.hosts.end())
                out.hosts.push_back(std::move(*checked));
        }
    }
    if (out.hosts.empty()) return bad("no <host>");
    return out;
}

}  // namespace chatwoot::wa::media
