#include "wa/proto/client_payload_builder.hpp"

#include <charconv>

#include "wa/crypto/hash.hpp"
#include "wa/proto/codec.hpp"

namespace chatwoot::wa::proto {
namespace {

constexpr std::uint8_t djb_key_type = 0x05;

void set_user_agent(ClientPayload::UserAgent& ua, const ClientOptions& options)
{
    ua.set_platform(ClientPayload::UserAgent::WEB);
    ClientPayload::UserAgent::AppVersion& v = *ua.mutable_appversion();
    v.set_primary(options.version.primary);
    v.set_secondary(options.version.secondary);
    v.set_tertiary(options.version.tertiary);
    // What a desktop browser reports: no mobile network, a dummy OS.
    ua.set_mcc("000");
    ua.set_mnc("000");
    ua.set_osversion("0.1");
    ua.set_manufacturer("");
    ua.set_device("Desktop");
    ua.set_osbuildnumber("0.1");
    ua.set_releasechannel(ClientPayload::UserAgent::RELEASE);
    ua.set_localelanguageiso6391(options.locale_language);
    ua.set_localecountryiso31661alpha2(options.locale_country);
}

ClientPayload common_payload(const ClientOptions& options)
{
    ClientPayload p;
    set_user_agent(*p.mutable_useragent(), options);
    p.mutable_webinfo()->set_websubplatform(ClientPayload::WebInfo::WEB_BROWSER);
    p.set_connecttype(ClientPayload::WIFI_UNKNOWN);
    p.set_connectreason(options.connect_reason);
    if (!options.push_name.empty()) p.set_pushname(options.push_name);
    return p;
}

std::string big_endian(std::uint32_t value, int width)
{
    std::string out(static_cast<std::size_t>(width), '\0');
    for (int i = width - 1; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = static_cast<char>(value & 0xff);
        value >>= 8;
    }
    return out;
}

Status check_length(ByteView key, std::size_t want, const char* name)
{
    if (key.size() == want) return Done{};
    return make_error(Errc::malformed, std::string(name) + ": " + std::to_string(key.size()) +
                                           " bytes, want " + std::to_string(want));
}

}  // namespace

std::string WaVersion::to_string() const
{
    return std::to_string(primary) + "." + std::to_string(secondary) + "." +
           std::to_string(tertiary);
}

std::optional<WaVersion> parse_wa_version(std::string_view text)
{
    std::uint32_t parts[3];
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (int i = 0; i < 3; ++i) {
        if (i > 0) {
            if (p == end || *p != '.') return std::nullopt;
            ++p;
        }
        auto [next, ec] = std::from_chars(p, end, parts[i]);
        if (ec != std::errc{} || next == p) return std::nullopt;
        p = next;
    }
    if (p != end) return std::nullopt;
    return WaVersion{parts[0], parts[1], parts[2]};
}

DeviceProps companion_device_props(const CompanionProps& props)
{
    DeviceProps d;
    d.set_os(props.os);
    DeviceProps::AppVersion& v = *d.mutable_version();
    v.set_primary(props.os_version.primary);
    v.set_secondary(props.os_version.secondary);
    v.set_tertiary(props.os_version.tertiary);
    d.set_platformtype(props.platform);
    d.set_requirefullsync(props.require_full_sync);
    // The capability flags both references announce today; the phone sends
    // history in the forms we claim to understand.
    DeviceProps::HistorySyncConfig& h = *d.mutable_historysyncconfig();
    h.set_storagequotamb(props.storage_quota_mb);
    h.set_inlineinitialpayloadine2eemsg(true);
    h.set_supportcallloghistory(false);
    h.set_supportbotuseragentchathistory(true);
    h.set_supportcagreactionsandpolls(true);
    h.set_supportbizhostedmsg(true);
    h.set_supportrecentsyncchunkmessagecounttuning(true);
    h.set_supporthostedgroupmsg(true);
    h.set_supportfbidbotchathistory(true);
    h.set_supportmessageassociation(true);
    h.set_supportgrouphistory(false);
    return d;
}

Result<ClientPayload> registration_payload(const RegistrationKeys& keys,
                                           const CompanionProps& props,
                                           const ClientOptions& options)
{
    for (Status s : {check_length(keys.identity_public, 32, "identity public key"),
                     check_length(keys.signed_prekey_public, 32, "signed prekey public key"),
                     check_length(keys.signed_prekey_signature, 64, "signed prekey signature")})
        if (!s) return s.error();
    if (keys.signed_prekey_id > 0xffffff)
        return make_error(
            Errc::too_large,
            "signed prekey id " + std::to_string(keys.signed_prekey_id) + " does not fit 3 bytes");

    ClientPayload p = common_payload(options);
    p.set_passive(false);
    p.set_pull(false);
    ClientPayload::DevicePairingRegistrationData& reg = *p.mutable_devicepairingdata();
    reg.set_eregid(big_endian(keys.registration_id, 4));
    reg.set_ekeytype(std::string(1, static_cast<char>(djb_key_type)));
    reg.set_eident(std::string(as_chars(keys.identity_public)));
    reg.set_eskeyid(big_endian(keys.signed_prekey_id, 3));
    reg.set_eskeyval(std::string(as_chars(keys.signed_prekey_public)));
    reg.set_eskeysig(std::string(as_chars(keys.signed_prekey_signature)));
    const crypto::Digest16 hash = crypto::md5(as_bytes(options.version.to_string()));
    reg.set_buildhash(std::string(reinterpret_cast<const char*>(hash.data()), hash.size()));
    const Bytes device_props = serialize(companion_device_props(props));
    reg.set_deviceprops(std::string(as_chars(device_props)));
    return p;
}

ClientPayload login_payload(std::uint64_t user, std::uint32_t device, const ClientOptions& options)
{
    ClientPayload p = common_payload(options);
    p.set_username(user);
    p.set_device(device);
    p.set_passive(true);
    p.set_pull(true);
    p.set_liddbmigrated(true);
    p.set_lc(1);
    return p;
}

}  // namespace chatwoot::wa::proto
