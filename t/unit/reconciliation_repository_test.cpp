// Reconciled agent replies (store/reconciliation_repository.hpp) are filed
// per inbox: two inboxes on two Chatwoot installations can both have a
// message with the same id, and each must get its reply sent.  (They were
// keyed (0, Chatwoot message id) across all inboxes: the second was
// dropped as a repeat.)
#include "store/inbound_event_repository.hpp"
#include "store/outbox_repository.hpp"
#include "store/reconciliation_repository.hpp"
#include "store/schema.hpp"

#include "temp_store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

using namespace chatwoot::store;

namespace {

struct TempDb : chatwoot::test::TempStore {
    TempDb() : TempStore("reconciliation-test") {}
};

ReconciledReply reply(int64_t message_id, const std::string& inbox)
{
    return ReconciledReply{message_id, "send", 15, 1,
                           "record of " + inbox + " " + std::to_string(message_id)};
}

}  // namespace

TEST(ReconciliationRepository, TheSameMessageIdInTwoInboxesFilesBothReplies)
{
    TempDb t;
    InboundEventRepository inbound(*t.db);
    OutboxRepository outbox(*t.db);
    ReconciliationRepository marks(*t.db);

    const std::vector a = {reply(1234, "shop-a")};
    const std::vector b = {reply(1234, "shop-b")};
    EXPECT_EQ(marks.file_replies(inbound, outbox, "shop-a", a, 1000), 1u);
    EXPECT_EQ(marks.file_replies(inbound, outbox, "shop-b", b, 1000), 1u)
        << "another inbox's message 1234 is another reply";

    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events"), 2);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox WHERE state = 'pending'"
                       " AND chatwoot_message_id = 1234"),
              2);
    // Each entry points at its own inbox's record.
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox o JOIN inbound_events i"
                       " ON i.id = o.inbound_id"
                       " WHERE CAST(i.payload AS TEXT) = 'record of ' || o.inbox || ' 1234'"),
              2);
}

TEST(ReconciliationRepository, AReplyFoundAgainInItsInboxIsNotFiledTwice)
{
    TempDb t;
    InboundEventRepository inbound(*t.db);
    OutboxRepository outbox(*t.db);
    ReconciliationRepository marks(*t.db);
    const std::vector first = {reply(7, "shop-a"), reply(9, "shop-a")};
    EXPECT_EQ(marks.file_replies(inbound, outbox, "shop-a", first, 1000), 2u);
    // The next start looks a little before its mark and finds 9 again.
    const std::vector again = {reply(9, "shop-a"), reply(11, "shop-a")};
    EXPECT_EQ(marks.file_replies(inbound, outbox, "shop-a", again, 2000), 1u);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events"), 3);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox"), 3);
}

TEST(ReconciliationRepository, RowsFiledUnderTheOldSharedKeyStillStopARefiling)
{
    // A store that reconciled before the per-inbox key: its rows are at
    // epoch 0, delivery id reconciled-<inbox>-<id>.
    TempDb t;
    InboundEventRepository inbound(*t.db);
    OutboxRepository outbox(*t.db);
    ReconciliationRepository marks(*t.db);
    {
        Transaction tx(*t.db);
        const std::vector old = {
            InboundEvent{0, 7, 1, 500, {'o'}, ReconciliationRepository::delivery_id("shop-a", 7)}};
        inbound.insert_batch(old, [&](const InboundEvent&, int64_t id) {
            outbox.add(OutboxEntry{"shop-a", "send", 15, 7, id, 500});
        });
        tx.commit();
    }
    const std::vector a = {reply(7, "shop-a")};
    EXPECT_EQ(marks.file_replies(inbound, outbox, "shop-a", a, 1000), 0u);
    const std::vector b = {reply(7, "shop-b")};
    EXPECT_EQ(marks.file_replies(inbound, outbox, "shop-b", b, 1000), 1u)
        << "the old epoch-0 row of another inbox must not block it";
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox"), 2);
}

TEST(ReconciliationRepository, EachInboxHasItsOwnNegativeEpochForLife)
{
    TempDb t;
    ReconciliationRepository marks(*t.db);
    const int64_t a = marks.reply_epoch("shop-a");
    const int64_t b = marks.reply_epoch("shop-b");
    EXPECT_LT(a, 0);
    EXPECT_LT(b, 0);
    EXPECT_NE(a, b);
    EXPECT_EQ(marks.reply_epoch("shop-a"), a);
    t.db->exec("VACUUM");
    EXPECT_EQ(ReconciliationRepository(*t.db).reply_epoch("shop-b"), b);
}

TEST(ReconciliationRepository, AFailedFilingLeavesNoKeyRowsOrEntries)
{
    TempDb t;
    InboundEventRepository inbound(*t.db);
    OutboxRepository outbox(*t.db);
    ReconciliationRepository marks(*t.db);
    t.db->exec("CREATE TRIGGER no_outbox BEFORE INSERT ON outbox"
               " BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    const std::vector a = {reply(7, "shop-a")};
    EXPECT_THROW(marks.file_replies(inbound, outbox, "shop-a", a, 1000), StoreError);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events"), 0);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbox_keys"), 0);
}
