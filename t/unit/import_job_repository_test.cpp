// History import jobs as rows (store/import_job_repository.hpp, schema step
// 15), filed by the command desk with their command's outcome in one unit,
// read from the history tables a page at a time (store/history_reader.hpp),
// and published in the snapshot's import slots.
#include "helper/command_desk.hpp"
#include "helper/snapshot_builder.hpp"
#include "ipc/command_record.hpp"
#include "store/history_reader.hpp"
#include "store/import_job_repository.hpp"

#include "temp_store.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

using namespace chatwoot;
using namespace chatwoot::helper;

namespace {

struct Jobs {
    test::TempStore store{"import-jobs"};
    store::ImportJobRepository jobs{*store.db};
    store::CommandRepository commands{*store.db};
    int64_t now = 1'700'000'000;
    std::vector<std::string> filed;
    CommandDesk desk{commands, [](std::string_view) -> Device* { return nullptr; },
                     [this] { return now; }};

    Jobs()
    {
        desk.file_imports_into(
            &jobs, [](std::string_view inbox) { return inbox == "support" || inbox == "sales"; },
            [this](const std::string& inbox) { filed.push_back(inbox); });
    }

    std::string take(const ipc::ImportCommand& c, uint64_t seq)
    {
        ipc::Command cmd{now - 10, c};
        auto bytes = ipc::encode_command(cmd);
        EXPECT_TRUE(bytes);
        store::NewCommand n;
        n.id = ipc::command_id(7, seq);
        n.kind = "import";
        n.payload = *bytes;
        n.created_at = cmd.created_at;
        EXPECT_TRUE(commands.add(n));
        desk.take(n.id, cmd);
        return n.id;
    }

    void history(const std::string& chat, const std::string& id, int64_t ts,
                 const std::string& text = "hi")
    {
        auto st = store.db->prepare(
            "INSERT INTO history_messages (inbox, chat, id, from_me, participant, timestamp,"
            " push_name, text, kind, caption, media, stored_at)"
            " VALUES ('support', ?1, ?2, 0, '', ?3, '', ?4, '', '', NULL, 1)");
        st.bind(1, chat).bind(2, id).bind(3, ts).bind(4, text).run();
    }
};

}  // namespace

TEST(ImportJobs, AnImportCommandIsFiledAsAQueuedJobWithItsWindow)
{
    Jobs t;
    const std::string id = t.take({"support", "messages", 7, true, false}, 1);
    auto job = t.jobs.find(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->state, store::ImportState::queued);
    EXPECT_EQ(job->inbox, "support");
    EXPECT_EQ(job->what, "messages");
    EXPECT_EQ(job->days, 7);
    EXPECT_EQ(job->since, t.now - 10 - 7 * 86400) << "days back from when the client asked";
    EXPECT_EQ(job->flags, CW_COMMAND_IMPORT_MEDIA);
    EXPECT_EQ(t.commands.find(id)->state, store::CommandState::done);
    EXPECT_EQ(t.filed, std::vector<std::string>{"support"});

    const std::string all = t.take({"sales", "all", 0, false, true}, 2);
    EXPECT_EQ(t.jobs.find(all)->since, 0) << "days 0: the whole history";
}

TEST(ImportJobs, ASecondJobForAnInboxWithOneQueuedOrRunningIsRefusedNamingIt)
{
    Jobs t;
    const std::string first = t.take({"support", "all", 7, false, false}, 1);
    const std::string second = t.take({"support", "messages", 1, false, false}, 2);
    auto refused = t.commands.find(second);
    EXPECT_EQ(refused->state, store::CommandState::failed);
    EXPECT_NE(refused->reason.find(first), std::string::npos) << refused->reason;
    EXPECT_FALSE(t.jobs.find(second)) << "nothing filed for the refused command";

    // Another inbox is not held back; a finished job no longer blocks.
    EXPECT_TRUE(t.jobs.find(t.take({"sales", "all", 7, false, false}, 3)));
    t.jobs.start(first, {}, t.now);
    EXPECT_EQ(t.jobs.active("support")->state, store::ImportState::running);
    EXPECT_TRUE(t.jobs.find(t.take({"support", "all", 7, false, false}, 4)) == std::nullopt);
    t.jobs.complete(first, t.now);
    EXPECT_TRUE(t.jobs.find(t.take({"support", "all", 7, false, false}, 5)));
}

