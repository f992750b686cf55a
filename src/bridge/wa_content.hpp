// The readable text of WhatsApp messages the bridge cannot carry as they
// are: a location, contact cards, a kind not bridged yet, a message that
// could not be decrypted.  Agents read it in Chatwoot; the formats follow
// what go-whatsapp-web-multidevice shows (a name, an address and a maps
// link; a name and its phone numbers).  Pure functions over plain structs:
// no protobuf here (src/wa/message/content.hpp reads the Message).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::bridge {

struct LocationText {
    double latitude = 0;
    double longitude = 0;
    std::string name;     // may be empty
    std::string address;  // may be empty
    bool live = false;
};

// "📍 <name>\n<address>\nhttps://maps.google.com/?q=<lat>,<lon>", without
// the lines that are empty; coordinates with at most 6 decimals (about
// 10 cm), trailing zeros dropped.
std::string location_text(const LocationText& location);

struct ContactCardText {
    std::string display_name;
    std::string vcard;
};

// The phone numbers of a vCard's TEL lines, in order (folded lines
// unfolded; the value after the last ':' of the line, so "TEL;waid=1555:+1
// 555" gives "+1 555").
std::vector<std::string> vcard_phone_numbers(std::string_view vcard);

// One block per card: "👤 <name>" (the display name, else the vCard's FN)
// then one line per phone number; blocks separated by a blank line.
std::string contact_cards_text(const std::vector<ContactCardText>& cards);

// "[<kind> received: media is not bridged yet]" for media kinds,
// "[<kind> received: not bridged yet]" otherwise, then the caption on its
// own line when there is one.
std::string placeholder_text(std::string_view kind, std::string_view caption);

// What agents see for a message that stayed undecryptable after every retry.
std::string undecryptable_text();

}  // namespace chatwoot::bridge
