#include "wa/binary/decoder.hpp"

#include <algorithm>
#include <string>

#include "wa/binary/payload.hpp"
#include "wa/binary/tags.hpp"
#include "wa/binary/tokens.hpp"

namespace chatwoot::wa::binary {

namespace {

constexpr char kNibbleChars[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                   '8', '9', '-', '.', 0,   0,   0,   0};
constexpr char kHexChars[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
// The nibble values a NIBBLE_8 character may have: 0-9, '-', '.'.
constexpr std::uint8_t kLastNibbleChar = 11;

// The smallest node on the wire is LIST_8 1 <token>: reserving children
// by this bound keeps a hostile count from allocating more than the input
// could fill.
constexpr std::size_t kMinNodeBytes = 3;

// The reader keeps the first failure and every step returns false after
// it, so the recursive descent needs no Result per byte.
class Decoder {
public:
    Decoder(ByteView in, const DecodeLimits& limits) : in_(in), limits_(limits) {}

    Result<Node> run()
    {
        Node root;
        if (Status s = run_into(root); !s) {
            return s.error();
        }
        return root;
    }

    // Decodes into `root`, reusing the strings and vectors it holds from
    // an earlier node: every field is overwritten, none is left over.
    Status run_into(Node& root)
    {
        if (!node(root, 1)) {
            return std::move(error_);
        }
        if (pos_ != in_.size()) {
            fail(Errc::malformed, std::to_string(in_.size() - pos_) + " bytes after the node", pos_);
            return std::move(error_);
        }
        return Done{};
    }

private:
    // Failures are rare and build strings: kept out of line so the checks
    // on the hot path stay a compare and a branch.
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

    static bool is_list_tag(std::uint8_t t)
    {
        return t == tag::kListEmpty || t == tag::kList8 || t == tag::kList16;
    }

    static bool is_binary_tag(std::uint8_t t)
    {
        return t == tag::kBinary8 || t == tag::kBinary20 || t == tag::kBinary32;
    }

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
            return fail(Errc::malformed, std::string(what) + ": tag " + std::to_string(t) + " is not a list", at);
        }
    }

    // The length after a BINARY_8/20/32 tag, checked against what is left.
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
        if (in_.size() - pos_ < len) {
            return fail(Errc::truncated,
                        std::string(what) + ": length " + std::to_string(len) + " past the end", at);
        }
        return true;
    }

