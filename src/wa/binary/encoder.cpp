#include "wa/binary/encoder.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <string>

#include "wa/binary/tags.hpp"
#include "wa/binary/tokens.hpp"

namespace chatwoot::wa::binary {

namespace {

// Per byte: bit 0 set for a nibble character [0-9-.], bit 1 for an
// uppercase hex digit; the low nibble of the second byte is the packed
// value.  One table lookup per character decides both forms.
constexpr std::uint8_t kIsNibble = 1;
constexpr std::uint8_t kIsHex = 2;

struct CharClass {
    std::array<std::uint8_t, 256> flags{};
    std::array<std::uint8_t, 256> nibble{};
    std::array<std::uint8_t, 256> hex{};
};

constexpr CharClass make_char_class()
{
    CharClass c;
    for (int d = 0; d < 10; ++d) {
        c.flags['0' + d] = kIsNibble | kIsHex;
        c.nibble['0' + d] = static_cast<std::uint8_t>(d);
        c.hex['0' + d] = static_cast<std::uint8_t>(d);
    }
    c.flags['-'] = kIsNibble;
    c.nibble['-'] = 10;
    c.flags['.'] = kIsNibble;
    c.nibble['.'] = 11;
    for (int d = 0; d < 6; ++d) {
        c.flags['A' + d] = kIsHex;
        c.hex['A' + d] = static_cast<std::uint8_t>(10 + d);
    }
    return c;
}

constexpr CharClass kChars = make_char_class();

constexpr std::uint8_t kPadNibble = 15;
constexpr std::size_t kMaxList = 0xffff;

// An upper bound on the encoded size, so the output grows once.  Every
// string costs at most its text plus a 5-byte length (BINARY_32), a JID a
// few more bytes for its structure, a list header 3 bytes.
std::size_t size_hint(const Node& node)
{
    std::size_t n = 3 + node.tag.size() + 5;
    for (const Attr& a : node.attrs) {
        n += a.key.size() + a.value.text.size() + 16;
    }
    if (const Bytes* b = node.bytes()) {
        n += b->size() + 5;
    } else if (const Value* v = node.text()) {
        n += v->text.size() + 16;
    } else if (const Children* list = node.children()) {
        n += 3;
        for (const Node& c : *list) {
            n += size_hint(c);
        }
    }
    return n;
}

class Encoder {
public:
    explicit Encoder(Bytes& out) : out_(out) {}

    Status node(const Node& node)
    {
        if (node.tag.empty()) {
            return make_error(Errc::malformed, "node with an empty tag");
        }
        const std::size_t items = 1 + 2 * node.attrs.size() + (node.has_content() ? 1 : 0);
        if (Status s = list_start(items, "node"); !s) {
            return s;
        }
        if (Status s = string(node.tag); !s) {
            return s;
        }
        for (const Attr& a : node.attrs) {
            if (Status s = string(a.key); !s) {
                return s;
            }
            if (Status s = value(a.value, a.key); !s) {
                return s;
            }
        }
        if (const Bytes* b = node.bytes()) {
            if (Status s = byte_length(b->size()); !s) {
                return s;
            }
            out_.insert(out_.end(), b->begin(), b->end());
        } else if (const Value* v = node.text()) {
            return value(*v, node.tag);
        } else if (const Children* list = node.children()) {
            if (Status s = list_start(list->size(), "children"); !s) {
                return s;
            }
            for (const Node& c : *list) {
                if (Status s = this->node(c); !s) {
                    return s;
                }
            }
        }
        return Done{};
    }

private:
    void byte(std::uint8_t b) { out_.push_back(b); }

    Status list_start(std::size_t n, const char* what)
    {
        if (n == 0) {
            byte(tag::kListEmpty);
        } else if (n < 256) {
            byte(tag::kList8);
            byte(static_cast<std::uint8_t>(n));
        } else if (n <= kMaxList) {
            byte(tag::kList16);
            byte(static_cast<std::uint8_t>(n >> 8));
            byte(static_cast<std::uint8_t>(n));
        } else {
            return make_error(Errc::too_large,
                              std::string(what) + " list of " + std::to_string(n) + " items");
        }
        return Done{};
    }

    Status byte_length(std::size_t n)
    {
        if (n < 256) {
            byte(tag::kBinary8);
            byte(static_cast<std::uint8_t>(n));
        } else if (n < (std::size_t{1} << 20)) {
            byte(tag::kBinary20);
            byte(static_cast<std::uint8_t>(n >> 16));
            byte(static_cast<std::uint8_t>(n >> 8));
            byte(static_cast<std::uint8_t>(n));
        } else if (n <= 0xffffffffu) {
            byte(tag::kBinary32);
            byte(static_cast<std::uint8_t>(n >> 24));
            byte(static_cast<std::uint8_t>(n >> 16));
            byte(static_cast<std::uint8_t>(n >> 8));
            byte(static_cast<std::uint8_t>(n));
        } else {
            return make_error(Errc::too_large, "string or bytes of " + std::to_string(n) + " bytes");
        }
        return Done{};
    }

