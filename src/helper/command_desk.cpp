#include "command_desk.hpp"

#include "log.hpp"

#include <algorithm>
#include <type_traits>

namespace chatwoot::helper {

namespace {

constexpr size_t kPendingAtStart = 1000;
constexpr int64_t kDay = 24 * 60 * 60;

}  // namespace

CommandDesk::CommandDesk(store::CommandRepository& commands, FindDevice find_device,
                         Clock clock)
    : commands_(commands), find_device_(std::move(find_device)), clock_(std::move(clock))
{
}

std::optional<std::string> CommandDesk::carry_out(const ipc::Command& command)
{
    return std::visit(
        [&](const auto& c) -> std::optional<std::string> {
            using T = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<T, ipc::PairCommand>
                          || std::is_same_v<T, ipc::PairCodeCommand>
                          || std::is_same_v<T, ipc::LogoutCommand>
                          || std::is_same_v<T, ipc::PasskeyCommand>
                          || std::is_same_v<T, ipc::PasskeyConfirmCommand>) {
                Device* d = find_device_(c.device);
                if (d == nullptr) {
                    return "no device named \"" + c.device + "\"";
                }
                if constexpr (std::is_same_v<T, ipc::PairCommand>) {
                    return d->pair(std::nullopt);
                } else if constexpr (std::is_same_v<T, ipc::PairCodeCommand>) {
                    return d->pair(c.phone);
                } else if constexpr (std::is_same_v<T, ipc::PasskeyCommand>) {
                    // The device checks the paste against the options it
                    // showed; its refusal names what is wrong, never the
                    // paste itself.
                    return d->passkey_assertion(c.assertion);
                } else if constexpr (std::is_same_v<T, ipc::PasskeyConfirmCommand>) {
                    return d->passkey_confirm();
                } else {
                    return d->log_out();
                }
            } else if constexpr (std::is_same_v<T, ipc::ImportCommand>) {
                return std::string("history import is not available in this build");
            } else {
                return std::string("sending through the API is not available in this build");
            }
        },
        command.body);
}

std::optional<std::string> CommandDesk::file_import(const std::string& id,
                                                    const ipc::ImportCommand& c,
                                                    int64_t created_at)
{
    if (c.what != "messages" && c.what != "contacts" && c.what != "all") {
        return "what must be messages, contacts or all";
    }
    if (!known_inbox_ || !known_inbox_(c.inbox)) {
        return "no inbox named \"" + c.inbox + "\"";
    }
    store::NewImportJob job;
    job.id = id;
    job.inbox = c.inbox;
    job.what = c.what;
    job.days = c.days;
    // The window as the client meant it: days back from when it asked.
    job.since = c.days == 0 ? 0 : std::max<int64_t>(0, created_at - int64_t{c.days} * kDay);
    job.flags = (c.include_media ? CW_COMMAND_IMPORT_MEDIA : 0)
                | (c.include_groups ? CW_COMMAND_IMPORT_GROUPS : 0);
    job.created_at = created_at;
    return jobs_->file(job);
}

void CommandDesk::take(const std::string& id, const ipc::Command& command)
{
    CommandOutcome o;
    o.id = id;
    o.kind = command.kind();
    o.created_at = command.created_at;
    o.updated_at = clock_();
    std::optional<std::string> refused;
    const auto* import = std::get_if<ipc::ImportCommand>(&command.body);
    if (import != nullptr && jobs_ != nullptr) {
        // The job and the command's outcome in one unit: a helper killed in
        // between finds the command pending and files the job again (the
        // same id: once).
        store::UnitOfWork unit(jobs_->db());
        refused = file_import(id, *import, command.created_at);
        o.state = refused ? store::CommandState::failed : store::CommandState::done;
        o.reason = refused.value_or("");
        if (!commands_.settle(id, o.state, o.reason, o.updated_at)) {
            return;   // settled already (the unit rolls back: nothing filed twice)
        }
        unit.commit();
        if (!refused && import_filed_) {
            import_filed_(import->inbox);
        }
    } else {
        refused = send_handler_ && std::holds_alternative<ipc::SendCommand>(command.body)
                      ? send_handler_(id, command)
                      : carry_out(command);
        o.state = refused ? store::CommandState::failed : store::CommandState::done;
        o.reason = refused.value_or("");
        if (!commands_.settle(id, o.state, o.reason, o.updated_at)) {
            return;   // settled already: a repeat never rewrites an outcome
        }
    }
    const char* kind = cw_command_kind_name(static_cast<unsigned>(o.kind));
    if (refused) {
        failed_++;
        log(LogLevel::info, "chatwoot helper: command %s (%s) failed: %s", id.c_str(), kind,
            refused->c_str());
    } else {
        done_++;
        log(LogLevel::info, "chatwoot helper: command %s (%s) done", id.c_str(), kind);
    }
    remember(std::move(o));
}

void CommandDesk::take_pending()
{
    for (const auto& stored : commands_.pending(kPendingAtStart)) {
        auto decoded = ipc::decode_command(stored.payload);
        if (!decoded) {
            // The drain stores unreadable records as failed; this one was
            // readable then.  Keep the outcome honest all the same.
            const int64_t now = clock_();
            if (commands_.settle(stored.id, store::CommandState::failed, decoded.reason(),
                                 now)) {
                failed_++;
                remember(CommandOutcome{stored.id, 0, store::CommandState::failed,
                                        decoded.reason(), stored.created_at, now});
            }
            continue;
        }
        take(stored.id, decoded.value());
    }
}

void CommandDesk::remember(CommandOutcome outcome)
{
    recent_.push_front(std::move(outcome));
    while (recent_.size() > CW_SNAPSHOT_COMMANDS) {
        recent_.pop_back();
    }
}

}  // namespace chatwoot::helper
