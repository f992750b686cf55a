#include "bridge/whatsapp_markdown.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chatwoot::bridge {

namespace {

constexpr std::size_t npos = std::string_view::npos;

// ---------------------------------------------------------------------------
// Characters.  Both WhatsApp's word-boundary rule and CommonMark's flanking
// rules sort the character next to a marker into whitespace, punctuation
// or "other" (letters, digits).  We decode the neighbouring UTF-8 sequence
// so that accented letters count as letters and emoji as punctuation.

enum class CharClass : std::uint8_t { space, punct, other };

bool is_ascii_punct(unsigned char c)
{
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
           (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

CharClass classify(char32_t cp)
{
    if (cp < 0x80) {
        if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v') {
            return CharClass::space;
        }
        return is_ascii_punct(static_cast<unsigned char>(cp)) ? CharClass::punct
                                                              : CharClass::other;
    }
    // Unicode space separators (Zs) and the line/paragraph separators.
    if (cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
        cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000) {
        return CharClass::space;
    }
    if (cp >= 0xA1 && cp <= 0xBF) {
        // Latin-1 punctuation and symbols, minus the letters and digits
        // that live among them (ª ² ³ µ ¹ º ¼ ½ ¾).
        switch (cp) {
        case 0xAA: case 0xB2: case 0xB3: case 0xB5: case 0xB9:
        case 0xBA: case 0xBC: case 0xBD: case 0xBE:
            return CharClass::other;
        default:
            return CharClass::punct;
        }
    }
    // Punctuation and symbol blocks, emoji, the zero-width joiners and
    // variation selectors that are part of emoji sequences.  A table-free
    // approximation of Unicode's P and S categories, good enough to decide
    // "is this a word character".
    static constexpr std::array<std::pair<char32_t, char32_t>, 19> kPunct{{
        {0xD7, 0xD7},       {0xF7, 0xF7},       {0x200B, 0x200F},   {0x2010, 0x2027},
        {0x2030, 0x205E},   {0x2060, 0x206F},   {0x20A0, 0x20CF},   {0x2190, 0x2BFF},
        {0x2E00, 0x2E7F},   {0x3001, 0x303F},   {0xFE00, 0xFE0F},   {0xFE10, 0xFE1F},
        {0xFE30, 0xFE6F},   {0xFF01, 0xFF0F},   {0xFF1A, 0xFF20},   {0xFF3B, 0xFF40},
        {0xFF5B, 0xFF65},   {0x1F000, 0x1FAFF}, {0xE0000, 0xE007F},
    }};
    for (const auto& [lo, hi] : kPunct) {
        if (cp >= lo && cp <= hi) {
            return CharClass::punct;
        }
    }
    return CharClass::other;
}

struct Decoded {
    char32_t cp;
    std::size_t len;
};

// One code point at s[i] (i < s.size()).  Invalid or truncated sequences
// decode as U+FFFD of length 1, so callers never read past the end.
Decoded decode(std::string_view s, std::size_t i)
{
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
        return {c, 1};
    }
    std::size_t len = 0;
    char32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return {0xFFFD, 1};
    }
    if (s.size() - i < len) {
        return {0xFFFD, 1};
    }
    for (std::size_t k = 1; k < len; k++) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
            return {0xFFFD, 1};
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return {0xFFFD, 1};
    }
    return {cp, len};
}

