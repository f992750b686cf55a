// The outbox files each agent action once, and the inbound table keeps one
// row per Chatwoot delivery id.
#include "store/inbound_event_repository.hpp"
#include "store/outbox_repository.hpp"
#include "store/schema.hpp"

#include "temp_store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

using namespace chatwoot::store;

namespace {

struct TempDb : chatwoot::test::TempStore {
    TempDb() : TempStore("outbox-test") {}
};

OutboxEntry send(int64_t message, const std::string& inbox = "support")
{
    return OutboxEntry{inbox, "send", 15, message, 1, 1000};
}

}  // namespace

// The outbox points at inbound rows (a foreign key): give it one.
void add_inbound_row(Database& db)
{
    InboundEventRepository inbound(db);
    inbound.insert_batch(std::vector{InboundEvent{1, 1, 1, 1000, {'x'}, ""}});
}

TEST(OutboxRepository, FilesEachMessageOncePerInboxAndAction)
{
    TempDb t;
    add_inbound_row(*t.db);
    OutboxRepository outbox(*t.db);
    Transaction tx(*t.db);
    EXPECT_TRUE(outbox.add(send(1)));
    EXPECT_FALSE(outbox.add(send(1))) << "the same message again";
    EXPECT_TRUE(outbox.add(send(1, "other"))) << "another inbox";
    EXPECT_TRUE(outbox.add(OutboxEntry{"support", "delete", 15, 1, 1, 1000}))
        << "deleting it is another action";
    EXPECT_TRUE(outbox.add(OutboxEntry{"support", "status", 15, std::nullopt, 1, 1}));
    EXPECT_TRUE(outbox.add(OutboxEntry{"support", "status", 15, std::nullopt, 1, 2}))
        << "status changes have no message id: each is kept";
    tx.commit();
    EXPECT_EQ(outbox.count_pending(), 5u);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox WHERE state = 'pending'"), 5);
}

TEST(OutboxRepository, RejectsUnknownActionsAndDanglingRows)
{
    TempDb t;
    add_inbound_row(*t.db);
    OutboxRepository outbox(*t.db);
    EXPECT_THROW(outbox.add(OutboxEntry{"support", "typing", 15, 1, 1, 1}), StoreError);
    EXPECT_THROW(outbox.add(OutboxEntry{"support", "send", 15, 1, 99, 1}), StoreError)
        << "no inbound row 99";
}

TEST(InboundEvents, ADeliveryIdIsStoredOnce)
{
    TempDb t;
    InboundEventRepository inbound(*t.db);
    InboundEvent a{1, 1, 1, 1000, {'a'}, "d-1"};
    InboundEvent b{1, 2, 1, 1000, {'b'}, "d-1"};   // same delivery, later
    InboundEvent c{1, 3, 1, 1000, {'c'}, ""};      // no delivery id
    InboundEvent d{1, 4, 1, 1000, {'d'}, ""};
    int filed = 0;
    EXPECT_EQ(inbound.insert_batch(std::vector{a, b, c, d},
                                   [&](const InboundEvent&, int64_t) { filed++; }),
              3u);
    EXPECT_EQ(filed, 3) << "the callback runs for new rows only";
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events WHERE delivery_id IS NULL"), 2);
    EXPECT_EQ(t.scalar("SELECT ring_seq FROM inbound_events WHERE delivery_id = 'd-1'"), 1);
}

TEST(InboundEvents, WhatTheCallbackFilesCommitsOrRollsBackWithTheRows)
{
    TempDb t;
    InboundEventRepository inbound(*t.db);
    OutboxRepository outbox(*t.db);
    InboundEvent a{1, 1, 1, 1000, {'a'}, "d-1"};
    EXPECT_THROW(inbound.insert_batch(std::vector{a},
                                      [&](const InboundEvent&, int64_t) {
                                          outbox.add(send(7));
                                          throw StoreError("disk full", 13);
                                      }),
                 StoreError);
    EXPECT_EQ(inbound.count(), 0u);
    EXPECT_EQ(outbox.count_pending(), 0u);

    inbound.insert_batch(std::vector{a}, [&](const InboundEvent&, int64_t id) {
        auto e = send(7);
        e.inbound_id = id;
        outbox.add(e);
    });
    EXPECT_EQ(t.scalar("SELECT inbound_id FROM outbox"),
              t.scalar("SELECT id FROM inbound_events"));
    EXPECT_EQ(inbound.count(), 1u);
    EXPECT_EQ(outbox.count_pending(), 1u);
}

TEST(OutboxRepository, PendingBeforeAndSettle)
{
    TempDb t;
    add_inbound_row(*t.db);
    OutboxRepository outbox(*t.db);
    outbox.add(OutboxEntry{"a", "send", 15, 1, 1, 100});
    outbox.add(OutboxEntry{"a", "status", 16, std::nullopt, 1, 150});
    outbox.add(OutboxEntry{"b", "send", 15, 2, 1, 100});
    outbox.add(OutboxEntry{"a", "send", 15, 3, 1, 300});

    auto due = outbox.pending_before("a", 200, 10);
    ASSERT_EQ(due.size(), 2u);
    EXPECT_EQ(due[0].action, "send");
    EXPECT_EQ(due[0].chatwoot_message_id, std::optional<int64_t>(1));
    EXPECT_EQ(due[1].action, "status");
    EXPECT_FALSE(due[1].chatwoot_message_id);
    EXPECT_EQ(due[1].conversation_id, 16);
    EXPECT_EQ(outbox.pending_before("a", 200, 1).size(), 1u) << "the limit holds";

    EXPECT_TRUE(outbox.settle(due[0].id, "failed"));
    EXPECT_FALSE(outbox.settle(due[0].id, "sent")) << "settled once";
    EXPECT_EQ(outbox.pending_before("a", 200, 10).size(), 1u);
    EXPECT_EQ(outbox.count_pending(), 3u);
    EXPECT_THROW(outbox.settle(due[1].id, "lost"), StoreError) << "only known states";
}

