// The helper's reading of a command record (include/chatwoot_command.h has
// the layout and the workers' encoder): a bounded decoder that never reads
// past its input and says what was wrong and where, and the same encoder for
// the helper's own use and the tests.
#pragma once

#include "chatwoot_command.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace chatwoot::ipc {

struct PairCommand {
    std::string device;
    bool operator==(const PairCommand&) const = default;
};

struct PairCodeCommand {
    std::string device;
    std::string phone;   // digits only
    bool operator==(const PairCodeCommand&) const = default;
};

struct LogoutCommand {
    std::string device;
    bool operator==(const LogoutCommand&) const = default;
};

struct ImportCommand {
    std::string inbox;
    std::string what;    // a lower-case word: the import decides its meaning
    uint32_t days = 0;   // how far back; 0 for everything
    bool include_media = false;
    bool include_groups = false;
    bool operator==(const ImportCommand&) const = default;
};

struct SendCommand {
    std::string inbox;
    std::string to;      // a chat JID or a phone number
    std::string text;
    // The application's idempotency key, "<scope>:<key>" (chatwoot_send.h);
    // empty when it gave none.
    std::string key = {};
    bool operator==(const SendCommand&) const = default;
};

// A passkey-gated account's linking: the operator's assertion, as pasted
// (JSON text; the device checks what it says), then their confirmation.
struct PasskeyCommand {
    std::string device;
    std::string assertion;
    bool operator==(const PasskeyCommand&) const = default;
};

struct PasskeyConfirmCommand {
    std::string device;
    bool operator==(const PasskeyConfirmCommand&) const = default;
};

// In the order of cw_command_kind_t, so that index() + 1 is the kind.
using CommandBody = std::variant<PairCommand, PairCodeCommand, LogoutCommand, ImportCommand,
                                 SendCommand, PasskeyCommand, PasskeyConfirmCommand>;

struct Command {
    int64_t created_at = 0;   // unix seconds, the worker's clock
    CommandBody body;

    cw_command_kind_t kind() const
    {
        return static_cast<cw_command_kind_t>(body.index() + 1);
    }
    bool operator==(const Command&) const = default;
};

enum class CommandErrc {
    truncated,         // the record ends inside the header or a field
    too_large,         // the record, or a field's length, is over its bound
    unknown_version,   // a version this build does not read
    unknown_kind,      // a kind this build does not know
    bad_header,        // flags or days a kind does not allow
    bad_field,         // a field empty, not UTF-8, or outside its alphabet
    trailing_bytes,    // bytes after the kind's last field
};

const char* command_errc_name(CommandErrc code);

struct CommandError {
    CommandErrc code;
    size_t offset;        // where in the record the problem starts
    std::string detail;   // names the field, never quotes its content
};

// Either a Command or why the bytes are not one.
class CommandDecoding {
public:
    CommandDecoding(Command command) : v_(std::move(command)) {}
    CommandDecoding(CommandError error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    const Command& value() const { return std::get<0>(v_); }
    Command& value() { return std::get<0>(v_); }
    const CommandError& error() const { return std::get<1>(v_); }

    // "unknown_kind at 1: kind 9", for a log line.
    std::string reason() const;

private:
    std::variant<Command, CommandError> v_;
};

CommandDecoding decode_command(std::span<const unsigned char> record);

// The kind byte of a record that may be malformed, for filing it: nullopt
// when the record is too short to have one.
std::optional<unsigned> peek_command_kind(std::span<const unsigned char> record);

// The record cw_command_encode writes for the same command; nullopt (and
// the reason in *reason when given) when a field breaks its rule.
std::optional<std::vector<unsigned char>> encode_command(const Command& command,
                                                         std::string* reason = nullptr);

// cw_command_id as a string.
std::string command_id(uint64_t epoch, uint64_t seq);

// A command record drained from the ring, as the helper files it: under
// the id the worker answered with, and either the command or why the bytes
// are not one (a broken invariant: only cw_command_encode writes them).
struct DrainedCommandRecord {
    std::string id;
    std::string kind;                  // cw_command_kind_name, "unknown"
    int64_t created_at = 0;            // the command's, else `now`
    std::optional<Command> command;    // nullopt: unreadable
    std::string failure;               // set when unreadable; no content
};

DrainedCommandRecord read_command_record(uint64_t epoch, uint64_t seq,
                                         std::span<const unsigned char> record, int64_t now);

}  // namespace chatwoot::ipc
