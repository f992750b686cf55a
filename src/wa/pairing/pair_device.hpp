// The server's request to show QR codes (waweb.md 1.10, steps 1-2):
//
//   <iq type="set" id=... from="s.whatsapp.net"><pair-device>
//       <ref>...</ref> x N
//   </pair-device></iq>
//
// The companion acknowledges it at once and shows the refs one after the
// other (qr_code.hpp builds the text for each); when they run out the
// server gives up and the companion has to connect again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wa/binary/node.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::pairing {

// How long each ref stays valid on screen.
inline constexpr std::uint32_t first_ref_seconds = 60;
inline constexpr std::uint32_t next_ref_seconds = 20;

// Seconds to show the ref at `index` (0 is the first one).
std::uint32_t ref_display_seconds(std::size_t index);

struct PairDeviceRequest {
    std::string iq_id;
    std::vector<std::string> refs;  // in the order to show them
};

// Errors:
//   not an <iq type="set"> with an id and one <pair-device> child  Errc::malformed
//   from someone other than the server                           Errc::untrusted
//   no <ref>, or a ref that is empty or holds a ','              Errc::malformed
// Children other than <ref> are skipped, as the references do.
Result<PairDeviceRequest> parse_pair_device(const binary::Node& iq);

// <iq to="@s.whatsapp.net" type="result" id=.../>
binary::Node pair_device_ack(std::string_view iq_id);

}  // namespace chatwoot::wa::pairing