// Schema step 6 made the outbox a state machine: entries an older helper
// left (pending, sent, failed) come through with their states, and the new
// states' transitions hold.
TEST(OutboxRepository, EntriesOfTheOlderSchemaKeepTheirStates)
{
    char tmpl[] = "/tmp/outbox-test-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    {
        Database db = Database::open(dir + "/chatwoot.db");
        // Version 5 as an older build left it.
        migrate_to(db, 5);
        db.exec("INSERT INTO inbound_events (ring_epoch, ring_seq, kind, received_at,"
                " payload) VALUES (1, 1, 1, 1000, x'78')");
        db.exec("INSERT INTO outbox (id, inbox, action, conversation_id,"
                " chatwoot_message_id, inbound_id, state, created_at)"
                " VALUES (1, 'a', 'send', 15, 101, 1, 'sent', 10),"
                " (2, 'a', 'send', 15, 102, 1, 'pending', 11),"
                " (3, 'a', 'send', 15, 103, 1, 'failed', 12)");
    }
    Database db = Database::open(dir + "/chatwoot.db");
    migrate(db);
    OutboxRepository outbox(db);
    auto jobs = outbox.unsettled_jobs("a", 10);
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0].id, 2);
    EXPECT_EQ(jobs[0].state, "pending");
    EXPECT_EQ(jobs[0].wa_id, "");
    EXPECT_EQ(jobs[0].record, "x");
    // A sender's pass reads the entries without their records, and the
    // record of the one it sends by its id.
    auto heads = outbox.unsettled_heads("a", 10);
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].id, 2);
    EXPECT_EQ(heads[0].state, "pending");
    EXPECT_EQ(heads[0].record, "");
    EXPECT_EQ(outbox.record_of(2), std::optional<std::string>("x"));
    EXPECT_EQ(outbox.record_of(99), std::nullopt);

    EXPECT_TRUE(outbox.begin_send(2, "3EB0AA"));
    EXPECT_FALSE(outbox.begin_send(2, "3EB0BB")) << "the id is chosen once";
    outbox.defer(2, 1, 99);
    jobs = outbox.unsettled_jobs("a", 10);
    EXPECT_EQ(jobs[0].state, "in_flight");
    EXPECT_EQ(jobs[0].wa_id, "3EB0AA");
    EXPECT_EQ(jobs[0].attempts, 1);
    EXPECT_EQ(jobs[0].next_attempt_at, 99);
    EXPECT_TRUE(outbox.begin_failing(2, "refused"));
    EXPECT_FALSE(outbox.begin_failing(2, "again"));
    EXPECT_EQ(outbox.unsettled_jobs("a", 10)[0].failure, "refused");
    EXPECT_EQ(outbox.count_pending(), 1u) << "failing is not through yet";
    EXPECT_TRUE(outbox.settle(2, "failed"));
    EXPECT_EQ(outbox.count_pending(), 0u);
    EXPECT_THROW(db.exec("UPDATE outbox SET state = 'lost' WHERE id = 1"), StoreError);
    std::filesystem::remove_all(dir);
}

TEST(OutboxRepository, CountsWhatIsPendingAndInFlightPerInbox)
{
    TempDb t;
    add_inbound_row(*t.db);
    OutboxRepository outbox(*t.db);
    EXPECT_TRUE(outbox.count_unsettled_by_inbox().empty());
    for (int64_t m = 1; m <= 3; m++) {
        EXPECT_TRUE(outbox.add(send(m)));
    }
    EXPECT_TRUE(outbox.add(send(4, "sales")));
    EXPECT_TRUE(outbox.add(send(5, "done")));
    t.db->exec("UPDATE outbox SET state = 'in_flight', wa_id = 'W1' WHERE chatwoot_message_id = 1");
    t.db->exec("UPDATE outbox SET state = 'failing', failure = 'x' WHERE chatwoot_message_id = 2");
    t.db->exec("UPDATE outbox SET state = 'sent' WHERE chatwoot_message_id = 5");
    const auto counts = outbox.count_unsettled_by_inbox();
    ASSERT_EQ(counts.size(), 2u) << "an inbox with nothing unsettled is left out";
    EXPECT_EQ(counts[0].inbox, "sales");
    EXPECT_EQ(counts[0].pending, 1u);
    EXPECT_EQ(counts[0].in_flight, 0u);
    EXPECT_EQ(counts[1].inbox, "support");
    EXPECT_EQ(counts[1].pending, 1u) << "a failing entry is neither";
    EXPECT_EQ(counts[1].in_flight, 1u);
}
