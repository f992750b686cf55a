// Retention (store/retention.hpp) with a fake clock: what is done goes
// after its horizon, what a duplicate check needs stays until its own,
// pending work and dead letters are never touched, and each step is
// bounded.

#include "store/outbox_repository.hpp"
#include "store/reconciliation_repository.hpp"
#include "store/retention.hpp"
#include "store/schema.hpp"
#include "store/wa_inbound_repository.hpp"

#include "temp_store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

using namespace chatwoot::store;

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kT0 = 1800000000;   // when the rows are written

struct TempDb : chatwoot::test::TempStore {
    TempDb() : TempStore("retention-test") {}
    // An inbound event received at `at`; returns its id.
    int64_t inbound(int64_t at, const std::string& delivery, const std::string& body = "{...}")
    {
        db->prepare("INSERT INTO inbound_events (ring_epoch, ring_seq, kind, received_at,"
                    " payload, delivery_id) VALUES (7, ?1, 1, ?2, ?3, ?4)")
            .bind(1, ++seq)
            .bind(2, at)
            .bind(3, body)
            .bind(4, delivery)
            .run();
        return db->last_insert_id();
    }
    // An agent reply filed at `at` from a new inbound row, in `state`.
    int64_t reply(int64_t at, int64_t message_id, const std::string& state,
                  const std::string& inbox = "support")
    {
        const int64_t in = inbound(at, "d-" + inbox + std::to_string(message_id));
        db->prepare("INSERT INTO outbox (inbox, action, conversation_id, chatwoot_message_id,"
                    " inbound_id, state, created_at) VALUES (?1, 'send', 15, ?2, ?3, ?4, ?5)")
            .bind(1, inbox)
            .bind(2, message_id)
            .bind(3, in)
            .bind(4, state)
            .bind(5, at)
            .run();
        return in;
    }
    int64_t payload_size(int64_t inbound_id)
    {
        return scalar("SELECT length(payload) FROM inbound_events WHERE id = "
                      + std::to_string(inbound_id));
    }
    int64_t seq = 0;
};

// Steps until the store has nothing more to do; totals what was done.
Retention::Report settle(Retention& r, int64_t now, size_t limit = 1000)
{
    Retention::Report total;
    for (int i = 0; i < 100000; i++) {
        const auto step = r.prune(now, limit);
        total.compacted += step.compacted;
        total.deleted += step.deleted;
        if (!step.more) {
            return total;
        }
    }
    ADD_FAILURE() << "prune never said it was done";
    return total;
}

}  // namespace

TEST(Retention, InboundEventsThatFiledNothingGoAfterTheCompactHorizon)
{
    TempDb t;
    const int64_t typing = t.inbound(kT0, "typing-1");
    const int64_t typing_later = t.inbound(kT0 + 2 * kDay, "typing-2");
    const int64_t reply = t.reply(kT0, 501, "pending");
    Retention r(*t.db);

    EXPECT_EQ(settle(r, kT0 + 7 * kDay - 1).deleted, 0u) << "not yet seven days old";
    const auto report = settle(r, kT0 + 7 * kDay + 1);
    EXPECT_EQ(report.deleted, 1u);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events WHERE id = " + std::to_string(typing)), 0);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events WHERE id = "
                       + std::to_string(typing_later)), 1);
    EXPECT_EQ(t.payload_size(reply), 5) << "a pending entry's body is its work";
    settle(r, kT0 + 10 * kDay);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events"), 1) << "only the reply's row";
}

TEST(Retention, ASettledReplyKeepsItsKeysButNotItsBody)
{
    TempDb t;
    const int64_t sent = t.reply(kT0, 501, "sent");
    const int64_t failed = t.reply(kT0, 502, "failed");
    const int64_t pending = t.reply(kT0, 503, "pending");
    const int64_t young = t.reply(kT0 + 3 * kDay, 504, "sent");
    Retention r(*t.db);
    const auto report = settle(r, kT0 + 8 * kDay);
    EXPECT_EQ(report.compacted, 2u);
    EXPECT_EQ(report.deleted, 0u);
    EXPECT_EQ(t.payload_size(sent), 0);
    EXPECT_EQ(t.payload_size(failed), 0);
    EXPECT_EQ(t.payload_size(pending), 5);
    EXPECT_EQ(t.payload_size(young), 5);

    // The keys still stop a repeat: the same message again (Chatwoot, a
    // reconciliation), the same delivery again (a replay).
    OutboxRepository outbox(*t.db);
    {
        Transaction tx(*t.db);
        EXPECT_FALSE(outbox.add(OutboxEntry{"support", "send", 15, 501, sent, kT0 + 8 * kDay}));
        tx.commit();
    }
    EXPECT_THROW(t.inbound(kT0 + 8 * kDay, "d-support501"), StoreError);
}

