#include "wa/binary/node_view.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace chatwoot::wa::binary {

namespace {

// The decimal digits of an AD_JID device (1..255; 0 is not written).
struct DeviceDigits {
    std::array<char, 3> buf{};
    std::size_t size = 0;

    explicit DeviceDigits(std::uint8_t device)
    {
        if (device != 0) {
            size = static_cast<std::size_t>(std::to_chars(buf.data(), buf.data() + buf.size(), device).ptr -
                                            buf.data());
        }
    }
    std::string_view view() const { return {buf.data(), size}; }
};

}  // namespace

std::size_t ValueView::size() const
{
    if (!is_jid()) {
        return text.size();
    }
    const DeviceDigits digits(device);
    return text.size() + (digits.size != 0 ? 1 + digits.size : 0) + 1 + server.size();
}

void ValueView::append_to(std::string& out) const
{
    if (!is_jid()) {
        out += text;
        return;
    }
    const DeviceDigits digits(device);
    out.reserve(out.size() + size());
    out += text;
    if (digits.size != 0) {
        out += ':';
        out += digits.view();
    }
    out += '@';
    out += server;
}

std::string ValueView::to_string() const
{
    std::string out;
    append_to(out);
    return out;
}

Value ValueView::owned() const
{
    return Value{to_string(), form};
}

std::optional<Jid> ValueView::jid() const
{
    if (!is_jid()) {
        return Jid::parse(text);
    }
    // Jid::parse refuses anything longer; the text form is built on the
    // stack only when it could pass.
    if (size() > kMaxJidLength) {
        return std::nullopt;
    }
    std::array<char, kMaxJidLength> buf{};
    const DeviceDigits digits(device);
    std::size_t n = 0;
    auto put = [&](std::string_view s) {
        s.copy(buf.data() + n, s.size());
        n += s.size();
    };
    put(text);
    if (digits.size != 0) {
        put(":");
        put(digits.view());
    }
    put("@");
    put(server);
    return Jid::parse(std::string_view(buf.data(), n));
}

bool ValueView::operator==(std::string_view other) const
{
    if (!is_jid()) {
        return text == other;
    }
    if (other.size() != size()) {
        return false;
    }
    const DeviceDigits digits(device);
    std::string_view rest = other;
    auto eat = [&](std::string_view s) {
        if (rest.substr(0, s.size()) != s) {
            return false;
        }
        rest.remove_prefix(s.size());
        return true;
    };
    return eat(text) && (digits.size == 0 || (eat(":") && eat(digits.view()))) && eat("@") &&
           eat(server) && rest.empty();
}

bool operator==(const ValueView& view, const Value& value)
{
    return view.form == value.form && view == std::string_view(value.text);
}

const AttrView* NodeView::find_attr(std::string_view key) const
{
    for (const AttrView& a : attrs()) {
        if (a.key == key) {
            return &a;
        }
    }
    return nullptr;
}

std::optional<ValueView> NodeView::attr(std::string_view key) const
{
    const AttrView* a = find_attr(key);
    if (a == nullptr) {
        return std::nullopt;
    }
    return a->value;
}

std::optional<Jid> NodeView::attr_jid(std::string_view key) const
{
    const AttrView* a = find_attr(key);
    if (a == nullptr) {
        return std::nullopt;
    }
    return a->value.jid();
}

std::optional<ByteView> NodeView::bytes() const
{
    if (kind_ != ContentKind::bytes) {
        return std::nullopt;
    }
    return ByteView(bytes_, content_size_);
}

std::span<const NodeView> NodeView::children() const
{
    if (kind_ != ContentKind::children) {
        return {};
    }
    return {children_, content_size_};
}

const NodeView* NodeView::child(std::string_view child_tag) const
{
    for (const NodeView& n : children()) {
        if (n.tag_ == child_tag) {
            return &n;
        }
    }
    return nullptr;
}

namespace {

void assign_value(const ValueView& from, Value& to)
{
    to.text.clear();
    from.append_to(to.text);
    to.form = from.form;
}

}  // namespace

void NodeView::owned_into(Node& out) const
{
    out.tag.assign(tag_);
    out.attrs.resize(attr_count_);
    for (std::size_t i = 0; i < attr_count_; ++i) {
        out.attrs[i].key.assign(attrs_[i].key);
        assign_value(attrs_[i].value, out.attrs[i].value);
    }
    switch (kind_) {
    case ContentKind::none:
        out.content = std::monostate{};
        break;
    case ContentKind::bytes: {
        Bytes* b = std::get_if<Bytes>(&out.content);
        if (b == nullptr) {
            b = &out.content.emplace<Bytes>();
        }
        b->assign(bytes_, bytes_ + content_size_);
        break;
    }
    case ContentKind::text: {
        Value* v = std::get_if<Value>(&out.content);
        if (v == nullptr) {
            v = &out.content.emplace<Value>();
        }
        assign_value(text_, *v);
        break;
    }
    case ContentKind::children: {
        Children* list = std::get_if<Children>(&out.content);
        if (list == nullptr) {
            list = &out.content.emplace<Children>();
        }
        list->resize(content_size_);
        for (std::size_t i = 0; i < content_size_; ++i) {
            children_[i].owned_into((*list)[i]);
        }
        break;
    }
    }
}

Node NodeView::owned() const
{
    Node out;
    owned_into(out);
    return out;
}

bool operator==(const NodeView& view, const Node& node)
{
    if (view.tag() != node.tag || view.attrs().size() != node.attrs.size()) {
        return false;
    }
    for (std::size_t i = 0; i < node.attrs.size(); ++i) {
        const AttrView& a = view.attrs()[i];
        if (a.key != node.attrs[i].key || !(a.value == node.attrs[i].value)) {
            return false;
        }
    }
    switch (view.kind()) {
    case ContentKind::none:
        return !node.has_content();
    case ContentKind::bytes: {
        const Bytes* b = node.bytes();
        const ByteView mine = *view.bytes();
        return b != nullptr && std::equal(mine.begin(), mine.end(), b->begin(), b->end());
    }
    case ContentKind::text:
        return node.text() != nullptr && *view.text() == *node.text();
    case ContentKind::children: {
        const Children* list = node.children();
        const auto mine = view.children();
        if (list == nullptr || list->size() != mine.size()) {
            return false;
        }
        for (std::size_t i = 0; i < mine.size(); ++i) {
            if (!(mine[i] == (*list)[i])) {
                return false;
            }
        }
        return true;
    }
    }
    return false;
}

std::string to_debug_string(const NodeView& node)
{
    return to_debug_string(node.owned());
}

}  // namespace chatwoot::wa::binary
