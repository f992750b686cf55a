// A binary node that borrows instead of owning: what a session's receive
// loop looks at.  Most of a stanza is read once (a dispatcher checks a tag,
// two or three attributes, and hands an <enc> payload to the Signal layer),
// so copying every string and payload into a Node, as decode() does, is
// wasted work; the copies were most of decoding's cost.
//
// Every string_view and span here points into one of three places:
//   - the frame (raw strings, payloads): valid while the frame's bytes are;
//   - the token table (tokens, AD_JID servers): static, valid forever;
//   - the ViewDecoder that made the node (packed strings, which the wire
//     carries as nibbles, not as text; inflated frames; attribute and child
//     arrays): valid until that decoder decodes again or goes away.
// Whoever keeps anything copies it: owned() gives the Node decode() gives
// for the same bytes, equal field for field.
//
// A JID stays in its parts (user, server, device) as the wire has them;
// its text form "user[:device]@server" exists only in owned() and
// ValueView::append_to().
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"

namespace chatwoot::wa::binary {

namespace detail {
class ViewReader;  // view_decoder.cpp: the only writer of a NodeView
}  // namespace detail

// A string attribute value or string content.
struct ValueView {
    // Form::text: the whole string.  A JID: its user part (may be empty in
    // a JID_PAIR: the server's own JID).
    std::string_view text;
    // A JID's server; empty for Form::text.
    std::string_view server;
    // An AD_JID's device; 0 (not written) otherwise.
    std::uint8_t device = 0;
    Form form = Form::text;

    bool is_jid() const { return form != Form::text; }

    // Length of the text form, without building it.
    std::size_t size() const;
    // Appends the text form ("user[:device]@server" for a JID): the same
    // text Value::text holds after decode().
    void append_to(std::string& out) const;
    std::string to_string() const;
    Value owned() const;
    // The JID this value names, by Jid::parse's rules on the text form (as
    // Node::attr_jid); nullopt when it is not a valid JID.
    std::optional<Jid> jid() const;

    // Equal when the text forms are equal (forms are not compared: as
    // Node::attr() gives text only).  No allocation.
    bool operator==(std::string_view other) const;
};

// Exact equality with an owned value: text and form.
bool operator==(const ValueView& view, const Value& value);

struct AttrView {
    std::string_view key;
    ValueView value;
};

enum class ContentKind : std::uint8_t { none, bytes, text, children };

class NodeView {
public:
    std::string_view tag() const { return tag_; }
    std::span<const AttrView> attrs() const { return {attrs_, attr_count_}; }

    // The first attribute with this key.
    const AttrView* find_attr(std::string_view key) const;
    std::optional<ValueView> attr(std::string_view key) const;
    // The attribute as a valid JID (Jid::parse rules); nullopt when absent
    // or not a JID.  As Node::attr_jid.
    std::optional<Jid> attr_jid(std::string_view key) const;

    ContentKind kind() const { return kind_; }
    bool has_content() const { return kind_ != ContentKind::none; }
    // The content as bytes, text or children; nullopt / empty when the
    // content is something else.  An empty child list (kind() children)
    // is not the same as no content.
    std::optional<ByteView> bytes() const;
    const ValueView* text() const { return kind_ == ContentKind::text ? &text_ : nullptr; }
    std::span<const NodeView> children() const;

    // The first child with this tag; nullptr when none.
    const NodeView* child(std::string_view tag) const;

    // A Node that owns copies of everything: equal to what decode() gives
    // for the same bytes.
    Node owned() const;
    // The same into a node the caller keeps, reusing its strings and
    // vectors (as decode_into).
    void owned_into(Node& out) const;

private:
    friend class detail::ViewReader;

    std::string_view tag_;
    const AttrView* attrs_ = nullptr;
    std::uint32_t attr_count_ = 0;
    ContentKind kind_ = ContentKind::none;
    // Children, or the content bytes, by kind_.
    const NodeView* children_ = nullptr;
    const std::uint8_t* bytes_ = nullptr;
    std::size_t content_size_ = 0;
    ValueView text_;
};

// Exact equality with an owned node, without building one.
bool operator==(const NodeView& view, const Node& node);

// As to_debug_string(const Node&), for logs and test failures.
std::string to_debug_string(const NodeView& node);

}  // namespace chatwoot::wa::binary
