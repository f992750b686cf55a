// What the helper's drain relies on when it stores a batch of webhooks:
// the inbound rows go in several to a statement, and each new row is still
// reported once, in batch order, with its own id (the outbox row points at
// it); the outbox entries go in several to a statement with the same
// result as one add() each.  And the shared replay filter's probing, which
// was rewritten without its per-slot division, visits the slots it did.
#include "chatwoot_replay.h"
#include "store/inbound_event_repository.hpp"
#include "store/outbox_repository.hpp"
#include "store/schema.hpp"

#include "temp_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace chatwoot::store;

namespace {

struct TempDb : chatwoot::test::TempStore {
    TempDb() : TempStore("drain-store-test") {}
    // (ring_epoch, ring_seq) -> id of every stored row.
    std::map<std::pair<int64_t, int64_t>, int64_t> ids()
    {
        std::map<std::pair<int64_t, int64_t>, int64_t> out;
        auto st = db->prepare("SELECT ring_epoch, ring_seq, id FROM inbound_events");
        st.each_row([&](const Statement& s) {
            out[{s.column_int(0), s.column_int(1)}] = s.column_int(2);
        });
        return out;
    }
};

InboundEvent event(uint64_t epoch, uint64_t seq, std::string delivery = "")
{
    return InboundEvent{epoch, seq, 1, 1000, {'r', static_cast<unsigned char>(seq)},
                        std::move(delivery)};
}

struct Reported {
    const InboundEvent* event;
    int64_t id;
};

// Stores the batch and checks what was reported against the table: each
// new row once, in batch order, with the id it has.
std::vector<Reported> store(TempDb& t, InboundEventRepository& repo,
                            const std::vector<InboundEvent>& batch, size_t expect_added)
{
    std::vector<Reported> reported;
    const size_t added = repo.insert_batch(batch, [&](const InboundEvent& e, int64_t id) {
        reported.push_back(Reported{&e, id});
    });
    EXPECT_EQ(added, expect_added);
    EXPECT_EQ(reported.size(), expect_added);
    const auto ids = t.ids();
    const InboundEvent* previous = nullptr;
    for (const Reported& r : reported) {
        EXPECT_GE(r.event, batch.data());
        EXPECT_LT(r.event, batch.data() + batch.size());
        if (previous != nullptr) {
            EXPECT_GT(r.event, previous) << "reported out of batch order";
        }
        previous = r.event;
        const auto it = ids.find({static_cast<int64_t>(r.event->ring_epoch),
                                  static_cast<int64_t>(r.event->ring_seq)});
        EXPECT_TRUE(it != ids.end());
        if (it != ids.end()) {
            EXPECT_EQ(r.id, it->second) << "seq " << r.event->ring_seq;
        }
    }
    return reported;
}

}  // namespace

TEST(DrainStore, EveryNewRowIsReportedWithItsIdAcrossStatements)
{
    TempDb t;
    InboundEventRepository repo(*t.db);
    // More than a few statements' worth, and a size that leaves a short
    // last statement.
    std::vector<InboundEvent> batch;
    for (uint64_t seq = 1; seq <= 3 * InboundEventRepository::kRowsPerInsert + 5; seq++) {
        batch.push_back(event(7, seq, "d-" + std::to_string(seq)));
    }
    store(t, repo, batch, batch.size());
    EXPECT_EQ(repo.count(), batch.size());
}

TEST(DrainStore, RepeatsInsideAStatementAreSkippedAndTheRestReported)
{
    TempDb t;
    InboundEventRepository repo(*t.db);
    store(t, repo, {event(7, 1, "d-1"), event(7, 2), event(7, 3, "d-3")}, 3);
    // A helper killed between commit and pop finds the same records again;
    // Chatwoot resends a delivery id; both among new rows.
    std::vector<InboundEvent> batch;
    for (uint64_t seq = 1; seq <= 40; seq++) {
        batch.push_back(event(7, seq, seq == 10 ? "d-3" : seq == 11 ? "d-12" : ""));
    }
    batch.push_back(event(7, 41, "d-12"));  // the same delivery id, later
    const auto reported = store(t, repo, batch, 40 - 3 - 1);
    for (const Reported& r : reported) {
        EXPECT_NE(r.event->ring_seq, 10u) << "its delivery id was stored already";
        EXPECT_NE(r.event->ring_seq, 41u) << "its delivery id came earlier in the batch";
    }
}

