// One runtime per inbox (helper/inbox_runtime.hpp) on a fake nginx loop:
// each inbox's failures stay its own, a start that fails is retried with
// backoff and shows why, and the pieces reach Chatwoot through the REST
// client (a fake transport plays Chatwoot's answers).
#include "fake_nginx.hpp"

#include "helper/inbox_runtime.hpp"
#include "store/schema.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::helper;
using namespace chatwoot::test;

namespace {

// Chatwoot's side: every request answered by `respond`, from the loop (the
// runtime's code never sees an answer from inside its own request call).
class FakeTransport final : public HttpTransport {
public:
    void request(HttpRequest req, Done done) override
    {
        requests.push_back(req);
        queued_.emplace_back(std::move(req), std::move(done));
    }
    void deliver()
    {
        while (!queued_.empty()) {
            auto [req, done] = std::move(queued_.front());
            queued_.pop_front();
            TransferResult r;
            r.http_status = 200;
            r.body = "{}";
            if (respond) {
                respond(req, r);
            }
            done(r);
        }
    }
    std::function<void(const HttpRequest&, TransferResult&)> respond;
    std::vector<HttpRequest> requests;

private:
    std::deque<std::pair<HttpRequest, Done>> queued_;
};

// A device that is always online, takes every send at once, and can be
// told to throw from its housekeeping.
class ScriptedDevice final : public Device {
public:
    void start(DeviceEvents&) override {}
    DeviceStatus status() const override
    {
        if (!qr) {
            return DeviceStatus::of(DeviceState::connected);
        }
        DeviceStatus s = DeviceStatus::of(DeviceState::pairing_qr);
        s.qr = *qr;
        return s;
    }
    std::string new_message_id() override { return "3EB0" + std::to_string(++n_); }
    void send(const OutgoingMessage& m, Done done) noexcept override
    {
        sent.push_back(m);
        done(SendResult{SendResult::Kind::sent, {}});
    }
    void tick(int64_t) override
    {
        ticks++;
        if (throw_on_tick) {
            throw std::runtime_error("the device broke");
        }
    }
    bool wants_ticks() const override { return wants; }
    std::vector<OutgoingMessage> sent;
    std::optional<std::string> qr;   // set: pairing with this QR
    bool throw_on_tick = false;
    bool wants = true;               // false: driven by its own events, like LiveDevice
    int ticks = 0;

private:
    int n_ = 0;
};

struct Fixture {
    Fixture()
    {
        fake_nginx_reset();
        char tmpl[] = "/tmp/inbox-runtime-test-XXXXXX";
        dir = mkdtemp(tmpl);
        db.emplace(store::Database::open(dir + "/chatwoot.db"));
        store::migrate(*db);
        inbound.emplace(*db);
        outbox.emplace(*db);
        wa_inbound.emplace(*db);
        media.emplace(dir + "/media");
    }
    ~Fixture()
    {
        runtimes.clear();
        db.reset();
        std::filesystem::remove_all(dir);
    }
    HelperShared shared()
    {
        return HelperShared{*db, *inbound, *outbox, *wa_inbound, *media, http, &stats, 0};
    }
    cw_inbox_conf_t conf(const char* name)
    {
        cw_inbox_conf_t c{};
        c.name = name;
        c.url = "http://chatwoot.test";
        c.api_token = "token";
        c.account_id = 1;
        c.inbox_id = 7;
        c.device_timeout_sec = 60;
        c.concurrency = 2;
        c.agent_signature = 0;
        return c;
    }
    // An agent reply filed for `inbox` as the queue drain files it.
    void file_reply(const std::string& inbox, int64_t message, bool wake = true)
    {
        const std::string record =
            R"({"inbox":")" + inbox + R"(","delivery":"d","received_at":1,"event":)"
            R"({"type":"send","message_id":)" + std::to_string(message)
            + R"(,"conversation_id":15,"content":"hi","source_id_of_contact":)"
              R"("5511987654321@s.whatsapp.net","sender":{"name":"Ana"}}})";
        auto ins = db->prepare("INSERT INTO inbound_events (ring_epoch, ring_seq, kind,"
                               " received_at, payload) VALUES (1, ?1, 1, 1, ?2)");
        ins.bind(1, message).bind(2, std::string_view(record));
        ins.run();
        store::OutboxEntry e{inbox, "send", 15, message, db->last_insert_id(), ngx_time()};
        ASSERT_TRUE(outbox->add(e));
        // As the queue drain does once it has filed agent actions.
        if (wake) {
            for (auto& r : runtimes) r->wake();
        }
    }
    std::string state(int64_t message)
    {
        auto st = db->prepare("SELECT state FROM outbox WHERE chatwoot_message_id = ?1");
        st.bind(1, message);
        std::string out;
        st.each_row([&](const store::Statement& s) { out = s.column_text(0); });
        return out;
    }
    void run(uint64_t msec)
    {
        for (uint64_t t = 0; t < msec; t += 50) {
            http.deliver();
            fake_nginx_advance(50);
        }
        http.deliver();
    }

