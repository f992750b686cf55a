#include "device.hpp"

namespace chatwoot::helper {

std::string_view to_string(DeviceState s) noexcept
{
    return cw_device_state_name(static_cast<uint64_t>(s));
}

}  // namespace chatwoot::helper
