// The outbox state machine of agent replies (helper/outbox_sender.hpp),
// against a real SQLite store, a fake device and a fake Chatwoot reporter,
// with a fake clock.  A "crash" drops the sender and the device with
// everything they held in memory; a new sender on the same store must go
// on without losing a reply, sending one twice under another id, letting a
// later reply overtake an earlier one, or losing a failure report.
#include "helper/device.hpp"
#include "helper/log.hpp"
#include "helper/outbox_sender.hpp"
#include "bridge/wa_message_json.hpp"
#include "store/outbox_part_repository.hpp"
#include "store/outbox_repository.hpp"
#include "store/read_mark_repository.hpp"
#include "store/schema.hpp"
#include "store/wa_inbound_repository.hpp"
#include "store/sqlite_handle.hpp"

#include "temp_store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <algorithm>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::helper;
using store::Database;
using store::OutboxRepository;

namespace {

std::vector<std::string> g_log;

void record_log(LogLevel, std::string_view line) noexcept
{
    g_log.emplace_back(line);
}

struct TempDb : test::TempStore {
    TempDb() : TempStore("outbox-sender-test") {}
    std::string state(int64_t message)
    {
        auto r = rows("SELECT state FROM outbox WHERE chatwoot_message_id = "
                      + std::to_string(message));
        return r.empty() ? "" : r[0][0];
    }
};

// Files an agent action as the queue drain does: the webhook record in
// inbound_events, the outbox entry pointing at it.
void file(TempDb& t, const std::string& action, int64_t conversation, int64_t message,
          int64_t created_at, const std::string& contact = "5511987654321@s.whatsapp.net")
{
    static int64_t seq = 0;
    const std::string event =
        action == "send"
            ? R"({"type":"send","message_id":)" + std::to_string(message)
                  + R"(,"conversation_id":)" + std::to_string(conversation)
                  + R"(,"content":"reply )" + std::to_string(message)
                  + R"(","source_id_of_contact":")" + contact
                  + R"(","sender":{"id":3,"name":"Ana","type":"user"}})"
            : R"({"type":")" + action + R"("})";
    const std::string record =
        R"({"inbox":"support","delivery":"d","received_at":1,"event":)" + event + "}";
    auto ins = t.db->prepare("INSERT INTO inbound_events (ring_epoch, ring_seq, kind,"
                             " received_at, payload) VALUES (1, ?1, 1, ?2, ?3)");
    ins.bind(1, ++seq).bind(2, created_at).bind(3, std::string_view(record));
    ins.run();
    const int64_t inbound_id = t.db->last_insert_id();
    OutboxRepository outbox(*t.db);
    store::OutboxEntry e{"support", action, conversation,
                         action == "status" ? std::nullopt : std::optional<int64_t>(message),
                         inbound_id, created_at};
    ASSERT_TRUE(outbox.add(e));
}

// What the device was asked, and the answers the test gives back.
struct Transmission {
    OutgoingMessage message;
    std::string state_when_sent;   // the entry's state in the store then
    std::string id_when_sent;      // and its committed WhatsApp id
    Device::Done done;
};

class FakeDevice final : public Device {
public:
    explicit FakeDevice(TempDb& t) : t_(t) {}
    void start(DeviceEvents&) override {}
    DeviceStatus status() const override
    {
        return DeviceStatus::of(connected ? DeviceState::connected : DeviceState::connecting);
    }
    std::string new_message_id() override { return "3EB0" + std::to_string(++ids_); }
    // As LiveDevice does, the transmission leaves once the caller's unit of
    // work has committed (store::Database::after_commit); what it finds in
    // the store then is read by a connection of its own: what is durable.
    void send(const OutgoingMessage& m, Done done) noexcept override
    {
        sent.push_back(Transmission{m, {}, {}, std::move(done)});
        const size_t i = sent.size() - 1;
        t_.db->after_commit([this, i] {
            store::Database other = store::Database::open(t_.dir + "/chatwoot.db");
            auto st = other.prepare("SELECT state, coalesce(wa_id, '') FROM outbox WHERE id = ?1");
            st.bind(1, sent[i].message.outbox_id);
            if (st.step()) {
                sent[i].state_when_sent = st.column_text(0);
                sent[i].id_when_sent = st.column_text(1);
            }
            st.reset();
            if (answer) {
                auto d = std::move(sent[i].done);
                sent[i].done = nullptr;
                d(*answer);
            }
        });
    }
    void tick(int64_t) override {}