TEST(ImportJobs, AWrongWhatOrAnUnknownInboxFailsTheCommandWithTheReason)
{
    Jobs t;
    const std::string a = t.take({"support", "everything", 7, false, false}, 1);
    const std::string b = t.take({"nobody", "all", 7, false, false}, 2);
    EXPECT_EQ(t.commands.find(a)->reason, "what must be messages, contacts or all");
    EXPECT_EQ(t.commands.find(b)->reason, "no inbox named \"nobody\"");
    EXPECT_TRUE(t.filed.empty());
    EXPECT_EQ(t.store.scalar("SELECT count(*) FROM import_jobs"), 0);
}

TEST(ImportJobs, ACommandTakenTwiceFilesOneJob)
{
    Jobs t;
    const std::string id = t.take({"support", "all", 7, false, false}, 1);
    // A helper killed before the pop takes it again: its outcome stands.
    ipc::Command cmd{t.now - 10, ipc::ImportCommand{"support", "all", 7, false, false}};
    t.desk.take(id, cmd);
    EXPECT_EQ(t.store.scalar("SELECT count(*) FROM import_jobs"), 1);
    EXPECT_EQ(t.commands.find(id)->state, store::CommandState::done);
}

TEST(ImportJobs, ProgressIsACursorPerChatAndCountsPerJob)
{
    Jobs t;
    const std::string id = t.take({"support", "messages", 0, false, false}, 1);
    t.jobs.start(id, {{"a@s.whatsapp.net", 3, 0, ""}, {"b@lid", 2, 0, ""}}, t.now);
    auto job = t.jobs.find(id);
    EXPECT_EQ(job->state, store::ImportState::running);
    EXPECT_EQ(job->chats_total, 2);
    EXPECT_EQ(job->messages_total, 5);
    EXPECT_EQ(job->started_at, t.now);

    t.jobs.record(id, "support", "a@s.whatsapp.net", "M1", 100, store::ImportOutcome::posted,
                  41, t.now);
    t.jobs.record(id, "support", "a@s.whatsapp.net", "M2", 101, store::ImportOutcome::skipped,
                  0, t.now);
    t.jobs.record(id, "support", "b@lid", "M9", 90, store::ImportOutcome::failed, 0, t.now);
    t.jobs.finish_chat(id, "b@lid", true, t.now);
    t.jobs.finish_chat(id, "b@lid", true, t.now);   // once only
    auto open = t.jobs.open_chats(id);
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0].chat, "a@s.whatsapp.net");
    EXPECT_EQ(open[0].last_timestamp, 101);
    EXPECT_EQ(open[0].last_id, "M2");
    job = t.jobs.find(id);
    EXPECT_EQ(job->messages_done, 1);
    EXPECT_EQ(job->messages_skipped, 1);
    EXPECT_EQ(job->messages_failed, 1);
    EXPECT_EQ(job->chats_failed, 1);
    EXPECT_TRUE(t.jobs.known_to_chatwoot("support", "M1"));
    EXPECT_FALSE(t.jobs.known_to_chatwoot("sales", "M1"));
    EXPECT_FALSE(t.jobs.known_to_chatwoot("support", "M2"));

    // What the live path has is known too.
    t.store.db->exec("INSERT INTO wa_inbound (inbox, wa_id, chat, record, created_at)"
                     " VALUES ('support', 'LIVE1', 'a@s.whatsapp.net', '{}', 1)");
    EXPECT_TRUE(t.jobs.known_to_chatwoot("support", "LIVE1"));
}

TEST(ImportJobs, HistoryIsReadAPageAtATimeOldestFirstWithinTheWindow)
{
    Jobs t;
    t.history("a@s.whatsapp.net", "A1", 100);
    t.history("a@s.whatsapp.net", "A3", 300);
    t.history("a@s.whatsapp.net", "A2b", 200);
    t.history("a@s.whatsapp.net", "A2a", 200);
    t.history("a@s.whatsapp.net", "OLD", 10);
    t.history("g@g.us", "G1", 150);
    t.history("old@s.whatsapp.net", "X", 20);
    store::HistoryReader r(*t.store.db, "support");

    auto chats = r.chats_in_window(50, false);
    ASSERT_EQ(chats.size(), 1u) << "groups left out, chats outside the window too";
    EXPECT_EQ(chats[0].jid, "a@s.whatsapp.net");
    EXPECT_EQ(chats[0].messages, 4);
    chats = r.chats_in_window(50, true);
    ASSERT_EQ(chats.size(), 2u);
    EXPECT_EQ(chats[1].jid, "g@g.us") << "oldest first";

    auto page = r.page({"a@s.whatsapp.net"}, 50, 0, "", 2);
    ASSERT_EQ(page.size(), 2u);
    EXPECT_EQ(page[0].id, "A1");
    EXPECT_EQ(page[1].id, "A2a");
    page = r.page({"a@s.whatsapp.net"}, 50, page[1].timestamp, page[1].id, 2);
    ASSERT_EQ(page.size(), 2u);
    EXPECT_EQ(page[0].id, "A2b") << "the same second: by id after the cursor";
    EXPECT_EQ(page[1].id, "A3");
    EXPECT_TRUE(r.page({"a@s.whatsapp.net"}, 50, 300, "A3", 2).empty());

    // A person's phone-number and LID chats read as one, in time order.
    t.history("9@lid", "L1", 250);
    page = r.page({"a@s.whatsapp.net", "9@lid"}, 50, 200, "A2b", 5);
    ASSERT_EQ(page.size(), 2u);
    EXPECT_EQ(page[0].id, "L1");
    EXPECT_EQ(page[1].id, "A3");
}

