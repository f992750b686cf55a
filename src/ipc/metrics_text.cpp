// The metrics location's body (include/chatwoot_metrics.h): the Prometheus
// text exposition format 0.0.4.  Every family once, with its # HELP and
// # TYPE, its samples together; counters end in _total, times are seconds,
// sizes bytes.  Label values are the configuration's inbox names (escaped:
// an operator may put a quote, a backslash or a newline in a block name)
// and fixed words.  Nothing secret is shown: no QR, code, JID or token.

#include "chatwoot_metrics.h"
#include "chatwoot_snapshot.h"

#include "../chatwoot/webhook_utf8.hpp"

#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::array<uint64_t, CW_LATENCY_BUCKETS - 1> kBoundsMs{CW_LATENCY_BOUNDS_MS};

uint64_t load(const uint64_t& v)
{
    return __atomic_load_n(&v, __ATOMIC_RELAXED);
}

// A label value as the format wants it: \ " and newline escaped; bytes of
// a name that is not UTF-8 become U+FFFD, so the text stays valid.
void append_label_value(std::string& out, std::string_view v)
{
    const bool utf8 = chatwoot::webhook::valid_utf8(v.data(), v.size());
    for (const char ch : v) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c >= 0x80 && !utf8) {
            out += "\xEF\xBF\xBD";
        } else {
            out += ch;
        }
    }
}

std::string_view cut(const char* s, size_t cap)
{
    return {s, strnlen(s, cap)};
}

// One label set: name="value" pairs, rendered in order.
struct Label {
    std::string_view name;
    std::string_view value;
};

class Text {
public:
    explicit Text(std::string& out) : out_(out) {}

    // # HELP and # TYPE of a family; its samples must follow.
    void family(std::string_view name, std::string_view type, std::string_view help)
    {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;   // fixed text: no backslash or newline to escape
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }

    void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value)
    {
        head(name, labels);
        char num[24];
        std::snprintf(num, sizeof num, " %llu\n", static_cast<unsigned long long>(value));
        out_ += num;
    }

    void sample_seconds(std::string_view name, std::initializer_list<Label> labels,
                        uint64_t usec)
    {
        head(name, labels);
        char num[40];
        std::snprintf(num, sizeof num, " %llu.%06llu\n",
                      static_cast<unsigned long long>(usec / 1000000),
                      static_cast<unsigned long long>(usec % 1000000));
        out_ += num;
    }

    // A histogram's samples for one label set: cumulative buckets, +Inf
    // equal to _count (both the buckets' total, so they always agree).
    void histogram(std::string_view name, std::string_view inbox, const cw_latency_t& h)
    {
        uint64_t cumulative = 0;
        const std::string bucket = std::string(name) + "_bucket";
        for (size_t i = 0; i < CW_LATENCY_BUCKETS; i++) {
            cumulative += load(h.bucket[i]);
            char le[24];
            if (i < kBoundsMs.size()) {
                const uint64_t ms = kBoundsMs[i];
                if (ms % 1000 == 0) {
                    std::snprintf(le, sizeof le, "%llu", static_cast<unsigned long long>(ms / 1000));
                } else {
                    // 0.005, 0.25, 2.5: trailing zeros dropped
                    std::snprintf(le, sizeof le, "%llu.%03llu",
                                  static_cast<unsigned long long>(ms / 1000),
                                  static_cast<unsigned long long>(ms % 1000));
                    size_t n = std::strlen(le);
                    while (le[n - 1] == '0') {
                        le[--n] = '\0';
                    }
                }
            } else {
                std::snprintf(le, sizeof le, "+Inf");
            }
            sample(bucket, {{"inbox", inbox}, {"le", le}}, cumulative);
        }
        sample_seconds(std::string(name) + "_sum", {{"inbox", inbox}}, load(h.sum_usec));
        sample(std::string(name) + "_count", {{"inbox", inbox}}, cumulative);
    }

private:
    void head(std::string_view name, std::initializer_list<Label> labels)
    {
        out_ += name;
        if (labels.size() == 0) {
            return;
        }
        out_ += '{';
        bool first = true;
        for (const Label& l : labels) {
            if (!first) {
                out_ += ',';
            }
            first = false;
            out_ += l.name;
            out_ += "=\"";
            append_label_value(out_, l.value);
            out_ += '"';
        }
        out_ += '}';
    }

    std::string& out_;
};