    void packed(std::uint8_t packed_tag, std::string_view s, const std::array<std::uint8_t, 256>& table)
    {
        const std::size_t pairs = s.size() / 2;
        const bool odd = (s.size() & 1) != 0;
        const std::size_t start = out_.size();
        out_.resize(start + 2 + pairs + (odd ? 1 : 0));
        std::uint8_t* p = out_.data() + start;
        *p++ = packed_tag;
        *p++ = static_cast<std::uint8_t>((pairs + (odd ? 1 : 0)) | (odd ? 0x80 : 0));
        const auto* c = reinterpret_cast<const std::uint8_t*>(s.data());
        for (std::size_t i = 0; i < pairs; ++i) {
            *p++ = static_cast<std::uint8_t>(table[c[2 * i]] << 4 | table[c[2 * i + 1]]);
        }
        if (odd) {
            *p = static_cast<std::uint8_t>(table[c[s.size() - 1]] << 4 | kPadNibble);
        }
    }

    // A plain string by the format's rules; fails only at 4 GiB.
    Status string(std::string_view s)
    {
        if (s.empty()) {
            byte(tag::kBinary8);
            byte(0);
            return Done{};
        }
        if (const std::optional<TokenCode> t = find_token(s)) {
            if (t->is_double()) {
                byte(static_cast<std::uint8_t>(tag::kDictionary0 + t->dictionary));
            }
            byte(t->index);
            return Done{};
        }
        if (s.size() <= tag::kPackedMax) {
            std::uint8_t all = kIsNibble | kIsHex;
            for (char c : s) {
                all &= kChars.flags[static_cast<std::uint8_t>(c)];
            }
            if (all & kIsNibble) {
                packed(tag::kNibble8, s, kChars.nibble);
                return Done{};
            }
            if (all & kIsHex) {
                packed(tag::kHex8, s, kChars.hex);
                return Done{};
            }
        }
        if (Status st = byte_length(s.size()); !st) {
            return st;
        }
        out_.insert(out_.end(), s.begin(), s.end());
        return Done{};
    }

    Status value(const Value& v, std::string_view key)
    {
        switch (v.form) {
        case Form::text:
            return string(v.text);
        case Form::jid_pair:
            return jid_pair(v.text, key);
        case Form::ad_jid:
            return ad_jid(v.text, key);
        }
        return make_error(Errc::malformed, "value of \"" + std::string(key) + "\" has no form");
    }

    static Error bad_jid(Errc code, std::string_view key, std::string_view why)
    {
        return make_error(code, "JID \"" + std::string(key) + "\": " + std::string(why));
    }

    Status jid_pair(std::string_view text, std::string_view key)
    {
        const std::size_t at = text.find('@');
        if (at == std::string_view::npos || at + 1 == text.size()) {
            return bad_jid(Errc::malformed, key, "no server");
        }
        byte(tag::kJidPair);
        const std::string_view user = text.substr(0, at);
        if (user.empty()) {
            byte(tag::kListEmpty);
        } else if (Status s = string(user); !s) {
            return s;
        }
        return string(text.substr(at + 1));
    }

    Status ad_jid(std::string_view text, std::string_view key)
    {
        const std::size_t at = text.find('@');
        if (at == std::string_view::npos) {
            return bad_jid(Errc::malformed, key, "no server");
        }
        const std::optional<std::uint8_t> domain = ad_domain_of_server(text.substr(at + 1));
        if (!domain) {
            return bad_jid(Errc::unsupported, key, "server without an AD_JID domain");
        }
        std::string_view user = text.substr(0, at);
        unsigned device = 0;
        if (const std::size_t colon = user.find(':'); colon != std::string_view::npos) {
            const std::string_view d = user.substr(colon + 1);
            const auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), device);
            if (d.empty() || ec != std::errc() || end != d.data() + d.size() || device > 255 ||
                (d.size() > 1 && d.front() == '0')) {
                return bad_jid(Errc::malformed, key, "device is not a number 0..255");
            }
            user = user.substr(0, colon);
        }
        byte(tag::kAdJid);
        byte(*domain);
        byte(static_cast<std::uint8_t>(device));
        return string(user);
    }

    Bytes& out_;
};

}  // namespace

Status encode_node(const Node& node, Bytes& out)
{
    out.reserve(out.size() + size_hint(node));
    return Encoder(out).node(node);
}

Result<Bytes> encode(const Node& node)
{
    Bytes out;
    out.reserve(1 + size_hint(node));
    out.push_back(0);
    if (Status s = Encoder(out).node(node); !s) {
        return s.error();
    }
    return out;
}

}  // namespace chatwoot::wa::binary