    // Answers the oldest transmission still waiting.
    void ack(SendResult::Kind kind = SendResult::Kind::sent, std::string reason = {})
    {
        for (auto& s : sent) {
            if (s.done) {
                auto d = std::move(s.done);
                s.done = nullptr;
                d(SendResult{kind, std::move(reason)});
                return;
            }
        }
        FAIL() << "nothing waits for an answer";
    }
    size_t waiting() const
    {
        size_t n = 0;
        for (const auto& s : sent) {
            n += s.done ? 1 : 0;
        }
        return n;
    }

    bool connected = true;
    bool media = false;                 // sends attachments as media
    bool sends_media() const override { return media; }
    std::optional<SendResult> answer;   // answer at once, inside send()
    std::vector<Transmission> sent;

private:
    TempDb& t_;
    static inline int ids_ = 0;
};

struct Report {
    int64_t conversation = 0;
    int64_t message = 0;
    std::string reason;
    FailureReporter::Done done;
};

class FakeReporter final : public FailureReporter {
public:
    void report(int64_t conversation, int64_t message, const std::string& reason,
                Done done) override
    {
        reports.push_back(Report{conversation, message, reason, std::move(done)});
    }
    void answer(Outcome o, const std::string& why = {})
    {
        for (auto& r : reports) {
            if (r.done) {
                auto d = std::move(r.done);
                r.done = nullptr;
                d(o, why);
                return;
            }
        }
        FAIL() << "no report waits for an answer";
    }
    std::vector<Report> reports;
};

// A sender with its device and reporter: what one helper process holds.
struct Helper {
    Helper(TempDb& t, int64_t& now, int64_t timeout = 300)
        : outbox(*t.db), device(t),
          sender("support", outbox, device, reporter, bridge::SignatureOptions{false, ""},
                 timeout, [&now] { return now; })
    {
        sender.count_into(&stats);
    }
    OutboxRepository outbox;
    FakeDevice device;
    FakeReporter reporter;
    cw_bridge_stats_t stats{};
    OutboxSender sender;
};

class OutboxSenderTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        g_log.clear();
        set_log_sink(&record_log);
    }
    void TearDown() override { set_log_sink(nullptr); }
    TempDb t;
    int64_t now = 1000;
};

bool logged(const std::string& needle)
{
    for (const auto& l : g_log) {
        if (l.find(needle) != std::string::npos) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_F(OutboxSenderTest, IdIsCommittedBeforeTheFirstTransmissionAndRepliesGoInOrder)
{
    file(t, "send", 15, 101, now);
    file(t, "send", 15, 102, now);
    Helper h(t, now);
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 1u) << "a conversation waits for its first reply's ack";
    const auto& first = h.device.sent[0];
    EXPECT_EQ(first.message.text, "reply 101");
    EXPECT_EQ(first.message.chat, "5511987654321@s.whatsapp.net");
    EXPECT_EQ(first.state_when_sent, "in_flight") << "committed before it left";
    EXPECT_EQ(first.id_when_sent, first.message.id) << "under the committed id";
    EXPECT_FALSE(first.message.id.empty());

    h.sender.tick();
    EXPECT_EQ(h.device.sent.size(), 1u) << "ticks do not resend what waits for its ack";

    h.device.ack();
    EXPECT_EQ(t.state(101), "sent");
    ASSERT_EQ(h.device.sent.size(), 2u) << "the ack lets the next reply go";
    EXPECT_EQ(h.device.sent[1].message.text, "reply 102");
    h.device.ack();
    EXPECT_EQ(t.state(102), "sent");
    EXPECT_EQ(h.stats.replies_sent, 2u);
    auto ids = t.rows("SELECT wa_id, chatwoot_message_id FROM wa_sent ORDER BY sent_at, rowid");
    ASSERT_EQ(ids.size(), 2u);
    EXPECT_EQ(ids[0][0], h.device.sent[0].message.id);
    EXPECT_EQ(ids[0][1], "101");
}

// With the runtime's wake-up (tick_soon_with), answers that come between
// ticks wait for the tick it brings: the answers of one socket read share
// one pass.  Nothing is settled or sent before that tick, everything is in
// it.
TEST_F(OutboxSenderTest, AnswersBetweenTicksShareTheNextTick)
{
    file(t, "send", 15, 101, now);
    file(t, "send", 15, 102, now);
    file(t, "send", 16, 201, now);
    file(t, "send", 16, 202, now);
    Helper h(t, now);
    int asked = 0;
    h.sender.tick_soon_with([&asked] { asked++; });
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 2u);

    h.device.ack();
    h.device.ack();
    EXPECT_EQ(asked, 2) << "each answer asks for a tick";
    EXPECT_EQ(t.state(101), "in_flight") << "until the tick settles it";
    EXPECT_EQ(h.device.sent.size(), 2u) << "nothing goes before that tick";
    EXPECT_FALSE(h.sender.idle()) << "the runtime ticks a sender with answers to settle";

    h.sender.tick();
    EXPECT_EQ(t.state(101), "sent");
    EXPECT_EQ(t.state(201), "sent");
    ASSERT_EQ(h.device.sent.size(), 4u) << "both conversations go on in the same tick";
    EXPECT_EQ(h.device.sent[2].message.text, "reply 102");
    EXPECT_EQ(h.device.sent[3].message.text, "reply 202");
    h.device.ack();
    h.device.ack();
    h.sender.tick();
    EXPECT_EQ(t.state(102), "sent");
    EXPECT_EQ(t.state(202), "sent");
    EXPECT_EQ(h.stats.replies_sent, 4u);
    EXPECT_EQ(h.device.sent.size(), 4u) << "each reply sent once";
}

