// WhatsApp addresses (JIDs) and how the bridge names them in Chatwoot.
//
// Facts this rests on (research/waweb.md section 1.7 "JIDs", whatsmeow
// types/jid.go, research/gowa.md, chatwoot/CONTRACT.md section 5.4):
//   - Text forms: "user@server", "user:device@server" and the legacy
//     "user.agent:device@server" (agent is a byte, device 16 bits).  A zero
//     agent and a zero device are not written ("user@server").
//   - Servers: s.whatsapp.net (phone-number users, "PN"), lid (privacy ids,
//     "LID"), g.us (groups), broadcast (status@broadcast and broadcast
//     lists), newsletter (channels), hosted and hosted.lid (Meta-hosted
//     devices, AD_JID domains 128/129), bot, and the legacy c.us, which is
//     the same user server as s.whatsapp.net under its old name.
//   - Device numbers exist only for user servers (PN, LID, hosted); groups,
//     broadcasts and channels are never addressed per device.
//   - A LID is not a phone number: its digits look like one but Chatwoot
//     would store a wrong phone (gowa.md, peers.md section 6).
//   - Chatwoot's phone_number must match /\+[1-9]\d{1,14}\z/ (E.164), and
//     identifier is unique per account.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatwoot::bridge {

inline constexpr std::string_view kServerPhone = "s.whatsapp.net";
inline constexpr std::string_view kServerLegacyPhone = "c.us";
inline constexpr std::string_view kServerLid = "lid";
inline constexpr std::string_view kServerGroup = "g.us";
inline constexpr std::string_view kServerBroadcast = "broadcast";
inline constexpr std::string_view kServerNewsletter = "newsletter";
inline constexpr std::string_view kServerHosted = "hosted";
inline constexpr std::string_view kServerHostedLid = "hosted.lid";

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

// A parsed, valid JID.  The only ways to get one are parse() and
// jid_from_phone(), so every Jid satisfies the rules parse() checks and
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

    const std::string& user() const { return user_; }
    const std::string& server() const { return server_; }
    std::uint8_t agent() const { return agent_; }
    std::uint16_t device() const { return device_; }
    bool has_device() const { return agent_ != 0 || device_ != 0; }

    JidKind kind() const;
    bool is_status_broadcast() const;

    // Canonical text: "user.agent:device@server" when the agent is set,
    // "user:device@server" when only the device is, else "user@server".
    std::string to_string() const;

    // The chat (account) JID this device JID belongs to.
    Jid without_device() const;

    bool operator==(const Jid&) const = default;

private:
    Jid() = default;
    friend std::optional<Jid> jid_from_phone(std::string_view);

    std::string user_;
    std::uint8_t agent_ = 0;
    std::uint16_t device_ = 0;
    std::string server_;
};

// "+<digits>" for a phone-number JID whose user is a valid E.164 number
// (7..15 digits, not starting with 0); nullopt for everything else,
// notably LIDs, groups, and the 0@s.whatsapp.net service account.
std::optional<std::string> e164_from_jid(const Jid& jid);

// A phone number as people and Chatwoot write it -> its s.whatsapp.net JID.
// Accepts one optional leading '+', digits, and the separators space, '-',
// '.' and balanced, unnested parentheses; surrounding whitespace is
// ignored.  The digits must form a valid E.164 number (7..15 digits, first
// not 0), so national forms such as "(011) 5555-1234" are refused rather
// than guessed at.
std::optional<Jid> jid_from_phone(std::string_view phone);

// The contact identifier the bridge stores in Chatwoot: the chat JID
// without device, e.g. "5511999999999@s.whatsapp.net", "123456789012345@lid",
// "120363000000000000@g.us".  One value per chat, unique per account.
std::string chatwoot_identifier(const Jid& jid);

// Brazil's mobile ninth digit, for contact look-up only.  Brazilian mobile
// numbers gained a leading 9 (+55 DD 9XXXX-XXXX); WhatsApp accounts and
// Chatwoot contacts made before or by other tools may carry either form.
// Evolution API's mergeBrazilContacts (peers.md sections 1 and 2.7)
// searches Chatwoot for both: +55 with 13 digits -> drop the digit after
// the area code, +55 with 12 digits -> insert a 9 there.  Same rule here,
// except a digit is dropped only when it is a 9 (13-digit Brazilian
// numbers are the 9-prefixed mobiles).  Input and output are "+<digits>";
// nullopt when there is no other form.  Never use this to rewrite a JID
// WhatsApp gave us: WhatsApp's own JID is authoritative.
std::optional<std::string> brazil_ninth_digit_alternate(std::string_view e164);

}  // namespace chatwoot::bridge