TEST(DrainStore, OutOfOrderAndRepeatedPositionsInOneBatch)
{
    TempDb t;
    InboundEventRepository repo(*t.db);
    // Positions the ring never gives, but the store must not mix up: the
    // same position twice, going back, two epochs interleaved.
    const std::vector<InboundEvent> batch = {event(7, 5), event(7, 5), event(7, 3),
                                             event(8, 4), event(7, 4), event(8, 4),
                                             event(7, 6), event(9, 1)};
    const auto reported = store(t, repo, batch, 6);
    ASSERT_EQ(reported.size(), 6u);
    EXPECT_EQ(reported[0].event, &batch[0]);
    EXPECT_EQ(reported[1].event, &batch[2]);
}

TEST(DrainStore, IdsNearTheLargestIntegerAreStillRight)
{
    // Once the table holds the largest rowid SQLite picks new ids at
    // random; the repository must then ask which ones it got.
    TempDb t;
    InboundEventRepository repo(*t.db);
    t.db->exec("INSERT INTO inbound_events (id, ring_epoch, ring_seq, kind, received_at, payload)"
               " VALUES (9223372036854775807, 1, 1, 1, 1, x'00')");
    std::vector<InboundEvent> batch;
    for (uint64_t seq = 1; seq <= 70; seq++) {
        batch.push_back(event(7, seq, seq == 3 ? "dup" : seq == 50 ? "dup" : ""));
    }
    store(t, repo, batch, 69);
    // And just below it, where a batch would run into it.
    TempDb u;
    InboundEventRepository near(*u.db);
    u.db->exec("INSERT INTO inbound_events (id, ring_epoch, ring_seq, kind, received_at, payload)"
               " VALUES (9223372036854775800, 1, 1, 1, 1, x'00')");
    store(u, near, batch, 69);
}

TEST(DrainStore, BeforeCommitRunsInsideTheTransaction)
{
    TempDb t;
    InboundEventRepository repo(*t.db);
    OutboxRepository outbox(*t.db);
    std::vector<OutboxEntry> filed;
    const std::vector<InboundEvent> batch = {event(7, 1, "d-1"), event(7, 2, "d-2")};
    EXPECT_THROW(repo.insert_batch(
                     batch,
                     [&](const InboundEvent& e, int64_t id) {
                         filed.push_back(OutboxEntry{"support", "send", 15,
                                                     static_cast<int64_t>(e.ring_seq), id, 1});
                     },
                     [&] {
                         outbox.add_all(filed);
                         throw std::runtime_error("disk full");
                     }),
                 std::runtime_error);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events"), 0) << "rolled back";
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox"), 0) << "rolled back";

    filed.clear();
    repo.insert_batch(
        batch,
        [&](const InboundEvent& e, int64_t id) {
            filed.push_back(
                OutboxEntry{"support", "send", 15, static_cast<int64_t>(e.ring_seq), id, 1});
        },
        [&] { EXPECT_EQ(outbox.add_all(filed), 2u); });
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox o JOIN inbound_events i"
                       " ON i.id = o.inbound_id AND i.ring_seq = o.chatwoot_message_id"),
              2);
}

TEST(DrainStore, AddAllFilesWhatAddOneByOneWould)
{
    // The same entries through add() in one database and add_all() in
    // another: the same rows in the same order, the same count of new ones.
    std::mt19937 rng(3);
    std::vector<OutboxEntry> entries;
    for (int i = 0; i < 150; i++) {
        const char* actions[] = {"send", "delete", "status"};
        const std::string action = actions[rng() % 3];
        std::optional<int64_t> message;
        if (action != "status") {
            message = static_cast<int64_t>(rng() % 60);  // repeats on purpose
        }
        entries.push_back(OutboxEntry{rng() % 4 == 0 ? "other" : "support", action,
                                      static_cast<int64_t>(rng() % 5), message, 1, i});
    }
    auto rows = [](TempDb& t) {
        std::vector<std::string> out;
        auto st = t.db->prepare(
            "SELECT id, inbox, action, conversation_id, ifnull(chatwoot_message_id, -1),"
            " inbound_id, created_at, state FROM outbox ORDER BY id");
        st.each_row([&](const Statement& s) {
            out.push_back(std::to_string(s.column_int(0)) + s.column_text(1) + s.column_text(2)
                          + std::to_string(s.column_int(3)) + ","
                          + std::to_string(s.column_int(4)) + ","
                          + std::to_string(s.column_int(5)) + ","
                          + std::to_string(s.column_int(6)) + s.column_text(7));
        });
        return out;
    };
    TempDb one;
    TempDb all;
    size_t added_one = 0;
    for (TempDb* t : {&one, &all}) {
        InboundEventRepository(*t->db).insert_batch(std::vector{event(1, 1)});
    }
    {
        OutboxRepository outbox(*one.db);
        Transaction tx(*one.db);
        for (const OutboxEntry& e : entries) {
            added_one += outbox.add(e) ? 1 : 0;
        }
        tx.commit();
    }
    {
        OutboxRepository outbox(*all.db);
        Transaction tx(*all.db);
        EXPECT_EQ(outbox.add_all(entries), added_one);
        tx.commit();
    }
    EXPECT_EQ(rows(all), rows(one));
    // An entry the table refuses fails the whole call, as add() would.
    OutboxRepository outbox(*all.db);
    std::vector<OutboxEntry> bad(40, OutboxEntry{"support", "status", 1, std::nullopt, 1, 1});
    bad[35].action = "typing";
    EXPECT_THROW(outbox.add_all(bad), StoreError);
}

