#include "control_command.hpp"

#include <cctype>
#include <vector>

namespace chatwoot::bridge {

namespace {

bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Words split on ASCII white space and the no-break space Chatwoot's
// editor may leave (U+00A0, C2 A0 in UTF-8).
std::vector<std::string> words_of(std::string_view text)
{
    std::vector<std::string> words;
    std::string word;
    for (size_t i = 0; i < text.size(); i++) {
        const auto c = static_cast<unsigned char>(text[i]);
        const bool nbsp = c == 0xC2 && i + 1 < text.size()
                          && static_cast<unsigned char>(text[i + 1]) == 0xA0;
        if (is_space(c) || nbsp) {
            if (nbsp) i++;
            if (!word.empty()) words.push_back(std::move(word));
            word.clear();
            continue;
        }
        word += static_cast<char>(c);
    }
    if (!word.empty()) words.push_back(std::move(word));
    return words;
}

std::string lower(std::string s)
{
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

ControlCommand parse_control_command(std::string_view text)
{
    ControlCommand out;
    auto words = words_of(text);
    if (words.empty()) {
        return out;   // unknown
    }
    std::string verb = lower(words[0]);
    if (verb.size() > 1 && verb[0] == '/') verb.erase(0, 1);
    const size_t args = words.size() - 1;
    using Kind = ControlCommand::Kind;
    const struct {
        const char* name;
        Kind kind;
    } plain[] = {{"status", Kind::status}, {"qr", Kind::qr},       {"logout", Kind::logout},
                 {"reconnect", Kind::reconnect}, {"help", Kind::help}};
    for (const auto& p : plain) {
        if (verb == p.name) {
            out.kind = args == 0 ? p.kind : Kind::unknown;
            return out;
        }
    }
    if (verb != "code") {
        return out;
    }
    // The number as people write it: "+55 11 99999-9999", "(11) 9999.9999".
    std::string digits;
    bool plus = false;
    for (size_t w = 1; w < words.size(); w++) {
        for (size_t i = 0; i < words[w].size(); i++) {
            const char c = words[w][i];
            if (std::isdigit(static_cast<unsigned char>(c))) {
                digits += c;
            } else if (c == '+' && w == 1 && i == 0) {
                plus = true;
            } else if (c != '-' && c != '(' && c != ')' && c != '.') {
                out.kind = Kind::invalid;
                out.error = "\"" + words[w] + "\" is not a phone number; write it with its "
                            "country code, e.g. code +5511999999999";
                return out;
            }
        }
    }
    (void) plus;
    if (digits.empty()) {
        out.kind = Kind::invalid;
        out.error = "code needs the phone number of the WhatsApp account, with its country "
                    "code, e.g. code +5511999999999";
        return out;
    }
    // E.164: at most 15 digits; the shortest real numbers have 8 with the
    // country code.  A leading 0 is a trunk prefix, not a country code.
    if (digits.size() < 8 || digits.size() > 15 || digits[0] == '0') {
        out.kind = Kind::invalid;
        out.error = "\"" + digits + "\" is not a phone number with its country code "
                    "(8 to 15 digits, not starting with 0), e.g. code +5511999999999";
        return out;
    }
    out.kind = Kind::code;
    out.phone = std::move(digits);
    return out;
}

std::string_view control_help_text()
{
    return "Commands for this WhatsApp bridge (type one as a reply here):\n"
           "status: the device's state, number, reconnects and queues\n"
           "qr: link a phone by QR code (the image is posted here)\n"
           "code +5511999999999: link by pairing code instead (typed on that phone)\n"
           "logout: unlink this device from WhatsApp\n"
           "reconnect: drop the connection to WhatsApp and connect again\n"
           "help: this list";
}

}  // namespace chatwoot::bridge
