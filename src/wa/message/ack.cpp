#include "wa/message/ack.hpp"

#include "wa/message/decimal.hpp"

namespace chatwoot::wa::message {

namespace {

using binary::Jid;
using binary::Node;

Result<std::string> message_id(const Node& n, std::string_view what)
{
    auto id = n.attr("id");
    if (!id || id->empty() || id->size() > kMaxMessageIdLength)
        return make_error(Errc::malformed, std::string(what) + ": no valid id");
    return std::string(*id);
}

}  // namespace

Result<MessageAck> parse_message_ack(const Node& ack)
{
    if (ack.tag != "ack") return make_error(Errc::malformed, "message ack: <" + ack.tag + ">");
    if (ack.attr("class") != std::optional<std::string_view>("message"))
        return make_error(Errc::unsupported, "message ack: not of class message");
    auto id = message_id(ack, "message ack");
    if (!id) return id.error();
    MessageAck out;
    out.id = std::move(*id);
    out.from = ack.attr_jid("from");
    if (auto e = ack.attr("error")) {
        out.error = parse_decimal<int>(*e);
        if (!out.error) return make_error(Errc::malformed, "message ack: error is not a number");
    }
    if (auto p = ack.attr("phash"); p && !p->empty()) out.phash = std::string(*p);
    if (auto t = ack.attr("t")) {
        out.t = parse_decimal<std::int64_t>(*t);
        if (!out.t) return make_error(Errc::malformed, "message ack: t is not a number");
    }
    return out;
}

Result<RetryReceipt> parse_retry_receipt(const Node& receipt)
{
    if (receipt.tag != "receipt")
        return make_error(Errc::malformed, "retry receipt: <" + receipt.tag + ">");
    if (receipt.attr("type") != std::optional<std::string_view>("retry"))
        return make_error(Errc::unsupported, "retry receipt: not of type retry");
    auto id = message_id(receipt, "retry receipt");
    if (!id) return id.error();
    std::optional<Jid> from = receipt.attr_jid("from");
    if (!from) return make_error(Errc::malformed, "retry receipt: no valid from");
    std::optional<Jid> device = from;
    if (from->kind() == binary::JidKind::group || from->kind() == binary::JidKind::broadcast)
        device = receipt.attr_jid("participant");
    if (!device || !device->is_user())
        return make_error(Errc::malformed, "retry receipt: no valid device");

    RetryReceipt out{std::move(*id), *from, *device, 1, {}, {}};
    if (const Node* retry = receipt.child("retry")) {
        if (auto c = retry->attr("count")) {
            auto n = parse_decimal<unsigned>(*c);
            if (!n || *n > 1000) return make_error(Errc::malformed, "retry receipt: bad count");
            out.count = *n;
        }
    }
    const Node* registration = receipt.child("registration");
    if (registration) {
        const Bytes* b = registration->bytes();
        if (!b || b->size() != 4)
            return make_error(Errc::malformed, "retry receipt: registration is not 4 bytes");
        out.registration_id = (std::uint32_t{(*b)[0]} << 24) | (std::uint32_t{(*b)[1]} << 16) |
                              (std::uint32_t{(*b)[2]} << 8) | (*b)[3];
    }
    if (const Node* keys = receipt.child("keys")) {
        if (!registration)
            return make_error(Errc::malformed, "retry receipt: keys without a registration");
        // The keys are a pre-key bundle answer's <user> in another dress.
        Node user("user");
        user.set_attr("jid", *device);
        user.content = binary::Children{*registration, *keys};
        auto bundle = signal::parse_prekey_user(user);
        if (!bundle) return make_error(bundle.error().code, "retry receipt: " + bundle.error().detail);
        out.bundle = std::move(*bundle);
    }
    return out;
}

}  // namespace chatwoot::wa::message
