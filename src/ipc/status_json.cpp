// The JSON body of the status location.  Numbers and fixed words, and of
// the helper's snapshot each device's name, inbox, state, error, own JIDs
// (the business's number, which monitoring may show) and whether a QR
// waits: never its QR text or pair code (secrets of the moment, for the
// devices view alone), nor the push name.

#include "chatwoot_devices.h"
#include "chatwoot_shared.h"

#include "../chatwoot/webhook_utf8.hpp"

#include <cstdio>
#include <string_view>

namespace {

std::string_view helper_state_name(uint64_t state)
{
    switch (state) {
    case CW_HELPER_BACKOFF:
        return "backoff";
    case CW_HELPER_WAITING_LOCK:
        return "waiting_for_lock";
    case CW_HELPER_RUNNING:
        return "running";
    case CW_HELPER_FAILED:
        return "failed";
    default:
        return "not_started";
    }
}

// Appends to buf[0..size) at *used; false when it does not fit.
class Writer {
public:
    Writer(char* buf, size_t size, size_t used) : buf_(buf), size_(size), used_(used) {}

    template <typename... Args>
    bool format(const char* fmt, Args... args)
    {
        const int m = std::snprintf(buf_ + used_, size_ - used_, fmt, args...);
        if (m < 0 || static_cast<size_t>(m) >= size_ - used_) {
            return false;
        }
        used_ += static_cast<size_t>(m);
        return true;
    }

    // A JSON string of a snapshot's char array: cut at its NUL, escaped;
    // bytes of a string that is not UTF-8 become U+FFFD, so the document
    // stays valid whatever the buffer held.
    bool string(const char* s, size_t cap)
    {
        size_t n = 0;
        while (n < cap && s[n] != '\0') {
            n++;
        }
        const bool utf8 = chatwoot::webhook::valid_utf8(s, n);
        if (!put('"')) {
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            const auto c = static_cast<unsigned char>(s[i]);
            bool ok = true;
            if (c == '"' || c == '\\') {
                ok = put('\\') && put(static_cast<char>(c));
            } else if (c < 0x20 || c == 0x7f) {
                ok = format("\\u%04x", c);
            } else if (c >= 0x80 && !utf8) {
                ok = format("\\ufffd");
            } else {
                ok = put(static_cast<char>(c));
            }
            if (!ok) {
                return false;
            }
        }
        return put('"');
    }

    size_t used() const { return used_; }

private:
    bool put(char c)
    {
        if (size_ - used_ < 2) {   // keep room for snprintf's NUL
            return false;
        }
        buf_[used_++] = c;
        buf_[used_] = '\0';
        return true;
    }

    char* buf_;
    size_t size_;
    size_t used_;
};

// ,"devices":[{...},...] from the snapshot.
bool render_devices(Writer& w, const cw_snapshot_t& snap)
{
    if (!w.format(",\"devices\":[")) {
        return false;
    }
    const size_t n = snap.devices_n < CW_SNAPSHOT_DEVICES ? snap.devices_n
                                                          : CW_SNAPSHOT_DEVICES;
    for (size_t i = 0; i < n; i++) {
        const cw_snapshot_device_t& d = snap.devices[i];
        if (!(w.format("%s{\"name\":", i == 0 ? "" : ",")
              && w.string(d.name, sizeof d.name) && w.format(",\"inbox\":")
              && w.string(d.inbox, sizeof d.inbox)
              && w.format(",\"state\":\"%s\",\"state_since\":%llu,"
                          "\"connected_since\":%llu,\"reconnects\":%llu,\"error\":",
                          cw_device_state_name(d.state),
                          (unsigned long long) d.state_since,
                          (unsigned long long) d.connected_since,
                          (unsigned long long) d.reconnects)
              && w.string(d.error, sizeof d.error) && w.format(",\"pn_jid\":")
              && w.string(d.pn_jid, sizeof d.pn_jid) && w.format(",\"lid\":")
              && w.string(d.lid, sizeof d.lid) && w.format(",\"restriction\":")
              && w.string(d.restriction, sizeof d.restriction)
              && w.format(",\"qr_pending\":%s}", cw_devices_qr_pending(&d) ? "true" : "false")))
        {
            return false;
        }
    }
    return w.format("]");
}

std::string_view check_name(uint64_t check)
{
    switch (check) {
    case CW_CHECK_OK:
        return "ok";
    case CW_CHECK_UNAVAILABLE:
        return "unavailable";
    case CW_CHECK_UNREACHABLE:
        return "unreachable";
    case CW_CHECK_BAD_ANSWER:
        return "bad_answer";
    case CW_CHECK_NO_ACCOUNT_ACCESS:
        return "no_account_access";
    case CW_CHECK_UNAUTHORIZED:
        return "unauthorized";
    default:
        return "none";
    }
}

}  // namespace

