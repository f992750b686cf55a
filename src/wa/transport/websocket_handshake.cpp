#include "wa/transport/websocket_handshake.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace chatwoot::wa::transport {

namespace {

constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view status_prefix = "HTTP/1.1 ";

bool equal_nocase(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// RFC 9110 5.6.2 tchar.
bool token_char(char c)
{
    if (std::isalnum(static_cast<unsigned char>(c))) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), token_char);
}

// field-value and reason-phrase characters: SP, HTAB, VCHAR, obs-text.
bool value_char(char c)
{
    const auto u = static_cast<unsigned char>(c);
    return u == ' ' || u == '\t' || (u >= 0x21 && u != 0x7f);
}

bool is_value(std::string_view s)
{
    return std::all_of(s.begin(), s.end(), value_char);
}

std::string_view trim_ows(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string base64(ByteView bytes)
{
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(std::max(n, 0)));
    return out;
}

// The handshake writes these itself; a caller's copy would contradict it.
bool reserved_header(std::string_view name)
{
    for (std::string_view r : {"host", "upgrade", "connection", "origin", "content-length",
                               "transfer-encoding"}) {
        if (equal_nocase(name, r)) return true;
    }
    constexpr std::string_view sec = "sec-websocket-";
    return name.size() >= sec.size() && equal_nocase(name.substr(0, sec.size()), sec);
}

// What a server said, cut short and safe to log: the grammar already
// allows only visible characters, spaces and tabs.
std::string shown(std::string_view s)
{
    constexpr std::size_t limit = 80;
    return s.size() <= limit ? std::string(s) : std::string(s.substr(0, limit)) + "...";
}

}  // namespace

const char* handshake_failure_name(HandshakeFailure f)
{
    switch (f) {
    case HandshakeFailure::none: return "none";
    case HandshakeFailure::not_http: return "not_http";
    case HandshakeFailure::bad_status_line: return "bad_status_line";
    case HandshakeFailure::not_switching: return "not_switching";
    case HandshakeFailure::bad_header: return "bad_header";
    case HandshakeFailure::too_large: return "too_large";
    case HandshakeFailure::bad_upgrade: return "bad_upgrade";
    case HandshakeFailure::bad_connection: return "bad_connection";
    case HandshakeFailure::missing_accept: return "missing_accept";
    case HandshakeFailure::wrong_accept: return "wrong_accept";
    case HandshakeFailure::unrequested_extension: return "unrequested_extension";
    case HandshakeFailure::unrequested_protocol: return "unrequested_protocol";
    }
    return "unknown";
}

std::string websocket_accept(std::string_view key)
{
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx, key.data(), key.size()) == 1 &&
                    EVP_DigestUpdate(ctx, accept_guid.data(), accept_guid.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx, digest.data(), &len) == 1 && len == 20;
    EVP_MD_CTX_free(ctx);
    // SHA-1 over valid input fails only when OpenSSL cannot allocate or load
    // its default provider; an empty answer then matches no server's accept,
    // so the handshake fails rather than the process.
    if (!ok) return {};
    return base64(ByteView(digest.data(), 20));
}

Result<ClientHandshake> ClientHandshake::start(const WebSocketUrl& url,
                                               const HandshakeOptions& options,
                                               const crypto::RandomSource& random)
{
    if (options.max_response_head < 64)
        return make_error(Errc::unsupported, "max_response_head below 64 bytes");
    if (!is_value(options.origin))
        return make_error(Errc::malformed, "a control character in the Origin");
    for (const auto& [name, value] : options.extra_headers) {
        if (!is_token(name))
            return make_error(Errc::malformed, "a request header name that is not a token");
        if (!is_value(value))
            return make_error(Errc::malformed,
                              "a control character in the value of header " + name);
        if (reserved_header(name))
            return make_error(Errc::unsupported,
                              "header " + name + " is written by the handshake itself");
    }

    std::array<std::uint8_t, 16> nonce{};
    if (!random) return make_error(Errc::crypto_failure, "no random source for the key");
    if (Status st = random(nonce); !st) return st.error();

    ClientHandshake hs;
    hs.key_ = base64(nonce);
    hs.expected_accept_ = websocket_accept(hs.key_);
    hs.max_head_ = options.max_response_head;

    std::string& r = hs.request_;
    r.reserve(256);
    r.append("GET ").append(url.resource).append(" HTTP/1.1\r\n");
    r.append("Host: ").append(url.host_header()).append("\r\n");
    r.append("Upgrade: websocket\r\n");
    r.append("Connection: Upgrade\r\n");
    r.append("Sec-WebSocket-Key: ").append(hs.key_).append("\r\n");
    r.append("Sec-WebSocket-Version: 13\r\n");
    if (!options.origin.empty()) r.append("Origin: ").append(options.origin).append("\r\n");
    for (const auto& [name, value] : options.extra_headers)
        r.append(name).append(": ").append(value).append("\r\n");
    r.append("\r\n");
    return hs;
}

Error ClientHandshake::fail(HandshakeFailure why, Errc code, std::string detail)
{
    failure_ = why;
    error_ = make_error(code, "WebSocket handshake: " + std::move(detail));
    head_.clear();
    head_.shrink_to_fit();
    return *error_;
}

