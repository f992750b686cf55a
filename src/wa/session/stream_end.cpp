#include "wa/session/stream_end.hpp"

#include <charconv>

namespace chatwoot::wa::session {

namespace {

int number_attr(const binary::Node& node, std::string_view key)
{
    const std::string_view text = node.attr(key).value_or("");
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return 0;
    return value;
}

// Attribute text for a log line: bounded, and only printable ASCII, since
// it comes from the network.
std::string printable(std::string_view text)
{
    std::string out;
    for (char c : text.substr(0, 64)) {
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return out;
}

}  // namespace

std::string_view end_kind_name(EndKind kind)
{
    switch (kind) {
    case EndKind::restart_required: return "restart required";
    case EndKind::logged_out: return "logged out";
    case EndKind::replaced: return "replaced";
    case EndKind::client_outdated: return "client outdated";
    case EndKind::banned: return "banned";
    case EndKind::transient: return "transient";
    case EndKind::refused: return "refused";
    case EndKind::protocol_error: return "protocol error";
    case EndKind::local_close: return "closed";
    }
    return "unknown";
}

bool StreamEnd::reconnect() const
{
    switch (kind) {
    case EndKind::restart_required:
    case EndKind::transient:
    case EndKind::protocol_error:
        return true;
    case EndKind::logged_out:
    case EndKind::replaced:
    case EndKind::client_outdated:
    case EndKind::banned:
    case EndKind::refused:
    case EndKind::local_close:
        return false;
    }
    return false;
}

StreamEnd classify_stream_error(const binary::Node& node)
{
    StreamEnd end;
    end.code = number_attr(node, "code");
    const binary::Node* conflict = node.child("conflict");
    const std::string conflict_type =
        conflict != nullptr ? printable(conflict->attr("type").value_or("")) : "";

    if (end.code == 515) {
        end.kind = EndKind::restart_required;
        end.detail = "stream error 515: restart required";
    } else if (end.code == 401 && conflict_type == "device_removed") {
        end.kind = EndKind::logged_out;
        end.detail = "stream error 401: device removed from the phone";
    } else if (conflict_type == "replaced") {
        end.kind = EndKind::replaced;
        end.detail = "stream error: replaced by another connection of this device";
    } else if (end.code == 503) {
        end.kind = EndKind::transient;
        end.detail = "stream error 503: service unavailable";
    } else {
        // whatsmeow logs these and lets its auto-reconnect run.
        end.kind = EndKind::transient;
        end.detail = "stream error";
        if (end.code != 0) end.detail += " " + std::to_string(end.code);
        if (!conflict_type.empty()) end.detail += ", conflict " + conflict_type;
        if (const binary::Children* kids = node.children(); kids && !kids->empty()) {
            end.detail += ", <" + printable(kids->front().tag) + ">";
        }
    }
    return end;
}

StreamEnd classify_failure(const binary::Node& node)
{
    StreamEnd end;
    end.code = number_attr(node, "reason");
    const std::string reason = std::to_string(end.code);
    switch (end.code) {
    case 401:
    case 403:
    case 406:
        end.kind = EndKind::logged_out;
        end.detail = "login failure " + reason + ": logged out";
        break;
    case 405:
        end.kind = EndKind::client_outdated;
        end.detail = "login failure 405: client version outdated";
        break;
    case 402: {
        end.kind = EndKind::banned;
        end.detail = "login failure 402: temporarily banned";
        const int expire = number_attr(node, "expire");
        if (expire > 0) end.detail += " for " + std::to_string(expire) + " s";
        break;
    }
    case 500:
    case 503:
        end.kind = EndKind::transient;
        end.detail = "login failure " + reason + ": server unavailable";
        break;
    default:
        end.kind = EndKind::refused;
        end.detail = "login failure " + (end.code != 0 ? reason : std::string("without a reason"));
        break;
    }
    return end;
}

}  // namespace chatwoot::wa::session
