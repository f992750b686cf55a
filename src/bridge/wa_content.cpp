#include "wa_content.hpp"

#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace chatwoot::bridge {

namespace {

std::string coordinate(double v)
{
    if (!std::isfinite(v)) return "0";
    std::array<char, 64> buf{};
    std::snprintf(buf.data(), buf.size(), "%.6f", v);
    std::string s(buf.data());
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    if (s == "-0") s = "0";
    return s;
}

bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// The vCard's logical lines: a line starting with a space or tab
// continues the one before (RFC 6350 3.2).
std::vector<std::string> unfolded_lines(std::string_view vcard)
{
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos <= vcard.size() && lines.size() < 1000) {
        size_t end = vcard.find('\n', pos);
        if (end == std::string_view::npos) end = vcard.size();
        std::string_view line = vcard.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty() && (line.front() == ' ' || line.front() == '\t') && !lines.empty())
            lines.back().append(line.substr(1));
        else
            lines.emplace_back(line);
        if (end == vcard.size()) break;
        pos = end + 1;
    }
    return lines;
}

// The property name of a content line: before the first ';' or ':',
// without a group prefix ("item1.TEL" is TEL).
std::string_view property_name(std::string_view line)
{
    size_t end = line.find_first_of(";:");
    std::string_view name = line.substr(0, end);
    if (size_t dot = name.rfind('.'); dot != std::string_view::npos) name.remove_prefix(dot + 1);
    return name;
}

std::string_view property_value(std::string_view line)
{
    size_t colon = line.rfind(':');
    return colon == std::string_view::npos ? std::string_view{} : trim(line.substr(colon + 1));
}

std::string vcard_full_name(std::string_view vcard)
{
    for (const std::string& line : unfolded_lines(vcard)) {
        if (iequals(property_name(line), "FN")) {
            size_t colon = line.find(':');
            if (colon != std::string::npos) return std::string(trim(std::string_view(line).substr(colon + 1)));
        }
    }
    return {};
}

}  // namespace

std::string location_text(const LocationText& l)
{
    std::string out = l.live ? "📍 Live location" : "📍 Location";
    if (!l.name.empty()) out = "📍 " + l.name;
    if (!l.address.empty()) out += "\n" + l.address;
    out += "\nhttps://maps.google.com/?q=" + coordinate(l.latitude) + "," + coordinate(l.longitude);
    return out;
}

std::vector<std::string> vcard_phone_numbers(std::string_view vcard)
{
    std::vector<std::string> out;
    for (const std::string& line : unfolded_lines(vcard)) {
        if (!iequals(property_name(line), "TEL")) continue;
        std::string_view value = property_value(line);
        if (value.starts_with("tel:") || value.starts_with("TEL:")) value.remove_prefix(4);
        if (!value.empty()) out.emplace_back(value);
    }
    return out;
}

std::string contact_cards_text(const std::vector<ContactCardText>& cards)
{
    std::string out;
    for (const ContactCardText& card : cards) {
        if (!out.empty()) out += "\n\n";
        std::string name = card.display_name.empty() ? vcard_full_name(card.vcard) : card.display_name;
        out += "👤 " + (name.empty() ? std::string("Contact") : name);
        for (const std::string& phone : vcard_phone_numbers(card.vcard)) out += "\n" + phone;
    }
    if (out.empty()) out = "👤 Contact";
    return out;
}

std::string placeholder_text(std::string_view kind, std::string_view caption)
{
    static constexpr std::array<std::string_view, 7> kMedia{
        "image", "video", "video note", "audio", "voice message", "document", "sticker"};
    bool media = false;
    for (std::string_view m : kMedia) media = media || m == kind;
    std::string out = "[" + std::string(kind.empty() ? "message" : kind) +
                      (media ? " received: media is not bridged yet]" : " received: not bridged yet]");
    if (!caption.empty()) out += "\n" + std::string(caption);
    return out;
}

std::string undecryptable_text()
{
    return "[a message could not be decrypted: ask the contact to send it again, or look on the phone]";
}

}  // namespace chatwoot::bridge