Result<ClientHandshake::Step> ClientHandshake::feed(ByteView chunk)
{
    if (error_) return *error_;
    if (complete_) return make_error(Errc::wrong_state, "WebSocket handshake already complete");

    const std::size_t old = head_.size();
    const std::size_t take = std::min(chunk.size(), max_head_ - old);
    head_.append(as_chars(chunk.first(take)));

    // Whatever is not "HTTP/1.1 " from its first byte on is no answer to a
    // WebSocket request (a TLS alert on a plain socket, an SSH banner...):
    // say so at once instead of waiting for a line end that may not come.
    const std::size_t prefix = std::min(head_.size(), status_prefix.size());
    if (std::string_view(head_).substr(0, prefix) != status_prefix.substr(0, prefix))
        return fail(HandshakeFailure::not_http, Errc::malformed,
                    "the server's answer is not HTTP/1.1");

    for (std::size_t i = scanned_; i < head_.size(); i++) {
        if (head_[i] != '\n') continue;
        if (i == 0 || head_[i - 1] != '\r')
            return fail(status_checked_ ? HandshakeFailure::bad_header
                                        : HandshakeFailure::bad_status_line,
                        Errc::malformed, "a line that ends without CR");
        if (!status_checked_) {
            if (Status st = parse_status_line(std::string_view(head_).substr(0, i - 1)); !st)
                return st.error();
            status_checked_ = true;
        }
        if (i >= 3 && head_[i - 2] == '\n') {
            const std::size_t end = i + 1;
            if (Status st = parse_head(std::string_view(head_).substr(0, end)); !st)
                return st.error();
            complete_ = true;
            scanned_ = end;
            head_.clear();
            head_.shrink_to_fit();
            return Step{true, end - old};
        }
    }
    scanned_ = head_.size();
    if (head_.size() >= max_head_)
        return fail(HandshakeFailure::too_large, Errc::too_large,
                    "the answer's head is over " + std::to_string(max_head_) + " bytes");
    return Step{false, take};
}

// "HTTP/1.1" SP 3DIGIT SP reason-phrase (RFC 9112 4).
Status ClientHandshake::parse_status_line(std::string_view line)
{
    std::string_view rest = line.substr(status_prefix.size());
    if (rest.size() < 4 || !std::isdigit(static_cast<unsigned char>(rest[0])) ||
        !std::isdigit(static_cast<unsigned char>(rest[1])) ||
        !std::isdigit(static_cast<unsigned char>(rest[2])) || rest[3] != ' ' ||
        !is_value(rest.substr(4)))
        return fail(HandshakeFailure::bad_status_line, Errc::malformed,
                    "a status line that is not \"HTTP/1.1 <code> <reason>\"");
    status_ = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
    if (status_ != 101)
        return fail(HandshakeFailure::not_switching, Errc::unsupported,
                    "the server answered " + std::to_string(status_) + " " +
                        shown(trim_ows(rest.substr(4))) + " instead of 101");
    return Done{};
}

// The header lines after the status line, up to the empty line; `head`
// ends with CRLF CRLF and every LF in it follows a CR (feed checked).
Status ClientHandshake::parse_head(std::string_view head)
{
    std::size_t pos = head.find("\r\n") + 2;
    int upgrades = 0;
    bool upgrade_ok = false;
    bool connection_upgrade = false;
    int accepts = 0;
    bool accept_ok = false;
    bool extension = false;
    bool protocol = false;

    for (;;) {
        const std::size_t eol = head.find("\r\n", pos);
        std::string_view line = head.substr(pos, eol - pos);
        pos = eol + 2;
        if (line.empty()) break;
        if (line.front() == ' ' || line.front() == '\t')
            return fail(HandshakeFailure::bad_header, Errc::malformed,
                        "a folded header line (obsolete line folding)");
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
            return fail(HandshakeFailure::bad_header, Errc::malformed,
                        "a header line that is not \"name: value\"");
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim_ows(line.substr(colon + 1));
        if (!is_value(value))
            return fail(HandshakeFailure::bad_header, Errc::malformed,
                        "a control character in header " + std::string(name));

        if (equal_nocase(name, "upgrade")) {
            upgrades++;
            upgrade_ok = equal_nocase(value, "websocket");
        } else if (equal_nocase(name, "connection")) {
            std::string_view list = value;
            while (!list.empty()) {
                const std::size_t comma = list.find(',');
                if (equal_nocase(trim_ows(list.substr(0, comma)), "upgrade"))
                    connection_upgrade = true;
                if (comma == std::string_view::npos) break;
                list.remove_prefix(comma + 1);
            }
        } else if (equal_nocase(name, "sec-websocket-accept")) {
            accepts++;
            accept_ok = !expected_accept_.empty() && value == expected_accept_;
        } else if (equal_nocase(name, "sec-websocket-extensions")) {
            extension = true;
        } else if (equal_nocase(name, "sec-websocket-protocol")) {
            protocol = true;
        }
    }

    if (upgrades != 1 || !upgrade_ok)
        return fail(HandshakeFailure::bad_upgrade, Errc::malformed,
                    upgrades == 0 ? "no Upgrade header"
                                  : "an Upgrade header that is not exactly one \"websocket\"");
    if (!connection_upgrade)
        return fail(HandshakeFailure::bad_connection, Errc::malformed,
                    "no Connection header holding \"Upgrade\"");
    if (accepts != 1)
        return fail(HandshakeFailure::missing_accept, Errc::malformed,
                    accepts == 0 ? "no Sec-WebSocket-Accept header"
                                 : "more than one Sec-WebSocket-Accept header");
    if (!accept_ok)
        return fail(HandshakeFailure::wrong_accept, Errc::bad_mac,
                    "Sec-WebSocket-Accept does not answer our key");
    if (extension)
        return fail(HandshakeFailure::unrequested_extension, Errc::unsupported,
                    "the server chose an extension we did not offer");
    if (protocol)
        return fail(HandshakeFailure::unrequested_protocol, Errc::unsupported,
                    "the server chose a subprotocol we did not offer");
    return Done{};
}

}  // namespace chatwoot::wa::transport