    std::string dir;
    std::optional<store::Database> db;
    std::optional<store::InboundEventRepository> inbound;
    std::optional<store::OutboxRepository> outbox;
    std::optional<store::WaInboundRepository> wa_inbound;
    std::optional<MediaStore> media;
    FakeTransport http;
    cw_bridge_stats_t stats{};
    std::vector<std::unique_ptr<InboxRuntime>> runtimes;
};

}  // namespace

TEST(InboxRuntime, OneInboxFailingNeverStopsAnother)
{
    Fixture f;
    ScriptedDevice* broken = nullptr;
    ScriptedDevice* healthy = nullptr;
    f.runtimes.push_back(std::make_unique<InboxRuntime>(
        f.conf("a"), f.shared(), [&](const cw_inbox_conf_t&) {
            auto d = std::make_unique<ScriptedDevice>();
            d->throw_on_tick = true;
            broken = d.get();
            return d;
        }));
    f.runtimes.push_back(std::make_unique<InboxRuntime>(
        f.conf("b"), f.shared(), [&](const cw_inbox_conf_t&) {
            auto d = std::make_unique<ScriptedDevice>();
            healthy = d.get();
            return d;
        }));
    for (auto& r : f.runtimes) {
        r->start();
    }
    f.file_reply("a", 101);
    f.file_reply("b", 201);
    f.run(1000);

    ASSERT_TRUE(broken && healthy);
    EXPECT_GT(broken->ticks, 3) << "the broken device is still ticked";
    EXPECT_TRUE(fake_nginx_logged("[error] chatwoot helper: inbox \"a\": the device failed: "
                                  "the device broke"));
    ASSERT_EQ(healthy->sent.size(), 1u) << "the other inbox is not held up";
    ASSERT_EQ(broken->sent.size(), 1u) << "nor the same inbox's sender";
    EXPECT_EQ(f.state(101), "sent");
    EXPECT_EQ(f.state(201), "sent");
    EXPECT_EQ(f.stats.replies_sent, 2u);
}

// An idle sender is not looked at every tick (two store queries per inbox
// per tick were most of an idle helper's CPU); the drain's wake makes it
// look at once, and without one the sweep still finds the entry.
TEST(InboxRuntime, AnIdleSenderLooksWhenWokenAndInTheSweep)
{
    Fixture f;
    ScriptedDevice* device = nullptr;
    f.runtimes.push_back(std::make_unique<InboxRuntime>(
        f.conf("a"), f.shared(), [&](const cw_inbox_conf_t&) {
            auto d = std::make_unique<ScriptedDevice>();
            d->wants = false;
            device = d.get();
            return d;
        }));
    f.runtimes[0]->start();
    f.run(1000);
    ASSERT_TRUE(device);
    // Idle, with a device that needs no ticks: a slow tick, once a second.
    const int before = device->ticks;
    f.run(10000);
    EXPECT_LE(device->ticks - before, 11) << "an idle runtime ticks slowly";

    f.file_reply("a", 301);
    f.run(400);
    EXPECT_EQ(device->sent.size(), 1u) << "woken: sent at the next quick tick";

    f.file_reply("a", 302, /*wake=*/false);
    f.run(1000);
    EXPECT_EQ(device->sent.size(), 1u) << "idle and not woken: not looked at yet";
    f.run(30000);
    EXPECT_EQ(device->sent.size(), 2u) << "the sweep found it";
    EXPECT_EQ(f.state(302), "sent");
}