// A person with three forms (its PN, the LID a mapping names and another a
// history chat names): all read, merged in time order, the limit kept.
TEST(ImportJobs, APageReadsEveryFormOfAPerson)
{
    Jobs t;
    t.history("a@s.whatsapp.net", "A1", 100);
    t.history("a@s.whatsapp.net", "A4", 400);
    t.history("9@lid", "L2", 200);
    t.history("8@lid", "M3", 300);
    t.history("8@lid", "M5", 500);
    store::HistoryReader r(*t.store.db, "support");
    auto page = r.page({"a@s.whatsapp.net", "9@lid", "8@lid"}, 50, 100, "A1", 3);
    ASSERT_EQ(page.size(), 3u);
    EXPECT_EQ(page[0].id, "L2");
    EXPECT_EQ(page[1].id, "M3");
    EXPECT_EQ(page[2].id, "A4");
    page = r.page({"a@s.whatsapp.net", "9@lid", "8@lid"}, 50, 400, "A4", 3);
    ASSERT_EQ(page.size(), 1u);
    EXPECT_EQ(page[0].id, "M5");
}

// Messages the phone sent on demand after the plan count in the job's and
// the chat's totals.
TEST(ImportJobs, MessagesBroughtLaterGrowTheTotals)
{
    Jobs t;
    const std::string id = t.take({"support", "messages", 7, false, false}, 1);
    t.jobs.start(id, {{"x@s.whatsapp.net", 4, 0, ""}}, t.now);
    t.jobs.add_messages_total(id, "x@s.whatsapp.net", 50, t.now);
    EXPECT_EQ(t.jobs.find(id)->messages_total, 54);
    EXPECT_EQ(t.jobs.open_chats(id).at(0).messages_total, 54);
}

TEST(ImportJobs, JobsArePublishedInTheSnapshotActiveFirst)
{
    Jobs t;
    const std::string done = t.take({"sales", "all", 7, false, false}, 1);
    t.jobs.start(done, {{"x@s.whatsapp.net", 4, 0, ""}}, t.now);
    t.jobs.complete(done, t.now + 5);
    t.now += 100;
    const std::string running = t.take({"support", "messages", 3, true, true}, 2);
    t.jobs.start(running, {{"y@s.whatsapp.net", 2, 0, ""}}, t.now);
    t.jobs.set_current_chat(running, "y@s.whatsapp.net");
    auto rows = t.jobs.recent(CW_SNAPSHOT_IMPORTS);
    SnapshotFacts facts;
    facts.imports = rows;
    auto snap = std::make_unique<cw_snapshot_t>();
    build_snapshot(facts, *snap);
    ASSERT_EQ(snap->imports_n, 2u);
    EXPECT_STREQ(snap->imports[0].id, running.c_str());
    EXPECT_EQ(snap->imports[0].state, uint64_t{CW_IMPORT_RUNNING});
    EXPECT_STREQ(snap->imports[0].current_chat, "y@s.whatsapp.net");
    EXPECT_STREQ(snap->imports[0].what, "messages");
    EXPECT_EQ(snap->imports[0].flags, uint64_t{CW_COMMAND_IMPORT_MEDIA | CW_COMMAND_IMPORT_GROUPS});
    EXPECT_EQ(snap->imports[1].state, uint64_t{CW_IMPORT_COMPLETED});
    EXPECT_EQ(snap->imports[1].finished_at, uint64_t(t.now - 100 + 5));
    EXPECT_EQ(snap->imports[1].messages_total, 4u);
    EXPECT_EQ(snap->counters.imports_running, 1u);
    EXPECT_STREQ(cw_import_state_name(CW_IMPORT_PAUSED), "paused");
    EXPECT_EQ(sizeof(cw_snapshot_import_t) % 8, 0u);
}
