// The chatwoot_inbox block's rules (inbox_config.hpp) and its C face
// (include/chatwoot_inbox_conf.h).  Error texts keep nginx's voice:
// `invalid <what> "<value>"`, and they are what `nginx -t` shows.

#include "config/inbox_config.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "bridge/agent_reply.hpp"
#include "bridge/attachment_url.hpp"
#include "chatwoot/webhook_utf8.hpp"
#include "chatwoot_command.h"
#include "chatwoot_inbox_conf.h"
#include "wa/noise/cert_chain.hpp"

#include <libpq-fe.h>

namespace chatwoot::config {

namespace {

std::string quoted(std::string_view v)
{
    std::string out;
    out.reserve(v.size() + 2);
    out += '"';
    out += v;
    out += '"';
    return out;
}

bool is_http_url(std::string_view url)
{
    auto starts_icase = [&](std::string_view prefix) {
        if (url.size() <= prefix.size()) {
            return false;
        }
        for (size_t i = 0; i < prefix.size(); i++) {
            char c = url[i];
            if (c >= 'A' && c <= 'Z') {
                c = static_cast<char>(c - 'A' + 'a');
            }
            if (c != prefix[i]) {
                return false;
            }
        }
        return true;
    };
    if (!starts_icase("http://") && !starts_icase("https://")) {
        return false;
    }
    // curl gets it as it is: no spaces or control characters to smuggle
    for (unsigned char c : url) {
        if (c <= ' ' || c == 0x7f) {
            return false;
        }
    }
    return true;
}

// A credential goes into an HTTP header (api_access_token) or is compared
// with one: a control character would split the header or never match.
bool has_control(std::string_view v)
{
    for (unsigned char c : v) {
        if (c < ' ' || c == 0x7f) {
            return true;
        }
    }
    return false;
}

std::optional<bool> parse_flag(std::string_view v)
{
    auto equals_icase = [&](std::string_view word) {
        if (v.size() != word.size()) {
            return false;
        }
        for (size_t i = 0; i < v.size(); i++) {
            char c = v[i];
            if (c >= 'A' && c <= 'Z') {
                c = static_cast<char>(c - 'A' + 'a');
            }
            if (c != word[i]) {
                return false;
            }
        }
        return true;
    };
    if (equals_icase("on")) {
        return true;
    }
    if (equals_icase("off")) {
        return false;
    }
    return std::nullopt;
}

std::string flag_error(std::string_view v)
{
    return "invalid value " + quoted(v) + ", it must be \"on\" or \"off\"";
}

// The trailing whitespace an editor leaves in a secret file is no part of
// the secret.
std::string_view trim_trailing(std::string_view v)
{
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' '
                          || v.back() == '\t')) {
        v.remove_suffix(1);
    }
    return v;
}

bool starts_icase(std::string_view text, std::string_view prefix)
{
    if (text.size() < prefix.size()) {
        return false;
    }
    for (size_t i = 0; i < prefix.size(); i++) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != prefix[i]) {
            return false;
        }
    }
    return true;
}

// "host", "host:port" or "[v6]:port" as a URL's authority holds it; no
// user info (credentials do not belong in nginx.conf's world-readable
// lines).  `need_port`: the port must be there.
bool valid_authority(std::string_view a, bool need_port)
{
    std::string_view host = a;
    std::string_view port;
    if (a.starts_with('[')) {
        const size_t close = a.find(']');
        if (close == std::string_view::npos || close == 1) {
            return false;
        }
        for (char c : a.substr(1, close - 1)) {
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
                  || c == ':' || c == '.')) {
                return false;
            }
        }
        std::string_view rest = a.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':') {
                return false;
            }
            port = rest.substr(1);
            if (port.empty()) {
                return false;
            }
        }
        host = {};
    } else {
        const size_t colon = a.rfind(':');
        if (colon != std::string_view::npos) {
            host = a.substr(0, colon);
            port = a.substr(colon + 1);
            if (port.empty()) {
                return false;
            }
        }
        if (host.empty()) {
            return false;
        }
        for (char c : host) {
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '.' || c == '-' || c == '_')) {
                return false;
            }
        }
    }
    if (port.empty()) {
        return !need_port;
    }
    auto n = parse_number(port);
    return n && *n >= 1 && *n <= 65535;
}

// A WebSocket URL: wss:// or ws://, an authority, and a path without
// spaces or control characters (it goes into the request line as it is).
bool valid_ws_url(std::string_view url, bool* plain)
{
    std::string_view rest;
    if (starts_icase(url, "wss://")) {
        rest = url.substr(6);
        *plain = false;
    } else if (starts_icase(url, "ws://")) {
        rest = url.substr(5);
        *plain = true;
    } else {
        return false;
    }
    const size_t slash = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, slash);
    if (!valid_authority(authority, false)) {
        return false;
    }
    for (unsigned char c : rest) {
        if (c <= ' ' || c >= 0x7f || c == '#') {
            return false;
        }
    }
    return true;
}