extern "C" size_t cw_status_render(const cw_status_t* s, char* buf,
                                   size_t size) noexcept
{
    return cw_status_render_with_snapshot(s, nullptr, buf, size);
}

// snprintf into the caller's buffer only: nothing here allocates or throws.
extern "C" size_t cw_status_render_with_snapshot(const cw_status_t* s,
                                                 const cw_snapshot_t* snapshot,
                                                 char* buf, size_t size) noexcept
{
    const auto state = helper_state_name(s->helper.state);
    const auto check = check_name(s->chatwoot.check);
    const unsigned long long restarts =
        s->helper.starts > 0 ? s->helper.starts - 1 : 0;

    int n = std::snprintf(
        buf, size,
        "{\"helper\":{\"pid\":%llu,\"state\":\"%.*s\",\"active\":%s,"
        "\"started_at\":%llu,\"restarts\":%llu,\"crash_backoff\":%llu},"
        "\"queue\":{\"capacity\":%llu,\"depth\":%llu,\"bytes_used\":%llu,"
        "\"bytes_size\":%llu,\"max_record\":%llu,\"enqueued\":%llu,"
        "\"rejected\":%llu,\"rejected_full\":%llu,\"rejected_too_large\":%llu,"
        "\"rejected_closed\":%llu,\"resets\":%llu},"
        "\"store\":{\"persisted\":%llu,\"batches\":%llu,\"errors\":%llu,"
        "\"dead_letters\":%llu},"
        "\"chatwoot\":{\"configured\":%s,\"checks\":%llu,\"failures\":%llu,"
        "\"last_http_status\":%llu,\"last_checked_at\":%llu,\"check\":\"%.*s\"},"
        "\"time\":%llu}\n",
        (unsigned long long) s->helper.pid, (int) state.size(), state.data(),
        s->helper.state == CW_HELPER_RUNNING ? "true" : "false",
        (unsigned long long) s->helper.started_at, restarts,
        (unsigned long long) s->helper.fast_crashes,
        (unsigned long long) s->ring_capacity,
        (unsigned long long) s->ring_depth,
        (unsigned long long) s->ring_bytes_used,
        (unsigned long long) s->ring_bytes_size,
        (unsigned long long) s->ring_max_record,
        (unsigned long long) s->queue.enqueued,
        (unsigned long long) (s->queue.rejected_full
                              + s->queue.rejected_large
                              + s->queue.rejected_closed),
        (unsigned long long) s->queue.rejected_full,
        (unsigned long long) s->queue.rejected_large,
        (unsigned long long) s->queue.rejected_closed,
        (unsigned long long) s->queue.resets,
        (unsigned long long) s->store.persisted,
        (unsigned long long) s->store.batches,
        (unsigned long long) s->store.errors,
        (unsigned long long) s->store.dead_letters,
        s->chatwoot_configured ? "true" : "false",
        (unsigned long long) s->chatwoot.checks,
        (unsigned long long) s->chatwoot.failures,
        (unsigned long long) s->chatwoot.last_http_status,
        (unsigned long long) s->chatwoot.last_checked_at,
        (int) check.size(), check.data(),
        (unsigned long long) s->now);

    if (n < 0 || static_cast<size_t>(n) >= size) {
        return 0;
    }
    size_t used = static_cast<size_t>(n) - 2;  // reopen before "}\n"

    // "webhook": every outcome by name, queued first.
    auto append = [&](const char* fmt, auto... args) {
        int m = std::snprintf(buf + used, size - used, fmt, args...);
        if (m < 0 || static_cast<size_t>(m) >= size - used) {
            return false;
        }
        used += static_cast<size_t>(m);
        return true;
    };
    if (!append(",\"webhook\":{\"replay_evicted\":%llu",
                (unsigned long long) s->replay_evicted)) {
        return 0;
    }
    for (int o = 0; o < CW_WH_OUTCOMES; o++) {
        if (!append(",\"%s\":%llu",
                    cw_webhook_outcome_name(static_cast<cw_webhook_outcome_t>(o)),
                    (unsigned long long) s->webhook[o])) {
            return 0;
        }
    }
    const cw_bridge_stats_t& b = s->bridge;
    if (!append("},\"bridge\":{\"whatsapp_posted\":%llu,\"whatsapp_failed\":%llu,"
                "\"replies_sent\":%llu,\"replies_failed\":%llu,"
                "\"api_requests\":%llu,\"api_retries\":%llu}",
                (unsigned long long) b.whatsapp_posted,
                (unsigned long long) b.whatsapp_failed,
                (unsigned long long) b.replies_sent,
                (unsigned long long) b.replies_failed,
                (unsigned long long) b.api_requests,
                (unsigned long long) b.api_retries)) {
        return 0;
    }
    Writer w(buf, size, used);
    if (snapshot != nullptr && !render_devices(w, *snapshot)) {
        return 0;
    }
    if (!w.format("}\n")) {
        return 0;
    }
    return w.used();
}