// The code point that ends just before s[i] (i > 0).
char32_t decode_before(std::string_view s, std::size_t i)
{
    std::size_t start = i - 1;
    for (int steps = 0; start > 0 && steps < 3 &&
                        (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80;
         steps++) {
        start--;
    }
    const Decoded d = decode(s, start);
    return start + d.len == i ? d.cp : char32_t{0xFFFD};
}

// Class of the character before position i; the start of the range counts
// as whitespace, as in both WhatsApp's and CommonMark's rules.
CharClass class_before(std::string_view s, std::size_t i, std::size_t lo)
{
    return i <= lo ? CharClass::space : classify(decode_before(s, i));
}

// Class of the character at position i; the end of the range counts as
// whitespace.
CharClass class_at(std::string_view s, std::size_t i, std::size_t hi)
{
    return i >= hi ? CharClass::space : classify(decode(s, i).cp);
}

char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool starts_with_nocase(std::string_view s, std::size_t i, std::size_t hi,
                        std::string_view prefix)
{
    if (hi - i < prefix.size()) {
        return false;
    }
    for (std::size_t k = 0; k < prefix.size(); k++) {
        if (lower(s[i + k]) != prefix[k]) {
            return false;
        }
    }
    return true;
}

// A bare URL (http://, https://, www.) starting at i: returns its end, or i
// when there is none.  The caller checks that i is at a word start.  Like
// GFM's autolink extension, the URL runs to whitespace or '<', then loses
// trailing punctuation a sentence would end with (including emphasis
// markers, so "*see https://x.io*" keeps its closing '*') and unbalanced
// closing parentheses.  Backticks end it too: a code span is not part of
// a link.
std::size_t bare_url_end(std::string_view s, std::size_t i, std::size_t hi)
{
    std::size_t prefix = 0;
    if (starts_with_nocase(s, i, hi, "https://")) {
        prefix = 8;
    } else if (starts_with_nocase(s, i, hi, "http://")) {
        prefix = 7;
    } else if (starts_with_nocase(s, i, hi, "www.")) {
        prefix = 4;
    } else {
        return i;
    }
    std::size_t j = i + prefix;
    std::size_t opens = 0;
    std::size_t closes = 0;
    while (j < hi) {
        const auto c = static_cast<unsigned char>(s[j]);
        if (c <= 0x20 || c == 0x7F || c == '<' || c == '`') {
            break;
        }
        if (c >= 0x80) {
            const Decoded d = decode(s, j);
            if (classify(d.cp) == CharClass::space) {
                break;
            }
            j += d.len;
            continue;
        }
        opens += c == '(';
        closes += c == ')';
        j++;
    }
    while (j > i + prefix) {
        const char c = s[j - 1];
        if (c == '?' || c == '!' || c == '.' || c == ',' || c == ':' || c == ';' || c == '*' ||
            c == '_' || c == '~' || c == '\'' || c == '"') {
            j--;
        } else if (c == ')' && closes > opens) {
            closes--;
            j--;
        } else {
            break;
        }
    }
    return j > i + prefix ? j : i;
}

bool url_may_start(std::string_view s, std::size_t i)
{
    const char c = s[i];
    return (c == 'h' || c == 'H' || c == 'w' || c == 'W') &&
           class_before(s, i, 0) != CharClass::other;
}

// ---------------------------------------------------------------------------
// WhatsApp -> Chatwoot

enum : std::uint8_t { kPlain = 0, kProtected = 1, kPairMarker = 2 };

struct CodeSpan {
    std::size_t begin;  // first backtick of the opening run
    std::size_t end;    // one past the closing run
    bool fenced;        // ``` ... ``` running over more than one line
};

// WhatsApp's monospace (``` ... ```, may span lines) and inline code
// (` ... `, one line).  Other backtick runs are plain text.
std::vector<CodeSpan> find_whatsapp_code(std::string_view s)
{
    struct Run {
        std::size_t pos;
        std::size_t len;
        std::size_t line;
    };
    std::vector<Run> runs;
    std::size_t line = 0;
    for (std::size_t i = 0; i < s.size();) {
        if (s[i] == '\n') {
            line++;
            i++;
        } else if (s[i] == '`') {
            std::size_t j = i;
            while (j < s.size() && s[j] == '`') {
                j++;
            }
            if (j - i == 1 || j - i == 3) {
                runs.push_back({i, j - i, line});
            }
            i = j;
        } else {
            i++;
        }
    }
    // next_same[k]: the next run of the same length, found in one backward
    // pass so matching stays linear however many runs never close.
    std::vector<std::size_t> next_same(runs.size(), npos);
    std::size_t last1 = npos;
    std::size_t last3 = npos;
    for (std::size_t k = runs.size(); k-- > 0;) {
        std::size_t& last = runs[k].len == 1 ? last1 : last3;
        next_same[k] = last;
        last = k;
    }
    std::vector<CodeSpan> spans;
    for (std::size_t k = 0; k < runs.size();) {
        const std::size_t m = next_same[k];
        if (m != npos && (runs[k].len == 3 || runs[m].line == runs[k].line)) {
            spans.push_back({runs[k].pos, runs[m].pos + runs[m].len, runs[m].line != runs[k].line});
            k = m + 1;
        } else {
            k++;
        }
    }
    return spans;
}

int marker_index(char c)
{
    return c == '*' ? 0 : c == '_' ? 1 : c == '~' ? 2 : -1;
}

// Pairs WhatsApp markers on one line [ls, le).  A marker is a lone '*', '_'
// or '~' (runs such as "**" are never WhatsApp formatting) outside code and
// URLs.  It opens after start/space/punctuation when a non-space follows,
// and closes after a non-space when end/space/punctuation follows.  Each
// opener takes the first closer of its kind at least two bytes on (content
// is never empty), inside the pair enclosing it; nested pairs therefore use
// different markers, the nesting is at most three deep, and every byte is
// scanned once.
class WhatsAppLinePairer {
public:
    WhatsAppLinePairer(std::string_view s, std::vector<std::uint8_t>& mark) : s_(s), mark_(mark) {}

    void pair_line(std::size_t ls, std::size_t le)
    {
        ls_ = ls;
        le_ = le;
        const std::size_t len = le - ls;
        for (auto& v : next_closer_) {
            v.assign(len + 1, npos);
        }
        for (std::size_t i = le; i-- > ls;) {
            for (auto& v : next_closer_) {
                v[i - ls] = v[i - ls + 1];
            }
            if (is_closer(i)) {
                next_closer_[static_cast<std::size_t>(marker_index(s_[i]))][i - ls] = i;
            }
        }
        pair_range(ls, le);
    }

private:
    bool is_marker(std::size_t i) const
    {
        const char c = s_[i];
        return marker_index(c) >= 0 && mark_[i] == kPlain && !(i > ls_ && s_[i - 1] == c) &&
               !(i + 1 < le_ && s_[i + 1] == c);
    }
    bool is_opener(std::size_t i) const
    {
        return is_marker(i) && class_before(s_, i, ls_) != CharClass::other &&
               class_at(s_, i + 1, le_) != CharClass::space;
    }
    bool is_closer(std::size_t i) const
    {
        return i > ls_ && is_marker(i) && class_before(s_, i, ls_) != CharClass::space &&
               class_at(s_, i + 1, le_) != CharClass::other;
    }

    void pair_range(std::size_t lo, std::size_t hi)
    {
        std::size_t p = lo;
        while (p < hi) {
            if (is_opener(p) && p + 2 <= le_) {
                const auto k = static_cast<std::size_t>(marker_index(s_[p]));
                const std::size_t j = next_closer_[k][p + 2 - ls_];
                if (j < hi) {
                    mark_[p] = kPairMarker;
                    mark_[j] = kPairMarker;
                    pair_range(p + 1, j);
                    p = j + 1;
                    continue;
                }
            }
            p++;
        }
    }

    std::string_view s_;
    std::vector<std::uint8_t>& mark_;
    std::size_t ls_ = 0;
    std::size_t le_ = 0;
    std::array<std::vector<std::size_t>, 3> next_closer_;
};

void emit_whatsapp_code(std::string_view s, const CodeSpan& span, std::string& out)
{
    if (!span.fenced) {
        out.append(s.substr(span.begin, span.end - span.begin));
        return;
    }
    // CommonMark needs fences on lines of their own: WhatsApp's
    // "```first line\n...```" would otherwise hide "first line" as an info
    // string and never close.
    const std::string_view body = s.substr(span.begin + 3, span.end - span.begin - 6);
    if (!out.empty() && out.back() != '\n') {
        out += '\n';
    }
    out += "```";
    if (body.front() != '\n') {
        out += '\n';
    }
    out.append(body);
    if (body.back() != '\n') {
        out += '\n';
    }
    out += "```";
    if (span.end < s.size() && s[span.end] != '\n') {
        out += '\n';
    }
}

// ---------------------------------------------------------------------------
// Chatwoot -> WhatsApp: a CommonMark inline parser reduced to what matters
// here (escapes, code spans, autolinks, links/images, emphasis with the
// spec's delimiter algorithm, bare URLs), producing format events that an
// emitter turns into WhatsApp markers.

enum Fmt : std::uint8_t { kBold = 0, kItalic = 1, kStrike = 2 };

constexpr char kWhatsAppMarker[3] = {'*', '_', '~'};

struct Piece {
    enum Kind : std::uint8_t { text, open, close, line_break, delim };
    Kind kind = text;
    Fmt fmt = kBold;
    std::string str;       // text
    std::size_t pos = 0;   // line_break: offset of the '\n'; delim: index
};

// One matched use of a delimiter run: a WhatsApp marker, or the original
// characters when WhatsApp could not render the pair there.
struct Marker {
    bool literal;
    Fmt fmt;
    std::uint8_t n;
    char ch;
};

struct Delim {
    char ch;
    std::size_t count;  // characters not yet matched
    std::size_t orig;
    bool can_open;
    bool can_close;
    bool boundary_before;  // WhatsApp would accept an opener here
    bool boundary_after;   // ... and a closer here
    std::ptrdiff_t prev;
    std::ptrdiff_t next;
    std::vector<Marker> closes;  // matched as closer, innermost first
    std::vector<Marker> opens;   // matched as opener, innermost first
};

class InlineParser {
public:
    explicit InlineParser(std::string_view s)
        : s_(s), code_end_(s.size(), 0), bracket_(s.size(), npos)
    {
        find_code_spans();
        match_brackets();
    }

    // depth 0: everything; 1: inside link text (no links, CommonMark forbids
    // them); 2: inside image alt text (no links or images).  The bound keeps
    // recursion shallow whatever the input.
    void parse(std::size_t b, std::size_t e, int depth, std::vector<Piece>& out) const
    {
        std::vector<Piece> pieces;
        std::vector<Delim> delims;
        std::string text;
        auto flush = [&] {
            if (!text.empty()) {
                pieces.push_back(Piece{Piece::text, kBold, std::move(text), 0});
                text.clear();
            }
        };
        std::size_t p = b;
        while (p < e) {
            const char c = s_[p];
            if (c == '\\') {
                if (p + 1 < e && is_ascii_punct(static_cast<unsigned char>(s_[p + 1]))) {
                    text += s_[p + 1];
                    p += 2;
                } else if (p + 1 < e && s_[p + 1] == '\n') {
                    p++;  // hard line break: the newline itself follows
                } else {
                    text += c;
                    p++;
                }
            } else if (c == '`') {
                if (code_end_[p] != 0 && code_end_[p] <= e) {
                    // Kept verbatim; CommonMark turns line endings inside a
                    // code span into spaces.
                    for (std::size_t k = p; k < code_end_[p]; k++) {
                        text += s_[k] == '\n' ? ' ' : s_[k];
                    }
                    p = code_end_[p];
                } else {
                    while (p < e && s_[p] == '`') {
                        text += '`';
                        p++;
                    }
                }
            } else if (c == '\n') {
                flush();
                pieces.push_back(Piece{Piece::line_break, kBold, {}, p});
                p++;
            } else if (c == '<') {
                std::size_t inner_b = 0;
                std::size_t inner_e = 0;
                if (autolink(p, e, inner_b, inner_e)) {
                    text.append(s_.substr(inner_b, inner_e - inner_b));
                    p = inner_e + 1;
                } else {
                    text += c;
                    p++;
                }
            } else if ((c == '[' && depth == 0) ||
                       (c == '!' && depth < 2 && p + 1 < e && s_[p + 1] == '[')) {
                const bool image = c == '!';
                const std::size_t end = link(image ? p + 1 : p, e, image, pieces, text);
                if (end != 0) {
                    p = end;
                } else {
                    text += c;
                    p++;
                }
            } else if (c == '*' || c == '_' || c == '~') {
                std::size_t q = p;
                while (q < e && s_[q] == c) {
                    q++;
                }
                const std::size_t len = q - p;
                if (c == '~' && len != 2) {
                    // markdown-it strikes only "~~"; other tilde runs are text.
                    text.append(len, '~');
                    p = q;
                    continue;
                }
                // Flanking is judged on the whole text, not the range:
                // inside link text the neighbours are the brackets.
                const CharClass before = class_before(s_, p, 0);
                const CharClass after = class_at(s_, q, s_.size());
                const bool left = after != CharClass::space &&
                                  (after != CharClass::punct || before != CharClass::other);
                const bool right = before != CharClass::space &&
                                   (before != CharClass::punct || after != CharClass::other);
                bool can_open = left;
                bool can_close = right;
                if (c == '_') {
                    can_open = left && (!right || before == CharClass::punct);
                    can_close = right && (!left || after == CharClass::punct);
                }
                flush();
                pieces.push_back(Piece{Piece::delim, kBold, {}, delims.size()});
                delims.push_back(Delim{c, len, len, can_open, can_close,
                                       before != CharClass::other, after != CharClass::other,
                                       0, 0, {}, {}});
                p = q;
            } else if (url_may_start(s_, p)) {
                const std::size_t end = bare_url_end(s_, p, e);
                if (end > p) {
                    text.append(s_.substr(p, end - p));
                    p = end;
                } else {
                    text += c;
                    p++;
                }
            } else {
                text += c;
                p++;
            }
        }
        flush();
        process_emphasis(delims);
        expand(pieces, delims, out);
    }

private:
    // A backslash at p escaping the ASCII punctuation after it.
    bool escaped_punct(std::size_t p, std::size_t e) const
    {
        return s_[p] == '\\' && p + 1 < e && is_ascii_punct(static_cast<unsigned char>(s_[p + 1]));
    }

    // Opening backtick run -> one past its closing run (same length), for
    // every code span, found once so that no run is searched for twice.
    void find_code_spans()
    {
        const std::size_t n = s_.size();
        struct Run {
            std::size_t pos;
            std::size_t len;
        };
        std::vector<Run> runs;
        for (std::size_t i = 0; i < n;) {
            if (s_[i] != '`') {
                i++;
                continue;
            }
            std::size_t j = i;
            while (j < n && s_[j] == '`') {
                j++;
            }
            runs.push_back({i, j - i});
            i = j;
        }
        std::vector<std::size_t> next_same(runs.size(), npos);
        std::unordered_map<std::size_t, std::size_t> last;
        for (std::size_t k = runs.size(); k-- > 0;) {
            auto [it, inserted] = last.try_emplace(runs[k].len, k);
            if (!inserted) {
                next_same[k] = it->second;
                it->second = k;
            }
        }
        std::size_t k = 0;
        for (std::size_t i = 0; i < n;) {
            const char c = s_[i];
            if (c == '\\' && i + 1 < n && is_ascii_punct(static_cast<unsigned char>(s_[i + 1]))) {
                i += 2;
                continue;
            }
            if (c != '`') {
                i++;
                continue;
            }
            while (k < runs.size() && runs[k].pos < i) {
                k++;
            }
            if (k == runs.size() || runs[k].pos != i) {
                i++;  // the rest of a run whose first backtick was escaped
                continue;
            }
            const std::size_t m = next_same[k];
            if (m != npos) {
                code_end_[i] = runs[m].pos + runs[m].len;
                i = code_end_[i];
            } else {
                i += runs[k].len;
            }
        }
    }

    // '[' -> its ']' (innermost first), ignoring escaped brackets and
    // brackets inside code spans.
    void match_brackets()
    {
        std::vector<std::size_t> open;
        for (std::size_t i = 0; i < s_.size();) {
            const char c = s_[i];
            if (c == '\\' && i + 1 < s_.size() &&
                is_ascii_punct(static_cast<unsigned char>(s_[i + 1]))) {
                i += 2;
            } else if (code_end_[i] != 0) {
                i = code_end_[i];
            } else {
                if (c == '[') {
                    open.push_back(i);
                } else if (c == ']' && !open.empty()) {
                    bracket_[open.back()] = i;
                    open.pop_back();
                }
                i++;
            }
        }
    }

    // <scheme:...> or <user@host>: sets the inner range and returns true.
    // Stops at whitespace or another '<', so a run of '<' costs linear time.
    bool autolink(std::size_t p, std::size_t e, std::size_t& inner_b, std::size_t& inner_e) const
    {
        std::size_t j = p + 1;
        while (j < e && s_[j] != '>' && s_[j] != '<' && static_cast<unsigned char>(s_[j]) > 0x20) {
            j++;
        }
        if (j >= e || s_[j] != '>' || j == p + 1) {
            return false;
        }
        const std::string_view inner = s_.substr(p + 1, j - p - 1);
        const std::size_t colon = inner.find(':');
        bool ok = false;
        if (colon != npos && colon >= 2 && colon <= 32) {
            ok = true;
            for (std::size_t k = 0; k < colon; k++) {
                const char ch = inner[k];
                const bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
                const bool digit = ch >= '0' && ch <= '9';
                if (!(alpha || (k > 0 && (digit || ch == '+' || ch == '.' || ch == '-')))) {
                    ok = false;
                    break;
                }
            }
        }
        if (!ok) {
            const std::size_t at = inner.find('@');
            ok = at != npos && at > 0 && at + 1 < inner.size() && colon == npos;
        }
        if (!ok) {
            return false;
        }
        inner_b = p + 1;
        inner_e = j;
        return true;
    }

    // [text](dest "title") or ![alt](dest) starting at the '[' at q.
    // Returns the position after ')' and appends the rendering, or 0.
    // Every ']' is tried at most once, destinations give up after 32
    // nested parentheses and titles end at their own quote character, so
    // failed attempts stay linear overall.
    std::size_t link(std::size_t q, std::size_t e, bool image, std::vector<Piece>& pieces,
                     std::string& text) const
    {
        const std::size_t close = bracket_[q];
        if (close == npos || close + 1 >= e || s_[close + 1] != '(') {
            return 0;
        }
        std::size_t p = close + 2;
        auto skip_blanks = [&] {
            while (p < e && (s_[p] == ' ' || s_[p] == '\t')) {
                p++;
            }
        };
        skip_blanks();
        std::string dest;
        if (p < e && s_[p] == '<') {
            p++;
            while (p < e && s_[p] != '>' && s_[p] != '<' && s_[p] != '\n') {
                if (escaped_punct(p, e)) {
                    p++;
                }
                dest += s_[p];
                p++;
            }
            if (p >= e || s_[p] != '>') {
                return 0;
            }
            p++;
        } else {
            int parens = 0;
            while (p < e) {
                const auto ch = static_cast<unsigned char>(s_[p]);
                if (ch <= 0x20 || ch == 0x7F) {
                    break;
                }
                if (escaped_punct(p, e)) {
                    dest += s_[p + 1];
                    p += 2;
                    continue;
                }
                if (ch == '(') {
                    if (++parens > 32) {
                        return 0;
                    }
                } else if (ch == ')') {
                    if (parens == 0) {
                        break;
                    }
                    parens--;
                }
                dest += static_cast<char>(ch);
                p++;
            }
            if (parens != 0) {
                return 0;
            }
        }
        skip_blanks();
        if (p < e && (s_[p] == '"' || s_[p] == '\'' || s_[p] == '(')) {
            const char open = s_[p];
            const char closing = open == '(' ? ')' : open;
            p++;
            while (p < e && s_[p] != closing && s_[p] != '\n' && !(open == '(' && s_[p] == '(')) {
                p += (s_[p] == '\\' && p + 1 < e) ? 2 : 1;
            }
            if (p >= e || s_[p] != closing) {
                return 0;
            }
            p++;
            skip_blanks();
        }
        if (p >= e || s_[p] != ')') {
            return 0;
        }
        p++;

        std::vector<Piece> label;
        parse(q + 1, close, image ? 2 : 1, label);
        std::string plain;
        bool plain_only = true;
        for (const Piece& pc : label) {
            if (pc.kind == Piece::text) {
                plain += pc.str;
            } else {
                plain_only = false;
            }
        }
        if (!text.empty()) {
            pieces.push_back(Piece{Piece::text, kBold, std::move(text), 0});
            text.clear();
        }
        // Chatwoot's editor writes mentions as [@Name](mention://user/1/Name):
        // the name is the message, the pseudo-URL means nothing on WhatsApp.
        const bool mention = dest.starts_with("mention://");
        if (dest.empty() || mention) {
            std::move(label.begin(), label.end(), std::back_inserter(pieces));
        } else if (plain_only && (plain.empty() || plain == dest)) {
            text = dest;
        } else {
            std::move(label.begin(), label.end(), std::back_inserter(pieces));
            text = " (" + dest + ")";
        }
        return p;
    }

    // CommonMark's "process emphasis" (spec appendix) with openers_bottom
    // kept per (character, closer can open, closer length mod 3) so the
    // look-back never rescans: linear in the number of delimiter runs.
    static void process_emphasis(std::vector<Delim>& d)
    {
        const auto n = static_cast<std::ptrdiff_t>(d.size());
        for (std::ptrdiff_t i = 0; i < n; i++) {
            d[i].prev = i - 1;
            d[i].next = i + 1 < n ? i + 1 : -1;
        }
        auto unlink = [&](std::ptrdiff_t i) {
            if (d[i].prev >= 0) {
                d[d[i].prev].next = d[i].next;
            }
            if (d[i].next >= 0) {
                d[d[i].next].prev = d[i].prev;
            }
        };
        std::ptrdiff_t bottom[3][2][3];
        for (auto& a : bottom) {
            for (auto& b : a) {
                for (auto& c : b) {
                    c = -1;
                }
            }
        }
        std::ptrdiff_t cur = n > 0 ? 0 : -1;
        while (cur >= 0) {
            Delim& closer = d[cur];
            if (!closer.can_close) {
                cur = closer.next;
                continue;
            }
            std::ptrdiff_t& bot =
                bottom[marker_index(closer.ch)][closer.can_open ? 1 : 0][closer.orig % 3];
            std::ptrdiff_t o = closer.prev;
            while (o >= 0 && o > bot) {
                const Delim& op = d[o];
                if (op.ch == closer.ch && op.can_open) {
                    // The "rule of three" keeps "*a**b*" from pairing the
                    // wrong way; it does not apply to "~~".
                    const bool odd = closer.ch != '~' && (op.can_close || closer.can_open) &&
                                     (op.orig + closer.orig) % 3 == 0 &&
                                     !(op.orig % 3 == 0 && closer.orig % 3 == 0);
                    if (!odd) {
                        break;
                    }
                }
                o = op.prev;
            }
            if (o < 0 || o <= bot) {
                bot = closer.prev;
                const std::ptrdiff_t next = closer.next;
                if (!closer.can_open) {
                    unlink(cur);
                }
                cur = next;
                continue;
            }
            Delim& opener = d[o];
            const std::size_t use =
                closer.ch == '~' ? 2 : (opener.count >= 2 && closer.count >= 2 ? 2 : 1);
            const Fmt fmt = closer.ch == '~' ? kStrike : (use == 2 ? kBold : kItalic);
            opener.count -= use;
            closer.count -= use;
            // WhatsApp renders the pair only at word boundaries: the opener
            // needs space/punctuation before it (left-over delimiter
            // characters are punctuation), the closer after it.  Otherwise
            // keep the characters, so "a*b*c" stays "a*b*c".
            const bool ok_open =
                opener.count > 0 || !opener.closes.empty() || opener.boundary_before;
            const bool ok_close = closer.count > 0 || closer.boundary_after;
            const Marker m{!(ok_open && ok_close), fmt, static_cast<std::uint8_t>(use), closer.ch};
            opener.opens.push_back(m);
            closer.closes.push_back(m);
            for (std::ptrdiff_t x = opener.next; x != cur && x >= 0;) {
                const std::ptrdiff_t next = d[x].next;
                unlink(x);
                x = next;
            }
            if (opener.count == 0) {
                unlink(o);
            }
            if (closer.count == 0) {
                const std::ptrdiff_t next = closer.next;
                unlink(cur);
                cur = next;
            }
        }
    }

    static void expand(std::vector<Piece>& pieces, const std::vector<Delim>& delims,
                       std::vector<Piece>& out)
    {
        auto emit = [&](const Marker& m, Piece::Kind kind) {
            if (m.literal) {
                out.push_back(Piece{Piece::text, m.fmt, std::string(m.n, m.ch), 0});
            } else {
                out.push_back(Piece{kind, m.fmt, {}, 0});
            }
        };
        for (Piece& pc : pieces) {
            if (pc.kind != Piece::delim) {
                out.push_back(std::move(pc));
                continue;
            }
            const Delim& dl = delims[pc.pos];
            for (const Marker& m : dl.closes) {
                emit(m, Piece::close);
            }
            if (dl.count > 0) {
                out.push_back(Piece{Piece::text, kBold, std::string(dl.count, dl.ch), 0});
            }
            for (auto it = dl.opens.rbegin(); it != dl.opens.rend(); ++it) {
                emit(*it, Piece::open);
            }
        }
    }

    std::string_view s_;
    std::vector<std::size_t> code_end_;  // 0 = not the start of a code span
    std::vector<std::size_t> bracket_;
};

// Writes format events as WhatsApp markers.  A format already open is not
// opened again (WhatsApp cannot nest bold in bold, and a heading is bold
// as a whole); formats open at a line break are closed before it and
// reopened before the next visible text, because WhatsApp markers never
// pair across lines.
class WhatsAppEmitter {
public:
    explicit WhatsAppEmitter(std::string& out) : out_(out) {}

    void preset_bold() { depth_[kBold] = 1; }

    void text(std::string_view t)
    {
        if (t.empty()) {
            return;
        }
        reopen();
        out_.append(t);
    }

    void open(Fmt f)
    {
        if (depth_[f]++ > 0) {
            return;
        }
        reopen();
        out_ += kWhatsAppMarker[f];
        open_.push_back(f);
    }

    void close(Fmt f)
    {
        if (depth_[f] == 0 || --depth_[f] > 0) {
            return;
        }
        const auto it = std::find(open_.begin(), open_.end(), f);
        if (it == open_.end()) {
            return;
        }
        open_.erase(it);
        if (!pending_reopen_) {
            out_ += kWhatsAppMarker[f];
        }
    }

    void line_break(std::string_view next_prefix)
    {
        if (!pending_reopen_) {
            close_all();
        }
        out_ += '\n';
        out_.append(next_prefix);
        pending_reopen_ = true;
    }

    void finish()
    {
        if (!pending_reopen_) {
            close_all();
        }
        open_.clear();
    }

private:
    void close_all()
    {
        for (auto it = open_.rbegin(); it != open_.rend(); ++it) {
            out_ += kWhatsAppMarker[*it];
        }
    }
    void reopen()
    {
        if (!pending_reopen_) {
            return;
        }
        pending_reopen_ = false;
        for (Fmt f : open_) {
            out_ += kWhatsAppMarker[f];
        }
    }

    std::string& out_;
    int depth_[3] = {0, 0, 0};
    std::vector<Fmt> open_;
    bool pending_reopen_ = false;
};

// A paragraph: consecutive lines whose inline content is parsed as one
// text (CommonMark emphasis may span its lines), each with the prefix
// (indentation, quote markers, list marker) copied before it.
struct Paragraph {
    std::string text;
    std::vector<std::size_t> line_begin;
    std::vector<std::string> prefix;
    int quote_depth = 0;

    bool empty() const { return prefix.empty(); }
    void clear()
    {
        text.clear();
        line_begin.clear();
        prefix.clear();
    }
    void add(std::string_view line_prefix, std::string_view content)
    {
        if (!prefix.empty()) {
            text += '\n';
        }
        line_begin.push_back(text.size());
        text.append(content);
        prefix.emplace_back(line_prefix);
    }
};

void render_pieces(const std::vector<Piece>& pieces, const Paragraph* para, WhatsAppEmitter& em)
{
    for (const Piece& pc : pieces) {
        switch (pc.kind) {
        case Piece::text:
            em.text(pc.str);
            break;
        case Piece::open:
            em.open(pc.fmt);
            break;
        case Piece::close:
            em.close(pc.fmt);
            break;
        case Piece::line_break: {
            std::string_view prefix;
            if (para != nullptr) {
                const auto it = std::lower_bound(para->line_begin.begin(), para->line_begin.end(),
                                                 pc.pos + 1);
                if (it != para->line_begin.end() && *it == pc.pos + 1) {
                    prefix = para->prefix[static_cast<std::size_t>(it - para->line_begin.begin())];
                }
            }
            em.line_break(prefix);
            break;
        }
        case Piece::delim:
            break;  // expanded by the parser
        }
    }
}

void render_paragraph(const Paragraph& para, std::string& out)
{
    out.append(para.prefix.front());
    std::vector<Piece> pieces;
    InlineParser(para.text).parse(0, para.text.size(), 0, pieces);
    WhatsAppEmitter em(out);
    render_pieces(pieces, &para, em);
    em.finish();
}

void render_heading(std::string_view content, std::string& out)
{
    if (content.empty()) {
        return;
    }
    std::vector<Piece> pieces;
    InlineParser(content).parse(0, content.size(), 0, pieces);
    // WhatsApp has no headings; bold is the closest.  Bold inside the
    // heading is already covered by it.
    out += '*';
    WhatsAppEmitter em(out);
    em.preset_bold();
    render_pieces(pieces, nullptr, em);
    em.finish();
    out += '*';
}

bool is_blank_char(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_right(std::string_view s)
{
    while (!s.empty() && (is_blank_char(s.back()) || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

std::size_t indent_of(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size() && s[i] == ' ') {
        i++;
    }
    return i;
}

// "```info" / "~~~info" with at most three spaces before it.
bool opening_fence(std::string_view line, char& ch, std::size_t& len)
{
    const std::size_t ind = indent_of(line);
    if (ind > 3 || ind >= line.size() || (line[ind] != '`' && line[ind] != '~')) {
        return false;
    }
    ch = line[ind];
    std::size_t j = ind;
    while (j < line.size() && line[j] == ch) {
        j++;
    }
    len = j - ind;
    if (len < 3) {
        return false;
    }
    return ch == '~' || line.substr(j).find('`') == npos;
}

bool closing_fence(std::string_view line, char ch, std::size_t len)
{
    const std::size_t ind = indent_of(line);
    if (ind > 3) {
        return false;
    }
    std::size_t j = ind;
    while (j < line.size() && line[j] == ch) {
        j++;
    }
    return j - ind >= len && trim_right(line.substr(j)).empty();
}

// "---", "***", "* * *", "___" ...
bool thematic_break(std::string_view s)
{
    if (s.empty() || (s[0] != '-' && s[0] != '*' && s[0] != '_')) {
        return false;
    }
    std::size_t count = 0;
    for (char c : s) {
        if (c == s[0]) {
            count++;
        } else if (!is_blank_char(c)) {
            return false;
        }
    }
    return count >= 3;
}

// Length of a list marker ("- ", "* ", "+ ", "1. ", "12) ") including the
// blanks after it, or 0.
std::size_t list_marker(std::string_view s)
{
    std::size_t j = 0;
    if (!s.empty() && (s[0] == '-' || s[0] == '*' || s[0] == '+')) {
        j = 1;
    } else {
        while (j < s.size() && j < 9 && s[j] >= '0' && s[j] <= '9') {
            j++;
        }
        if (j == 0 || j >= s.size() || (s[j] != '.' && s[j] != ')')) {
            return 0;
        }
        j++;
    }
    if (j < s.size() && !is_blank_char(s[j])) {
        return 0;
    }
    while (j < s.size() && is_blank_char(s[j])) {
        j++;
    }
    return j;
}

// "# Title ##" -> "Title"; nullopt-like false when not an ATX heading.
bool atx_heading(std::string_view s, std::string_view& content)
{
    std::size_t j = 0;
    while (j < s.size() && s[j] == '#') {
        j++;
    }
    if (j == 0 || j > 6 || (j < s.size() && !is_blank_char(s[j]))) {
        return false;
    }
    std::string_view rest = trim_right(s.substr(j));
    while (!rest.empty() && is_blank_char(rest.front())) {
        rest.remove_prefix(1);
    }
    // An optional closing run of '#', which must follow a blank.
    std::size_t k = rest.size();
    while (k > 0 && rest[k - 1] == '#') {
        k--;
    }
    if (k == 0) {
        rest = {};
    } else if (k < rest.size() && is_blank_char(rest[k - 1])) {
        rest = trim_right(rest.substr(0, k));
    }
    content = rest;
    return true;
}

}  // namespace

std::string whatsapp_to_chatwoot(std::string_view s)
{
    const std::size_t n = s.size();
    std::vector<std::uint8_t> mark(n, kPlain);

    const std::vector<CodeSpan> code = find_whatsapp_code(s);
    for (const CodeSpan& span : code) {
        std::fill(mark.begin() + static_cast<std::ptrdiff_t>(span.begin),
                  mark.begin() + static_cast<std::ptrdiff_t>(span.end), kProtected);
    }
    // URLs: WhatsApp shows them as links, not formatted; "/a_b_" must stay.
    for (std::size_t i = 0; i < n;) {
        if (mark[i] == kPlain && url_may_start(s, i)) {
            const std::size_t end = bare_url_end(s, i, n);
            if (end > i) {
                std::fill(mark.begin() + static_cast<std::ptrdiff_t>(i),
                          mark.begin() + static_cast<std::ptrdiff_t>(end), kProtected);
                i = end;
                continue;
            }
        }
        i++;
    }
    WhatsAppLinePairer pairer(s, mark);
    for (std::size_t ls = 0; ls <= n;) {
        std::size_t le = s.find('\n', ls);
        if (le == npos) {
            le = n;
        }
        pairer.pair_line(ls, le);
        ls = le + 1;
    }

    std::string out;
    out.reserve(n + n / 8 + 16);
    std::size_t next_code = 0;
    for (std::size_t i = 0; i < n;) {
        if (next_code < code.size() && code[next_code].begin == i) {
            emit_whatsapp_code(s, code[next_code], out);
            i = code[next_code].end;
            next_code++;
            continue;
        }
        const char c = s[i];
        if (mark[i] == kPairMarker) {
            switch (c) {
            case '*':
                out += "**";
                break;
            case '_':
                out += '*';
                break;
            default:
                out += "~~";
                break;
            }
        } else {
            out += c;
        }
        i++;
    }
    return out;
}

std::string chatwoot_to_whatsapp(std::string_view md)
{
    std::string out;
    out.reserve(md.size() + 16);
    bool need_newline = false;
    auto begin_line = [&] {
        if (need_newline) {
            out += '\n';
        }
        need_newline = true;
    };

    Paragraph para;
    auto flush = [&] {
        if (!para.empty()) {
            begin_line();
            render_paragraph(para, out);
            para.clear();
        }
    };

    bool in_fence = false;
    char fence_ch = '`';
    std::size_t fence_len = 3;
    for (std::size_t ls = 0; ls <= md.size();) {
        std::size_t le = md.find('\n', ls);
        const bool last_line = le == npos;
        if (last_line) {
            le = md.size();
        }
        std::string_view line = md.substr(ls, le - ls);
        ls = le + 1;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }

        if (in_fence) {
            begin_line();
            if (closing_fence(line, fence_ch, fence_len)) {
                out += "```";
                in_fence = false;
            } else {
                out.append(line);
            }
            continue;
        }
        if (opening_fence(line, fence_ch, fence_len)) {
            // WhatsApp shows an info string as code text: drop it.
            flush();
            begin_line();
            out += "```";
            in_fence = true;
            continue;
        }
        const std::string_view trimmed = trim_right(line);
        if (trimmed.empty()) {
            flush();
            begin_line();
            continue;
        }

        // Containers: block quotes ("> "), then indentation and a list
        // marker.  They are copied as they are; WhatsApp has both.
        std::size_t pos = 0;
        int quote_depth = 0;
        for (;;) {
            const std::size_t ind = std::min<std::size_t>(indent_of(trimmed.substr(pos)), 4);
            if (ind <= 3 && pos + ind < trimmed.size() && trimmed[pos + ind] == '>') {
                pos += ind + 1;
                if (pos < trimmed.size() && is_blank_char(trimmed[pos])) {
                    pos++;
                }
                quote_depth++;
                continue;
            }
            break;
        }
        while (pos < trimmed.size() && is_blank_char(trimmed[pos])) {
            pos++;
        }
        std::string_view rest = trimmed.substr(pos);
        if (thematic_break(rest)) {
            flush();
            begin_line();
            out.append(trimmed);
            continue;
        }
        const std::size_t marker = list_marker(rest);
        pos += marker;
        rest = trimmed.substr(pos);

        std::string_view heading;
        if (atx_heading(rest, heading)) {
            flush();
            begin_line();
            out.append(trimmed.substr(0, pos));
            render_heading(heading, out);
            continue;
        }
        // A backslash at the end of a line is a hard break (Chatwoot's
        // editor writes one per empty line; 4.13+ webhooks already turn it
        // into a newline).  An even run is escaped backslashes.
        if (!last_line) {
            std::size_t k = rest.size();
            while (k > 0 && rest[k - 1] == '\\') {
                k--;
            }
            if ((rest.size() - k) % 2 == 1) {
                rest = trim_right(rest.substr(0, rest.size() - 1));
            }
        }
        const bool continues = !para.empty() && marker == 0 && quote_depth == para.quote_depth;
        if (!continues) {
            flush();
            para.quote_depth = quote_depth;
        }
        para.add(trimmed.substr(0, pos), rest);
    }
    flush();
    if (in_fence) {
        begin_line();
        out += "```";
    }
    return out;
}

}  // namespace chatwoot::bridge
