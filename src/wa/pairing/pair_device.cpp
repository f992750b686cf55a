#include "wa/pairing/pair_device.hpp"

#include "wa/pairing/server_iq.hpp"

namespace chatwoot::wa::pairing {

std::uint32_t ref_display_seconds(std::size_t index)
{
    return index == 0 ? first_ref_seconds : next_ref_seconds;
}

Result<PairDeviceRequest> parse_pair_device(const binary::Node& iq)
{
    auto checked = detail::check_server_set_iq(iq, "pair-device");
    if (!checked) {
        return checked.error();
    }
    PairDeviceRequest out;
    out.iq_id = std::move(checked->id);
    if (const binary::Children* children = checked->child->children()) {
        for (const binary::Node& c : *children) {
            if (c.tag != "ref") {
                continue;
            }
            auto ref = detail::content_text(c);
            if (!ref || ref->empty()) {
                return make_error(Errc::malformed,
                                  "pair-device: empty <ref> " + std::to_string(out.refs.size()));
            }
            // The QR text is comma-separated: a ',' would move every field.
            if (ref->find(',') != std::string::npos) {
                return make_error(Errc::malformed,
                                  "pair-device: <ref> " + std::to_string(out.refs.size()) +
                                      " holds a ','");
            }
            out.refs.push_back(std::move(*ref));
        }
    }
    if (out.refs.empty()) {
        return make_error(Errc::malformed, "pair-device: no <ref>");
    }
    return out;
}

binary::Node pair_device_ack(std::string_view iq_id)
{
    return detail::server_iq("result", iq_id);
}

}  // namespace chatwoot::wa::pairing
