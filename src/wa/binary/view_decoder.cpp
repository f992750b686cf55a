#include "wa/binary/view_decoder.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "wa/binary/payload.hpp"
#include "wa/binary/tags.hpp"
#include "wa/binary/tokens.hpp"

namespace chatwoot::wa::binary {

namespace {

// The grammar below follows decoder.cpp step for step, failure texts and
// offsets included: the two are checked against each other on every test
// vector, on every prefix and byte substitution of them, and by the fuzzer
// (t/fuzz/binary_node_fuzz.cpp).  A change to one is a change to both.

constexpr char kNibbleChars[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                   '8', '9', '-', '.', 0,   0,   0,   0};
constexpr char kHexChars[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
constexpr std::uint8_t kLastNibbleChar = 11;

// Both characters of a packed byte at once, and whether both nibbles are
// characters (NIBBLE_8 has 12 of 16; HEX_8 all 16).
struct PackedPairs {
    std::array<std::array<char, 2>, 256> chars{};
    std::array<bool, 256> valid{};
};

constexpr PackedPairs make_pairs(const char (&alphabet)[16], std::uint8_t last)
{
    PackedPairs p;
    for (unsigned b = 0; b < 256; ++b) {
        p.chars[b] = {alphabet[b >> 4], alphabet[b & 15]};
        p.valid[b] = (b >> 4) <= last && (b & 15) <= last;
    }
    return p;
}

constexpr PackedPairs kNibblePairs = make_pairs(kNibbleChars, kLastNibbleChar);
constexpr PackedPairs kHexPairs = make_pairs(kHexChars, 15);

// Smallest encodings: a node is LIST_8 1 <token>, an attribute a one-byte
// key and a one-byte value.  Arrays are never sized past what the bytes
// left could fill.
constexpr std::size_t kMinNodeBytes = 3;
constexpr std::size_t kMinAttrBytes = 2;

}  // namespace

class detail::ViewReader {
public:
    ViewReader(ByteView in, const DecodeLimits& limits, detail::Slab<NodeView>& nodes,
           detail::Slab<AttrView>& attrs, detail::Slab<char>& text)
        : in_(in), limits_(limits), nodes_(nodes), attrs_(attrs), text_(text)
    {
    }

    Result<NodeView> run(NodeView& root)
    {
        if (!node(root, 1)) {
            return std::move(error_);
        }
        if (pos_ != in_.size()) {
            fail(Errc::malformed, std::to_string(in_.size() - pos_) + " bytes after the node", pos_);
            return std::move(error_);
        }
        return root;
    }

private:
    [[gnu::cold, gnu::noinline]] bool fail(Errc code, std::string what, std::size_t offset)
    {
        error_ = make_error(code, what + " at offset " + std::to_string(offset));
        return false;
    }

    [[gnu::cold, gnu::noinline]] bool fail_truncated(std::size_t n, const char* what)
    {
        return fail(Errc::truncated,
                    std::string(what) + " needs " + std::to_string(n) + " bytes, " +
                        std::to_string(in_.size() - pos_) + " left",
                    pos_);
    }

    [[gnu::cold, gnu::noinline]] bool fail_tag(const char* what, const char* kind, std::uint8_t t,
                                               std::size_t at)
    {
        return fail(Errc::malformed,
                    std::string(what) + ": tag " + std::to_string(t) + " is not a " + kind, at);
    }

    [[gnu::cold, gnu::noinline]] bool bad_nibble(unsigned v, std::size_t at, const char* what)
    {
        return fail(Errc::malformed,
                    std::string(what) + ": nibble " + std::to_string(v) + " in a packed string", at);
    }

    bool need(std::size_t n, const char* what)
    {
        if (in_.size() - pos_ < n) [[unlikely]] {
            return fail_truncated(n, what);
        }
        return true;
    }

    bool u8(std::uint8_t& v, const char* what)
    {
        if (!need(1, what)) {
            return false;
        }
        v = in_[pos_++];
        return true;
    }

    std::size_t be(std::size_t n)
    {
        std::size_t v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            v = (v << 8) | in_[pos_++];
        }
        return v;
    }

    std::size_t left() const { return in_.size() - pos_; }

