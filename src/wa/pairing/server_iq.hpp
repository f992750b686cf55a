// Checks shared by the pairing stanzas: both arrive as
// <iq type="set" id=... from="s.whatsapp.net"> around one named child, and
// both are answered with an <iq to="@s.whatsapp.net" id=...>.  Internal to
// the pairing layer.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "wa/binary/node.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::pairing::detail {

struct ServerIq {
    std::string id;
    const binary::Node* child = nullptr;  // points into the checked node
};

// The id and the `child_tag` child of a server's set-iq; Errc::malformed
// for another tag, type, a missing id or child, Errc::untrusted when
// `from` is not the server.
Result<ServerIq> check_server_set_iq(const binary::Node& iq, std::string_view child_tag);

// The text of a string attribute or string/bytes content, for values the
// encoder may have written either way.
std::optional<std::string> content_text(const binary::Node& node);

// <iq to="@s.whatsapp.net" type=`type` id=`id`>
binary::Node server_iq(std::string_view type, std::string_view id);

}  // namespace chatwoot::wa::pairing::detail
