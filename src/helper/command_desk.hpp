// What workers asked the helper to do (command records, committed to the
// `commands` table by the queue drain), carried out here: each command goes
// to the device or job it names and is settled done or failed with the
// reason, under the id the worker answered with.  The newest outcomes are
// kept for the snapshot, so a client polling that id learns what became of
// it without reading the store.
#pragma once

#include "chatwoot_snapshot.h"
#include "device.hpp"

#include "../ipc/command_record.hpp"
#include "../store/command_repository.hpp"
#include "../store/import_job_repository.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

namespace chatwoot::helper {

struct CommandOutcome {
    std::string id;
    uint64_t kind = 0;                 // cw_command_kind_t
    store::CommandState state = store::CommandState::pending;
    std::string reason;
    int64_t created_at = 0;
    int64_t updated_at = 0;
};

class CommandDesk {
public:
    using FindDevice = std::function<Device*(std::string_view name)>;
    using Clock = std::function<int64_t()>;

    CommandDesk(store::CommandRepository& commands, FindDevice find_device, Clock clock);

    // Import commands become jobs (store/import_job_repository.hpp): the
    // job row and the command's outcome commit in one unit, so a job exists
    // exactly when its command says done.  known_inbox says which inboxes
    // are configured; filed(inbox) runs after the commit (the inbox's
    // runtime looks for its job).  Without this, imports are refused.
    using KnownInbox = std::function<bool(std::string_view inbox)>;
    using ImportFiled = std::function<void(const std::string& inbox)>;
    void file_imports_into(store::ImportJobRepository* jobs, KnownInbox known_inbox,
                           ImportFiled filed)
    {
        jobs_ = jobs;
        known_inbox_ = std::move(known_inbox);
        import_filed_ = std::move(filed);
    }

    // A command the queue drain has just committed.
    void take(const std::string& id, const ipc::Command& command);

    // Who takes send commands (the send API's desk, send_api/send_desk.hpp):
    // nullopt when it took the command, else why not.  Unset, a send is
    // refused as not available.
    using SendHandler =
        std::function<std::optional<std::string>(const std::string& id, const ipc::Command&)>;
    void handle_sends_with(SendHandler handler) { send_handler_ = std::move(handler); }

    // What an earlier helper committed and did not settle (killed between
    // the commit and the hand-over).
    void take_pending();

    // Newest first, at most CW_SNAPSHOT_COMMANDS.
    const std::deque<CommandOutcome>& recent() const { return recent_; }

    uint64_t done() const { return done_; }
    uint64_t failed() const { return failed_; }

private:
    // nullopt: carried out; else why not.
    std::optional<std::string> carry_out(const ipc::Command& command);
    void remember(CommandOutcome outcome);
    // nullopt: the job is filed; else why not.
    std::optional<std::string> file_import(const std::string& id,
                                           const ipc::ImportCommand& command,
                                           int64_t created_at);

    store::CommandRepository& commands_;
    FindDevice find_device_;
    Clock clock_;
    SendHandler send_handler_;
    store::ImportJobRepository* jobs_ = nullptr;
    KnownInbox known_inbox_;
    ImportFiled import_filed_;
    std::deque<CommandOutcome> recent_;
    uint64_t done_ = 0;
    uint64_t failed_ = 0;
};

}  // namespace chatwoot::helper
