// Moves records from the shared-memory ring into the store: peek under the
// zone lock, commit to SQLite, pop under the zone lock.  Nothing leaves the
// ring before it is durable; a repeat after a crash is ignored by the store.
//
// Webhook records become inbound rows (and outbox entries); command records
// become rows of the commands table, pending, under the id the worker
// answered with, and are then handed to the command handler, if one is set.
#pragma once

#include "chatwoot_shared.h"
#include "ngx.hpp"

#include "../chatwoot/webhook_record.hpp"
#include "../ipc/command_record.hpp"
#include "../store/command_repository.hpp"
#include "../store/control_repository.hpp"
#include "../store/inbound_event_repository.hpp"
#include "../store/outbox_repository.hpp"

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::helper {

class QueueDrain {
public:
    QueueDrain(cw_shared_t* shared, ngx_slab_pool_t* shpool,
               store::InboundEventRepository& repository,
               store::OutboxRepository& outbox);

    enum class Outcome { empty, more, failed };

    // Commits up to one batch.  `more` means records are still waiting.
    Outcome drain_batch();
    // How many records the last batch committed (agent actions among
    // them wake the inboxes' senders).
    size_t last_batch_records() const { return last_records_; }

    // Called once per command the store did not have, after the batch
    // holding it is committed and popped; the command is pending in the
    // commands table by then, and whoever acts on it settles it there.  A
    // helper killed before it acts leaves it pending: its successor takes
    // it up from CommandRepository::pending(), not from here.  Unset, the
    // commands wait in the table.
    using CommandHandler =
        std::function<void(const std::string& id, const ipc::Command& command)>;
    void set_command_handler(CommandHandler handler) { on_command_ = std::move(handler); }

    // Called once per new typing record (an agent typing in a conversation)
    // after its batch is committed and popped.  Typing is presence, not a
    // job: it goes now or never, so nothing takes it up after a crash.
    using TypingHandler =
        std::function<void(const std::string& inbox, int64_t conversation_id, bool on)>;
    void set_typing_handler(TypingHandler handler) { on_typing_ = std::move(handler); }

    // Called once per inbox with new commands typed in its control
    // conversation, after the batch filing them (control_commands, never
    // the outbox) is committed and popped.  A helper killed before takes
    // them up from the table at its inbox's start.
    using ControlHandler = std::function<void(const std::string& inbox)>;
    void set_control_handler(ControlHandler handler) { on_control_ = std::move(handler); }

private:
    cw_shared_t* shared_;
    ngx_slab_pool_t* shpool_;
    void file(const store::InboundEvent& event, size_t index, int64_t row_id);
    // The batch failed for a reason one of its records carries: store the
    // records one by one, setting aside (dead_letters, logged, counted)
    // those the store refuses.  Returns how many rows are new.
    size_t set_aside_bad_records(std::span<const store::InboundEvent> batch,
                                 int64_t now, std::string_view batch_error);
    // The next batch entry; entries are reused from batch to batch, so a
    // record's copy usually lands in memory the previous one had.
    store::InboundEvent& next_entry();

    store::InboundEventRepository& repository_;
    store::OutboxRepository& outbox_;
    std::vector<store::InboundEvent> batch_;   // [0, batch_n_) is this batch
    size_t batch_n_ = 0;
    // What each batch entry says, read once while copying it.
    std::vector<std::optional<webhook::QueuedWebhook>> readings_;
    // The outbox entries of the new rows, written just before the commit.
    std::vector<store::OutboxEntry> filed_;

    // A command record of this batch, filed in the commands table.
    struct DrainedCommand {
        store::NewCommand row;
        std::optional<ipc::Command> command;   // nullopt: malformed, filed failed
        bool added = false;                    // new to the store
    };
    // Reads a command record into commands_batch_.
    void take_command(const cw_ring_record_t& rec, uint64_t epoch, int64_t now);
    void hand_over_commands();
    void add_commands();

    store::CommandRepository commands_;
    std::vector<DrainedCommand> commands_batch_;
    CommandHandler on_command_;
    size_t last_records_ = 0;
    // The new typing records of this batch (indexes into readings_).
    std::vector<size_t> typings_;
    TypingHandler on_typing_;
    void hand_over_typings();

    // An agent's message in a control conversation (contact "bridge:..."):
    // a command for the helper, filed with the batch, never sent to
    // WhatsApp.  True when the record was one.
    bool take_control(const store::InboundEvent& event,
                      const webhook::QueuedWebhook& reading);
    void add_controls();
    void hand_over_controls();
    store::ControlRepository controls_repo_;
    std::vector<std::pair<std::string, store::ControlCommandRow>> controls_;
    std::vector<std::string> controls_new_;   // inboxes with new commands this batch
    ControlHandler on_control_;
};

}  // namespace chatwoot::helper
