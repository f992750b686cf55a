#include "wa/signal/address.hpp"

#include <cstdint>
#include <limits>

namespace chatwoot::wa::signal {

namespace {

// Far above any real name ("<15 digits>_129") or group id; keeps a hostile
// JID from becoming a huge store key.
constexpr std::size_t kMaxNameLength = 128;

Status check_name(std::string_view name, const char* what)
{
    if (name.empty()) return make_error(Errc::malformed, std::string(what) + " is empty");
    if (name.size() > kMaxNameLength)
        return make_error(Errc::too_large,
                          std::string(what) + " is " + std::to_string(name.size()) + " bytes");
    if (name.find('\0') != std::string_view::npos)
        return make_error(Errc::malformed, std::string(what) + " holds a NUL byte");
    return Done{};
}

}  // namespace

Result<Address> address_of(const binary::Jid& device)
{
    std::optional<Address> address = binary::signal_address(device);
    if (!address)
        return make_error(Errc::unsupported, "no Signal address for a " +
                                                 std::string(binary::jid_kind_name(device.kind())) +
                                                 " JID");
    return std::move(*address);
}

std::string to_string(const Address& address)
{
    return address.name + "." + std::to_string(address.device_id);
}

Status check_address(const Address& address)
{
    Status name = check_name(address.name, "address name");
    if (!name) return name;
    if (address.device_id > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max()))
        return make_error(Errc::malformed,
                          "device id " + std::to_string(address.device_id) + " out of range");
    return Done{};
}

Status check_sender_key_name(const SenderKeyName& name)
{
    Status group = check_name(name.group_id, "group id");
    if (!group) return group;
    return check_address(name.sender);
}

}  // namespace chatwoot::wa::signal
