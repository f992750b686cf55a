// The JSON body of the status location.  Only numbers and fixed words go
// out: nothing secret is in the snapshot, so nothing secret can leak here.

#include "chatwoot_shared.h"

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
        "\"store\":{\"persisted\":%llu,\"batches\":%llu,\"errors\":%llu},"
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
                "\"api_requests\":%llu,\"api_retries\":%llu}}\n",
                (unsigned long long) b.whatsapp_posted,
                (unsigned long long) b.whatsapp_failed,
                (unsigned long long) b.replies_sent,
                (unsigned long long) b.replies_failed,
                (unsigned long long) b.api_requests,
                (unsigned long long) b.api_retries)) {
        return 0;
    }
    return used;
}
