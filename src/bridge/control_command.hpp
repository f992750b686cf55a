// What an agent typed in the control conversation, read as a command:
// status, qr, code <phone>, logout, reconnect, help.  Case and spaces do
// not matter, a leading "/" is allowed (the habit of chat bots); anything
// else is unknown, and "code" with something that is no phone number says
// why.  A pure function: the helper acts on the result.
#pragma once

#include <string>
#include <string_view>

namespace chatwoot::bridge {

struct ControlCommand {
    enum class Kind { status, qr, code, logout, reconnect, help, unknown, invalid };
    Kind kind = Kind::unknown;
    std::string phone;   // code: the digits, country code first, no "+"
    std::string error;   // invalid: what is wrong, for the answer
};

ControlCommand parse_control_command(std::string_view text);

// The answer to "help" (and the hint after an unknown command).
std::string_view control_help_text();

}  // namespace chatwoot::bridge
