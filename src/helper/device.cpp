#include "device.hpp"

namespace chatwoot::helper {

std::string_view to_string(DeviceState s) noexcept
{
    switch (s) {
    case DeviceState::unpaired: return "unpaired";
    case DeviceState::pairing_qr: return "pairing_qr";
    case DeviceState::pairing_code: return "pairing_code";
    case DeviceState::connecting: return "connecting";
    case DeviceState::connected: return "connected";
    case DeviceState::logged_out: return "logged_out";
    case DeviceState::error: return "error";
    }
    return "unknown";
}

}  // namespace chatwoot::helper
