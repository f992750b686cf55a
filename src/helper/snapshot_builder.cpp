#include "snapshot_builder.hpp"

#include "../ipc/snapshot.hpp"

#include <algorithm>
#include <cstring>

namespace chatwoot::helper {

namespace {

uint64_t command_state(store::CommandState s)
{
    switch (s) {
    case store::CommandState::pending: return CW_COMMAND_PENDING;
    case store::CommandState::done: return CW_COMMAND_DONE;
    case store::CommandState::failed: return CW_COMMAND_FAILED;
    }
    return CW_COMMAND_FAILED;
}

uint64_t import_state(store::ImportState s)
{
    switch (s) {
    case store::ImportState::queued: return CW_IMPORT_QUEUED;
    case store::ImportState::running: return CW_IMPORT_RUNNING;
    case store::ImportState::paused: return CW_IMPORT_PAUSED;
    case store::ImportState::completed: return CW_IMPORT_COMPLETED;
    case store::ImportState::failed: return CW_IMPORT_FAILED;
    }
    return CW_IMPORT_FAILED;
}

uint64_t count(int64_t n)
{
    return n < 0 ? 0 : static_cast<uint64_t>(n);
}

}  // namespace

void build_snapshot(const SnapshotFacts& facts, cw_snapshot_t& out) noexcept
{
    std::memset(&out, 0, sizeof out);
    out.published_at = static_cast<uint64_t>(facts.now);
    out.helper_pid = facts.pid;
    out.counters = facts.counters;

    const size_t nd = std::min<size_t>(facts.devices.size(), CW_SNAPSHOT_DEVICES);
    uint64_t connected = 0;
    for (size_t i = 0; i < nd; i++) {
        const DeviceView& v = facts.devices[i];
        cw_snapshot_device_t& d = out.devices[i];
        d.state = static_cast<uint64_t>(v.status.state);
        d.state_since = static_cast<uint64_t>(v.state_since);
        d.connected_since = static_cast<uint64_t>(v.status.connected_since);
        d.reconnects = v.status.reconnects;
        d.qr_serial = v.qr_serial;
        ipc::copy_text(d.name, v.name);
        ipc::copy_text(d.inbox, v.inbox);
        ipc::copy_text(d.error, v.status.reason);
        ipc::copy_text(d.restriction, v.status.restriction);
        ipc::copy_text(d.pn_jid, v.status.pn_jid);
        ipc::copy_text(d.lid, v.status.lid);
        ipc::copy_text(d.push_name, v.status.push_name);
        ipc::copy_text(d.qr, v.status.qr);
        ipc::copy_text(d.pair_code, v.status.pair_code);
        ipc::copy_text(d.passkey_options, v.status.passkey_options);
        d.passkey_expires_at = static_cast<uint64_t>(v.status.passkey_expires_at);
        ipc::copy_text(d.restriction, v.status.restriction);
        connected += v.status.state == DeviceState::connected ? 1 : 0;
    }
    out.devices_n = nd;
    out.counters.devices_connected = connected;

    const size_t ni = std::min<size_t>(facts.imports.size(), CW_SNAPSHOT_IMPORTS);
    uint64_t running = 0;
    for (size_t i = 0; i < ni; i++) {
        const store::ImportJobRow& j = facts.imports[i];
        cw_snapshot_import_t& s = out.imports[i];
        s.state = import_state(j.state);
        s.created_at = count(j.created_at);
        s.started_at = count(j.started_at);
        s.updated_at = count(j.updated_at);
        s.finished_at = count(j.finished_at);
        s.days = count(j.days);
        s.flags = count(j.flags);
        s.chats_total = count(j.chats_total);
        s.chats_done = count(j.chats_done);
        s.chats_failed = count(j.chats_failed);
        s.messages_total = count(j.messages_total);
        s.messages_done = count(j.messages_done);
        s.messages_skipped = count(j.messages_skipped);
        s.messages_failed = count(j.messages_failed);
        s.contacts_done = count(j.contacts_done);
        ipc::copy_text(s.id, j.id);
        ipc::copy_text(s.inbox, j.inbox);
        ipc::copy_text(s.what, j.what);
        ipc::copy_text(s.current_chat, j.current_chat);
        ipc::copy_text(s.error, j.last_error);
        running += j.state == store::ImportState::running ? 1 : 0;
    }
    out.imports_n = ni;
    out.counters.imports_running = running;

    if (facts.commands != nullptr) {
        size_t n = 0;
        for (const CommandOutcome& c : *facts.commands) {
            if (n == CW_SNAPSHOT_COMMANDS) {
                break;
            }
            cw_snapshot_command_t& s = out.commands[n++];
            s.kind = c.kind;
            s.state = command_state(c.state);
            s.created_at = static_cast<uint64_t>(c.created_at);
            s.updated_at = static_cast<uint64_t>(c.updated_at);
            ipc::copy_text(s.id, c.id);
            ipc::copy_text(s.reason, c.reason);
        }
        out.commands_n = n;
    }
}

}  // namespace chatwoot::helper
