// Unit tests of the metrics location's text (src/ipc/metrics_text.cpp):
// the Prometheus text exposition format 0.0.4, its label escaping, the
// histograms' cumulative buckets and the devices' one-hot state gauges.

#include "chatwoot_metrics.h"
#include "chatwoot_snapshot.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Fixture {
    cw_status_t status{};
    std::unique_ptr<cw_snapshot_t> snap = std::make_unique<cw_snapshot_t>();
    std::unique_ptr<cw_inbox_stats_area_t> area = std::make_unique<cw_inbox_stats_area_t>();

    Fixture()
    {
        std::memset(snap.get(), 0, sizeof *snap);
        std::memset(area.get(), 0, sizeof *area);
    }

    cw_inbox_stats_t& slot(const std::string& name)
    {
        cw_inbox_stats_t& s = area->slot[area->used++];
        std::strncpy(s.name, name.c_str(), sizeof s.name - 1);
        return s;
    }

    cw_snapshot_device_t& device(const std::string& name, cw_device_state_t state)
    {
        cw_snapshot_device_t& d = snap->devices[snap->devices_n++];
        std::strncpy(d.name, name.c_str(), sizeof d.name - 1);
        d.state = state;
        return d;
    }

    std::string render(const std::vector<std::string>& names, bool with_snapshot = true)
    {
        std::vector<cw_str_t> n;
        for (const auto& s : names) {
            n.push_back({s.data(), s.size()});
        }
        const size_t need = cw_metrics_render(&status, with_snapshot ? snap.get() : nullptr,
                                              area.get(), n.data(), n.size(), nullptr, 0);
        std::string out(need, '\0');
        EXPECT_EQ(cw_metrics_render(&status, with_snapshot ? snap.get() : nullptr, area.get(),
                                    n.data(), n.size(), out.data(), out.size()),
                  need);
        return out;
    }
};

std::vector<std::string> lines(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        out.push_back(l);
    }
    return out;
}

// The sample lines as "name{labels}" -> value.
std::map<std::string, std::string> samples(const std::string& text)
{
    std::map<std::string, std::string> out;
    for (const auto& l : lines(text)) {
        if (l.empty() || l[0] == '#') {
            continue;
        }
        const auto sp = l.rfind(' ');
        EXPECT_TRUE(out.emplace(l.substr(0, sp), l.substr(sp + 1)).second) << "twice: " << l;
    }
    return out;
}

TEST(MetricsText, EveryFamilyHasHelpAndTypeOnceAndItsSamplesTogether)
{
    Fixture f;
    f.slot("support");
    f.device("support", CW_DEVICE_CONNECTED);
    const std::string text = f.render({"support"});
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');

    std::set<std::string> helped, typed, finished;
    std::string current;
    for (const auto& l : lines(text)) {
        if (l.rfind("# HELP ", 0) == 0) {
            const std::string name = l.substr(7, l.find(' ', 7) - 7);
            EXPECT_TRUE(helped.insert(name).second) << name;
            EXPECT_EQ(name.rfind("chatwoot_bridge_", 0), 0u) << name;
            if (!current.empty()) finished.insert(current);
            current = name;
            continue;
        }
        if (l.rfind("# TYPE ", 0) == 0) {
            std::istringstream in(l.substr(7));
            std::string name, type;
            in >> name >> type;
            EXPECT_EQ(name, current);
            EXPECT_TRUE(typed.insert(name).second) << name;
            EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << type;
            if (type == "counter") {
                EXPECT_TRUE(name.ends_with("_total")) << name;
            }
            continue;
        }
        const std::string name = l.substr(0, l.find_first_of("{ "));
        EXPECT_TRUE(name == current || name == current + "_bucket" || name == current + "_sum"
                    || name == current + "_count")
            << l << " outside its family " << current;
        EXPECT_FALSE(finished.contains(name)) << l;
    }
    EXPECT_EQ(helped, typed);
    for (const char* family :
         {"chatwoot_bridge_webhooks_total", "chatwoot_bridge_queue_depth",
          "chatwoot_bridge_queue_capacity", "chatwoot_bridge_queue_bytes",
          "chatwoot_bridge_store_commits_total", "chatwoot_bridge_store_errors_total",
          "chatwoot_bridge_messages_bridged_total", "chatwoot_bridge_messages_failed_total",
          "chatwoot_bridge_chatwoot_requests_total", "chatwoot_bridge_chatwoot_retries_total",
          "chatwoot_bridge_device_state", "chatwoot_bridge_device_reconnects_total",
          "chatwoot_bridge_device_connected_since_timestamp_seconds",
          "chatwoot_bridge_outbox_pending", "chatwoot_bridge_outbox_in_flight",
          "chatwoot_bridge_whatsapp_to_chatwoot_seconds",
          "chatwoot_bridge_chatwoot_to_whatsapp_seconds"}) {
        EXPECT_TRUE(helped.contains(family)) << family;
    }
}

