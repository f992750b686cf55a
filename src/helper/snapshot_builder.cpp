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