// The configured inboxes with their slots (nullptr: nothing counted yet).
struct Inbox {
    std::string_view name;
    const cw_inbox_stats_t* slot;
};

std::vector<Inbox> inboxes_of(const cw_inbox_stats_area_t* area, const cw_str_t* names,
                              size_t names_n)
{
    std::vector<Inbox> out;
    out.reserve(names_n);
    uint64_t used = area ? __atomic_load_n(&area->used, __ATOMIC_ACQUIRE) : 0;
    if (used > CW_INBOX_SLOTS) {
        used = CW_INBOX_SLOTS;
    }
    for (size_t i = 0; i < names_n; i++) {
        const std::string_view name(names[i].data, names[i].len);
        const cw_inbox_stats_t* found = nullptr;
        for (uint64_t s = 0; s < used && found == nullptr; s++) {
            if (cut(area->slot[s].name, sizeof area->slot[s].name) == name) {
                found = &area->slot[s];
            }
        }
        out.push_back({name, found});
    }
    return out;
}

const cw_latency_t kNoLatency{};
const cw_bridge_stats_t kNoCounts{};

void render_counters(Text& t, const cw_status_t& s)
{
    t.family("chatwoot_bridge_helper_up", "gauge",
             "1 while a helper process holds the state path and runs.");
    t.sample("chatwoot_bridge_helper_up", {}, s.helper.state == CW_HELPER_RUNNING ? 1 : 0);
    t.family("chatwoot_bridge_helper_restarts_total", "counter",
             "Helper processes started after the first (crashes and reloads).");
    t.sample("chatwoot_bridge_helper_restarts_total", {},
             s.helper.starts > 0 ? s.helper.starts - 1 : 0);

    t.family("chatwoot_bridge_webhooks_total", "counter",
             "Chatwoot webhooks answered, by outcome (queued, left alone, refused).");
    for (int o = 0; o < CW_WH_OUTCOMES; o++) {
        t.sample("chatwoot_bridge_webhooks_total",
                 {{"outcome", cw_webhook_outcome_name(static_cast<cw_webhook_outcome_t>(o))}},
                 s.webhook[o]);
    }
    t.family("chatwoot_bridge_webhook_replay_evicted_total", "counter",
             "Replay keys pushed out of the replay table before their time.");
    t.sample("chatwoot_bridge_webhook_replay_evicted_total", {}, s.replay_evicted);

    t.family("chatwoot_bridge_queue_depth", "gauge", "Records in the queue to the helper.");
    t.sample("chatwoot_bridge_queue_depth", {}, s.ring_depth);
    t.family("chatwoot_bridge_queue_capacity", "gauge", "Most records the queue holds.");
    t.sample("chatwoot_bridge_queue_capacity", {}, s.ring_capacity);
    t.family("chatwoot_bridge_queue_bytes", "gauge", "Bytes the queued records take.");
    t.sample("chatwoot_bridge_queue_bytes", {}, s.ring_bytes_used);
    t.family("chatwoot_bridge_queue_size_bytes", "gauge", "Bytes the queue has for records.");
    t.sample("chatwoot_bridge_queue_size_bytes", {}, s.ring_bytes_size);
    t.family("chatwoot_bridge_queue_max_record_bytes", "gauge",
             "The largest record the queue takes.");
    t.sample("chatwoot_bridge_queue_max_record_bytes", {}, s.ring_max_record);
    t.family("chatwoot_bridge_queue_enqueued_total", "counter", "Records queued by workers.");
    t.sample("chatwoot_bridge_queue_enqueued_total", {}, s.queue.enqueued);
    t.family("chatwoot_bridge_queue_rejected_total", "counter",
             "Records the queue refused: full (503), too large (413), closed (503).");
    t.sample("chatwoot_bridge_queue_rejected_total", {{"reason", "full"}}, s.queue.rejected_full);
    t.sample("chatwoot_bridge_queue_rejected_total", {{"reason", "too_large"}},
             s.queue.rejected_large);
    t.sample("chatwoot_bridge_queue_rejected_total", {{"reason", "closed"}},
             s.queue.rejected_closed);
    t.family("chatwoot_bridge_queue_resets_total", "counter",
             "Times the helper found the queue inconsistent and reset it.");
    t.sample("chatwoot_bridge_queue_resets_total", {}, s.queue.resets);

    t.family("chatwoot_bridge_store_commits_total", "counter", "Commits of queued records.");
    t.sample("chatwoot_bridge_store_commits_total", {}, s.store.batches);
    t.family("chatwoot_bridge_store_errors_total", "counter",
             "Failed commits (their records stay queued).");
    t.sample("chatwoot_bridge_store_errors_total", {}, s.store.errors);
    t.family("chatwoot_bridge_store_persisted_total", "counter",
             "Queued records durably in the store.");
    t.sample("chatwoot_bridge_store_persisted_total", {}, s.store.persisted);
    t.family("chatwoot_bridge_store_dead_letters_total", "counter",
             "Queued records the store refused, set aside in dead_letters.");
    t.sample("chatwoot_bridge_store_dead_letters_total", {}, s.store.dead_letters);

    t.family("chatwoot_bridge_chatwoot_checks_total", "counter",
             "Checks of the inboxes' Chatwoot url, token and account.");
    t.sample("chatwoot_bridge_chatwoot_checks_total", {}, s.chatwoot.checks);
    t.family("chatwoot_bridge_chatwoot_check_failures_total", "counter",
             "Checks that got no HTTP answer.");
    t.sample("chatwoot_bridge_chatwoot_check_failures_total", {}, s.chatwoot.failures);
    t.family("chatwoot_bridge_chatwoot_check_ok", "gauge",
             "1 when the worst inbox's last check found Chatwoot working.");
    t.sample("chatwoot_bridge_chatwoot_check_ok", {}, s.chatwoot.check == CW_CHECK_OK ? 1 : 0);
}