TEST(Retention, ReplyKeysGoAfterTheForgetHorizonOnlyOnceReconciliationIsPastThem)
{
    TempDb t;
    const int64_t a = t.reply(kT0, 501, "sent", "support");
    const int64_t b = t.reply(kT0, 501, "sent", "sales");
    ReconciliationRepository marks(*t.db);
    Retention r(*t.db);
    const int64_t later = kT0 + 401 * kDay;

    // "support" was reconciled at start-up long after; "sales" never (no
    // mark: its first reconciliation could still look back).
    marks.set_reconciled_until("support", kT0 + 2 * kDay);
    const auto report = settle(r, later);
    EXPECT_EQ(report.deleted, 2u) << "the outbox row and its inbound row";
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox WHERE inbox = 'support'"), 0);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events WHERE id = " + std::to_string(a)), 0);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox WHERE inbox = 'sales'"), 1);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events WHERE id = " + std::to_string(b)), 1);

    // A mark less than a day past the reply is not enough.
    marks.set_reconciled_until("sales", kT0 + kDay / 2);
    settle(r, later + kDay);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox WHERE inbox = 'sales'"), 1);
    marks.set_reconciled_until("sales", kT0 + 2 * kDay);
    settle(r, later + 2 * kDay);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox"), 0);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events"), 0);
}

TEST(Retention, WhatsAppMessagesKeepTheirIdAndMappingUntilTheForgetHorizon)
{
    TempDb t;
    WaInboundRepository inbound(*t.db);
    {
        Transaction tx(*t.db);
        inbound.add("main", "WA-POSTED", "chat", "{\"text\":\"hello\"}", kT0);
        inbound.add("main", "WA-PENDING", "chat", "{\"text\":\"wait\"}", kT0);
        tx.commit();
    }
    const int64_t posted = t.scalar("SELECT id FROM wa_inbound WHERE wa_id = 'WA-POSTED'");
    inbound.settle(posted, true, 9001, "", "main", "chat", ChatRow{1, 2});
    Retention r(*t.db);

    EXPECT_EQ(settle(r, kT0 + 8 * kDay).compacted, 1u);
    EXPECT_EQ(t.scalar("SELECT length(record) FROM wa_inbound WHERE wa_id = 'WA-POSTED'"), 0);
    EXPECT_EQ(t.scalar("SELECT chatwoot_message_id FROM wa_inbound WHERE wa_id = 'WA-POSTED'"),
              9001) << "the mapping stays (reply links, history import)";
    EXPECT_GT(t.scalar("SELECT length(record) FROM wa_inbound WHERE wa_id = 'WA-PENDING'"), 0);
    {
        Transaction tx(*t.db);
        EXPECT_FALSE(inbound.add("main", "WA-POSTED", "chat", "{}", kT0 + 8 * kDay))
            << "WhatsApp redelivering it is still a repeat";
        tx.commit();
    }

    EXPECT_EQ(settle(r, kT0 + 401 * kDay).deleted, 1u);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_inbound"), 1) << "the pending one stays";
}

TEST(Retention, OurSendsIdsGoAfterTheForgetHorizonAndDeadLettersStay)
{
    TempDb t;
    t.db->exec("INSERT INTO wa_sent VALUES ('main', 'OLD', 'chat', 1, 1800000000),"
               " ('main', 'NEW', 'chat', 2, 1830000000)");
    t.db->exec("INSERT INTO dead_letters (ring_epoch, ring_seq, kind, received_at, payload,"
               " error, set_aside_at) VALUES (7, 1, 1, 1800000000, x'00', 'CHECK', 1800000000)");
    Retention r(*t.db);
    EXPECT_EQ(settle(r, kT0 + 401 * kDay).deleted, 1u);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_sent WHERE wa_id = 'NEW'"), 1);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_sent"), 1);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM dead_letters"), 1);
}

TEST(Retention, EachStepIsBoundedAndALaterSettledEntryIsFoundOnTheNextPass)
{
    TempDb t;
    for (int i = 0; i < 35; i++) {
        t.inbound(kT0, "typing-" + std::to_string(i));
    }
    const int64_t stuck = t.reply(kT0, 700, "pending");
    for (int i = 0; i < 20; i++) {
        t.reply(kT0, 800 + i, "sent");
    }
    Retention r(*t.db);
    const auto first = r.prune(kT0 + 8 * kDay, 10);
    EXPECT_LE(first.deleted, 10u);
    EXPECT_LE(first.compacted, 10u);
    EXPECT_TRUE(first.more);
    settle(r, kT0 + 8 * kDay, 10);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events WHERE kind = 1 AND delivery_id"
                       " LIKE 'typing-%'"), 0);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events WHERE length(payload) > 0"), 1);
    EXPECT_EQ(r.prune(kT0 + 8 * kDay, 10).more, false) << "nothing to do: wait for the interval";

    // The stuck entry is settled at last: the next pass starts at it.
    t.db->exec("UPDATE outbox SET state = 'failed' WHERE chatwoot_message_id = 700");
    EXPECT_EQ(settle(r, kT0 + 9 * kDay, 10).compacted, 1u);
    EXPECT_EQ(t.payload_size(stuck), 0);
}