    bool list_size(std::uint8_t t, std::size_t at, std::size_t& n, const char* what)
    {
        switch (t) {
        case tag::kListEmpty:
            n = 0;
            return true;
        case tag::kList8:
            if (!need(1, what)) {
                return false;
            }
            n = be(1);
            return true;
        case tag::kList16:
            if (!need(2, what)) {
                return false;
            }
            n = be(2);
            return true;
        default:
            return fail_tag(what, "list", t, at);
        }
    }

    bool binary_length(std::uint8_t t, std::size_t& len, const char* what)
    {
        const std::size_t width = t == tag::kBinary8 ? 1 : t == tag::kBinary20 ? 3 : 4;
        if (!need(width, what)) {
            return false;
        }
        const std::size_t at = pos_;
        len = be(width);
        if (t == tag::kBinary20) {
            len &= 0xfffff;  // 20 bits; the top nibble of the 3 bytes is not length
        }
        if (left() < len) [[unlikely]] {
            return fail(Errc::truncated,
                        std::string(what) + ": length " + std::to_string(len) + " past the end", at);
        }
        return true;
    }

    // The wire has nibbles, not text: the characters go to the decoder's
    // text slab (at most 127 of them, kPackedMax).
    bool packed(std::uint8_t t, std::string_view& out, const char* what)
    {
        const std::size_t at = pos_;
        std::uint8_t head = 0;
        if (!u8(head, what)) {
            return false;
        }
        const std::size_t bytes = head & 0x7f;
        const bool odd = (head & 0x80) != 0;
        if (bytes == 0) {
            return fail(Errc::malformed, std::string(what) + ": empty packed string", at);
        }
        const std::size_t chars = bytes * 2 - (odd ? 1 : 0);
        if (chars > tag::kPackedMax) {
            return fail(Errc::malformed,
                        std::string(what) + ": packed string of " + std::to_string(chars) + " characters",
                        at);
        }
        if (!need(bytes, what)) {
            return false;
        }
        char* dst = text_.take(chars);
        const std::uint8_t* p = in_.data() + pos_;
        const PackedPairs& pairs = t == tag::kHex8 ? kHexPairs : kNibblePairs;
        // Whole bytes two characters at a time; an odd string's last byte
        // gives one, and its pad nibble is not a character and is not
        // checked.  Any other nibble must be a character (HEX_8's all are).
        const std::size_t whole = chars / 2;
        for (std::size_t i = 0; i < whole; ++i) {
            if (!pairs.valid[p[i]]) [[unlikely]] {
                return bad_nibble(p[i] >> 4 > kLastNibbleChar ? p[i] >> 4 : p[i] & 15, pos_ + i, what);
            }
            std::memcpy(dst + 2 * i, pairs.chars[p[i]].data(), 2);
        }
        if (odd) {
            const std::uint8_t high = p[whole] >> 4;
            if (t != tag::kHex8 && high > kLastNibbleChar) [[unlikely]] {
                return bad_nibble(high, pos_ + whole, what);
            }
            dst[chars - 1] = pairs.chars[p[whole]][0];
        }
        out = std::string_view(dst, chars);
        pos_ += bytes;
        return true;
    }

    // A string that is not a JID: a token, a packed string, raw bytes, or
    // LIST_EMPTY for "".  `t` was read at offset `at`.
    bool plain(std::uint8_t t, std::size_t at, std::string_view& out, const char* what)
    {
        if (t >= 1 && t < kSingleByteTokenCount) [[likely]] {
            out = kSingleByteTokenTable[t];
            return true;
        }
        switch (t) {
        case tag::kListEmpty:
            out = {};
            return true;
        case tag::kDictionary0:
        case tag::kDictionary0 + 1:
        case tag::kDictionary0 + 2:
        case tag::kDictionary3: {
            std::uint8_t index = 0;
            if (!u8(index, what)) {
                return false;
            }
            out = kDoubleByteTokenTable[t - tag::kDictionary0][index];
            return true;
        }
        case tag::kBinary8:
        case tag::kBinary20:
        case tag::kBinary32: {
            std::size_t len = 0;
            if (!binary_length(t, len, what)) {
                return false;
            }
            out = std::string_view(reinterpret_cast<const char*>(in_.data() + pos_), len);
            pos_ += len;
            return true;
        }
        case tag::kNibble8:
        case tag::kHex8:
            return packed(t, out, what);
        case tag::kJidPair:
        case tag::kAdJid:
            return fail(Errc::malformed, std::string(what) + ": a JID where a string belongs", at);
        case tag::kFbJid:
        case tag::kInteropJid:
            return fail(Errc::unsupported,
                        std::string(what) + (t == tag::kFbJid ? ": FB_JID" : ": INTEROP_JID"), at);
        default:
            return fail_tag(what, "string", t, at);
        }
    }