TEST_F(OutboxSenderTest, ConversationsGoSideBySide)
{
    file(t, "send", 15, 101, now);
    file(t, "send", 15, 102, now);
    file(t, "send", 16, 201, now);
    Helper h(t, now);
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 2u);
    EXPECT_EQ(h.device.sent[0].message.outbox_id, 1);
    EXPECT_EQ(h.device.sent[1].message.text, "reply 201");
}

// Replies of several conversations ready in one pass take their WhatsApp
// ids in one commit (one fsync, not one each), and every one of them is
// committed before the first of them goes.
TEST_F(OutboxSenderTest, APasssNewIdsShareOneCommitBeforeAnyTransmission)
{
    file(t, "send", 15, 101, now);
    file(t, "send", 16, 201, now);
    file(t, "send", 17, 301, now);
    Helper h(t, now);
    int commits = 0;
    sqlite3_commit_hook(
        t.db->raw(), [](void* n) noexcept { ++*static_cast<int*>(n); return 0; }, &commits);
    h.sender.tick();
    sqlite3_commit_hook(t.db->raw(), nullptr, nullptr);
    ASSERT_EQ(h.device.sent.size(), 3u);
    EXPECT_EQ(commits, 1);
    for (const auto& s : h.device.sent) {
        EXPECT_EQ(s.state_when_sent, "in_flight") << s.message.text;
        EXPECT_EQ(s.id_when_sent, s.message.id) << s.message.text;
    }
    EXPECT_EQ(h.device.sent[0].message.text, "reply 101") << "in the store's order";
    EXPECT_EQ(h.device.sent[2].message.text, "reply 301");
    EXPECT_EQ(t.rows("SELECT count(DISTINCT wa_id) FROM outbox WHERE state = 'in_flight'")[0][0], "3");
}

TEST_F(OutboxSenderTest, AnswersInsideSendAreSettledAfterThePass)
{
    file(t, "send", 15, 101, now);
    file(t, "send", 15, 102, now);
    file(t, "send", 15, 103, now);
    Helper h(t, now);
    h.device.answer = SendResult{SendResult::Kind::sent, {}};
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 3u);
    EXPECT_EQ(h.device.sent[2].message.text, "reply 103") << "in order";
    EXPECT_EQ(t.state(103), "sent");
}

TEST_F(OutboxSenderTest, ACrashAfterTheIdIsCommittedSendsAgainUnderTheSameId)
{
    file(t, "send", 15, 101, now);
    file(t, "send", 15, 102, now);
    std::string id;
    {
        Helper h(t, now);
        h.sender.tick();
        ASSERT_EQ(h.device.sent.size(), 1u);
        id = h.device.sent[0].message.id;
        // kill -9: the answer never comes to this sender.
    }
    EXPECT_EQ(t.state(101), "in_flight");
    Helper again(t, now);
    again.sender.tick();
    ASSERT_EQ(again.device.sent.size(), 1u);
    EXPECT_EQ(again.device.sent[0].message.id, id) << "the recipient drops the repeat";
    EXPECT_EQ(again.device.sent[0].message.text, "reply 101") << "not overtaken by 102";
    again.device.ack();
    again.device.ack();
    EXPECT_EQ(t.state(102), "sent");
    EXPECT_EQ(t.rows("SELECT count(*) FROM wa_sent")[0][0], "2");
}

TEST_F(OutboxSenderTest, AnAnswerAfterTheSenderIsGoneIsDropped)
{
    file(t, "send", 15, 101, now);
    Device::Done late;
    {
        Helper h(t, now);
        h.sender.tick();
        late = std::move(h.device.sent[0].done);
    }
    late(SendResult{SendResult::Kind::sent, {}});   // must not touch freed memory
    EXPECT_EQ(t.state(101), "in_flight") << "the next helper sends it again";
}

