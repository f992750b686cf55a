#include "wa/message/chat_signals.hpp"

namespace chatwoot::wa::message {

binary::Node chatstate_node(const binary::Jid& to, bool composing)
{
    binary::Node n("chatstate", {}, binary::Children{binary::Node(composing ? "composing" : "paused")});
    n.set_attr("to", to.without_device());
    return n;
}

Result<binary::Node> read_receipt_node(const binary::Jid& to, std::span<const std::string> ids,
                                       const std::optional<binary::Jid>& participant,
                                       std::int64_t t)
{
    if (ids.empty()) return make_error(Errc::wrong_state, "read receipt: no message ids");
    binary::Node r("receipt");
    r.set_attr("id", ids.front());
    r.set_attr("to", to.without_device());
    r.set_attr("type", "read");
    r.set_attr("t", std::to_string(t));
    if (participant) r.set_attr("participant", participant->without_device());
    if (ids.size() > 1) {
        binary::Children items;
        for (std::size_t i = 1; i < ids.size(); ++i) {
            binary::Node item("item");
            item.set_attr("id", ids[i]);
            items.push_back(std::move(item));
        }
        r.content = binary::Children{binary::Node("list", {}, std::move(items))};
    }
    return r;
}

}  // namespace chatwoot::wa::message