TEST(MetricsText, InboxNamesAreEscapedAsLabelValues)
{
    Fixture f;
    const std::string name = "a\"b\\c\nd";
    f.slot(name).bridge.whatsapp_posted = 3;
    f.device(name, CW_DEVICE_CONNECTED);
    const std::string text = f.render({name});
    const auto s = samples(text);
    EXPECT_EQ(s.at(R"(chatwoot_bridge_messages_bridged_total{inbox="a\"b\\c\nd",direction="to_chatwoot"})"),
              "3");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_device_state{inbox="a\"b\\c\nd",state="connected"})"), "1");
    // No raw newline inside a line: every line is a comment or a sample.
    for (const auto& l : lines(text)) {
        EXPECT_TRUE(l.rfind("# ", 0) == 0 || l.rfind("chatwoot_bridge_", 0) == 0) << l;
    }
}

TEST(MetricsText, ANameThatIsNotUtf8GetsReplacementCharacters)
{
    Fixture f;
    const std::string name = "caf\xE9";   // Latin-1
    f.slot(name);
    const auto s = samples(f.render({name}));
    EXPECT_TRUE(s.contains("chatwoot_bridge_chatwoot_retries_total{inbox=\"caf\xEF\xBF\xBD\"}"));
}

TEST(MetricsText, CountsPerInboxAndOnlyForConfiguredInboxes)
{
    Fixture f;
    auto& support = f.slot("support");
    support.bridge.whatsapp_posted = 7;
    support.bridge.whatsapp_failed = 1;
    support.bridge.replies_sent = 4;
    support.bridge.replies_failed = 2;
    support.bridge.api_status[CW_API_2XX] = 20;
    support.bridge.api_status[CW_API_5XX] = 3;
    support.bridge.api_status[CW_API_NONE] = 1;
    support.bridge.api_retries = 4;
    support.outbox_pending = 5;
    support.outbox_in_flight = 2;
    f.slot("gone").bridge.whatsapp_posted = 99;   // a block a reload removed
    const auto s = samples(f.render({"support", "sales"}));
    EXPECT_EQ(s.at(R"(chatwoot_bridge_messages_bridged_total{inbox="support",direction="to_chatwoot"})"), "7");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_messages_bridged_total{inbox="support",direction="to_whatsapp"})"), "4");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_messages_failed_total{inbox="support",direction="to_chatwoot"})"), "1");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_messages_failed_total{inbox="support",direction="to_whatsapp"})"), "2");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_chatwoot_requests_total{inbox="support",class="2xx"})"), "20");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_chatwoot_requests_total{inbox="support",class="5xx"})"), "3");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_chatwoot_requests_total{inbox="support",class="none"})"), "1");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_chatwoot_retries_total{inbox="support"})"), "4");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_outbox_pending{inbox="support"})"), "5");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_outbox_in_flight{inbox="support"})"), "2");
    // A configured inbox the helper has not counted for yet: zeros.
    EXPECT_EQ(s.at(R"(chatwoot_bridge_messages_bridged_total{inbox="sales",direction="to_chatwoot"})"), "0");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_whatsapp_to_chatwoot_seconds_count{inbox="sales"})"), "0");
    for (const auto& [k, v] : s) {
        EXPECT_EQ(k.find("\"gone\""), std::string::npos) << k;
    }
}