const char* const kApiClass[CW_API_CLASSES] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

void render_inboxes(Text& t, const std::vector<Inbox>& inboxes)
{
    auto counts = [](const Inbox& i) -> const cw_bridge_stats_t& {
        return i.slot ? i.slot->bridge : kNoCounts;
    };
    t.family("chatwoot_bridge_messages_bridged_total", "counter",
             "Messages bridged: WhatsApp messages now in Chatwoot (to_chatwoot), agent "
             "replies the WhatsApp server acknowledged (to_whatsapp).");
    for (const Inbox& i : inboxes) {
        t.sample("chatwoot_bridge_messages_bridged_total",
                 {{"inbox", i.name}, {"direction", "to_chatwoot"}},
                 load(counts(i).whatsapp_posted));
        t.sample("chatwoot_bridge_messages_bridged_total",
                 {{"inbox", i.name}, {"direction", "to_whatsapp"}},
                 load(counts(i).replies_sent));
    }
    t.family("chatwoot_bridge_messages_failed_total", "counter",
             "Messages given up: WhatsApp messages Chatwoot never took (to_chatwoot), agent "
             "replies marked failed in Chatwoot (to_whatsapp).");
    for (const Inbox& i : inboxes) {
        t.sample("chatwoot_bridge_messages_failed_total",
                 {{"inbox", i.name}, {"direction", "to_chatwoot"}},
                 load(counts(i).whatsapp_failed));
        t.sample("chatwoot_bridge_messages_failed_total",
                 {{"inbox", i.name}, {"direction", "to_whatsapp"}},
                 load(counts(i).replies_failed));
    }
    t.family("chatwoot_bridge_chatwoot_requests_total", "counter",
             "Chatwoot REST requests finished, by the answer's status class (none: no "
             "HTTP answer).");
    for (const Inbox& i : inboxes) {
        for (int c = 0; c < CW_API_CLASSES; c++) {
            t.sample("chatwoot_bridge_chatwoot_requests_total",
                     {{"inbox", i.name}, {"class", kApiClass[c]}},
                     load(counts(i).api_status[c]));
        }
    }
    t.family("chatwoot_bridge_chatwoot_retries_total", "counter",
             "Chatwoot REST requests tried again (5xx, 429, no answer).");
    for (const Inbox& i : inboxes) {
        t.sample("chatwoot_bridge_chatwoot_retries_total", {{"inbox", i.name}},
                 load(counts(i).api_retries));
    }
    t.family("chatwoot_bridge_outbox_pending", "gauge",
             "Agent replies and actions waiting for their turn to go to WhatsApp.");
    for (const Inbox& i : inboxes) {
        t.sample("chatwoot_bridge_outbox_pending", {{"inbox", i.name}},
                 i.slot ? load(i.slot->outbox_pending) : 0);
    }
    t.family("chatwoot_bridge_outbox_in_flight", "gauge",
             "Agent replies and actions handed to WhatsApp, waiting for the server's ack.");
    for (const Inbox& i : inboxes) {
        t.sample("chatwoot_bridge_outbox_in_flight", {{"inbox", i.name}},
                 i.slot ? load(i.slot->outbox_in_flight) : 0);
    }
    t.family("chatwoot_bridge_whatsapp_to_chatwoot_seconds", "histogram",
             "From a WhatsApp message's arrival at the helper to Chatwoot's answer to its post.");
    for (const Inbox& i : inboxes) {
        t.histogram("chatwoot_bridge_whatsapp_to_chatwoot_seconds", i.name,
                    i.slot ? i.slot->to_chatwoot : kNoLatency);
    }
    t.family("chatwoot_bridge_chatwoot_to_whatsapp_seconds", "histogram",
             "From an agent's webhook arriving at nginx to the WhatsApp server's ack.");
    for (const Inbox& i : inboxes) {
        t.histogram("chatwoot_bridge_chatwoot_to_whatsapp_seconds", i.name,
                    i.slot ? i.slot->to_whatsapp : kNoLatency);
    }
}

