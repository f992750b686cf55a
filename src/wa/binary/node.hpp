// The binary node: the XML-like value every stanza is (waweb.md section
// 1.7).  A tag, attributes in order, and optional content that is bytes, a
// string, or child nodes.
//
// Strings keep the wire form they travel in.  The format writes a JID as a
// structure (JID_PAIR, AD_JID) rather than as text, and the same text can
// be either a plain string or a JID; so that a decoded node encodes back to
// the same bytes, each string value carries its Form.  Plain strings are
// written as a token, packed digits or hex, or raw bytes, whichever the
// rules pick; that choice needs no memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "wa/binary/jid.hpp"
#include "wa/bytes.hpp"

namespace chatwoot::wa::binary {

enum class Form : std::uint8_t {
    text,      // token, packed or raw string
    jid_pair,  // JID_PAIR: text "user@server" (user may be empty)
    ad_jid,    // AD_JID: text "user@server" or "user:device@server", the
               // server one of the four with a domain byte
};

std::string_view form_name(Form form);

// A string attribute value or string content.
struct Value {
    std::string text;
    Form form = Form::text;

    bool is_jid() const { return form != Form::text; }
    bool operator==(const Value&) const = default;
};

// The wire value of a JID: AD_JID for user devices and always for hosted
// servers (whatsmeow's choice; Baileys writes "user@hosted" as a pair, a
// form nobody sends), JID_PAIR otherwise.  The legacy agent is not part of
// either wire form and is dropped.
Value jid_value(const Jid& jid);

// The server's own JID, "@s.whatsapp.net": a JID_PAIR with an empty user,
// where IQs to the server go.  No Jid holds it (a Jid has a user).
Value server_jid();

// The form the reference JS encoder (Baileys) gives a plain string: any
// text with an '@' becomes a JID, an AD_JID when the user part has a ':'
// device.  For building nodes from text such as the test vectors; code
// that has a Jid should use jid_value().
Form reference_form(std::string_view text);

struct Attr {
    std::string key;
    Value value;

    bool operator==(const Attr&) const = default;
};

struct Node;
using Children = std::vector<Node>;

// A node.  Content is none, bytes (BINARY_*), a string (a token, packed
// string or JID; any other text travels as bytes and decodes as bytes), or
// a list of children, which may be empty and is then not the same as none.
struct Node {
    using Content = std::variant<std::monostate, Bytes, Value, Children>;

    std::string tag;
    std::vector<Attr> attrs;
    Content content;

    Node() = default;
    explicit Node(std::string tag_, std::vector<Attr> attrs_ = {}, Content content_ = {})
        : tag(std::move(tag_)), attrs(std::move(attrs_)), content(std::move(content_))
    {
    }

    // The first attribute with this key.
    const Attr* find_attr(std::string_view key) const;
    std::optional<std::string_view> attr(std::string_view key) const;
    // The attribute as a valid JID (Jid::parse rules); nullopt when absent
    // or not a JID.
    std::optional<Jid> attr_jid(std::string_view key) const;

    // Replaces the first attribute with this key, or appends one.
    Node& set_attr(std::string_view key, Value value);
    Node& set_attr(std::string_view key, std::string_view text);
    Node& set_attr(std::string_view key, const Jid& jid);

    bool has_content() const { return content.index() != 0; }
    const Bytes* bytes() const { return std::get_if<Bytes>(&content); }
    const Value* text() const { return std::get_if<Value>(&content); }
    const Children* children() const { return std::get_if<Children>(&content); }
    Children* children() { return std::get_if<Children>(&content); }

    // The first child with this tag; nullptr when none (or no children).
    const Node* child(std::string_view tag) const;

    bool operator==(const Node&) const = default;
};

// An XML-like rendering for logs and test failures: strings quoted, bytes
// as hex (shortened past 64 bytes), JIDs marked with their form.
std::string to_debug_string(const Node& node);

}  // namespace chatwoot::wa::binary