std::optional<std::array<uint8_t, 32>> parse_key_hex(std::string_view hex)
{
    if (hex.size() != 64) {
        return std::nullopt;
    }
    std::array<uint8_t, 32> key{};
    for (size_t i = 0; i < 64; i++) {
        const char c = hex[i];
        int v;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;
        } else {
            return std::nullopt;
        }
        key[i / 2] = static_cast<uint8_t>(key[i / 2] << 4 | v);
    }
    return key;
}

}  // namespace

std::optional<uint64_t> parse_number(std::string_view text)
{
    if (text.empty()) {
        return std::nullopt;
    }
    for (char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
    }
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()
        || n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return std::nullopt;
    }
    return n;
}

std::optional<uint64_t> parse_time(std::string_view text, bool seconds)
{
    // Units in the order nginx wants them, largest first, each at most
    // once; in milliseconds mode years and months are refused, as nginx
    // does for its msec directives.
    enum Step { start, year, month, week, day, hour, minute, second, msec, last };

    constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    uint64_t total = 0;
    uint64_t value = 0;
    bool digits = false;
    Step step = seconds ? start : month;

    size_t i = 0;
    while (i < text.size()) {
        const char c = text[i++];
        if (c >= '0' && c <= '9') {
            if (value > (kMax - static_cast<uint64_t>(c - '0')) / 10) {
                return std::nullopt;
            }
            value = value * 10 + static_cast<uint64_t>(c - '0');
            digits = true;
            continue;
        }

        Step next;
        uint64_t scale;
        switch (c) {
        case 'y': next = year; scale = 60ULL * 60 * 24 * 365; break;
        case 'M': next = month; scale = 60ULL * 60 * 24 * 30; break;
        case 'w': next = week; scale = 60ULL * 60 * 24 * 7; break;
        case 'd': next = day; scale = 60ULL * 60 * 24; break;
        case 'h': next = hour; scale = 60ULL * 60; break;
        case 'm':
            if (i < text.size() && text[i] == 's') {
                if (seconds) {
                    return std::nullopt;
                }
                i++;
                next = msec;
                scale = 1;
                break;
            }
            next = minute;
            scale = 60;
            break;
        case 's': next = second; scale = 1; break;
        case ' ': next = last; scale = 1; break;   // a bare number, then more
        default: return std::nullopt;
        }
        if (next <= step || (next == last && step >= second)) {
            return std::nullopt;
        }
        step = next;
        if (!seconds && step != msec) {
            scale *= 1000;
        }
        if (value > kMax / scale) {
            return std::nullopt;
        }
        value *= scale;
        if (total > kMax - value) {
            return std::nullopt;
        }
        total += value;
        value = 0;
        while (i < text.size() && text[i] == ' ') {
            i++;
        }
    }
    if (!digits) {
        return std::nullopt;
    }
    // a number without a unit at the end is seconds
    if (!seconds) {
        if (value > kMax / 1000) {
            return std::nullopt;
        }
        value *= 1000;
    }
    if (total > kMax - value) {
        return std::nullopt;
    }
    return total + value;
}

struct InboxConfigParser::Directive {
    std::string_view name;
    size_t min_args;
    size_t max_args;
    std::optional<std::string> (InboxConfigParser::*set)(std::string_view, Args,
                                                         const std::string_view*);
};

// Dispatch by the directive's full name.
const InboxConfigParser::Directive InboxConfigParser::kDirectives[] = {
    {"url", 1, 2, &InboxConfigParser::set_url},
    {"inbox", 1, 2, &InboxConfigParser::set_inbox},
    {"account", 1, 1, &InboxConfigParser::set_account},
    {"api_token", 1, 1, &InboxConfigParser::set_secret},
    {"api_token_file", 1, 1, &InboxConfigParser::set_secret},
    {"webhook_secret", 1, 1, &InboxConfigParser::set_secret},
    {"webhook_secret_file", 1, 1, &InboxConfigParser::set_secret},
    {"webhook_token", 1, 1, &InboxConfigParser::set_secret},
    {"webhook_token_file", 1, 1, &InboxConfigParser::set_secret},
    {"agent_signature", 1, 2, &InboxConfigParser::set_agent_signature},
    {"reopen_resolved", 1, 1, &InboxConfigParser::set_flag},
    {"open_as_pending", 1, 1, &InboxConfigParser::set_flag},
    {"ignore_groups", 1, 1, &InboxConfigParser::set_flag},
    {"control_conversation", 1, 2, &InboxConfigParser::set_control_conversation},
    {"import_on_link", 1, 1, &InboxConfigParser::set_flag},
    {"import_days", 1, 1, &InboxConfigParser::set_import_days},
    {"ignore_jids", 1, kIgnoreJidsPerLine, &InboxConfigParser::set_ignore_jids},
    {"synthetic_device", 1, 1, &InboxConfigParser::set_synthetic_device},
    {"throttle_backoff", 2, 2, &InboxConfigParser::set_throttle_backoff},
    {"device_timeout", 1, 1, &InboxConfigParser::set_device_timeout},
    {"concurrency", 1, 1, &InboxConfigParser::set_concurrency},
    {"rate", 1, 1, &InboxConfigParser::set_rate},
    {"whatsapp", 1, 1, &InboxConfigParser::set_whatsapp},
    {"whatsapp_server", 1, 3, &InboxConfigParser::set_whatsapp_server},
    {"whatsapp_version", 1, 1, &InboxConfigParser::set_whatsapp_version},
    {"whatsapp_device_name", 1, 1, &InboxConfigParser::set_whatsapp_device_name},
    {"whatsapp_proxy", 1, 1, &InboxConfigParser::set_whatsapp_proxy},
    {"whatsapp_media_max", 1, 1, &InboxConfigParser::set_whatsapp_media_max},
    {"media_host", 1, kMediaHostsPerLine, &InboxConfigParser::set_media_host},
    {"import_database", 1, 1, &InboxConfigParser::set_import_database},
    {"import_database_file", 1, 1, &InboxConfigParser::set_import_database},
};