TEST(InboxRuntime, AStartThatFailsIsRetriedWithBackoffAndSaysWhy)
{
    Fixture f;
    int attempts = 0;
    f.runtimes.push_back(std::make_unique<InboxRuntime>(
        f.conf("a"), f.shared(), [&](const cw_inbox_conf_t&) -> std::unique_ptr<Device> {
            if (++attempts <= 2) {
                throw std::runtime_error("the session store is locked");
            }
            return std::make_unique<ScriptedDevice>();
        }));
    InboxRuntime& rt = *f.runtimes.back();
    rt.start();
    EXPECT_FALSE(rt.running());
    EXPECT_EQ(rt.device_status().state, DeviceState::error);
    EXPECT_EQ(rt.device_status().reason, "the session store is locked");
    EXPECT_TRUE(fake_nginx_logged("[error] chatwoot helper: inbox \"a\" cannot start: the "
                                  "session store is locked; trying again in 1000 ms"));
    f.run(1000);
    EXPECT_EQ(attempts, 2);
    EXPECT_TRUE(fake_nginx_logged("trying again in 2000 ms")) << "backing off";
    f.run(1950);
    EXPECT_EQ(attempts, 2) << "not before its time";
    f.run(100);
    EXPECT_EQ(attempts, 3);
    EXPECT_TRUE(rt.running());
    EXPECT_EQ(rt.device_status().state, DeviceState::connected);
    EXPECT_TRUE(rt.last_error().empty());
}

TEST(InboxRuntime, WithoutADeviceARepliesFailureReachesChatwoot)
{
    Fixture f;
    f.runtimes.push_back(std::make_unique<InboxRuntime>(f.conf("a"), f.shared()));
    f.runtimes.back()->start();
    EXPECT_EQ(f.runtimes.back()->device_status().state, DeviceState::unpaired);
    f.file_reply("a", 101);
    f.run(59'000);
    EXPECT_EQ(f.state(101), "pending");
    EXPECT_TRUE(f.http.requests.empty());
    f.run(1'500);
    ASSERT_EQ(f.http.requests.size(), 1u);
    const HttpRequest& r = f.http.requests[0];
    EXPECT_EQ(r.method, "PATCH");
    EXPECT_EQ(r.url, "http://chatwoot.test/api/v1/accounts/1/conversations/15/messages/101");
    EXPECT_NE(r.body.find("DEVICE_NOT_AVAILABLE"), std::string::npos) << r.body;
    EXPECT_EQ(f.state(101), "failed");
    EXPECT_EQ(f.stats.replies_failed, 1u);
    EXPECT_TRUE(fake_nginx_logged("no WhatsApp device took message 101 of conversation 15"));
}

// The snapshot's qr_serial: a page polling the device reloads its QR image
// when the serial moves, so it moves with every new QR text and only then.
TEST(InboxRuntime, TheQrSerialMovesWithEachNewQrText)
{
    Fixture f;
    ScriptedDevice* device = nullptr;
    f.runtimes.push_back(std::make_unique<InboxRuntime>(
        f.conf("a"), f.shared(), [&](const cw_inbox_conf_t&) {
            auto d = std::make_unique<ScriptedDevice>();
            device = d.get();
            return d;
        }));
    InboxRuntime& rt = *f.runtimes.back();
    rt.start();
    ASSERT_NE(device, nullptr);

    const uint64_t first = rt.view().qr_serial;
    EXPECT_EQ(rt.view().qr_serial, first) << "no QR, still none: the same";
    device->qr = "2@ref-1,k,k,a";
    const uint64_t one = rt.view().qr_serial;
    EXPECT_NE(one, first) << "a QR appeared";
    EXPECT_EQ(rt.view().qr_serial, one) << "the same QR, published again";
    device->qr = "2@ref-2,k,k,a";
    const uint64_t two = rt.view().qr_serial;
    EXPECT_NE(two, one) << "the ref rotated";
    EXPECT_EQ(rt.view().qr_serial, two);
    device->qr.reset();
    EXPECT_NE(rt.view().qr_serial, two) << "the QR went away";
    device->qr = "2@ref-2,k,k,a";
    const uint64_t back = rt.view().qr_serial;
    EXPECT_NE(back, two) << "its return is new again";

    // The next helper (a restart mid-pairing) shows another QR: its serial
    // must not be one the page saw with this one, even at the same count.
    fake_nginx_advance(1000);
    ScriptedDevice* next = nullptr;   // the next helper's, a second later
    f.runtimes.push_back(std::make_unique<InboxRuntime>(
        f.conf("a"), f.shared(), [&](const cw_inbox_conf_t&) {
            auto d = std::make_unique<ScriptedDevice>();
            next = d.get();
            return d;
        }));
    InboxRuntime& again = *f.runtimes.back();
    again.start();
    ASSERT_NE(next, nullptr);
    std::set<uint64_t> seen{first, one, two, back};
    EXPECT_EQ(seen.size(), 4u);
    seen.insert(again.view().qr_serial);
    next->qr = "2@ref-3,k,k,a";
    seen.insert(again.view().qr_serial);
    next->qr = "2@ref-4,k,k,a";
    seen.insert(again.view().qr_serial);
    EXPECT_EQ(seen.size(), 7u) << "no serial of the first helper again";
}
