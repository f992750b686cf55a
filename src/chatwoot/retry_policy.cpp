// Retry decisions for Chatwoot REST calls; see retry_policy.hpp for the
// Chatwoot facts each rule rests on.
#include "chatwoot/retry_policy.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

namespace chatwoot::rest {

namespace {

// Bodies are only looked at this far: Chatwoot's error bodies are one short
// JSON object, and a proxy's HTML page says nothing we act on.
constexpr size_t kScanBytes = 4096;
// How much of Chatwoot's error message a reason may carry.
constexpr size_t kDetailBytes = 120;

std::string_view scan_window(std::string_view body)
{
    return body.substr(0, std::min(body.size(), kScanBytes));
}

char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool equals_ci(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

bool contains_ci(std::string_view hay, std::string_view needle)
{
    if (needle.size() > hay.size())
        return false;
    for (size_t i = 0; i + needle.size() <= hay.size(); i++)
        if (equals_ci(hay.substr(i, needle.size()), needle))
            return true;
    return false;
}

bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void skip_ws(std::string_view s, size_t& i)
{
    while (i < s.size() && is_ws(s[i]))
        i++;
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Appends `piece` (one whole character) if it still fits.  Returns false
// once the detail is full, so a multi-byte character is never cut.
bool put(std::string& out, std::string_view piece)
{
    if (out.size() + piece.size() > kDetailBytes)
        return false;
    out.append(piece);
    return true;
}

void put_code_point(std::string& out, uint32_t cp, bool& full)
{
    if (full)
        return;
    if (cp < 0x20 || cp == 0x7f) {  // no control characters in a log line
        full = !put(out, " ");
        return;
    }
    char buf[4];
    size_t n;
    if (cp < 0x80) {
        buf[0] = char(cp);
        n = 1;
    } else if (cp < 0x800) {
        buf[0] = char(0xc0 | (cp >> 6));
        buf[1] = char(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        buf[0] = char(0xe0 | (cp >> 12));
        buf[1] = char(0x80 | ((cp >> 6) & 0x3f));
        buf[2] = char(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        buf[0] = char(0xf0 | (cp >> 18));
        buf[1] = char(0x80 | ((cp >> 12) & 0x3f));
        buf[2] = char(0x80 | ((cp >> 6) & 0x3f));
        buf[3] = char(0x80 | (cp & 0x3f));
        n = 4;
    }
    full = !put(out, std::string_view(buf, n));
}

// One raw UTF-8 character at s[i]; advances i.  Invalid bytes become '?'
// so that whatever a server sends, the log line stays valid UTF-8.
uint32_t take_utf8(std::string_view s, size_t& i)
{
    const auto b0 = static_cast<unsigned char>(s[i]);
    int extra;
    uint32_t cp, min;
    if (b0 < 0x80) {
        i++;
        return b0;
    } else if ((b0 & 0xe0) == 0xc0) {
        extra = 1, cp = b0 & 0x1f, min = 0x80;
    } else if ((b0 & 0xf0) == 0xe0) {
        extra = 2, cp = b0 & 0x0f, min = 0x800;
    } else if ((b0 & 0xf8) == 0xf0) {
        extra = 3, cp = b0 & 0x07, min = 0x10000;
    } else {
        i++;
        return '?';
    }
    if (i + extra >= s.size()) {  // cut off by the end of the window
        i++;
        return '?';
    }
    for (int k = 1; k <= extra; k++) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xc0) != 0x80) {
            i++;
            return '?';
        }
        cp = (cp << 6) | (b & 0x3f);
    }
    i += extra + 1;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return '?';
    return cp;
}

// The JSON string starting at s[i] (just past its opening quote), decoded,
// cleaned and cut to kDetailBytes.  A string the window cuts off ends there.
std::string read_json_string(std::string_view s, size_t i)
{
    std::string out;
    bool full = false;
    while (i < s.size() && !full) {
        const char c = s[i];
        if (c == '"')
            break;
        if (c != '\\') {
            put_code_point(out, take_utf8(s, i), full);
            continue;
        }
        if (++i >= s.size())
            break;
        const char e = s[i++];
        switch (e) {
        case 'n': case 'r': case 't': case 'b': case 'f':
            put_code_point(out, ' ', full);
            break;
        case 'u': {
            auto hex4 = [&](size_t at) -> int32_t {
                if (at + 4 > s.size())
                    return -1;
                int32_t v = 0;
                for (size_t k = 0; k < 4; k++) {
                    const int h = hex_value(s[at + k]);
                    if (h < 0)
                        return -1;
                    v = v * 16 + h;
                }
                return v;
            };
            const int32_t hi = hex4(i);
            if (hi < 0) {
                put_code_point(out, '?', full);
                break;
            }
            i += 4;
            uint32_t cp = uint32_t(hi);
            if (hi >= 0xd800 && hi <= 0xdbff && i + 1 < s.size()
                && s[i] == '\\' && s[i + 1] == 'u') {
                const int32_t lo = hex4(i + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((uint32_t(hi) - 0xd800) << 10)
                         + (uint32_t(lo) - 0xdc00);
                    i += 6;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = '?';  // a lone surrogate
            put_code_point(out, cp, full);
            break;
        }
        default:  // \" \\ \/ and anything unknown: the character itself
            put_code_point(out, static_cast<unsigned char>(e), full);
            break;
        }
    }
    // Collapse the edges a cleaned message may have.
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

// Where the string value of top-level-looking key `"key"` starts, as in
// {"error":"..."} or, with `array`, {"errors":["..."]}.  Not a JSON parser:
// the body may be cut off by the scan window, and Chatwoot's error bodies
// are flat objects.  A quoted "key" inside a value is escaped (\"key\"), so
// it cannot be taken for a key.
std::optional<size_t> find_string_value(std::string_view s, std::string_view key,
                                        bool array)
{
    const std::string quoted = "\"" + std::string(key) + "\"";
    for (size_t at = s.find(quoted); at != std::string_view::npos;
         at = s.find(quoted, at + 1)) {
        size_t i = at + quoted.size();
        skip_ws(s, i);
        if (i >= s.size() || s[i] != ':')
            continue;
        i++;
        skip_ws(s, i);
        if (array) {
            if (i >= s.size() || s[i] != '[')
                continue;
            i++;
            skip_ws(s, i);
        }
        if (i < s.size() && s[i] == '"')
            return i + 1;
    }
    return std::nullopt;
}

// Chatwoot's one-line error message from a JSON error body (section 5.1
// shapes: {"error":..}, {"message":..,"attributes":..}, {"errors":[..]}),
// or "" when the body is not such an object (HTML from a proxy, say).
std::string error_detail(std::string_view body)
{
    const std::string_view s = scan_window(body);
    size_t i = 0;
    skip_ws(s, i);
    if (i >= s.size() || s[i] != '{')
        return {};
    if (auto at = find_string_value(s, "error", false))
        return read_json_string(s, *at);
    if (auto at = find_string_value(s, "message", false))
        return read_json_string(s, *at);
    if (auto at = find_string_value(s, "errors", true))
        return read_json_string(s, *at);
    return {};
}

std::string with_detail(std::string reason, std::string_view detail)
{
    if (!detail.empty()) {
        reason += ": ";
        reason += detail;
    }
    return reason;
}

Classification make(Outcome o, Cause c, Scope s, bool may_have_applied,
                    std::string reason)
{
    return Classification{o, c, s, may_have_applied, std::move(reason)};
}

// 401s, by the fixed texts Chatwoot answers with (CONTRACT.md section 5.1).
// Only these texts are echoed: a 401 page from something else in front of
// Chatwoot is not ours to repeat.  Scope server: the credentials are wrong
// for every request, so the caller should stop the queue and tell the
// operator rather than fail each message in turn.
struct KnownDenial {
    std::string_view phrase;
    std::string_view detail;
    Scope scope;
};

constexpr std::array kUnauthorized{
    KnownDenial{"Invalid Access Token", "token not recognised", Scope::server},
    KnownDenial{"You need to sign in", "no token sent", Scope::server},
    KnownDenial{"not authorized to access this account",
                "token's user is not in this account", Scope::server},
    KnownDenial{"Account is suspended", "account suspended", Scope::server},
    KnownDenial{"not authorized for bots",
                "an agent-bot token may not call this endpoint", Scope::request},
    KnownDenial{"not authorized to do this action",
                "the token's role may not do this", Scope::request},
};

constexpr std::array kForbidden{
    KnownDenial{"only allowed for API inboxes", "not an API inbox",
                Scope::request},
};

template <size_t N>
Classification denial(std::string_view body, const std::array<KnownDenial, N>& known,
                      std::string reason, Scope unknown_scope)
{
    const std::string_view s = scan_window(body);
    for (const KnownDenial& k : known)
        if (contains_ci(s, k.phrase))
            return make(Outcome::permanent, Cause::unauthorized, k.scope, false,
                        reason + " (" + std::string(k.detail) + ")");
    return make(Outcome::permanent, Cause::unauthorized, unknown_scope, false,
                std::move(reason));
}

std::string status_text(std::string_view what, int status)
{
    return std::string(what) + " " + std::to_string(status);
}

}  // namespace

Classification classify(const Response& r)
{
    switch (r.transport_error) {
    case TransportError::none:
        break;
    // Nothing reached the server: it cannot have acted.  The host is
    // unreachable for everyone, not just for this request.
    case TransportError::connect:
        return make(Outcome::retry, Cause::network, Scope::server, false,
                    "connect failed");
    // The request went out; the server may have done it.  This holds even
    // if a 2xx status line came before the transfer broke.
    case TransportError::timeout:
        return make(Outcome::retry, Cause::network, Scope::request, true,
                    "timed out");
    case TransportError::reset:
        return make(Outcome::retry, Cause::network, Scope::request, true,
                    "connection reset");
    case TransportError::other:
        return make(Outcome::retry, Cause::network, Scope::request, true,
                    "transport error");
    }

    const int s = r.http_status;
    // No status, or one no HTTP server sends: a broken exchange, treated as
    // a lost connection.  Retrying loses nothing; failing would.
    if (s < 200 || s > 599)
        return make(Outcome::retry, Cause::network, Scope::request, true,
                    s == 0 ? std::string("no HTTP status")
                           : status_text("invalid HTTP status", s));
    // Chatwoot did it, but what it answered is over the cap and cannot be
    // read (it would only fail to parse further on).  Asking again gets the
    // same answer, and a create asked again is made twice: permanent, with
    // may_have_applied so that the caller of a create looks it up.
    if (s < 300 && r.body_truncated)
        return make(Outcome::permanent, Cause::rejected, Scope::request, true,
                    status_text("answer", s) + " over the "
                        + std::to_string(r.body_cap) + "-byte cap");
    if (s < 300)
        return make(Outcome::success, Cause::ok, Scope::request, false,
                    status_text("ok", s));
    // curl follows redirects; one left over means a wrong base URL (http
    // to https, a missing path prefix), which waiting does not fix.
    if (s < 400)
        return make(Outcome::permanent, Cause::rejected, Scope::request, false,
                    status_text("unexpected redirect", s)
                        + ": check the Chatwoot URL");

    switch (s) {
    case 408:  // the server gave up reading the request: nothing was done
        return make(Outcome::retry, Cause::server_error, Scope::request, false,
                    "request timeout 408");
    case 425:  // TLS early data refused; a normal retry is the remedy
        return make(Outcome::retry, Cause::server_error, Scope::request, false,
                    "too early 425");
    case 429:
        // Rack::Attack refuses before the application runs.  Its counters are
        // per IP and per account: every request to this Chatwoot is refused
        // until the window moves on.
        return make(Outcome::retry, Cause::throttled, Scope::server, false,
                    "throttled by Chatwoot (429)");
    case 401:
        return denial(r.body, kUnauthorized, "unauthorized: check api_token",
                      Scope::server);
    case 403:
        return denial(r.body, kForbidden, "forbidden: check api_token",
                      Scope::request);
    case 404:
        return make(Outcome::permanent, Cause::not_found, Scope::request, false,
                    with_detail("not found (404)", error_detail(r.body)));
    case 422:
        // The flood guard's own words.  Matched anywhere in the body, case
        // folded: the RecordInvalid shape carries them bare, and the
        // "Validation failed: " before them is Rails' I18n text, which a
        // non-English locale may translate (the words themselves are a
        // literal in Chatwoot's model).
        if (contains_ci(scan_window(r.body), "Too many messages"))
            return make(Outcome::retry, Cause::flood_guard, Scope::conversation,
                        false, "conversation flood guard (422 Too many messages)");
        break;
    // The server (in practice a proxy: Rails sends neither) says it will
    // never handle this method or HTTP version.  A configuration problem an
    // operator has to fix; retrying would only wedge the conversation.
    case 501:
    case 505:
        return make(Outcome::permanent, Cause::rejected, Scope::request, false,
                    status_text("server cannot handle this request", s)
                        + ": check the reverse proxy");
    // The gateway cannot reach Chatwoot, or Chatwoot is down: true for
    // every request, so all of them should wait.
    case 502:
    case 503:
    case 504:
        return make(Outcome::retry, Cause::server_error, Scope::server, true,
                    status_text("server unavailable", s));
    default:
        break;
    }
    if (s < 500)
        return make(Outcome::permanent, Cause::rejected, Scope::request, false,
                    with_detail(status_text("rejected", s), error_detail(r.body)));
    // A 500 may come after a commit (an exception in a callback), hence
    // may_have_applied.
    return make(Outcome::retry, Cause::server_error, Scope::request, true,
                status_text("server error", s));
}

std::string_view outcome_name(Outcome o)
{
    switch (o) {
    case Outcome::success: return "success";
    case Outcome::retry: return "retry";
    case Outcome::permanent: return "permanent";
    }
    return "?";
}

std::string_view cause_name(Cause c)
{
    switch (c) {
    case Cause::ok: return "ok";
    case Cause::network: return "network";
    case Cause::server_error: return "server_error";
    case Cause::throttled: return "throttled";
    case Cause::flood_guard: return "flood_guard";
    case Cause::unauthorized: return "unauthorized";
    case Cause::not_found: return "not_found";
    case Cause::rejected: return "rejected";
    }
    return "?";
}

std::string_view scope_name(Scope s)
{
    switch (s) {
    case Scope::request: return "request";
    case Scope::conversation: return "conversation";
    case Scope::server: return "server";
    }
    return "?";
}

// ---------------------------------------------------------------------------
// Retry-After

namespace {

std::string_view trim_ows(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

// A small cursor over an HTTP-date; every step fails softly.
struct Cursor {
    std::string_view s;
    size_t i = 0;
    bool ok = true;

    void lit(std::string_view want)
    {
        if (ok && s.substr(i, want.size()) == want)
            i += want.size();
        else
            ok = false;
    }

    int digits(size_t n)
    {
        int v = 0;
        for (size_t k = 0; ok && k < n; k++, i++) {
            if (i >= s.size() || !is_digit(s[i])) {
                ok = false;
                return 0;
            }
            v = v * 10 + (s[i] - '0');
        }
        return v;
    }

    // The index in `names` of the name at the cursor (ASCII case folded:
    // strictly the grammar is case-sensitive, but nothing is gained by
    // refusing "mon" from a sloppy server).
    template <size_t N>
    int name(const std::array<std::string_view, N>& names)
    {
        for (size_t k = 0; ok && k < N; k++)
            if (equals_ci(s.substr(i, names[k].size()), names[k])) {
                i += names[k].size();
                return int(k);
            }
        ok = false;
        return 0;
    }

    bool at_end() const { return ok && i == s.size(); }
};

constexpr std::array<std::string_view, 7> kDays{"Mon", "Tue", "Wed", "Thu",
                                                "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays{
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> kMonths{
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct Fields {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

void time_of_day(Cursor& c, Fields& f)
{
    f.hour = c.digits(2);
    c.lit(":");
    f.minute = c.digits(2);
    c.lit(":");
    f.second = c.digits(2);
}

// Sun, 06 Nov 1994 08:49:37 GMT
std::optional<Fields> imf_fixdate(std::string_view s)
{
    Cursor c{s};
    Fields f;
    c.name(kDays);
    c.lit(", ");
    f.day = c.digits(2);
    c.lit(" ");
    f.month = c.name(kMonths) + 1;
    c.lit(" ");
    f.year = c.digits(4);
    c.lit(" ");
    time_of_day(c, f);
    c.lit(" GMT");
    return c.at_end() ? std::optional(f) : std::nullopt;
}

// Sunday, 06-Nov-94 08:49:37 GMT (year resolved by the caller)
std::optional<Fields> rfc850_date(std::string_view s)
{
    Cursor c{s};
    Fields f;
    c.name(kLongDays);
    c.lit(", ");
    f.day = c.digits(2);
    c.lit("-");
    f.month = c.name(kMonths) + 1;
    c.lit("-");
    f.year = c.digits(2);
    c.lit(" ");
    time_of_day(c, f);
    c.lit(" GMT");
    return c.at_end() ? std::optional(f) : std::nullopt;
}

// Sun Nov  6 08:49:37 1994
std::optional<Fields> asctime_date(std::string_view s)
{
    Cursor c{s};
    Fields f;
    c.name(kDays);
    c.lit(" ");
    f.month = c.name(kMonths) + 1;
    c.lit(" ");
    if (c.ok && c.i < s.size() && s[c.i] == ' ') {
        c.i++;
        f.day = c.digits(1);
    } else {
        f.day = c.digits(2);
    }
    c.lit(" ");
    time_of_day(c, f);
    c.lit(" ");
    f.year = c.digits(4);
    return c.at_end() ? std::optional(f) : std::nullopt;
}

// Seconds since the epoch, or nullopt for an impossible date or time.
std::optional<int64_t> to_unix(const Fields& f)
{
    using namespace std::chrono;
    // 60: a leap second, which the grammar allows.
    if (f.hour > 23 || f.minute > 59 || f.second > 60)
        return std::nullopt;
    const year_month_day ymd{year{f.year}, month{unsigned(f.month)},
                             day{unsigned(f.day)}};
    if (!ymd.ok())
        return std::nullopt;
    const int64_t days = sys_days(ymd).time_since_epoch().count();
    return days * 86400 + f.hour * 3600 + f.minute * 60 + f.second;
}

}  // namespace

std::optional<Millis> parse_retry_after(std::string_view value,
                                        std::chrono::system_clock::time_point now,
                                        Millis max)
{
    using namespace std::chrono;
    if (max < Millis(0))
        max = Millis(0);
    const std::string_view v = trim_ows(value);
    if (v.empty())
        return std::nullopt;

    if (std::all_of(v.begin(), v.end(), is_digit)) {
        // delta-seconds: any number of digits, saturated so a long one
        // clamps instead of overflowing.
        const uint64_t limit = uint64_t(ceil<seconds>(max).count());
        uint64_t secs = 0;
        for (char ch : v) {
            secs = secs * 10 + uint64_t(ch - '0');
            if (secs > limit)
                return max;
        }
        return std::min(Millis(seconds(secs)), max);
    }

    std::optional<Fields> f = imf_fixdate(v);
    bool two_digit_year = false;
    if (!f) {
        f = rfc850_date(v);
        two_digit_year = f.has_value();
    }
    if (!f)
        f = asctime_date(v);
    if (!f)
        return std::nullopt;

    // Whole seconds of `now` and the fraction past them, kept apart so that
    // no step can overflow, whatever the date says.  Split by hand: chrono's
    // floor() converts back to the clock's unit to compare, which overflows
    // near the ends of the clock's range.
    using Tick = system_clock::duration;
    static_assert(Tick::period::num == 1);
    constexpr auto per_second = Tick::rep(Tick::period::den);
    const Tick::rep ticks = now.time_since_epoch().count();
    Tick::rep whole = ticks / per_second, part = ticks % per_second;
    if (part < 0) {
        whole -= 1;
        part += per_second;
    }
    const sys_seconds now_s{seconds(whole)};
    const Tick frac(part);  // in [0, 1 s)

    if (two_digit_year) {
        // RFC 9110 5.6.7: a two-digit year more than 50 years ahead means
        // the most recent past year with those digits.
        const int this_year = int(year_month_day{floor<days>(now_s)}.year());
        int y = this_year - this_year % 100 + f->year;
        if (y > this_year + 50)
            y -= 100;
        f->year = y;
    }
    const std::optional<int64_t> at = to_unix(*f);
    if (!at)
        return std::nullopt;

    const int64_t ahead = *at - now_s.time_since_epoch().count();
    if (ahead <= 0)
        return Millis(0);  // already past: retry when the backoff says
    if (seconds(ahead) > max + seconds(1))
        return max;
    // Rounded up: a wait a fraction short of the date would be too early.
    return std::min(ceil<Millis>(seconds(ahead) - frac), max);
}

// ---------------------------------------------------------------------------
// Backoff

const Schedule* Backoff::schedule(Cause cause) const
{
    switch (cause) {
    case Cause::network: return &policy_.network;
    case Cause::server_error: return &policy_.server_error;
    case Cause::throttled: return &policy_.throttled;
    case Cause::flood_guard: return &policy_.flood_guard;
    default: return nullptr;
    }
}

namespace {

uint64_t non_negative(Millis m)
{
    return m.count() > 0 ? uint64_t(m.count()) : 0;
}

}  // namespace

Millis Backoff::ceiling(unsigned attempt, Cause cause) const
{
    const Schedule* s = schedule(cause);
    if (s == nullptr)
        return Millis(0);
    const uint64_t cap = non_negative(s->cap);
    const uint64_t floor = non_negative(s->floor);
    uint64_t c = std::min(non_negative(s->base), cap);
    // Doubling stops at the cap, so this loops at most ~64 times however
    // large the attempt count grows.
    for (unsigned n = std::max(attempt, 1u) - 1; n > 0 && c < cap && c > 0; n--)
        c = c > cap / 2 ? cap : c * 2;
    return Millis(int64_t(std::max(c, floor)));
}

Millis Backoff::delay(unsigned attempt, Cause cause,
                      std::optional<Millis> retry_after, uint64_t draw) const
{
    const Schedule* s = schedule(cause);
    if (s == nullptr)
        return Millis(0);
    const uint64_t hi = uint64_t(ceiling(attempt, cause).count());
    const uint64_t lo = std::min(non_negative(s->floor), hi);
    // Uniform in [lo, hi] by a multiply-shift of the 64 random bits: no
    // modulo bias worth the name, and monotone in `draw`.
    __extension__ using u128 = unsigned __int128;
    const uint64_t span = hi - lo;
    const uint64_t offset =
        span == std::numeric_limits<uint64_t>::max()
            ? draw
            : uint64_t((u128(draw) * (u128(span) + 1)) >> 64);
    Millis d(int64_t(lo + offset));
    if (retry_after) {
        const Millis asked = std::clamp(*retry_after, Millis(0),
                                        std::max(policy_.retry_after_max, Millis(0)));
        d = std::max(d, asked);
    }
    return d;
}

// ---------------------------------------------------------------------------
// Giving up

const GiveUpLimit* give_up_limit(const GiveUpPolicy& policy, Cause cause)
{
    switch (cause) {
    case Cause::network: return &policy.network;
    case Cause::server_error: return &policy.server_error;
    case Cause::throttled: return &policy.throttled;
    case Cause::flood_guard: return &policy.flood_guard;
    default: return nullptr;
    }
}

}  // namespace chatwoot::rest