InboxConfigParser::InboxConfigParser(std::string_view name)
{
    s_.name = std::string(name);
    s_.signature_delimiter = std::string(bridge::kDefaultSignatureDelimiter);

    // it names log lines, database rows and status entries
    bool ok = !name.empty();
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_' || c == '-')) {
            ok = false;
        }
    }
    if (!ok) {
        name_error_ = "invalid chatwoot_inbox name " + quoted(name)
                      + ": use letters, digits, \"_\" and \"-\"";
    }
}

std::optional<std::string> InboxConfigParser::add(std::string_view directive, Args args,
                                                  const std::string_view* file)
{
    for (const Directive& d : kDirectives) {
        if (d.name != directive) {
            continue;
        }
        if (args.size() < d.min_args || args.size() > d.max_args) {
            return "invalid number of arguments in " + quoted(directive)
                   + " of chatwoot_inbox " + quoted(s_.name);
        }
        return (this->*d.set)(directive, args, file);
    }
    return "unknown directive " + quoted(directive) + " in chatwoot_inbox " + quoted(s_.name);
}

std::optional<std::string> InboxConfigParser::set_url(std::string_view, Args args,
                                                      const std::string_view*)
{
    if (s_.url) {
        return "\"url\" of chatwoot_inbox " + quoted(s_.name) + " is duplicate";
    }
    if (!is_http_url(args[0])) {
        return "invalid Chatwoot URL " + quoted(args[0])
               + ", it must start with \"http://\" or \"https://\"";
    }
    if (args.size() == 2) {
        if (!args[1].starts_with("check=")) {
            return "invalid parameter " + quoted(args[1]);
        }
        auto interval = parse_time(args[1].substr(6), false);
        if (!interval || *interval < 1000) {
            return "invalid check interval " + quoted(args[1]) + ", it must be 1s or more";
        }
        s_.check_interval_msec = *interval;
    }
    s_.url = std::string(args[0]);
    return std::nullopt;
}