// --- dead letters: a record the store refuses does not block its batch ---------------------

namespace {

// What the helper's drain does with a batch (queue_drain.cpp): each new
// row gets an outbox entry, written before the commit; the fallback files
// one record at a time.  A message id of 666 gets an action the outbox's
// CHECK refuses: a record carrying an error of its own.
struct Drain {
    explicit Drain(TempDb& t) : repo(*t.db), outbox(*t.db) {}

    void file(const InboundEvent& e, int64_t id)
    {
        const auto message = static_cast<int64_t>(e.ring_seq);
        filed.push_back(OutboxEntry{"support", message == 666 ? "archive" : "send", 15,
                                    message, id, 1});
    }

    size_t batch(const std::vector<InboundEvent>& events)
    {
        filed.clear();
        return repo.insert_batch(
            events, [&](const InboundEvent& e, int64_t id) { file(e, id); },
            [&] { outbox.add_all(filed); });
    }

    InboundEventRepository::Sorted each(const std::vector<InboundEvent>& events)
    {
        filed.clear();   // what a failed batch() left
        return repo.insert_each(
            events, 5000,
            [&](const InboundEvent& e, int64_t id) {
                filed.clear();
                file(e, id);
            },
            [&] {
                try {
                    outbox.add_all(filed);
                } catch (...) {
                    filed.clear();
                    throw;
                }
                filed.clear();
            });
    }

    InboundEventRepository repo;
    OutboxRepository outbox;
    std::vector<OutboxEntry> filed;
};

}  // namespace

TEST(DrainStore, ARecordTheStoreRefusesIsSetAsideAndTheRestCommit)
{
    TempDb t;
    Drain drain(t);
    const std::vector<InboundEvent> batch = {event(7, 665, "d-665"), event(7, 666, "d-666"),
                                             event(7, 667, "d-667")};
    try {
        drain.batch(batch);
        FAIL() << "the whole batch fails: this is what used to repeat every second";
    } catch (const StoreError& e) {
        EXPECT_TRUE(is_record_error(e.code())) << e.what();
    }
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events"), 0);

    const auto sorted = drain.each(batch);
    EXPECT_EQ(sorted.added, 2u);
    ASSERT_EQ(sorted.set_aside.size(), 1u);
    EXPECT_EQ(sorted.set_aside[0].index, 1u);
    EXPECT_EQ(sorted.set_aside[0].error, "step: CHECK constraint failed: outbox_action");
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events WHERE ring_seq IN (665, 667)"), 2);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events WHERE ring_seq = 666"), 0)
        << "the refused record's row went with its entry";
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox o JOIN inbound_events i"
                       " ON i.id = o.inbound_id AND i.ring_seq = o.chatwoot_message_id"),
              2);
    // Kept verbatim, with why and when.
    auto st = t.db->prepare("SELECT ring_epoch, ring_seq, kind, received_at, hex(payload),"
                            " error, set_aside_at FROM dead_letters");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_int(0), 7);
    EXPECT_EQ(st.column_int(1), 666);
    EXPECT_EQ(st.column_int(2), 1);
    EXPECT_EQ(st.column_int(3), 1000);
    EXPECT_EQ(st.column_text(4), "72" + std::string(666 % 256 < 16 ? "0" : "") + "9A");
    EXPECT_EQ(st.column_text(5), sorted.set_aside[0].error);
    EXPECT_EQ(st.column_int(6), 5000);
    EXPECT_FALSE(st.step());
    st.reset();
    EXPECT_EQ(drain.repo.count_dead_letters(), 1u);
}

TEST(DrainStore, TheSameBatchDrainedAgainSetsItsRecordAsideOnce)
{
    // A helper killed after the commit and before the pop finds the batch
    // again: the good rows are repeats, the bad one is refused again.
    TempDb t;
    Drain drain(t);
    const std::vector<InboundEvent> batch = {event(7, 665), event(7, 666), event(7, 667)};
    EXPECT_EQ(drain.each(batch).added, 2u);
    EXPECT_THROW(drain.batch(batch), StoreError);
    const auto again = drain.each(batch);
    EXPECT_EQ(again.added, 0u);
    EXPECT_EQ(again.set_aside.size(), 1u);
    EXPECT_EQ(drain.repo.count_dead_letters(), 1u);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox"), 2);
}

