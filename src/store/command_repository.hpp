// What workers asked the helper to do (command records), kept under the id
// the worker answered with: committed with the drained batch so nothing
// asked is lost, settled once done or failed, found again by id.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

enum class CommandState { pending, done, failed };

const char* command_state_name(CommandState state);

// A command to store.  failure set: one that could not be read, stored
// failed with that reason, so the client's poll learns why.
struct NewCommand {
    std::string id;
    std::string kind;                        // "pair", ... or "unknown"
    std::vector<unsigned char> payload;      // the record's bytes
    int64_t created_at = 0;
    std::optional<std::string> failure;
};

struct StoredCommand {
    std::string id;
    std::string kind;
    std::vector<unsigned char> payload;
    CommandState state = CommandState::pending;
    std::string reason;                      // empty unless failed
    int64_t created_at = 0;
    int64_t updated_at = 0;
};

class CommandRepository {
public:
    explicit CommandRepository(Database& db);

    // Stores the command unless its id is stored already (a helper killed
    // between commit and pop drains the same record again).  True when new.
    // Runs inside the caller's transaction, if any.
    bool add(const NewCommand& command);

    // pending -> done or failed; false when the command is not pending (or
    // unknown), so a repeat never rewrites an outcome.
    bool settle(std::string_view id, CommandState state, std::string_view reason,
                int64_t now);

    std::optional<StoredCommand> find(std::string_view id);

    // The oldest pending commands, for a helper that starts to take up
    // what the one before it left.
    std::vector<StoredCommand> pending(size_t limit);

    uint64_t count(CommandState state);

private:
    static StoredCommand read_row(const Statement& row);

    Statement add_;
    Statement settle_;
    Statement find_;
    Statement pending_;
    Statement count_;
    Database& db_;
};

}  // namespace chatwoot::store