TEST(MetricsText, HistogramsAreCumulativeWithSumAndCount)
{
    Fixture f;
    auto& in = f.slot("support");
    in.to_chatwoot.bucket[0] = 2;    // <= 5 ms
    in.to_chatwoot.bucket[3] = 1;    // <= 50 ms
    in.to_chatwoot.bucket[13] = 1;   // over 60 s
    in.to_chatwoot.sum_usec = 61'234'567;
    const auto s = samples(f.render({"support"}));
    const std::string h = "chatwoot_bridge_whatsapp_to_chatwoot_seconds";
    EXPECT_EQ(s.at(h + R"(_bucket{inbox="support",le="0.005"})"), "2");
    EXPECT_EQ(s.at(h + R"(_bucket{inbox="support",le="0.01"})"), "2");
    EXPECT_EQ(s.at(h + R"(_bucket{inbox="support",le="0.025"})"), "2");
    EXPECT_EQ(s.at(h + R"(_bucket{inbox="support",le="0.05"})"), "3");
    EXPECT_EQ(s.at(h + R"(_bucket{inbox="support",le="0.25"})"), "3");
    EXPECT_EQ(s.at(h + R"(_bucket{inbox="support",le="2.5"})"), "3");
    EXPECT_EQ(s.at(h + R"(_bucket{inbox="support",le="60"})"), "3");
    EXPECT_EQ(s.at(h + R"(_bucket{inbox="support",le="+Inf"})"), "4");
    EXPECT_EQ(s.at(h + R"(_count{inbox="support"})"), "4");
    EXPECT_EQ(s.at(h + R"(_sum{inbox="support"})"), "61.234567");
    size_t buckets = 0;
    for (const auto& [k, v] : s) {
        if (k.rfind(h + "_bucket{inbox=\"support\"", 0) == 0) buckets++;
    }
    EXPECT_EQ(buckets, size_t{CW_LATENCY_BUCKETS});
}

TEST(MetricsText, DeviceStateIsOneGaugePerStateWithOneSet)
{
    Fixture f;
    auto& d = f.device("support", CW_DEVICE_PAIRING_QR);
    d.reconnects = 3;
    d.connected_since = 0;
    auto& e = f.device("sales", CW_DEVICE_CONNECTED);
    e.connected_since = 1765000000;
    const auto s = samples(f.render({"support", "sales"}));
    int set = 0;
    for (uint64_t st = 0; st < CW_DEVICE_STATES; st++) {
        const std::string key = std::string(R"(chatwoot_bridge_device_state{inbox="support",state=")")
                                + cw_device_state_name(st) + "\"}";
        ASSERT_TRUE(s.contains(key)) << key;
        set += s.at(key) == "1";
    }
    EXPECT_EQ(set, 1);
    EXPECT_EQ(s.at(R"(chatwoot_bridge_device_state{inbox="support",state="pairing_qr"})"), "1");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_device_reconnects_total{inbox="support"})"), "3");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_device_connected_since_timestamp_seconds{inbox="sales"})"),
              "1765000000");
}

TEST(MetricsText, WithoutASnapshotTheCountersStillCome)
{
    Fixture f;
    f.status.helper.state = CW_HELPER_RUNNING;
    f.status.ring_capacity = 4096;
    f.status.ring_depth = 12;
    f.status.webhook[CW_WH_QUEUED] = 9;
    f.status.queue.rejected_full = 2;
    f.device("support", CW_DEVICE_CONNECTED);
    const auto s = samples(f.render({"support"}, false));
    EXPECT_EQ(s.at("chatwoot_bridge_helper_up"), "1");
    EXPECT_EQ(s.at("chatwoot_bridge_queue_capacity"), "4096");
    EXPECT_EQ(s.at("chatwoot_bridge_queue_depth"), "12");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_webhooks_total{outcome="queued"})"), "9");
    EXPECT_EQ(s.at(R"(chatwoot_bridge_queue_rejected_total{reason="full"})"), "2");
    for (const auto& [k, v] : s) {
        EXPECT_EQ(k.rfind("chatwoot_bridge_device_", 0), std::string::npos) << k;
    }
}

TEST(MetricsText, ASmallBufferGetsTheLengthAndIsNotWritten)
{
    Fixture f;
    f.slot("support");
    cw_str_t name{"support", 7};
    char buf[64];
    std::memset(buf, 'x', sizeof buf);
    const size_t need = cw_metrics_render(&f.status, f.snap.get(), f.area.get(), &name, 1, buf,
                                          sizeof buf);
    EXPECT_GT(need, sizeof buf);
    for (char c : buf) {
        EXPECT_EQ(c, 'x');
    }
}

}  // namespace