    bool packed(std::uint8_t t, std::string& out, const char* what)
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
        out.resize(chars);
        const std::uint8_t* p = in_.data() + pos_;
        if (t == tag::kHex8) {
            for (std::size_t i = 0; i < chars; ++i) {
                const std::uint8_t b = p[i / 2];
                out[i] = kHexChars[(i & 1) ? (b & 15) : (b >> 4)];
            }
        } else {
            // The pad nibble of an odd string is not a character and is not
            // checked; any other nibble must be one of the 12 characters.
            for (std::size_t i = 0; i < chars; ++i) {
                const std::uint8_t b = p[i / 2];
                const std::uint8_t v = (i & 1) ? (b & 15) : (b >> 4);
                if (v > kLastNibbleChar) {
                    return fail(Errc::malformed,
                                std::string(what) + ": nibble " + std::to_string(v) + " in a packed string",
                                pos_ + i / 2);
                }
                out[i] = kNibbleChars[v];
            }
        }
        pos_ += bytes;
        return true;
    }

    // A string that is not a JID: a token, a packed string, raw bytes, or
    // LIST_EMPTY for "".  `t` was read at offset `at`.
    bool plain(std::uint8_t t, std::size_t at, std::string& out, const char* what)
    {
        if (t >= 1 && t < kSingleByteTokenCount) {
            out = *single_byte_token(t);
            return true;
        }
        switch (t) {
        case tag::kListEmpty:
            out.clear();
            return true;
        case tag::kDictionary0:
        case tag::kDictionary0 + 1:
        case tag::kDictionary0 + 2:
        case tag::kDictionary3: {
            std::uint8_t index = 0;
            if (!u8(index, what)) {
                return false;
            }
            out = *double_byte_token(static_cast<std::uint8_t>(t - tag::kDictionary0), index);
            return true;
        }
        case tag::kBinary8:
        case tag::kBinary20:
        case tag::kBinary32: {
            std::size_t len = 0;
            if (!binary_length(t, len, what)) {
                return false;
            }
            out.assign(reinterpret_cast<const char*>(in_.data() + pos_), len);
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
            return fail(Errc::malformed,
                        std::string(what) + ": tag " + std::to_string(t) + " is not a string", at);
        }
    }

    bool plain_next(std::string& out, const char* what)
    {
        const std::size_t at = pos_;
        std::uint8_t t = 0;
        return u8(t, what) && plain(t, at, out, what);
    }

    bool jid_pair(Value& out, const char* what)
    {
        const std::size_t at = pos_;
        std::string server;
        if (!plain_next(out.text, what) || !plain_next(server, what)) {
            return false;
        }
        if (server.empty()) {
            return fail(Errc::malformed, std::string(what) + ": JID without a server", at);
        }
        if (out.text.find('@') != std::string::npos) {
            return fail(Errc::malformed, std::string(what) + ": JID user with '@'", at);
        }
        // One allocation for the whole JID, not one per append.
        out.text.reserve(out.text.size() + 1 + server.size());
        out.text += '@';
        out.text += server;
        out.form = Form::jid_pair;
        return true;
    }

    bool ad_jid(Value& out, const char* what)
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
        if (out.text.find_first_of(":@") != std::string::npos) {
            return fail(Errc::malformed, std::string(what) + ": AD_JID user with ':' or '@'", at);
        }
        out.text.reserve(out.text.size() + 5 + server->size());
        if (device != 0) {
            out.text += ':';
            out.text += std::to_string(device);
        }
        out.text += '@';
        out.text += *server;
        out.form = Form::ad_jid;
        return true;
    }

    // A string value (attribute value or string content): plain or a JID.
    bool value(std::uint8_t t, std::size_t at, Value& out, const char* what)
    {
        if (t == tag::kJidPair) {
            return jid_pair(out, what);
        }
        if (t == tag::kAdJid) {
            return ad_jid(out, what);
        }
        out.form = Form::text;
        return plain(t, at, out.text, what);
    }

    bool node(Node& out, std::size_t depth)
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
        if (!plain_next(out.tag, "tag")) {
            return false;
        }
        if (out.tag.empty()) {
            return fail(Errc::malformed, "tag: empty", tag_at);
        }

        const std::size_t attr_count = (items - 1) / 2;
        if (attr_count > limits_.max_attributes) {
            return fail(Errc::too_large, "node: " + std::to_string(attr_count) + " attributes", at);
        }
        out.attrs.resize(attr_count);
        for (std::size_t i = 0; i < attr_count; ++i) {
            Attr& a = out.attrs[i];
            const std::size_t key_at = pos_;
            if (!plain_next(a.key, "attribute key")) {
                return false;
            }
            for (std::size_t j = 0; j < i; ++j) {
                if (out.attrs[j].key == a.key) {
                    return fail(Errc::malformed, "attribute key: duplicate \"" + a.key + "\"", key_at);
                }
            }
            const std::size_t value_at = pos_;
            std::uint8_t vt = 0;
            if (!u8(vt, "attribute value") || !value(vt, value_at, a.value, "attribute value")) {
                return false;
            }
        }

        if (items % 2 == 1) {
            out.content = std::monostate{};
            return true;
        }
        const std::size_t content_at = pos_;
        std::uint8_t ct = 0;
        if (!u8(ct, "content")) {
            return false;
        }
        if (is_list_tag(ct)) {
            std::size_t count = 0;
            if (!list_size(ct, content_at, count, "children")) {
                return false;
            }
            Children* list = std::get_if<Children>(&out.content);
            if (list == nullptr) {
                list = &out.content.emplace<Children>();
            }
            // Children left from an earlier node are decoded over; new ones
            // are added as they come, so a hostile count allocates no more
            // than the input could fill.
            const std::size_t reused = std::min(list->size(), count);
            list->resize(reused);
            list->reserve(std::min(count, reused + (in_.size() - pos_) / kMinNodeBytes));
            for (std::size_t i = 0; i < count; ++i) {
                Node& child = i < reused ? (*list)[i] : list->emplace_back();
                if (!node(child, depth + 1)) {
                    return false;
                }
            }
            return true;
        }
        if (is_binary_tag(ct)) {
            std::size_t len = 0;
            if (!binary_length(ct, len, "content")) {
                return false;
            }
            const std::uint8_t* p = in_.data() + pos_;
            Bytes* bytes = std::get_if<Bytes>(&out.content);
            if (bytes == nullptr) {
                bytes = &out.content.emplace<Bytes>();
            }
            bytes->assign(p, p + len);
            pos_ += len;
            return true;
        }
        Value* text = std::get_if<Value>(&out.content);
        if (text == nullptr) {
            text = &out.content.emplace<Value>();
        }
        return value(ct, content_at, *text, "content");
    }

    ByteView in_;
    const DecodeLimits& limits_;
    std::size_t pos_ = 0;
    Error error_{Errc::malformed, ""};
};

}  // namespace

Result<Node> decode_node(ByteView body, const DecodeLimits& limits)
{
    return Decoder(body, limits).run();
}

Status decode_node_into(ByteView body, Node& out, const DecodeLimits& limits)
{
    return Decoder(body, limits).run_into(out);
}

Status decode_into(ByteView payload, Node& out, const DecodeLimits& limits)
{
    if (payload.empty()) {
        return make_error(Errc::truncated, "payload without a flags byte");
    }
    if ((payload[0] & tag::kFlagCompressed) == 0) {
        return decode_node_into(payload.subspan(1), out, limits);
    }
    Result<Bytes> body = inflate_bounded(payload.subspan(1), limits.max_inflated_size);
    if (!body) {
        return body.error();
    }
    return decode_node_into(*body, out, limits);
}

Result<Node> decode(ByteView payload, const DecodeLimits& limits)
{
    if (payload.empty()) {
        return make_error(Errc::truncated, "payload without a flags byte");
    }
    if ((payload[0] & tag::kFlagCompressed) == 0) {
        return decode_node(payload.subspan(1), limits);
    }
    Result<Bytes> body = inflate_bounded(payload.subspan(1), limits.max_inflated_size);
    if (!body) {
        return body.error();
    }
    return decode_node(*body, limits);
}

}  // namespace chatwoot::wa::binary
