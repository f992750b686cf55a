// WhatsApp addresses (JIDs) as the protocol uses them.
//
// Facts this rests on (research/waweb.md sections 1.7 "JIDs" and 1.8):
//   - Text forms: "user@server", "user:device@server" and the legacy
//     "user.agent:device@server" (agent is a byte, device 16 bits).  A zero
//     agent and a zero device are not written ("user@server").
//   - Servers: s.whatsapp.net (phone-number users, "PN"), lid (privacy ids,
//     "LID"), g.us (groups), broadcast (status@broadcast and broadcast
//     lists), newsletter (channels), hosted and hosted.lid (Meta-hosted
//     devices), bot, and the legacy c.us, which is the same user server as
//     s.whatsapp.net under its old name.
//   - Device numbers exist only for user servers (PN, LID, hosted); groups,
//     broadcasts and channels are never addressed per device.
//   - On the wire a device JID is an AD_JID whose domain byte names the
//     server: 0 s.whatsapp.net, 1 lid, 128 hosted, 129 hosted.lid.
//   - Signal sessions are keyed by an address name derived from the JID:
//     "<user>" for PN, "<user>_<domain>" for the other user servers, with
//     the JID's device as the Signal device id.
//
// The bridge (src/bridge/jid.hpp) adds what Chatwoot needs on top of this.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatwoot::wa::binary {

inline constexpr std::string_view kServerPhone = "s.whatsapp.net";
inline constexpr std::string_view kServerLegacyPhone = "c.us";
inline constexpr std::string_view kServerLid = "lid";
inline constexpr std::string_view kServerGroup = "g.us";
inline constexpr std::string_view kServerBroadcast = "broadcast";
inline constexpr std::string_view kServerNewsletter = "newsletter";
inline constexpr std::string_view kServerHosted = "hosted";
inline constexpr std::string_view kServerHostedLid = "hosted.lid";
inline constexpr std::string_view kServerBot = "bot";

// AD_JID domain bytes (waweb.md section 8).
inline constexpr std::uint8_t kDomainPhone = 0;
inline constexpr std::uint8_t kDomainLid = 1;
inline constexpr std::uint8_t kDomainHosted = 128;
inline constexpr std::uint8_t kDomainHostedLid = 129;

// Longest text accepted by Jid::parse.  Real JIDs are under 50 bytes (an
// 18-digit group id plus server); the bound keeps hostile input cheap.
inline constexpr std::size_t kMaxJidLength = 128;

enum class JidKind {
    phone_number,  // s.whatsapp.net (and legacy c.us, normalised to it)
    lid,           // lid
    group,         // g.us
    broadcast,     // broadcast, including status@broadcast
    newsletter,    // newsletter
    hosted,        // hosted and hosted.lid
    unknown        // any other well-formed server (bot, msgr, ...)
};

std::string_view jid_kind_name(JidKind k);

// The AD_JID domain byte of a user server; nullopt for servers that have
// no devices (groups, broadcasts, ...).
std::optional<std::uint8_t> ad_domain_of_server(std::string_view server);

// The server an AD_JID domain byte stands for; nullopt for bytes no
// reference assigns (the decoder refuses those rather than guess).
std::optional<std::string_view> server_of_ad_domain(std::uint8_t domain);

// Servers whose users are people (or their devices): the only ones where
// an agent/device suffix means something.
bool is_user_server(std::string_view server);

// A parsed, valid JID.  The only ways to get one are parse() and
// from_parts(), so every Jid satisfies the rules parse() checks and
// to_string() always gives text that parse() accepts again.
class Jid {
public:
    // Strict: exactly one '@'; a non-empty user made of the characters its
    // server allows (digits for PN/LID/hosted/newsletter, digits with one
    // inner '-' for legacy group ids, letters and digits for broadcast);
    // a lowercase server; agent/device suffixes only on user servers, as
    // canonical decimal numbers (no sign, no leading zeros); at most
    // kMaxJidLength bytes.  "c.us" becomes "s.whatsapp.net" so one chat has
    // one spelling.  Anything else is nullopt.
    static std::optional<Jid> parse(std::string_view text);

    // The same rules as parse(), for a JID given as its parts (a decoded
    // AD_JID, a phone number turned into a JID).
    static std::optional<Jid> from_parts(std::string_view user, std::string_view server,
                                         std::uint8_t agent = 0, std::uint16_t device = 0);

    const std::string& user() const { return user_; }
    const std::string& server() const { return server_; }
    std::uint8_t agent() const { return agent_; }
    std::uint16_t device() const { return device_; }
    bool has_device() const { return agent_ != 0 || device_ != 0; }

    JidKind kind() const;
    bool is_status_broadcast() const;
    bool is_user() const { return is_user_server(server_); }

    // Canonical text: "user.agent:device@server" when the agent is set,
    // "user:device@server" when only the device is, else "user@server".
    std::string to_string() const;

    // The chat (account) JID this device JID belongs to.
    Jid without_device() const;

    bool operator==(const Jid&) const = default;

private:
    Jid() = default;

    std::string user_;
    std::uint8_t agent_ = 0;
    std::uint16_t device_ = 0;
    std::string server_;
};

// The libsignal protocol address of a user device (waweb.md section 1.8).
struct SignalAddress {
    std::string name;        // "<user>" or "<user>_<domain>"
    std::uint32_t device_id; // the JID's device, 0 for the main device

    bool operator==(const SignalAddress&) const = default;
};

// nullopt for JIDs that are not users (groups, broadcasts, channels, bots):
// no Signal session belongs to them.
std::optional<SignalAddress> signal_address(const Jid& jid);

}  // namespace chatwoot::wa::binary