TEST_F(OutboxSenderTest, TransientFailuresBackOff)
{
    file(t, "send", 15, 101, now);
    Helper h(t, now);
    h.sender.tick();
    h.device.ack(SendResult::Kind::retry, "offline");
    EXPECT_EQ(t.rows("SELECT state, attempts, next_attempt_at FROM outbox")[0],
              (std::vector<std::string>{"in_flight", "1", "1001"}));
    h.sender.tick();
    EXPECT_EQ(h.device.sent.size(), 1u) << "not again at once";
    now = 1001;
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 2u);
    EXPECT_EQ(h.device.sent[1].message.id, h.device.sent[0].message.id) << "same id";
    h.device.ack(SendResult::Kind::retry, "offline");
    EXPECT_EQ(t.rows("SELECT next_attempt_at FROM outbox")[0][0], "1003") << "doubling";
    EXPECT_TRUE(logged("outbox entry 1 not sent yet (offline), attempt 2"));
}

TEST_F(OutboxSenderTest, AFailureIsReportedBeforeItIsSettledAndACrashReportsAgain)
{
    file(t, "send", 15, 101, now);
    file(t, "send", 15, 102, now);
    {
        Helper h(t, now);
        h.sender.tick();
        h.device.ack(SendResult::Kind::failed, "recipient not on WhatsApp");
        EXPECT_EQ(t.state(101), "failing") << "kept with its reason first";
        ASSERT_EQ(h.reporter.reports.size(), 1u);
        EXPECT_EQ(h.reporter.reports[0].message, 101);
        EXPECT_EQ(h.reporter.reports[0].conversation, 15);
        EXPECT_EQ(h.reporter.reports[0].reason, "recipient not on WhatsApp");
        EXPECT_EQ(h.device.sent.size(), 2u) << "a failed reply does not hold the next";
        EXPECT_TRUE(logged("a reply in conversation 15 cannot go to WhatsApp: recipient not on WhatsApp"));
        // crash before Chatwoot answers
    }
    EXPECT_EQ(t.state(101), "failing");
    Helper again(t, now);
    again.sender.tick();
    ASSERT_EQ(again.reporter.reports.size(), 1u) << "reported again, not lost";
    EXPECT_EQ(again.reporter.reports[0].reason, "recipient not on WhatsApp");
    again.sender.tick();
    EXPECT_EQ(again.reporter.reports.size(), 1u) << "once at a time";
    again.reporter.answer(FailureReporter::Outcome::reported);
    EXPECT_EQ(t.state(101), "failed");
    EXPECT_EQ(again.stats.replies_failed, 1u);
}

TEST_F(OutboxSenderTest, AReportChatwootCannotTakeNowIsRetriedLater)
{
    file(t, "send", 15, 101, now);
    Helper h(t, now);
    h.device.answer = SendResult{SendResult::Kind::failed, "bad"};
    h.sender.tick();
    h.reporter.answer(FailureReporter::Outcome::retry, "503");
    EXPECT_EQ(t.state(101), "failing");
    h.sender.tick();
    EXPECT_EQ(h.reporter.reports.size(), 1u);
    now += 30;
    h.sender.tick();
    ASSERT_EQ(h.reporter.reports.size(), 2u);
    h.reporter.answer(FailureReporter::Outcome::refused, "404 message gone");
    EXPECT_EQ(t.state(101), "failed");
    EXPECT_TRUE(logged("marking message 101 failed in Chatwoot was refused: 404 message gone"));
}

TEST_F(OutboxSenderTest, WithoutADeviceRepliesWaitForTheTimeoutThenAreReported)
{
    file(t, "send", 15, 101, now);
    file(t, "send", 15, 102, now + 10);
    file(t, "status", 15, 0, now);
    OutboxRepository outbox(*t.db);
    AbsentDevice device;
    FakeReporter reporter;
    OutboxSender sender("support", outbox, device, reporter, {}, 60, [this] { return now; });
    sender.tick();
    EXPECT_TRUE(reporter.reports.empty());
    EXPECT_EQ(t.state(101), "pending");
    now += 60;
    sender.tick();
    ASSERT_EQ(reporter.reports.size(), 1u) << "only the one past its deadline";
    EXPECT_EQ(reporter.reports[0].reason, "DEVICE_NOT_AVAILABLE");
    reporter.answer(FailureReporter::Outcome::reported);
    EXPECT_TRUE(logged("no WhatsApp device took message 101 of conversation 15 in time; "
                       "marked failed in Chatwoot"));
    EXPECT_EQ(t.state(101), "failed");
    EXPECT_EQ(t.rows("SELECT state FROM outbox WHERE action = 'status'")[0][0], "sent");
    now += 10;
    sender.tick();
    EXPECT_EQ(reporter.reports.size(), 2u);
}