TEST(DrainStore, ATransientErrorWhileSortingCommitsNothing)
{
    // A full disk is the database's state, not a record's: the batch stays
    // queued for the next attempt, nothing is set aside.
    TempDb t;
    Drain drain(t);
    t.db->exec("PRAGMA max_page_count = " + std::to_string(t.scalar("PRAGMA page_count") + 2));
    std::vector<InboundEvent> batch = {event(7, 665), event(7, 666), event(7, 667)};
    batch[2].payload.assign(256 * 1024, 'x');
    try {
        drain.each(batch);
        FAIL() << "insert_each must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(e.code() & 0xff, SQLITE_FULL) << e.what();
        EXPECT_FALSE(is_record_error(e.code()));
    }
    EXPECT_EQ(t.scalar("SELECT count(*) FROM inbound_events"), 0);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM dead_letters"), 0);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM outbox"), 0);
}

TEST(DrainStore, OnlyErrorsTheRecordCarriesAreRecordErrors)
{
    for (int code : {SQLITE_CONSTRAINT_CHECK, SQLITE_CONSTRAINT_NOTNULL,
                     SQLITE_CONSTRAINT_TRIGGER, SQLITE_CONSTRAINT_FOREIGNKEY, SQLITE_MISMATCH,
                     SQLITE_TOOBIG}) {
        EXPECT_TRUE(is_record_error(code)) << code;
    }
    for (int code : {SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED, SQLITE_IOERR_FSYNC,
                     SQLITE_FULL, SQLITE_NOMEM, SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_CORRUPT,
                     SQLITE_ERROR, SQLITE_ABORT, 0}) {
        EXPECT_FALSE(is_record_error(code)) << code;
    }
}

// --- the replay filter's slots -------------------------------------------------------------

namespace {

// The probing as it was: (key + i) % slots_n, one division per slot.
struct OldReplay {
    explicit OldReplay(size_t n, uint64_t ttl) : slots(n), ttl(ttl) {}
    static uint64_t nonzero(uint64_t k) { return k == 0 ? 1 : k; }
    bool seen(uint64_t key, uint64_t now) const
    {
        key = nonzero(key);
        for (uint64_t i = 0; i < 8 && i < slots.size(); i++) {
            const auto& s = slots[(key + i) % slots.size()];
            if (s.first == key && s.second > now) {
                return true;
            }
        }
        return false;
    }
    void remember(uint64_t key, uint64_t now)
    {
        key = nonzero(key);
        std::pair<uint64_t, uint64_t>* victim = nullptr;
        for (uint64_t i = 0; i < 8 && i < slots.size(); i++) {
            auto& s = slots[(key + i) % slots.size()];
            if (s.first == key || s.first == 0 || s.second <= now) {
                victim = &s;
                break;
            }
            if (victim == nullptr || s.second < victim->second) {
                victim = &s;
            }
        }
        victim->first = key;
        victim->second = now + ttl;
    }
    std::vector<std::pair<uint64_t, uint64_t>> slots;
    uint64_t ttl;
};

}  // namespace

TEST(DrainStore, ReplayFilterUsesTheSlotsItAlwaysDid)
{
    std::mt19937_64 rng(5);
    for (size_t n : {1, 2, 7, 8, 9, 64, 1000}) {
        std::vector<uint64_t> mem((cw_replay_footprint(n) + 7) / 8);
        auto* table = reinterpret_cast<cw_replay_t*>(mem.data());
        cw_replay_init(table, n, 100);
        OldReplay old(n, 100);
        uint64_t now = 1000;
        for (int op = 0; op < 20000; op++) {
            // Keys near 2^64 (where key + i wraps), small ones, colliding ones.
            uint64_t key = rng();
            switch (rng() % 4) {
            case 0: key = std::numeric_limits<uint64_t>::max() - rng() % 16; break;
            case 1: key = rng() % 32; break;
            case 2: key = (rng() % 4) * n + 3; break;
            default: break;
            }
            now += rng() % 3;
            if (rng() % 2) {
                cw_replay_remember(table, key, now);
                old.remember(key, now);
            }
            ASSERT_EQ(cw_replay_seen(table, key, now) != 0, old.seen(key, now)) << n << ' ' << op;
        }
        for (size_t i = 0; i < n; i++) {
            ASSERT_EQ(table->slots[i].key, old.slots[i].first) << n << ' ' << i;
            ASSERT_EQ(table->slots[i].expires, old.slots[i].second) << n << ' ' << i;
        }
    }
}
