// The import runner's sink seam (helper/import/import_sink.hpp), the
// PostgreSQL path's way in: a job's chats handed over a page at a time,
// oldest first, what Chatwoot has already left out, each outcome recorded
// with the chat's cursor; a sink that fails gets the same page again; the
// job completes with the counts the sink gave; a sink that gives up fails
// the job with its reason.
#include "fake_nginx.hpp"

#include "helper/import/import_runner.hpp"
#include "store/schema.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::helper;
using namespace chatwoot::test;

namespace {

class NoTransport final : public HttpTransport {
public:
    void request(HttpRequest, Done) override { requests++; }
    int requests = 0;
};

class HeldSink final : public ImportSink {
public:
    void import_chat(const bridge::ImportChat& batch, Done done) override
    {
        batches.push_back(batch);
        all.push_back(done);
        pending = std::move(done);
    }
    std::vector<bridge::ImportChat> batches;
    Done pending;
    std::vector<Done> all;   // every answer still to give, in order
};

struct Fixture {
    Fixture()
    {
        fake_nginx_reset();
        char tmpl[] = "/tmp/import-runner-test-XXXXXX";
        dir = mkdtemp(tmpl);
        db.emplace(store::Database::open(dir + "/chatwoot.db"));
        store::migrate(*db);
        inbound.emplace(*db);
        client.emplace(http, "http://chatwoot", "t", 4, 0);
        runner.emplace("main", *db, *inbound, *client, rest::Api(1),
                       bridge::InboxOptions{7, true, false}, 2, [this] { return now; },
                       [] {});
        runner->use_sink(&sink);
    }
    ~Fixture()
    {
        runner.reset();
        client.reset();
        inbound.reset();
        db.reset();
        std::filesystem::remove_all(dir);
    }
    void history(const std::string& chat, const std::string& id, int64_t ts, int from_me = 0)
    {
        auto st = db->prepare(
            "INSERT INTO history_messages (inbox, chat, id, from_me, participant, timestamp,"
            " push_name, text, kind, caption, media, stored_at)"
            " VALUES ('main', ?1, ?2, ?3, '', ?4, '', 'text ' || ?2, '', '', NULL, 1)");
        st.bind(1, chat).bind(2, id).bind(3, from_me).bind(4, ts).run();
    }
    int64_t scalar(const std::string& sql)
    {
        auto st = db->prepare(sql);
        st.step();
        return st.column_int(0);
    }
    int64_t now = 5000;   // the runner's clock
    std::string dir;
    std::optional<store::Database> db;
    std::optional<store::WaInboundRepository> inbound;
    NoTransport http;
    std::optional<ChatwootClient> client;
    HeldSink sink;
    std::optional<ImportRunner> runner;
};

// A device whose phone takes history requests (the server acks them) and
// never answers; the rest of its interface is not used by the runner.
class SilentPhone final : public Device {
public:
    void start(DeviceEvents&) override {}
    DeviceStatus status() const override { return DeviceStatus::of(DeviceState::connected, ""); }
    std::string new_message_id() override { return "3EB0" + std::to_string(++ids); }
    void send(const OutgoingMessage& m, Done done) noexcept override
    {
        asked.push_back(m.chat);
        done(SendResult{SendResult::Kind::sent, {}});
    }
    void tick(int64_t) override {}
    std::vector<std::string> asked;
    int ids = 0;
};

}  // namespace

// Chats whose stored history starts inside the window are asked of the
// phone one at a time; when an ask goes unanswered past its bound, the
// other chats queued behind it are imported from the store at once,
// without an ask (and its wait) each.
TEST(ImportRunnerAsk, AnUnansweredAskEndsAskingForTheJob)
{
    Fixture f;
    SilentPhone phone;
    f.runner->use_device(&phone);
    for (const char* chat : {"4915100000001@s.whatsapp.net", "4915100000002@s.whatsapp.net",
                             "4915100000003@s.whatsapp.net"})
        f.history(chat, std::string("A") + chat[12], 4900);
    store::ImportJobRepository jobs(*f.db);
    ASSERT_FALSE(jobs.file({"J1", "main", "messages", 7, 1000, 0, 4990}));

    f.runner->tick();
    ASSERT_EQ(phone.asked.size(), 1u) << "one ask out at a time";
    EXPECT_TRUE(f.sink.batches.empty()) << "the asked chats wait";
    f.now += ImportRunner::kAskWait - 1;
    f.runner->tick();
    EXPECT_EQ(phone.asked.size(), 1u);
    EXPECT_TRUE(f.sink.batches.empty());

    f.now += 1;   // the bound: the phone is taken as silent
    f.runner->tick();
    f.runner->tick();
    EXPECT_EQ(phone.asked.size(), 1u) << "nothing more asked in this job";
    ASSERT_FALSE(f.sink.batches.empty()) << "the chats go from the store";
    for (size_t i = 0; i < f.sink.all.size() && i < 6; ++i) {   // each answered in turn
        ImportSinkResult ok;
        ok.posted = {{f.sink.batches.at(i).messages.at(0).wa_id, 600 + static_cast<int64_t>(i)}};
        auto done = std::move(f.sink.all[i]);
        done(ok);
        f.runner->tick();
    }
    EXPECT_EQ(f.sink.batches.size(), 3u) << "every chat imported";
    EXPECT_EQ(phone.asked.size(), 1u);
    EXPECT_EQ(f.scalar("SELECT messages_done FROM import_jobs"), 3);
}