TEST_F(OutboxSenderTest, ALateReplyStillGoesWhenTheDeviceIsOnline)
{
    file(t, "send", 15, 101, now);
    now += 3600;
    Helper h(t, now, 60);
    h.sender.tick();
    EXPECT_EQ(h.device.sent.size(), 1u);
    EXPECT_TRUE(h.reporter.reports.empty());
}

TEST_F(OutboxSenderTest, RepliesWaitWhileTheDeviceIsOffline)
{
    file(t, "send", 15, 101, now);
    Helper h(t, now, 60);
    h.device.connected = false;
    h.sender.tick();
    EXPECT_TRUE(h.device.sent.empty());
    h.device.connected = true;
    h.sender.tick();
    EXPECT_EQ(h.device.sent.size(), 1u);
}

TEST_F(OutboxSenderTest, ARepliesThatCannotGoIsReportedWithTheReason)
{
    file(t, "send", 15, 101, now, "not-a-phone");
    Helper h(t, now);
    h.sender.tick();
    EXPECT_TRUE(h.device.sent.empty());
    ASSERT_EQ(h.reporter.reports.size(), 1u);
    EXPECT_NE(h.reporter.reports[0].reason.find("no WhatsApp chat"), std::string::npos)
        << h.reporter.reports[0].reason;
}

TEST_F(OutboxSenderTest, ADeletionRevokesWhatWeSent)
{
    file(t, "send", 15, 101, now);
    Helper h(t, now);
    h.device.answer = SendResult{SendResult::Kind::sent, {}};
    h.sender.tick();
    const std::string id = h.device.sent.at(0).message.id;
    file(t, "delete", 15, 101, now);
    file(t, "delete", 15, 999, now);   // never ours
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 2u);
    const auto& revoke = h.device.sent[1].message;
    EXPECT_EQ(revoke.kind, OutgoingMessage::Kind::revoke);
    EXPECT_EQ(revoke.revoked_id, id);
    EXPECT_EQ(revoke.chat, "5511987654321@s.whatsapp.net");
    EXPECT_NE(revoke.id, id) << "a revoke is a message of its own";
    EXPECT_EQ(t.rows("SELECT state FROM outbox WHERE action = 'delete' ORDER BY id"),
              (std::vector<std::vector<std::string>>{{"sent"}, {"failed"}}));
}

// Every prefix of a run, then a crash, then a new helper to the end: each
// reply reaches the device under one id, in order per conversation, and
// the failure is in Chatwoot.
TEST_F(OutboxSenderTest, ACrashAtAnyStepLosesNothingAndDoublesNothing)
{
    for (int crash_after = 0; crash_after < 12; crash_after++) {
        TempDb db;
        now = 1000;
        file(db, "send", 15, 101, now);
        file(db, "send", 15, 102, now);
        file(db, "send", 16, 201, now);
        file(db, "send", 15, 103, now);   // this one the device refuses
        std::map<int64_t, std::set<std::string>> ids;   // outbox id -> ids used
        std::map<int64_t, std::vector<int64_t>> order;  // conversation -> first sends
        std::set<int64_t> reported;
        auto run = [&](Helper& h, int budget) {
            int steps = 0;
            size_t seen = 0, seen_reports = 0;
            for (int round = 0; round < 50 && steps < budget; round++) {
                h.sender.tick();
                for (; seen < h.device.sent.size(); seen++) {
                    const auto& m = h.device.sent[seen].message;
                    if (ids[m.outbox_id].empty()) {
                        order[m.outbox_id == 3 ? 16 : 15].push_back(m.outbox_id);
                    }
                    ids[m.outbox_id].insert(m.id);
                }
                for (; seen_reports < h.reporter.reports.size(); seen_reports++) {
                    reported.insert(h.reporter.reports[seen_reports].message);
                }
                if (h.device.waiting() > 0 && steps++ < budget) {
                    const auto& w = *std::find_if(h.device.sent.begin(), h.device.sent.end(),
                                                  [](const auto& s) { return bool(s.done); });
                    h.device.ack(w.message.outbox_id == 4 ? SendResult::Kind::failed
                                                          : SendResult::Kind::sent,
                                 "refused");
                } else if (std::any_of(h.reporter.reports.begin(), h.reporter.reports.end(),
                                       [](const auto& r) { return bool(r.done); })
                           && steps++ < budget) {
                    h.reporter.answer(FailureReporter::Outcome::reported);
                } else if (h.device.waiting() == 0) {
                    break;
                }
            }
        };
        {
            Helper h(db, now);
            run(h, crash_after);
        }
        Helper again(db, now);
        run(again, 1000);
        SCOPED_TRACE("crash after " + std::to_string(crash_after) + " answers");
        EXPECT_EQ(db.rows("SELECT chatwoot_message_id, state FROM outbox ORDER BY id"),
                  (std::vector<std::vector<std::string>>{
                      {"101", "sent"}, {"102", "sent"}, {"201", "sent"}, {"103", "failed"}}));
        for (const auto& [outbox_id, used] : ids) {
            EXPECT_EQ(used.size(), 1u) << "entry " << outbox_id << " went under one id";
        }
        EXPECT_EQ(order[15], (std::vector<int64_t>{1, 2, 4})) << "in order";
        EXPECT_TRUE(reported.contains(103));
        EXPECT_EQ(db.rows("SELECT count(*) FROM wa_sent")[0][0], "3");
    }
}