    bool plain_next(std::string_view& out, const char* what)
    {
        const std::size_t at = pos_;
        std::uint8_t t = 0;
        return u8(t, what) && plain(t, at, out, what);
    }

    bool jid_pair(ValueView& out, const char* what)
    {
        const std::size_t at = pos_;
        if (!plain_next(out.text, what) || !plain_next(out.server, what)) {
            return false;
        }
        if (out.server.empty()) {
            return fail(Errc::malformed, std::string(what) + ": JID without a server", at);
        }
        if (out.text.find('@') != std::string_view::npos) {
            return fail(Errc::malformed, std::string(what) + ": JID user with '@'", at);
        }
        out.device = 0;
        out.form = Form::jid_pair;
        return true;
    }

    bool ad_jid(ValueView& out, const char* what)
    {
        const std::size_t at = pos_;
        if (!need(2, what)) {
            return false;
        }
        const std::uint8_t domain = in_[pos_++];
        const std::uint8_t device = in_[pos_++];
        const std::optional<std::string_view> server = server_of_ad_domain(domain);
        if (!server) {
            return fail(Errc::unsupported,
                        std::string(what) + ": AD_JID domain " + std::to_string(domain), at);
        }
        if (!plain_next(out.text, what)) {
            return false;
        }
        if (out.text.find_first_of(":@") != std::string_view::npos) {
            return fail(Errc::malformed, std::string(what) + ": AD_JID user with ':' or '@'", at);
        }
        out.server = *server;
        out.device = device;
        out.form = Form::ad_jid;
        return true;
    }

    bool value(std::uint8_t t, std::size_t at, ValueView& out, const char* what)
    {
        if (t == tag::kJidPair) {
            return jid_pair(out, what);
        }
        if (t == tag::kAdJid) {
            return ad_jid(out, what);
        }
        out.server = {};
        out.device = 0;
        out.form = Form::text;
        return plain(t, at, out.text, what);
    }

    bool node(NodeView& out, std::size_t depth)
    {
        const std::size_t at = pos_;
        if (depth > limits_.max_depth) {
            return fail(Errc::too_deep, "node nested deeper than " + std::to_string(limits_.max_depth), at);
        }
        std::uint8_t t = 0;
        std::size_t items = 0;
        if (!u8(t, "node") || !list_size(t, at, items, "node")) {
            return false;
        }
        if (items == 0) {
            return fail(Errc::malformed, "node: empty list", at);
        }
        const std::size_t tag_at = pos_;
        if (!plain_next(out.tag_, "tag")) {
            return false;
        }
        if (out.tag_.empty()) {
            return fail(Errc::malformed, "tag: empty", tag_at);
        }

        const std::size_t attr_count = (items - 1) / 2;
        if (attr_count > limits_.max_attributes) {
            return fail(Errc::too_large, "node: " + std::to_string(attr_count) + " attributes", at);
        }
        out.attr_count_ = 0;
        out.attrs_ = nullptr;
        if (attr_count != 0) {
            // A count past what the input could hold fails below, when the
            // input runs out, before the last slot it has is filled.
            AttrView* attrs = attrs_.take(std::min(attr_count, left() / kMinAttrBytes + 1));
            out.attrs_ = attrs;
            for (std::size_t i = 0; i < attr_count; ++i) {
                AttrView& a = attrs[i];
                const std::size_t key_at = pos_;
                if (!plain_next(a.key, "attribute key")) {
                    return false;
                }
                for (std::size_t j = 0; j < i; ++j) {
                    if (attrs[j].key == a.key) [[unlikely]] {
                        return fail(Errc::malformed,
                                    "attribute key: duplicate \"" + std::string(a.key) + "\"", key_at);
                    }
                }
                const std::size_t value_at = pos_;
                std::uint8_t vt = 0;
                if (!u8(vt, "attribute value") || !value(vt, value_at, a.value, "attribute value")) {
                    return false;
                }
                out.attr_count_ = static_cast<std::uint32_t>(i + 1);
            }
        }

        out.children_ = nullptr;
        out.bytes_ = nullptr;
        out.content_size_ = 0;
        if (items % 2 == 1) {
            out.kind_ = ContentKind::none;
            return true;
        }
        const std::size_t content_at = pos_;
        std::uint8_t ct = 0;
        if (!u8(ct, "content")) {
            return false;
        }
        if (ct == tag::kListEmpty || ct == tag::kList8 || ct == tag::kList16) {
            std::size_t count = 0;
            if (!list_size(ct, content_at, count, "children")) {
                return false;
            }
            out.kind_ = ContentKind::children;
            if (count == 0) {
                return true;
            }
            // As for attributes: a count the input cannot fill fails before
            // the slots run out.
            NodeView* children = nodes_.take(std::min(count, left() / kMinNodeBytes + 1));
            out.children_ = children;
            for (std::size_t i = 0; i < count; ++i) {
                if (!node(children[i], depth + 1)) {
                    return false;
                }
                out.content_size_ = i + 1;
            }
            return true;
        }
        if (ct == tag::kBinary8 || ct == tag::kBinary20 || ct == tag::kBinary32) {
            std::size_t len = 0;
            if (!binary_length(ct, len, "content")) {
                return false;
            }
            out.kind_ = ContentKind::bytes;
            out.bytes_ = in_.data() + pos_;
            out.content_size_ = len;
            pos_ += len;
            return true;
        }
        out.kind_ = ContentKind::text;
        return value(ct, content_at, out.text_, "content");
    }