TEST(ImportRunnerSink, ChatsGoToTheSinkAPageAtATimeAndTheJobCompletes)
{
    Fixture f;
    f.history("4915100000001@s.whatsapp.net", "M2", 200, 1);
    f.history("4915100000001@s.whatsapp.net", "M1", 100);
    f.history("4915100000001@s.whatsapp.net", "LIVE", 150);
    f.history("4915100000001@s.whatsapp.net", "OLD", 10);
    f.db->exec("INSERT INTO wa_inbound (inbox, wa_id, chat, record, created_at)"
               " VALUES ('main', 'LIVE', '4915100000001@s.whatsapp.net', '{}', 1)");
    store::ImportJobRepository jobs(*f.db);
    ASSERT_FALSE(jobs.file({"J1", "main", "messages", 0, 50, 0, 4000}));

    f.runner->tick();
    ASSERT_EQ(f.sink.batches.size(), 1u);
    const bridge::ImportChat& b = f.sink.batches[0];
    EXPECT_EQ(b.chat_jid, "4915100000001@s.whatsapp.net");
    EXPECT_EQ(b.phone, "+4915100000001");
    ASSERT_EQ(b.messages.size(), 2u) << "the live path's message left out, the old one too";
    EXPECT_EQ(b.messages[0].wa_id, "M1");
    EXPECT_EQ(b.messages[0].timestamp, 100);
    EXPECT_EQ(b.messages[1].wa_id, "M2");
    EXPECT_TRUE(b.messages[1].from_me);
    EXPECT_EQ(b.messages[0].text, "text M1");
    EXPECT_EQ(f.http.requests, 0) << "nothing through the REST API";

    // The database was down: nothing recorded, the same page again.
    ImportSinkResult down;
    down.error = "connection refused";
    auto done = std::move(f.sink.pending);
    done(down);
    ASSERT_EQ(f.sink.batches.size(), 2u);
    EXPECT_EQ(f.sink.batches[1].messages.size(), 2u);
    EXPECT_EQ(f.scalar("SELECT messages_done FROM import_jobs"), 0);

    ImportSinkResult ok;
    ok.posted = {{"M1", 501}, {"M2", 502}};
    done = std::move(f.sink.pending);
    done(ok);
    EXPECT_EQ(f.scalar("SELECT messages_done FROM import_jobs"), 2);
    EXPECT_EQ(f.scalar("SELECT messages_skipped FROM import_jobs"), 1) << "LIVE";
    EXPECT_EQ(f.scalar("SELECT chatwoot_message_id FROM import_posted WHERE wa_id = 'M2'"), 502);
    EXPECT_EQ(f.scalar("SELECT count(*) FROM import_job_chats WHERE state = 'done'"), 1);
    f.runner->tick();
    EXPECT_EQ(f.scalar("SELECT state = 'completed' FROM import_jobs"), 1);
    f.runner->tick();   // looks for the next job: none
    EXPECT_TRUE(f.runner->idle());
}

// The sink gives up (the database refuses the inbox, or the same error
// too many times): the job fails with its reason, its other chat's late
// answer is dropped, and the next job runs.
TEST(ImportRunnerSink, ASinkThatGivesUpFailsTheJob)
{
    Fixture f;
    f.history("4915100000001@s.whatsapp.net", "M1", 100);
    f.history("4915100000002@s.whatsapp.net", "N1", 110);
    store::ImportJobRepository jobs(*f.db);
    ASSERT_FALSE(jobs.file({"J1", "main", "messages", 0, 50, 0, 4000}));

    f.runner->tick();
    ASSERT_EQ(f.sink.batches.size(), 2u) << "two chats side by side";
    auto first = f.sink.all[0];
    auto second = f.sink.all[1];
    ImportSinkResult refused;
    refused.error = "PostgreSQL: inbox 7 belongs to account 2, not to account 1";
    refused.give_up = true;
    second(refused);
    EXPECT_EQ(f.scalar("SELECT state = 'failed' FROM import_jobs WHERE id = 'J1'"), 1);
    auto st = f.db->prepare("SELECT last_error FROM import_jobs WHERE id = 'J1'");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_text(0), refused.error);
    EXPECT_EQ(f.scalar("SELECT messages_done FROM import_jobs WHERE id = 'J1'"), 0);
    // The other chat's answer, late: dropped.
    ImportSinkResult ok;
    ok.posted = {{f.sink.batches[0].messages.at(0).wa_id, 0}};
    first(ok);
    EXPECT_EQ(f.scalar("SELECT messages_done FROM import_jobs WHERE id = 'J1'"), 0);
    EXPECT_EQ(f.sink.batches.size(), 2u) << "no page after the job failed";

    // The next job takes up the chats; nothing of the failed one leaks in.
    ASSERT_FALSE(jobs.file({"J2", "main", "messages", 0, 50, 0, 4001}));
    f.runner->poke();
    f.runner->tick();
    EXPECT_EQ(f.sink.batches.size(), 4u);
    EXPECT_EQ(f.scalar("SELECT state = 'running' FROM import_jobs WHERE id = 'J2'"), 1);
}