// --- read receipts before a reply -------------------------------------------------

namespace {

// A WhatsApp message of the chat as the forwarder leaves it: stored, and
// posted (settled) unless `pending`.
void inbound(TempDb& t, const std::string& id, const std::string& chat, const std::string& sender,
             bridge::WaMessage::Kind kind = bridge::WaMessage::Kind::message, bool from_me = false,
             bool pending = false)
{
    bridge::WaMessage m;
    m.kind = kind;
    m.id = id;
    m.chat = chat;
    m.sender = sender;
    m.from_me = from_me;
    m.text = "x";
    m.target = kind == bridge::WaMessage::Kind::message ? "" : "A1";
    store::WaInboundRepository repo(*t.db);
    ASSERT_TRUE(repo.add("support", id, chat, bridge::to_json(m), 1000));
    if (!pending) {
        auto row = t.rows("SELECT id FROM wa_inbound WHERE wa_id = '" + id + "'");
        repo.settle(std::stoll(row.at(0).at(0)), true, 1, "", "support", chat, {42, 15});
    }
}

void settle_pending(TempDb& t)
{
    t.db->exec("UPDATE wa_inbound SET state = 'posted' WHERE state = 'pending'");
}

}  // namespace

TEST_F(OutboxSenderTest, AReplyFirstMarksTheContactsEarlierMessagesReadOnce)
{
    const std::string chat = "5511987654321@s.whatsapp.net";
    inbound(t, "A1", chat, chat);
    inbound(t, "M1", chat, chat, bridge::WaMessage::Kind::message, true);  // from the owner's phone
    inbound(t, "A2", chat, chat);
    inbound(t, "R1", chat, chat, bridge::WaMessage::Kind::reaction);
    inbound(t, "A3", chat, chat, bridge::WaMessage::Kind::message, false, true);  // not in Chatwoot yet
    inbound(t, "B1", "5521912345678@s.whatsapp.net", "5521912345678@s.whatsapp.net");
    store::ReadMarkRepository marks(*t.db);
    file(t, "send", 15, 101, now);
    Helper h(t, now);
    h.sender.mark_read_with(&marks);
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 2u);
    const OutgoingMessage& receipt = h.device.sent[0].message;
    EXPECT_EQ(receipt.kind, OutgoingMessage::Kind::read) << "the receipt goes before the reply";
    EXPECT_EQ(receipt.chat, chat);
    EXPECT_EQ(receipt.read_ids, (std::vector<std::string>{"A1", "A2"}))
        << "the contact's messages in Chatwoot, oldest first: not the owner's, not a "
           "reaction, not one agents cannot have seen, not another chat's";
    EXPECT_EQ(receipt.read_sender, "") << "a 1:1 chat names no participant";
    EXPECT_EQ(h.device.sent[1].message.text, "reply 101");
    h.device.ack();   // the receipt
    h.device.ack();   // the reply

    file(t, "send", 15, 102, now);
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 3u);
    EXPECT_EQ(h.device.sent[2].message.text, "reply 102") << "nothing new: no receipt";
    h.device.ack();

    settle_pending(t);
    file(t, "send", 15, 103, now);
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 5u);
    EXPECT_EQ(h.device.sent[3].message.read_ids, (std::vector<std::string>{"A3"}))
        << "only what came since, never A1 or A2 again";
    h.device.ack();
    h.device.ack();
    EXPECT_EQ(t.state(103), "sent");
}

