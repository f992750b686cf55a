#include "wa/binary/node.hpp"

#include <string>

namespace chatwoot::wa::binary {

std::string_view form_name(Form form)
{
    switch (form) {
    case Form::text:
        return "text";
    case Form::jid_pair:
        return "jid_pair";
    case Form::ad_jid:
        return "ad_jid";
    }
    return "?";
}

Value jid_value(const Jid& jid)
{
    Value v;
    const bool hosted = jid.server() == kServerHosted || jid.server() == kServerHostedLid;
    const bool ad = ad_domain_of_server(jid.server()) && (jid.device() != 0 || hosted);
    v.form = ad ? Form::ad_jid : Form::jid_pair;
    v.text.reserve(jid.user().size() + jid.server().size() + 7);
    v.text = jid.user();
    if (jid.device() != 0) {
        v.text += ':';
        v.text += std::to_string(jid.device());
    }
    v.text += '@';
    v.text += jid.server();
    return v;
}

Value server_jid()
{
    return Value{"@" + std::string(kServerPhone), Form::jid_pair};
}

Form reference_form(std::string_view text)
{
    const std::size_t at = text.find('@');
    if (at == std::string_view::npos) {
        return Form::text;
    }
    return text.substr(0, at).find(':') == std::string_view::npos ? Form::jid_pair : Form::ad_jid;
}

const Attr* Node::find_attr(std::string_view key) const
{
    for (const Attr& a : attrs) {
        if (a.key == key) {
            return &a;
        }
    }
    return nullptr;
}

std::optional<std::string_view> Node::attr(std::string_view key) const
{
    const Attr* a = find_attr(key);
    if (a == nullptr) {
        return std::nullopt;
    }
    return a->value.text;
}

std::optional<Jid> Node::attr_jid(std::string_view key) const
{
    const Attr* a = find_attr(key);
    if (a == nullptr) {
        return std::nullopt;
    }
    return Jid::parse(a->value.text);
}

Node& Node::set_attr(std::string_view key, Value value)
{
    for (Attr& a : attrs) {
        if (a.key == key) {
            a.value = std::move(value);
            return *this;
        }
    }
    attrs.push_back(Attr{std::string(key), std::move(value)});
    return *this;
}

Node& Node::set_attr(std::string_view key, std::string_view text)
{
    return set_attr(key, Value{std::string(text), Form::text});
}

Node& Node::set_attr(std::string_view key, const Jid& jid)
{
    return set_attr(key, jid_value(jid));
}

const Node* Node::child(std::string_view child_tag) const
{
    const Children* list = children();
    if (list == nullptr) {
        return nullptr;
    }
    for (const Node& n : *list) {
        if (n.tag == child_tag) {
            return &n;
        }
    }
    return nullptr;
}

namespace {

void append_quoted(std::string& out, std::string_view s)
{
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u >= 0x7f) {
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 15];
        } else {
            out += c;
        }
    }
    out += '"';
}

void append_value(std::string& out, const Value& v)
{
    append_quoted(out, v.text);
    if (v.is_jid()) {
        out += '/';
        out += form_name(v.form);
    }
}

void append_node(std::string& out, const Node& node, int depth)
{
    out.append(static_cast<std::size_t>(depth) * 2, ' ');
    out += '<';
    out += node.tag;
    for (const Attr& a : node.attrs) {
        out += ' ';
        out += a.key;
        out += '=';
        append_value(out, a.value);
    }
    if (!node.has_content()) {
        out += "/>\n";
        return;
    }
    out += '>';
    if (const Bytes* b = node.bytes()) {
        constexpr std::size_t kShown = 64;
        const bool cut = b->size() > kShown;
        out += to_hex(ByteView(*b).first(cut ? kShown : b->size()));
        if (cut) {
            out += "...(" + std::to_string(b->size()) + " bytes)";
        }
    } else if (const Value* v = node.text()) {
        append_value(out, *v);
    } else if (const Children* list = node.children()) {
        out += '\n';
        for (const Node& n : *list) {
            append_node(out, n, depth + 1);
        }
        out.append(static_cast<std::size_t>(depth) * 2, ' ');
    }
    out += "</";
    out += node.tag;
    out += ">\n";
}

}  // namespace

std::string to_debug_string(const Node& node)
{
    std::string out;
    append_node(out, node, 0);
    return out;
}

}  // namespace chatwoot::wa::binary
