#include "wa/message/fanout.hpp"

#include <algorithm>

#include "wa/crypto/hash.hpp"

namespace chatwoot::wa::message {

using binary::Jid;

namespace {

// Standard base64 of exactly six bytes: eight characters, no padding.
std::string base64_six(const std::uint8_t* p)
{
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (int block = 0; block < 2; ++block, p += 3) {
        const std::uint32_t v = (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
        for (int shift = 18; shift >= 0; shift -= 6) out.push_back(alphabet[(v >> shift) & 63]);
    }
    return out;
}

bool contains(const std::vector<Jid>& v, const Jid& j)
{
    return std::find(v.begin(), v.end(), j) != v.end();
}

}  // namespace

bool is_hosted(const Jid& device)
{
    return device.server() == binary::kServerHosted || device.server() == binary::kServerHostedLid;
}

std::string ad_string(const Jid& device)
{
    return device.user() + "." + std::to_string(device.agent()) + ":" +
           std::to_string(device.device()) + "@" + device.server();
}

std::vector<Jid> dm_fanout(std::span<const Jid> recipient_devices, std::span<const Jid> own_devices,
                           const Jid& sender)
{
    std::vector<Jid> out;
    out.reserve(recipient_devices.size() + own_devices.size());
    for (auto list : {recipient_devices, own_devices})
        for (const Jid& d : list)
            if (d != sender && !contains(out, d)) out.push_back(d);
    return out;
}

std::vector<Jid> group_fanout(std::span<const Jid> member_devices, const Jid& sender)
{
    std::vector<Jid> out;
    out.reserve(member_devices.size());
    for (const Jid& d : member_devices)
        if (d != sender && !is_hosted(d) && !contains(out, d)) out.push_back(d);
    return out;
}

std::string participant_hash(std::span<const Jid> devices)
{
    std::vector<std::string> names;
    names.reserve(devices.size());
    for (const Jid& d : devices) names.push_back(ad_string(d));
    std::sort(names.begin(), names.end());
    std::string joined;
    for (const auto& n : names) joined += n;
    const auto digest = crypto::sha256(as_bytes(joined));
    return "2:" + base64_six(digest.data());
}

}  // namespace chatwoot::wa::message