    ByteView in_;
    const DecodeLimits& limits_;
    detail::Slab<NodeView>& nodes_;
    detail::Slab<AttrView>& attrs_;
    detail::Slab<char>& text_;
    std::size_t pos_ = 0;
    Error error_{Errc::malformed, ""};
};

namespace {

// Chunk sizes: a typical stanza has under 16 nodes, 60 attributes and 200
// packed characters, so one chunk of each covers it.  Budgets: what stays
// allocated between frames (a few hundred KiB at most per session).
constexpr std::size_t kNodeChunk = 64;
constexpr std::size_t kAttrChunk = 256;
constexpr std::size_t kTextChunk = 4096;
constexpr std::size_t kNodeBudget = 128u << 10;
constexpr std::size_t kAttrBudget = 64u << 10;
constexpr std::size_t kTextBudget = 16u << 10;
// An inflated frame larger than this is not kept past the next frame.
constexpr std::size_t kKeptInflated = 64u << 10;

}  // namespace

ViewDecoder::ViewDecoder(const DecodeLimits& limits)
    : limits_(limits), nodes_(kNodeChunk, kNodeBudget), attrs_(kAttrChunk, kAttrBudget),
      text_(kTextChunk, kTextBudget)
{
}

std::size_t ViewDecoder::retained_bytes() const
{
    return nodes_.capacity_bytes() + attrs_.capacity_bytes() + text_.capacity_bytes() +
           inflated_.capacity();
}

Result<NodeView> ViewDecoder::decode_node(ByteView body)
{
    nodes_.reset();
    attrs_.reset();
    text_.reset();
    NodeView root;
    return detail::ViewReader(body, limits_, nodes_, attrs_, text_).run(root);
}

Result<NodeView> ViewDecoder::decode(ByteView payload)
{
    if (payload.empty()) {
        return make_error(Errc::truncated, "payload without a flags byte");
    }
    if ((payload[0] & tag::kFlagCompressed) == 0) {
        // A large inflated frame is let go, unless this payload lies in it
        // (a binary node carried as bytes inside the last frame).
        const bool inside = !inflated_.empty() && payload.data() >= inflated_.data() &&
                            payload.data() < inflated_.data() + inflated_.size();
        if (!inside && inflated_.capacity() > kKeptInflated) {
            Bytes().swap(inflated_);
        }
        return decode_node(payload.subspan(1));
    }
    // Inflated before the old buffer goes, so the payload may lie in it.
    Result<Bytes> body = inflate_bounded(payload.subspan(1), limits_.max_inflated_size);
    if (!body) {
        return body.error();
    }
    inflated_ = std::move(*body);
    return decode_node(inflated_);
}

}  // namespace chatwoot::wa::binary