TEST(Retention, RowsWrittenAfterAnEmptyStartAreSwept)
{
    TempDb t;
    Retention r(*t.db);
    EXPECT_FALSE(r.prune(kT0, 100).more) << "an empty store";
    for (int i = 0; i < 5; i++) {
        t.inbound(kT0, "typing-" + std::to_string(i));
    }
    EXPECT_EQ(settle(r, kT0 + 8 * kDay, 100).deleted, 5u);
}

TEST(Retention, HandledStanzasKeepTheirKeyAndOwedReceiptsTheirBytes)
{
    TempDb t;
    auto stanza = [&](const std::string& key, std::optional<int64_t> done,
                      std::optional<std::string> receipt) {
        auto st = t.db->prepare("INSERT INTO wa_stanzas (device, stanza_key, tag, received_at, node,"
                                " done_at, receipt) VALUES ('support', ?1, 'message', ?2, x'f80102',"
                                " ?3, ?4)");
        st.bind(1, key).bind(2, kT0);
        if (done) st.bind(3, *done); else st.bind_null(3);
        if (receipt) st.bind(4, *receipt); else st.bind_null(4);
        st.run();
        return t.db->last_insert_id();
    };
    const int64_t handled = stanza("a", kT0, std::nullopt);
    const int64_t owed = stanza("b", kT0, std::string());
    const int64_t todo = stanza("c", std::nullopt, std::nullopt);
    const int64_t young = stanza("d", kT0 + 5 * kDay, std::nullopt);
    auto size = [&](int64_t id) {
        return t.scalar("SELECT length(node) FROM wa_stanzas WHERE id = " + std::to_string(id));
    };
    Retention r(*t.db);
    EXPECT_EQ(settle(r, kT0 + 8 * kDay).compacted, 1u);
    EXPECT_EQ(size(handled), 0) << "handled a week ago: the bytes go";
    EXPECT_EQ(size(owed), 3) << "its receipt is addressed from the bytes";
    EXPECT_EQ(size(todo), 3) << "not handled yet: work";
    EXPECT_EQ(size(young), 3);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_stanzas"), 4) << "keys stay until forget_after";

    settle(r, kT0 + 401 * kDay);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_stanzas WHERE id = " + std::to_string(handled)), 0);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_stanzas"), 3) << "owed and unhandled rows stay";
}

TEST(Retention, RecentSendsGoAfterAWeek)
{
    TempDb t;
    auto send = [&](const std::string& id, int64_t at) {
        t.db->prepare("INSERT INTO wa_recent_sends (device, id, chat, message, sent_at)"
                      " VALUES ('support', ?1, '1@lid', x'0a0168', ?2)")
            .bind(1, id)
            .bind(2, at)
            .run();
    };
    send("old", kT0);
    send("new", kT0 + 6 * kDay);
    Retention r(*t.db);
    EXPECT_EQ(settle(r, kT0 + 7 * kDay + 1).deleted, 1u);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_recent_sends WHERE id = 'new'"), 1);
}

TEST(Retention, ApiSendsLoseTheirTextAfterAWeekAndTheirRowAfterTheForgetHorizon)
{
    TempDb t;
    auto send = [&](const std::string& id, const std::string& state, int64_t at) {
        t.db->prepare("INSERT INTO api_sends (id, inbox, chat, text, state, created_at,"
                      " updated_at) VALUES (?1, 'support', '1@s.whatsapp.net', 'hello', ?2,"
                      " ?3, ?3)")
            .bind(1, id)
            .bind(2, state)
            .bind(3, at)
            .run();
    };
    send("sent-old", "sent", kT0);
    send("open-old", "sending", kT0);
    send("sent-new", "sent", kT0 + 6 * kDay);
    Retention r(*t.db);
    EXPECT_EQ(settle(r, kT0 + 7 * kDay + 1).compacted, 1u);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM api_sends WHERE text = ''"), 1);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM api_sends WHERE id = 'sent-old' AND text = ''"), 1);
    // Forgotten: the settled one; a send still on its way never is.
    settle(r, kT0 + 401 * kDay);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM api_sends WHERE id = 'sent-old'"), 0);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM api_sends WHERE id = 'open-old'"), 1);
}