// "inbox 7;" names the inbox by id; "inbox name=WhatsApp;" by name, which
// the helper looks up (and with "create=<webhook URL>" makes as an API
// inbox whose callback is that URL).
std::optional<std::string> InboxConfigParser::set_inbox(std::string_view, Args args,
                                                        const std::string_view*)
{
    if (s_.inbox_id || s_.inbox_name) {
        return "\"inbox\" of chatwoot_inbox " + quoted(s_.name) + " is duplicate";
    }

    const std::string_view by = args[0];
    std::optional<std::string> name;
    std::optional<int64_t> id;

    if (by.size() > 5 && by.starts_with("name=")) {
        std::string_view n = by.substr(5);
        if (n.size() > kInboxNameMax) {
            return "invalid inbox name " + quoted(n) + ": at most 255 characters";
        }
        name = std::string(n);
    } else {
        auto n = parse_number(by);
        if (!n || *n < 1) {
            return "invalid inbox " + quoted(by) + ": an id (a positive number) or name=<name>";
        }
        id = static_cast<int64_t>(*n);
    }

    std::optional<std::string> create;
    if (args.size() == 2) {
        if (!name) {
            return quoted(args[1]) + " needs an inbox given by name=<name>";
        }
        if (args[1].size() <= 7 || !args[1].starts_with("create=")) {
            return "invalid parameter " + quoted(args[1]);
        }
        std::string_view url = args[1].substr(7);
        if (!is_http_url(url) || url.size() > kWebhookUrlMax) {
            return "invalid webhook URL " + quoted(url)
                   + ": an http:// or https:// URL of at most 2048 characters, where "
                     "Chatwoot reaches this nginx's chatwoot_webhook";
        }
        create = std::string(url);
    }

    s_.inbox_id = id;
    s_.inbox_name = std::move(name);
    s_.inbox_create_webhook = std::move(create);
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_account(std::string_view directive, Args args,
                                                          const std::string_view*)
{
    auto n = parse_number(args[0]);
    if (!n || *n < 1) {
        return "invalid account id " + quoted(args[0]) + ": a positive number";
    }
    s_.account_id = static_cast<int64_t>(*n);
    return std::nullopt;
}

// api_token, webhook_secret, webhook_token, and the *_file forms whose
// content the glue read.
std::optional<std::string> InboxConfigParser::set_secret(std::string_view directive, Args args,
                                                         const std::string_view* file)
{
    const bool from_file = directive.ends_with("_file");
    std::optional<std::string>* target;
    std::string_view what;

    if (directive.starts_with("api_token")) {
        target = &s_.api_token;
        what = "API token";
    } else if (directive.starts_with("webhook_secret")) {
        target = &s_.webhook_secret;
        what = "webhook secret";
    } else {
        target = &s_.webhook_token;
        what = "webhook token";
    }

    if (*target) {
        return "the " + std::string(what) + " of chatwoot_inbox " + quoted(s_.name)
               + " is set twice";
    }

    std::string_view value;
    if (from_file) {
        if (file == nullptr) {
            // the glue reads every *_file directive's file: a broken caller
            return "the file of " + quoted(directive) + " was not read";
        }
        value = trim_trailing(*file);
        if (value.empty() || value.size() > kSecretMax) {
            return "secret file " + quoted(args[0]) + " is empty or over 4096 bytes";
        }
        if (has_control(value)) {
            return "secret file " + quoted(args[0]) + " has control characters";
        }
    } else {
        value = args[0];
        if (value.empty() || value.size() > kSecretMax) {
            return "invalid " + quoted(directive) + " in chatwoot_inbox " + quoted(s_.name)
                   + ": empty or too long";
        }
        if (has_control(value)) {
            return "invalid " + quoted(directive) + " in chatwoot_inbox " + quoted(s_.name)
                   + ": it has control characters";
        }
    }

    *target = std::string(value);
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_agent_signature(std::string_view, Args args,
                                                                  const std::string_view*)
{
    auto on = parse_flag(args[0]);
    if (!on) {
        return flag_error(args[0]);
    }
    if (args.size() == 2 && !args[1].starts_with("delimiter=")) {
        return "invalid parameter " + quoted(args[1]);
    }
    s_.agent_signature = *on;
    if (args.size() == 2) {
        s_.signature_delimiter = std::string(args[1].substr(10));
    }
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_flag(std::string_view directive, Args args,
                                                       const std::string_view*)
{
    auto on = parse_flag(args[0]);
    if (!on) {
        return flag_error(args[0]);
    }
    if (directive == "reopen_resolved") {
        s_.reopen_resolved = *on;
    } else if (directive == "open_as_pending") {
        s_.open_as_pending = *on;
    } else if (directive == "import_on_link") {
        s_.import_on_link = *on;
    } else {
        s_.ignore_groups = *on;
    }
    return std::nullopt;
}

// control_conversation on|off [throttle=time]: the throttle is how long a
// kind of notice stays quiet after it spoke (a minute; tests shorten it).
std::optional<std::string> InboxConfigParser::set_control_conversation(std::string_view,
                                                                       Args args,
                                                                       const std::string_view*)
{
    auto on = parse_flag(args[0]);
    if (!on) {
        return flag_error(args[0]);
    }
    if (args.size() == 2) {
        if (!args[1].starts_with("throttle=")) {
            return "invalid parameter " + quoted(args[1]);
        }
        auto t = parse_time(args[1].substr(9), true);
        if (!t || *t < 1 || *t > 86400) {
            return "invalid control_conversation throttle " + quoted(args[1].substr(9))
                   + ", e.g. \"60s\" (1s to 1d)";
        }
        s_.control_throttle_sec = *t;
    }
    s_.control_conversation = *on;
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_ignore_jids(std::string_view, Args args,
                                                              const std::string_view*)
{
    for (std::string_view jid : args) {
        if (jid.find('@') == std::string_view::npos) {
            return "invalid JID " + quoted(jid)
                   + " in ignore_jids, e.g. 5511999999999@s.whatsapp.net or "
                     "120363000000000000@g.us";
        }
    }
    // all or nothing: a refused line leaves no half of itself behind
    s_.ignore_jids.insert(s_.ignore_jids.end(), args.begin(), args.end());
    return std::nullopt;
}

// Storage hosts an agent's attachment may be fetched from (redirected to)
// besides the url's own origin: S3, GCS, a CDN.  https unless written
// "http://host": plain http to a host outside the operator's Chatwoot is
// asked for by name, never assumed.
std::optional<std::string> InboxConfigParser::set_media_host(std::string_view, Args args,
                                                             const std::string_view*)
{
    std::vector<std::string> hosts;
    for (std::string_view h : args) {
        std::string why;
        auto origin = bridge::parse_media_host(h, &why);
        if (!origin) {
            return "invalid media_host " + quoted(h) + " of chatwoot_inbox " + quoted(s_.name)
                   + ": " + why + ", e.g. media_host s3.example.com; or media_host "
                   "https://storage.example.com:8443;";
        }
        hosts.push_back(origin->to_string());
    }
    s_.media_hosts.insert(s_.media_hosts.end(), hosts.begin(), hosts.end());
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_synthetic_device(std::string_view, Args args,
                                                                   const std::string_view*)
{
    if (args[0].empty()) {
        return "invalid synthetic_device \"\", a directory";
    }
    s_.synthetic_device = std::string(args[0]);
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_throttle_backoff(std::string_view, Args args,
                                                                   const std::string_view*)
{
    auto base = parse_time(args[0], false);
    auto cap = parse_time(args[1], false);
    if (!base || !cap || *base < 1 || *cap < *base) {
        return "invalid throttle_backoff \"" + std::string(args[0]) + " " + std::string(args[1])
               + "\", e.g. \"15s 60s\" (first wait, longest wait)";
    }
    s_.throttle_base_msec = *base;
    s_.throttle_cap_msec = *cap;
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_device_timeout(std::string_view, Args args,
                                                                 const std::string_view*)
{
    auto t = parse_time(args[0], true);
    if (!t || *t < 1) {
        return "invalid device_timeout " + quoted(args[0]) + ", e.g. \"5m\"";
    }
    s_.device_timeout_seconds = *t;
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_concurrency(std::string_view, Args args,
                                                              const std::string_view*)
{
    auto n = parse_number(args[0]);
    if (!n || *n < 1 || *n > kConcurrencyMax) {
        return "invalid concurrency " + quoted(args[0]) + ", it must be 1 to 256";
    }
    s_.concurrency = static_cast<unsigned>(*n);
    return std::nullopt;
}

// How far back an import goes when its request does not say, and the
// import_on_link one: whole days, at most what a command carries.
std::optional<std::string> InboxConfigParser::set_import_days(std::string_view, Args args,
                                                              const std::string_view*)
{
    auto n = parse_number(args[0]);
    if (!n || *n < 1 || *n > CW_COMMAND_DAYS_MAX) {
        return "invalid import_days " + quoted(args[0]) + ", it must be 1 to "
               + std::to_string(CW_COMMAND_DAYS_MAX);
    }
    s_.import_days = static_cast<unsigned>(*n);
    return std::nullopt;
}

// "<n>r/s" and nothing else: a suffix after the unit is a typo, not a rate.
std::optional<std::string> InboxConfigParser::set_rate(std::string_view, Args args,
                                                       const std::string_view*)
{
    std::string_view v = args[0];
    std::optional<uint64_t> n;
    if (v.ends_with("r/s")) {
        n = parse_number(v.substr(0, v.size() - 3));
    }
    if (!n || *n < 1 || *n > kRateMax) {
        return "invalid rate " + quoted(v) + ", e.g. \"10r/s\"";
    }
    s_.rate = static_cast<unsigned>(*n);
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_whatsapp(std::string_view, Args args,
                                                           const std::string_view*)
{
    if (s_.whatsapp) {
        return "\"whatsapp\" of chatwoot_inbox " + quoted(s_.name) + " is duplicate";
    }
    auto on = parse_flag(args[0]);
    if (!on) {
        return "invalid whatsapp " + quoted(args[0]) + ", it must be \"on\" or \"off\"";
    }
    s_.whatsapp = *on;
    return std::nullopt;
}

// "whatsapp_server <url> [root_key=<64 hex>] [ca_file=<pem>]": another
// server than WhatsApp's, for private test deployments.  The glue made
// ca_file= absolute and read the file: `file` is its content.
std::optional<std::string> InboxConfigParser::set_whatsapp_server(std::string_view, Args args,
                                                                  const std::string_view* file)
{
    if (s_.whatsapp_server) {
        return "\"whatsapp_server\" of chatwoot_inbox " + quoted(s_.name) + " is duplicate";
    }
    const std::string_view url = args[0];
    bool plain = false;
    if (url.size() > kWhatsAppServerMax || !valid_ws_url(url, &plain)) {
        return "invalid whatsapp_server " + quoted(url)
               + ", e.g. \"wss://web.whatsapp.com/ws/chat\"";
    }

    std::optional<std::array<uint8_t, 32>> key;
    std::optional<std::string> ca_file;
    for (std::string_view param : args.subspan(1)) {
        if (param.starts_with("root_key=") && !key) {
            key = parse_key_hex(param.substr(9));
            if (!key) {
                return "invalid whatsapp_server " + quoted(param)
                       + ", the server's root key as 64 hex digits";
            }
        } else if (param.starts_with("ca_file=") && !ca_file) {
            const std::string_view path = param.substr(8);
            if (path.empty()) {
                return "invalid whatsapp_server " + quoted(param) + ", a PEM file";
            }
            if (file == nullptr) {
                // the glue reads the ca_file: a broken caller
                return "the ca_file of \"whatsapp_server\" was not read";
            }
            if (file->size() > kCaFileMax
                || file->find("-----BEGIN CERTIFICATE-----") == std::string_view::npos) {
                return "invalid whatsapp_server " + quoted(param)
                       + ": no PEM certificate in it (or over 1 MiB)";
            }
            ca_file = std::string(path);
        } else {
            return "invalid parameter " + quoted(param) + " of whatsapp_server";
        }
    }
    // A plain-text server is a test server: it never has WhatsApp's key.
    if (plain && !key) {
        return "whatsapp_server " + quoted(url)
               + " is not TLS: \"ws://\" needs the test server's root_key=";
    }

    s_.whatsapp_server = std::string(url);
    s_.whatsapp_root_key = key;
    s_.whatsapp_ca_file = std::move(ca_file);
    return std::nullopt;
}

// "auto", or the version the ClientPayload says, e.g. 2.3000.1029030078.
std::optional<std::string> InboxConfigParser::set_whatsapp_version(std::string_view, Args args,
                                                                   const std::string_view*)
{
    if (s_.whatsapp_version_set) {
        return "\"whatsapp_version\" of chatwoot_inbox " + quoted(s_.name) + " is duplicate";
    }
    const std::string_view v = args[0];
    if (v == "auto") {
        s_.whatsapp_version_set = true;
        return std::nullopt;
    }
    std::array<unsigned, 3> parts{};
    std::string_view rest = v;
    bool ok = true;
    for (size_t i = 0; i < 3 && ok; i++) {
        const size_t dot = rest.find('.');
        const std::string_view part = i < 2 ? rest.substr(0, dot) : rest;
        if (i < 2 && dot == std::string_view::npos) {
            ok = false;
            break;
        }
        auto n = parse_number(part);
        ok = n && part.size() <= 10 && *n <= std::numeric_limits<uint32_t>::max();
        if (ok) {
            parts[i] = static_cast<unsigned>(*n);
        }
        if (i < 2) {
            rest = rest.substr(dot + 1);
        }
    }
    if (!ok || (parts[0] == 0 && parts[1] == 0 && parts[2] == 0)) {
        return "invalid whatsapp_version " + quoted(v)
               + ", \"auto\" or a version such as \"2.3000.1029030078\"";
    }
    s_.whatsapp_version = parts;
    s_.whatsapp_version_set = true;
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_whatsapp_device_name(std::string_view, Args args,
                                                                       const std::string_view*)
{
    if (s_.whatsapp_device_name) {
        return "\"whatsapp_device_name\" of chatwoot_inbox " + quoted(s_.name)
               + " is duplicate";
    }
    const std::string_view v = args[0];
    if (v.empty() || v.size() > kWhatsAppDeviceNameMax || has_control(v)
        || !webhook::valid_utf8(v.data(), v.size())) {
        return "invalid whatsapp_device_name " + quoted(v)
               + ", UTF-8 text of 1 to 64 bytes without control characters";
    }
    s_.whatsapp_device_name = std::string(v);
    return std::nullopt;
}

// "http://host:port": an HTTP CONNECT proxy.  Credentials are refused,
// not silently ignored.
// A size as nginx writes one ("64m", "512k", "1g", or bytes).  The cap is
// what one WhatsApp media file may have; WhatsApp's own limit for documents
// is 2 GB, so 4g is a generous ceiling, and under 1k nothing useful fits.
std::optional<std::string> InboxConfigParser::set_whatsapp_media_max(std::string_view,
                                                                     Args args,
                                                                     const std::string_view*)
{
    if (s_.whatsapp_media_max) {
        return "\"whatsapp_media_max\" of chatwoot_inbox " + quoted(s_.name) + " is duplicate";
    }
    std::string_view v = args[0];
    uint64_t scale = 1;
    if (!v.empty()) {
        switch (v.back()) {
        case 'k': case 'K': scale = 1024; break;
        case 'm': case 'M': scale = 1024 * 1024; break;
        case 'g': case 'G': scale = 1024 * 1024 * 1024; break;
        default: break;
        }
    }
    const auto n = parse_number(scale == 1 ? v : v.substr(0, v.size() - 1));
    constexpr uint64_t kMin = 1024, kMax = 4ull * 1024 * 1024 * 1024;
    if (!n || *n > kMax / scale || *n * scale < kMin) {
        return "invalid whatsapp_media_max " + quoted(args[0])
               + ": a size from 1k to 4g, e.g. \"64m\"";
    }
    s_.whatsapp_media_max = *n * scale;
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::set_whatsapp_proxy(std::string_view, Args args,
                                                                 const std::string_view*)
{
    if (s_.whatsapp_proxy) {
        return "\"whatsapp_proxy\" of chatwoot_inbox " + quoted(s_.name) + " is duplicate";
    }
    const std::string_view v = args[0];
    std::string_view authority;
    if (starts_icase(v, "http://")) {
        authority = v.substr(7);
        if (authority.ends_with('/')) {
            authority.remove_suffix(1);
        }
    }
    if (authority.empty() || !valid_authority(authority, true)) {
        return "invalid whatsapp_proxy " + quoted(v) + ", e.g. \"http://proxy.example:3128\"";
    }
    s_.whatsapp_proxy = std::string(v);
    return std::nullopt;
}

std::optional<std::string> InboxConfigParser::finish()
{
    if (name_error_) {
        return name_error_;
    }
    const char* missing = !s_.url                              ? "\"url\""
                          : !s_.account_id                     ? "\"account\""
                          : !s_.inbox_id && !s_.inbox_name     ? "\"inbox\""
                          : !s_.api_token                      ? "\"api_token\" or \"api_token_file\""
                                                               : nullptr;
    if (missing != nullptr) {
        return "chatwoot_inbox " + quoted(s_.name) + " needs " + missing;
    }
    // The synthetic device stands in for WhatsApp: one device per inbox.
    if (s_.whatsapp.value_or(false) && s_.synthetic_device) {
        return "chatwoot_inbox " + quoted(s_.name)
               + " has both \"whatsapp on\" and \"synthetic_device\": use one";
    }
    s_.whatsapp_on = s_.whatsapp.value_or(!s_.synthetic_device.has_value());
    if (!s_.whatsapp_server) {
        s_.whatsapp_server = std::string(kWhatsAppServer);
    }
    if (!s_.whatsapp_device_name) {
        s_.whatsapp_device_name = std::string(kWhatsAppDeviceName);
    }
    if (!s_.webhook_secret && !s_.webhook_token) {
        warning_ = "chatwoot_inbox " + quoted(s_.name)
                   + " has neither \"webhook_secret\" nor \"webhook_token\": its webhook "
                     "refuses every request";
    }
    build_conf();
    return std::nullopt;
}

// "import_database <conninfo>" or "import_database_file <path>" (the
// glue read the file): Chatwoot's PostgreSQL for the import's original
// timestamps.  libpq must be able to parse it (PQconninfoParse, no
// connection is made at nginx -t).  It holds a password: an error never
// repeats the value, nor libpq's message (which may quote part of it).
std::optional<std::string> InboxConfigParser::set_import_database(std::string_view directive,
                                                                  Args args,
                                                                  const std::string_view* file)
{
    const bool from_file = directive.ends_with("_file");
    if (s_.import_database) {
        return "the import database of chatwoot_inbox " + quoted(s_.name) + " is set twice";
    }
    std::string_view value;
    std::string where;
    if (from_file) {
        if (file == nullptr) {
            // the glue reads every *_file directive's file: a broken caller
            return "the file of " + quoted(directive) + " was not read";
        }
        value = trim_trailing(*file);
        where = "\"import_database_file\" " + quoted(args[0]);
    } else {
        value = args[0];
        where = "\"import_database\" in chatwoot_inbox " + quoted(s_.name);
    }
    if (value.empty() || value.size() > kSecretMax) {
        return "invalid " + where + ": empty or over 4096 bytes";
    }
    if (has_control(value)) {
        return "invalid " + where + ": it has control characters";
    }
    const bool url = value.starts_with("postgresql://") || value.starts_with("postgres://");
    if (!url && value.find('=') == std::string_view::npos) {
        return "invalid " + where
               + ": a postgresql:// URL or libpq key=value pairs (host=... dbname=...)";
    }
    const std::string text(value);
    char* error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(text.c_str(), &error);
    if (error != nullptr) {
        PQfreemem(error);
    }
    if (parsed == nullptr) {
        return "invalid " + where + ": libpq cannot parse it as a connection string";
    }
    bool has_dbname = false;
    for (PQconninfoOption* o = parsed; o->keyword != nullptr; o++) {
        if (std::string_view(o->keyword) == "dbname" && o->val != nullptr && *o->val != '\0') {
            has_dbname = true;
        }
    }
    PQconninfoFree(parsed);
    if (!has_dbname) {
        return "invalid " + where + ": it names no database (Chatwoot's, e.g."
               " postgresql://user:password@host/chatwoot_production)";
    }
    s_.import_database = text;
    return std::nullopt;
}

void InboxConfigParser::build_conf()
{
    auto c_str = [](const std::optional<std::string>& s) {
        return s ? s->c_str() : nullptr;
    };
    auto c_view = [](const std::optional<std::string>& s) {
        return s ? cw_str_t{s->data(), s->size()} : cw_str_t{nullptr, 0};
    };

    ignore_jids_c_.clear();
    for (const auto& jid : s_.ignore_jids) {
        ignore_jids_c_.push_back(jid.c_str());
    }

    media_hosts_c_.clear();
    for (const auto& h : s_.media_hosts) {
        media_hosts_c_.push_back(h.c_str());
    }

    conf_ = cw_inbox_conf_t{};
    conf_.name = s_.name.c_str();
    conf_.url = c_str(s_.url);
    conf_.api_token = c_str(s_.api_token);
    conf_.account_id = *s_.account_id;
    conf_.inbox_id = s_.inbox_id.value_or(0);
    conf_.inbox_name = c_str(s_.inbox_name);
    conf_.inbox_create_webhook = c_str(s_.inbox_create_webhook);
    conf_.device_timeout_sec = s_.device_timeout_seconds;
    conf_.concurrency = s_.concurrency;
    conf_.rate = s_.rate;
    conf_.import_on_link = s_.import_on_link;
    conf_.import_days = s_.import_days;
    conf_.reopen_resolved = s_.reopen_resolved;
    conf_.open_as_pending = s_.open_as_pending;
    conf_.synthetic_device = c_str(s_.synthetic_device);
    conf_.ignore_groups = s_.ignore_groups;
    conf_.control_conversation = s_.control_conversation;
    conf_.control_throttle_sec = s_.control_throttle_sec;
    conf_.agent_signature = s_.agent_signature;
    conf_.throttle_base_msec = s_.throttle_base_msec;
    conf_.throttle_cap_msec = s_.throttle_cap_msec;
    conf_.signature_delimiter = s_.signature_delimiter.c_str();
    conf_.ignore_jids = ignore_jids_c_.empty() ? nullptr : ignore_jids_c_.data();
    conf_.ignore_jids_n = ignore_jids_c_.size();
    conf_.check_interval_msec = s_.check_interval_msec;
    conf_.webhook_secret = c_view(s_.webhook_secret);
    conf_.webhook_token = c_view(s_.webhook_token);
    conf_.whatsapp = s_.whatsapp_on;
    conf_.whatsapp_server = c_str(s_.whatsapp_server);
    const auto key = s_.whatsapp_root_key.value_or(wa::noise::whatsapp_root_key);
    std::copy(key.begin(), key.end(), conf_.whatsapp_root_key);
    conf_.whatsapp_ca_file = c_str(s_.whatsapp_ca_file);
    const auto version = s_.whatsapp_version.value_or(std::array<unsigned, 3>{0, 0, 0});
    std::copy(version.begin(), version.end(), conf_.whatsapp_version);
    conf_.whatsapp_device_name = c_str(s_.whatsapp_device_name);
    conf_.whatsapp_proxy = c_str(s_.whatsapp_proxy);
    conf_.whatsapp_media_max = s_.whatsapp_media_max.value_or(kMediaMax);
    conf_.media_hosts = media_hosts_c_.empty() ? nullptr : media_hosts_c_.data();
    conf_.media_hosts_n = media_hosts_c_.size();
    conf_.import_database = c_str(s_.import_database);
}

}  // namespace chatwoot::config

// The C face: the parser and its last error, kept together so the text the
// glue logs lives until the next call.

struct cw_inbox_parser_s {
    explicit cw_inbox_parser_s(std::string_view name) : parser(name) {}

    chatwoot::config::InboxConfigParser parser;
    std::string error;
    bool failed = false;
};

namespace {

std::string_view view(cw_str_t s)
{
    return s.data == nullptr ? std::string_view() : std::string_view(s.data, s.len);
}

// Never throws: a text that cannot be copied leaves the generic one.
int fail(cw_inbox_parser_t* p, std::string_view text) noexcept
{
    try {
        p->error = text;
    } catch (...) {
        p->error.clear();
    }
    p->failed = true;
    return -1;
}

}  // namespace

extern "C" cw_inbox_parser_t* cw_inbox_parser_create(cw_str_t name) noexcept
{
    try {
        auto p = std::make_unique<cw_inbox_parser_s>(view(name));
        if (p->parser.name_error()) {
            fail(p.get(), *p->parser.name_error());
        }
        // owned by the glue from here: cw_inbox_parser_destroy() takes it back
        return p.release();
    } catch (...) {
        return nullptr;   // std::bad_alloc
    }
}

extern "C" void cw_inbox_parser_destroy(cw_inbox_parser_t* parser) noexcept
{
    std::unique_ptr<cw_inbox_parser_s> owned(parser);
}

extern "C" int cw_inbox_parser_add(cw_inbox_parser_t* p, const cw_str_t* args, size_t nargs,
                                   const cw_str_t* file) noexcept
{
    if (p->failed) {
        return -1;
    }
    try {
        if (nargs == 0) {
            return fail(p, "a chatwoot_inbox directive without a name");
        }
        std::vector<std::string_view> values;
        values.reserve(nargs - 1);
        for (size_t i = 1; i < nargs; i++) {
            values.push_back(view(args[i]));
        }
        std::string_view content;
        if (file != nullptr) {
            content = view(*file);
        }
        auto error = p->parser.add(view(args[0]), values, file != nullptr ? &content : nullptr);
        return error ? fail(p, *error) : 0;
    } catch (const std::exception& e) {
        return fail(p, e.what());
    } catch (...) {
        return fail(p, "");
    }
}

extern "C" int cw_inbox_parser_finish(cw_inbox_parser_t* p, cw_inbox_conf_t* conf) noexcept
{
    if (p->failed) {
        return -1;
    }
    try {
        auto error = p->parser.finish();
        if (error) {
            return fail(p, *error);
        }
        *conf = p->parser.conf();
        return 0;
    } catch (const std::exception& e) {
        return fail(p, e.what());
    } catch (...) {
        return fail(p, "");
    }
}

extern "C" const char* cw_inbox_parser_error(const cw_inbox_parser_t* p) noexcept
{
    if (!p->failed) {
        return nullptr;
    }
    return p->error.empty() ? "chatwoot_inbox: out of memory" : p->error.c_str();
}

extern "C" const char* cw_inbox_parser_warning(const cw_inbox_parser_t* p) noexcept
{
    const auto& w = p->parser.warning();
    return w ? w->c_str() : nullptr;
}