void render_devices(Text& t, const cw_snapshot_t& snap)
{
    const size_t n = snap.devices_n < CW_SNAPSHOT_DEVICES ? snap.devices_n : CW_SNAPSHOT_DEVICES;
    t.family("chatwoot_bridge_snapshot_timestamp_seconds", "gauge",
             "When the helper last published its snapshot (unix seconds; 0: never).");
    t.sample("chatwoot_bridge_snapshot_timestamp_seconds", {}, snap.published_at);
    t.family("chatwoot_bridge_inbound_pending", "gauge",
             "WhatsApp messages received and not yet in Chatwoot.");
    t.sample("chatwoot_bridge_inbound_pending", {}, snap.counters.inbound_pending);
    if (n == 0) {
        return;
    }
    t.family("chatwoot_bridge_device_state", "gauge",
             "The WhatsApp device's state: 1 for the one it is in, 0 for the others.");
    for (size_t i = 0; i < n; i++) {
        const cw_snapshot_device_t& d = snap.devices[i];
        const auto name = cut(d.name, sizeof d.name);
        for (uint64_t s = 0; s < CW_DEVICE_STATES; s++) {
            t.sample("chatwoot_bridge_device_state",
                     {{"inbox", name}, {"state", cw_device_state_name(s)}}, d.state == s ? 1 : 0);
        }
    }
    t.family("chatwoot_bridge_device_state_since_timestamp_seconds", "gauge",
             "When the device entered its state (unix seconds).");
    for (size_t i = 0; i < n; i++) {
        const cw_snapshot_device_t& d = snap.devices[i];
        t.sample("chatwoot_bridge_device_state_since_timestamp_seconds",
                 {{"inbox", cut(d.name, sizeof d.name)}}, d.state_since);
    }
    t.family("chatwoot_bridge_device_connected_since_timestamp_seconds", "gauge",
             "When the device's current connection to WhatsApp began (unix seconds; 0 while "
             "not connected).");
    for (size_t i = 0; i < n; i++) {
        const cw_snapshot_device_t& d = snap.devices[i];
        t.sample("chatwoot_bridge_device_connected_since_timestamp_seconds",
                 {{"inbox", cut(d.name, sizeof d.name)}}, d.connected_since);
    }
    t.family("chatwoot_bridge_device_reconnects_total", "counter",
             "Connections to WhatsApp lost and made again (since the helper started).");
    for (size_t i = 0; i < n; i++) {
        const cw_snapshot_device_t& d = snap.devices[i];
        t.sample("chatwoot_bridge_device_reconnects_total",
                 {{"inbox", cut(d.name, sizeof d.name)}}, d.reconnects);
    }
}

}  // namespace

extern "C" size_t cw_metrics_render(const cw_status_t* status, const cw_snapshot_t* snapshot,
                                    const cw_inbox_stats_area_t* inboxes, const cw_str_t* names,
                                    size_t names_n, char* buf, size_t size) noexcept
{
    try {
        std::string out;
        out.reserve(16384 + names_n * 6144);
        Text t(out);
        render_counters(t, *status);
        render_inboxes(t, inboxes_of(inboxes, names, names_n));
        if (snapshot != nullptr) {
            render_devices(t, *snapshot);
        }
        if (out.size() <= size) {
            std::memcpy(buf, out.data(), out.size());
        }
        return out.size();
    } catch (...) {
        return 0;   // out of memory: the glue answers 500
    }
}