TEST_F(OutboxSenderTest, AReceiptThatDidNotGoGoesWithTheNextReplyAndNeverHoldsOneBack)
{
    const std::string chat = "5511987654321@s.whatsapp.net";
    inbound(t, "A1", chat, chat);
    store::ReadMarkRepository marks(*t.db);
    file(t, "send", 15, 101, now);
    file(t, "send", 15, 102, now);
    Helper h(t, now);
    h.sender.mark_read_with(&marks);
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 2u);
    h.device.ack(SendResult::Kind::retry, "offline");   // the receipt
    EXPECT_TRUE(logged("they go with the next reply"));
    h.device.ack();   // reply 101 went anyway
    EXPECT_EQ(t.state(101), "sent");
    ASSERT_EQ(h.device.sent.size(), 4u);
    EXPECT_EQ(h.device.sent[2].message.kind, OutgoingMessage::Kind::read);
    EXPECT_EQ(h.device.sent[2].message.read_ids, (std::vector<std::string>{"A1"}))
        << "not marked, so asked again";
    h.device.ack();
    h.device.ack();

    file(t, "send", 15, 103, now);
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 5u);
    EXPECT_EQ(h.device.sent[4].message.kind, OutgoingMessage::Kind::text) << "marked now";
}

TEST_F(OutboxSenderTest, AGroupsReceiptsGoOnePerMemberWhoWrote)
{
    const std::string group = "120363000000000000@g.us";
    const std::string x = "5511987654321@s.whatsapp.net", y = "5521912345678@s.whatsapp.net";
    inbound(t, "G1", group, x);
    inbound(t, "G2", group, y);
    inbound(t, "G3", group, x);
    store::ReadMarkRepository marks(*t.db);
    file(t, "send", 16, 201, now, group);
    Helper h(t, now);
    h.sender.mark_read_with(&marks);
    h.device.answer = SendResult{SendResult::Kind::sent, {}};
    h.sender.tick();
    ASSERT_EQ(h.device.sent.size(), 3u);
    EXPECT_EQ(h.device.sent[0].message.read_sender, x);
    EXPECT_EQ(h.device.sent[0].message.read_ids, (std::vector<std::string>{"G1", "G3"}));
    EXPECT_EQ(h.device.sent[1].message.read_sender, y);
    EXPECT_EQ(h.device.sent[1].message.read_ids, (std::vector<std::string>{"G2"}));
    EXPECT_EQ(h.device.sent[2].message.chat, group);
    auto mark = t.rows("SELECT read_up_to FROM wa_read_marks WHERE chat = '" + group + "'");
    ASSERT_EQ(mark.size(), 1u) << "marked once both receipts went";
}

TEST_F(OutboxSenderTest, ADeletionEchoingARevokeFromThePhoneIsNotRevokedAgain)
{
    const std::string chat = "5511987654321@s.whatsapp.net";
    file(t, "send", 15, 101, now);
    Helper h(t, now);
    h.device.answer = SendResult{SendResult::Kind::sent, {}};
    h.sender.tick();
    const std::string id = h.device.sent.at(0).message.id;
    // The owner deletes the reply on the phone; WhatsApp tells us, the
    // forwarder deletes it in Chatwoot, and Chatwoot's webhook says so.
    bridge::WaMessage revoke;
    revoke.kind = bridge::WaMessage::Kind::revoke;
    revoke.id = "V1";
    revoke.chat = chat;
    revoke.from_me = true;
    revoke.target = id;
    store::WaInboundRepository(*t.db).add("support", "V1", chat, bridge::to_json(revoke), now);
    file(t, "delete", 15, 101, now);
    h.sender.tick();
    EXPECT_EQ(h.device.sent.size(), 1u) << "WhatsApp has the revoke already";
    EXPECT_EQ(t.rows("SELECT state FROM outbox WHERE action = 'delete'"),
              (std::vector<std::vector<std::string>>{{"sent"}}));
}

namespace {

// The media send path as the outbox sees it: what it planned, whether the
// parts were durable when send() came (read by a connection of its own).
class FakeMedia final : public MediaSending {
public:
    FakeMedia(TempDb& t, Device& device) : t_(t), device_(device) {}
    std::vector<store::OutboxPart> plan(int64_t outbox_id, const bridge::AgentReply& reply) override
    {
        std::vector<store::OutboxPart> parts;
        for (size_t i = 0; i < reply.attachments.size(); i++) {
            store::OutboxPart p;
            p.outbox_id = outbox_id;
            p.part = static_cast<int64_t>(i);
            p.wa_id = device_.new_message_id();
            p.data_url = reply.attachments[i].data_url;
            p.file_type = reply.attachments[i].file_type;
            p.media_key = std::string(32, 'k');
            parts.push_back(std::move(p));
        }
        return parts;
    }
    void file(const std::vector<store::OutboxPart>& parts) override
    {
        store::OutboxPartRepository(*t_.db).add_all(parts);
    }
    void send(MediaEntry entry, Device::Done done) override
    {
        store::Database other = store::Database::open(t_.dir + "/chatwoot.db");
        auto st = other.prepare("SELECT count(*) FROM outbox_parts WHERE outbox_id = ?1");
        st.bind(1, entry.outbox_id);
        st.step();
        durable_parts.push_back(st.column_int(0));
        st.reset();
        entries.push_back(std::move(entry));
        dones.push_back(std::move(done));
    }
    std::vector<MediaEntry> entries;
    std::vector<int64_t> durable_parts;
    std::vector<Device::Done> dones;

private:
    TempDb& t_;
    Device& device_;
};

void file_with_attachments(TempDb& t, int64_t conversation, int64_t message, int64_t created_at)
{
    const std::string record =
        R"({"inbox":"support","delivery":"d","received_at":1,"event":{"type":"send","message_id":)"
        + std::to_string(message) + R"(,"conversation_id":)" + std::to_string(conversation)
        + R"(,"content":"two files","source_id_of_contact":"5511987654321@s.whatsapp.net",)"
          R"("attachments":[{"file_type":"image","data_url":"http://chat.test/r/x/a.jpg"},)"
          R"({"file_type":"file","data_url":"http://chat.test/r/y/b.pdf"}]}})";
    auto ins = t.db->prepare("INSERT INTO inbound_events (ring_epoch, ring_seq, kind,"
                             " received_at, payload) VALUES (2, ?1, 1, ?2, ?3)");
    ins.bind(1, message).bind(2, created_at).bind(3, std::string_view(record));
    ins.run();
    OutboxRepository outbox(*t.db);
    ASSERT_TRUE(outbox.add(store::OutboxEntry{"support", "send", conversation, message,
                                              t.db->last_insert_id(), created_at}));
}

}  // namespace

TEST_F(OutboxSenderTest, AttachmentsGoAsMediaWithEveryPartCommittedBeforeTheFirstSend)
{
    file_with_attachments(t, 15, 201, now);
    file(t, "send", 15, 202, now);
    Helper h(t, now);
    h.device.media = true;
    FakeMedia media(t, h.device);
    h.sender.send_media_with(&media);
    h.sender.tick();
    ASSERT_EQ(media.entries.size(), 1u);
    EXPECT_EQ(media.durable_parts[0], 2) << "both parts durable before anything of them went";
    EXPECT_TRUE(h.device.sent.empty()) << "no text of links to the device";
    EXPECT_EQ(media.entries[0].caption, "two files");
    auto parts = t.rows("SELECT p.wa_id, o.wa_id, o.state FROM outbox_parts p"
                        " JOIN outbox o ON o.id = p.outbox_id ORDER BY p.part");
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0][0], parts[0][1]) << "the entry goes as its first part's id";
    EXPECT_EQ(parts[0][2], "in_flight");
    EXPECT_NE(parts[0][0], parts[1][0]);

    h.sender.tick();
    EXPECT_EQ(media.entries.size(), 1u) << "not sent again while it is on its way";
    EXPECT_TRUE(h.device.sent.empty()) << "the next reply waits for all of its parts";

    // A retry goes on with the same parts: nothing planned anew.
    auto d = std::move(media.dones[0]);
    d(SendResult{SendResult::Kind::retry, "upload failed"});
    now += 5;
    h.sender.tick();
    ASSERT_EQ(media.entries.size(), 2u);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox_parts"), 2);
    d = std::move(media.dones[1]);
    d(SendResult{SendResult::Kind::sent, {}});
    EXPECT_EQ(t.state(201), "sent");
    ASSERT_EQ(h.device.sent.size(), 1u) << "then the next reply goes";
    EXPECT_EQ(h.device.sent[0].message.text, "reply 202");
}

TEST_F(OutboxSenderTest, ADeviceWithoutMediaGetsTheLinks)
{
    file_with_attachments(t, 15, 301, now);
    Helper h(t, now);
    FakeMedia media(t, h.device);
    h.sender.send_media_with(&media);
    h.sender.tick();
    EXPECT_TRUE(media.entries.empty());
    ASSERT_EQ(h.device.sent.size(), 1u);
    EXPECT_EQ(h.device.sent[0].message.text,
              "two files\nhttp://chat.test/r/x/a.jpg\nhttp://chat.test/r/y/b.pdf");
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox_parts"), 0);
}
