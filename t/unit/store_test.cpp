// Unit tests of the SQLite store (src/store/): connection settings, schema
// migration, the inbound event repository and the RAII wrappers.  Every test
// gets its own temporary directory with real database files.

#include "store/inbound_event_repository.hpp"
#include "store/schema.hpp"
#include "store/sqlite_handle.hpp"
#include "store/wa_stanza_repository.hpp"
#include "temp_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using chatwoot::store::Database;
using chatwoot::store::InboundEvent;
using chatwoot::store::InboundEventRepository;
using chatwoot::store::latest_schema_version;
using chatwoot::store::migrate;
using chatwoot::store::schema_version;
using chatwoot::store::latest_schema_version;
using chatwoot::store::Statement;
using chatwoot::store::StoreError;
using chatwoot::store::Transaction;

// One row of inbound_events as stored, read back with the raw C API so the
// check does not depend on the wrappers under test.
struct Row {
    uint64_t epoch;
    uint64_t seq;
    uint32_t kind;
    int64_t received_at;
    std::vector<unsigned char> payload;
    std::string payload_type;

    bool operator==(const Row&) const = default;
};

void PrintTo(const Row& r, std::ostream* os)
{
    *os << "{epoch " << r.epoch << ", seq " << r.seq << ", kind " << r.kind
        << ", received_at " << r.received_at << ", " << r.payload.size()
        << " " << r.payload_type << " bytes}";
}

std::vector<Row> rows(Database& db)
{
    sqlite3_stmt* st = nullptr;
    const char* sql =
        "SELECT ring_epoch, ring_seq, kind, received_at, payload,"
        " typeof(payload) FROM inbound_events ORDER BY id";
    EXPECT_EQ(sqlite3_prepare_v2(db.raw(), sql, -1, &st, nullptr), SQLITE_OK);
    std::vector<Row> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        Row r;
        r.epoch = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
        r.seq = static_cast<uint64_t>(sqlite3_column_int64(st, 1));
        r.kind = static_cast<uint32_t>(sqlite3_column_int64(st, 2));
        r.received_at = sqlite3_column_int64(st, 3);
        const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(st, 4));
        int n = sqlite3_column_bytes(st, 4);
        r.payload.assign(p, p + n);
        r.payload_type = reinterpret_cast<const char*>(sqlite3_column_text(st, 5));
        out.push_back(std::move(r));
    }
    EXPECT_EQ(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    return out;
}

int64_t query_int(Database& db, const std::string& sql)
{
    auto st = db.prepare(sql);
    EXPECT_TRUE(st.step()) << sql;
    return st.column_int(0);
}

std::string query_text(Database& db, const std::string& sql)
{
    auto st = db.prepare(sql);
    EXPECT_TRUE(st.step()) << sql;
    return st.column_text(0);
}

std::vector<unsigned char> bytes(std::string_view s)
{
    return {s.begin(), s.end()};
}

InboundEvent event(uint64_t epoch, uint64_t seq, std::string_view payload,
                   uint32_t kind = 1, int64_t received_at = 1700000000)
{
    return InboundEvent{epoch, seq, kind, received_at, bytes(payload), {}};
}

Row row_of(const InboundEvent& e)
{
    return Row{e.ring_epoch, e.ring_seq, e.kind, e.received_at, e.payload,
               "blob"};
}

class Store : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "cw_store_XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        path_ = (dir_ / "store.db").string();
    }

    void TearDown() override
    {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    // A migrated store, as the helper opens it.
    Database open_migrated()
    {
        Database db = Database::open(path_);
        migrate(db);
        return db;
    }

    std::filesystem::path dir_;
    std::string path_;
};

// ---------------------------------------------------------------------------
// Connection settings

TEST_F(Store, OpenCreatesTheFileWithWalAndFullSync)
{
    Database db = Database::open(path_);
    EXPECT_TRUE(std::filesystem::exists(path_));
    EXPECT_EQ(query_text(db, "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(query_int(db, "PRAGMA synchronous"), 2) << "2 is FULL";
    EXPECT_EQ(query_int(db, "PRAGMA foreign_keys"), 1);
}

TEST_F(Store, SettingsApplyAgainOnReopen)
{
    // synchronous is per connection: every open must set it again.
    { Database db = Database::open(path_); }
    Database db = Database::open(path_);
    EXPECT_EQ(query_text(db, "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(query_int(db, "PRAGMA synchronous"), 2);
}

TEST_F(Store, OpenInAMissingDirectoryThrowsStoreErrorNamingThePath)
{
    const std::string bad = (dir_ / "no" / "such" / "dir" / "x.db").string();
    try {
        Database::open(bad);
        FAIL() << "open must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "open " + bad + ": unable to open database file");
        EXPECT_EQ(e.code() & 0xff, SQLITE_CANTOPEN);
    }
}

TEST_F(Store, OpenOfAFileThatIsNotADatabaseThrowsStoreError)
{
    // The connection settings are the first statements to read the file;
    // the half-open handle must be closed (LeakSanitizer checks that in the
    // sanitizer build).
    {
        std::FILE* f = std::fopen(path_.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        const std::string junk(8192, 'j');
        ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
        std::fclose(f);
    }
    try {
        Database::open(path_);
        FAIL() << "open must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()), "exec: file is not a database");
        EXPECT_EQ(e.code(), SQLITE_NOTADB);
    }
}

// ---------------------------------------------------------------------------
// Schema

TEST_F(Store, MigrateFreshFileGivesTheLatestVersionAndTheTables)
{
    Database db = Database::open(path_);
    EXPECT_EQ(schema_version(db), 0);
    migrate(db);
    EXPECT_EQ(schema_version(db), latest_schema_version());
    EXPECT_EQ(query_int(db, "PRAGMA user_version"), latest_schema_version());
    EXPECT_EQ(query_int(db,
                        "SELECT count(*) FROM sqlite_master"
                        " WHERE type = 'table' AND name = 'outbox'"),
              1);
    EXPECT_EQ(query_int(db,
                        "SELECT count(*) FROM sqlite_master"
                        " WHERE type = 'table' AND name = 'inbound_events'"),
              1);

    // Columns in order, with their declared types and NOT NULL flags.
    auto st = db.prepare("SELECT name, type, \"notnull\", pk"
                         " FROM pragma_table_info('inbound_events') ORDER BY cid");
    const struct {
        const char* name;
        const char* type;
        int notnull;
        int pk;
    } want[] = {
        {"id", "INTEGER", 0, 1},         {"ring_epoch", "INTEGER", 1, 0},
        {"ring_seq", "INTEGER", 1, 0},   {"kind", "INTEGER", 1, 0},
        {"received_at", "INTEGER", 1, 0}, {"payload", "BLOB", 1, 0},
        {"delivery_id", "TEXT", 0, 0},
    };
    for (const auto& w : want) {
        ASSERT_TRUE(st.step()) << w.name;
        EXPECT_EQ(st.column_text(0), w.name);
        EXPECT_EQ(st.column_text(1), w.type) << w.name;
        EXPECT_EQ(st.column_int(2), w.notnull) << w.name;
        EXPECT_EQ(st.column_int(3), w.pk) << w.name;
    }
    EXPECT_FALSE(st.step()) << "no more columns";

    // The idempotency key is a unique index on exactly (ring_epoch, ring_seq).
    EXPECT_EQ(query_text(db,
                         "SELECT group_concat(ii.name, ',')"
                         " FROM pragma_index_list('inbound_events') AS il,"
                         " pragma_index_info(il.name) AS ii"
                         " WHERE il.\"unique\" = 1 AND il.origin = 'u'"),
              "ring_epoch,ring_seq");
    // and delivery ids are unique where present (a partial index)
    EXPECT_EQ(query_text(db,
                         "SELECT group_concat(ii.name, ',')"
                         " FROM pragma_index_list('inbound_events') AS il,"
                         " pragma_index_info(il.name) AS ii"
                         " WHERE il.\"unique\" = 1 AND il.origin = 'c'"
                         " AND il.partial = 1"),
              "delivery_id");
}

TEST_F(Store, MigrateIsIdempotentAndKeepsData)
{
    {
        Database db = open_migrated();
        migrate(db);
        EXPECT_EQ(schema_version(db), latest_schema_version());
        InboundEventRepository repo(db);
        const InboundEvent e[] = {event(1, 1, "kept")};
        ASSERT_EQ(repo.insert_batch(e), 1u);
        migrate(db);
    }
    Database db = Database::open(path_);
    migrate(db);
    EXPECT_EQ(schema_version(db), latest_schema_version());
    ASSERT_EQ(rows(db).size(), 1u);
    EXPECT_EQ(rows(db)[0].payload, bytes("kept"));
}

TEST_F(Store, NewerSchemaVersionMakesMigrateThrowAndTouchNothing)
{
    Database db = Database::open(path_);
    const int newer = latest_schema_version() + 1;
    db.exec("PRAGMA user_version = " + std::to_string(newer));
    try {
        migrate(db);
        FAIL() << "migrate must refuse a store from a newer build";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "the store has schema version " + std::to_string(newer)
                      + ", newer than this build knows ("
                      + std::to_string(latest_schema_version()) + ")");
    }
    EXPECT_EQ(schema_version(db), newer);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM sqlite_master"), 0)
        << "no table may be created in a store we do not understand";
}

// ---------------------------------------------------------------------------
// InboundEventRepository

TEST_F(Store, InsertBatchInsertsAndReturnsTheNumberOfNewRows)
{
    Database db = open_migrated();
    InboundEventRepository repo(db);
    EXPECT_EQ(repo.count(), 0u);

    const std::vector<InboundEvent> batch = {
        event(7, 1, "one", 1, 100), event(7, 2, "two", 2, 200),
        event(7, 3, "three", 3, 300)};
    EXPECT_EQ(repo.insert_batch(batch), 3u);
    EXPECT_EQ(repo.count(), 3u);
    const std::vector<Row> want = {row_of(batch[0]), row_of(batch[1]),
                                   row_of(batch[2])};
    EXPECT_EQ(rows(db), want);
}

TEST_F(Store, EmptyBatchInsertsNothing)
{
    Database db = open_migrated();
    InboundEventRepository repo(db);
    EXPECT_EQ(repo.insert_batch({}), 0u);
    EXPECT_EQ(repo.count(), 0u);
}

TEST_F(Store, RepeatedEpochAndSeqIsIgnored)
{
    // The helper commits a batch, dies before popping it from the ring, and
    // the next helper commits the very same records again.
    Database db = open_migrated();
    InboundEventRepository repo(db);
    const std::vector<InboundEvent> batch = {
        event(9, 1, "a"), event(9, 2, "b"), event(9, 3, "c")};
    ASSERT_EQ(repo.insert_batch(batch), 3u);

    EXPECT_EQ(repo.insert_batch(batch), 0u);
    EXPECT_EQ(repo.count(), 3u);

    // Overlap: two repeats and one new record count as one.
    const std::vector<InboundEvent> overlap = {
        event(9, 2, "b"), event(9, 3, "c"), event(9, 4, "d")};
    EXPECT_EQ(repo.insert_batch(overlap), 1u);
    EXPECT_EQ(repo.count(), 4u);

    // A repeat never replaces what was stored first.
    const std::vector<InboundEvent> changed = {event(9, 1, "CHANGED", 5, 1)};
    EXPECT_EQ(repo.insert_batch(changed), 0u);
    const auto got = rows(db);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0], row_of(batch[0]));
    EXPECT_EQ(got[3], row_of(overlap[2]));
}

TEST_F(Store, RepeatInsideOneBatchCountsOnce)
{
    Database db = open_migrated();
    InboundEventRepository repo(db);
    const std::vector<InboundEvent> batch = {
        event(3, 1, "first"), event(3, 1, "second"), event(3, 2, "x")};
    EXPECT_EQ(repo.insert_batch(batch), 2u);
    const auto got = rows(db);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].payload, bytes("first"));
}

TEST_F(Store, SameSeqWithAnotherEpochIsANewRow)
{
    // After a ring reset the seqs of the new epoch may meet old ones.
    Database db = open_migrated();
    InboundEventRepository repo(db);
    const std::vector<InboundEvent> a = {event(1, 5, "old epoch")};
    const std::vector<InboundEvent> b = {event(2, 5, "new epoch")};
    EXPECT_EQ(repo.insert_batch(a), 1u);
    EXPECT_EQ(repo.insert_batch(b), 1u);
    EXPECT_EQ(repo.count(), 2u);
    const std::vector<Row> want = {row_of(a[0]), row_of(b[0])};
    EXPECT_EQ(rows(db), want);
}

TEST_F(Store, PayloadBytesRoundTripExactly)
{
    Database db = open_migrated();
    InboundEventRepository repo(db);

    std::vector<unsigned char> every(512);
    for (size_t i = 0; i < every.size(); i++) {
        every[i] = static_cast<unsigned char>(i);  // two runs of 0x00..0xff
    }
    std::vector<unsigned char> nuls(64, 0x00);
    std::vector<unsigned char> invalid_utf8 = {0xC3, 0x28, 0xFF, 0xFE, 0x00,
                                               0x80};
    std::vector<unsigned char> large(300000);
    for (size_t i = 0; i < large.size(); i++) {
        large[i] = static_cast<unsigned char>(i * 2654435761u >> 13);
    }

    const std::vector<InboundEvent> batch = {
        InboundEvent{1, 1, 1, 10, every, {}},
        InboundEvent{1, 2, 1, 11, {}, {}},  // empty: a blob, not NULL
        InboundEvent{1, 3, 1, 12, nuls, {}},
        InboundEvent{1, 4, 1, 13, invalid_utf8, {}},
        InboundEvent{1, 5, 1, 14, large, {}},
    };
    ASSERT_EQ(repo.insert_batch(batch), batch.size());
    const auto got = rows(db);
    ASSERT_EQ(got.size(), batch.size());
    for (size_t i = 0; i < batch.size(); i++) {
        EXPECT_EQ(got[i].payload_type, "blob") << i;
        EXPECT_EQ(got[i].payload.size(), batch[i].payload.size()) << i;
        EXPECT_TRUE(got[i].payload == batch[i].payload) << i;
    }
    EXPECT_EQ(query_int(db, "SELECT length(payload) FROM inbound_events"
                            " WHERE ring_seq = 2"),
              0);
}

TEST_F(Store, FullWidthEpochSeqKindAndTimeRoundTrip)
{
    // Epochs are random 64-bit values: the top bit is set half the time and
    // SQLite stores the same bits as a negative integer.
    Database db = open_migrated();
    InboundEventRepository repo(db);
    const std::vector<InboundEvent> batch = {
        InboundEvent{0xF000000000000001ULL, 1, 1, 0, bytes("a"), {}},
        InboundEvent{0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFFFFFFFFFEULL,
                     0xFFFFFFFFu, -1, bytes("b"), {}},
        InboundEvent{0x8000000000000000ULL, 0x8000000000000000ULL, 0,
                     INT64_MIN, bytes("c"), {}},
        InboundEvent{0x7FFFFFFFFFFFFFFFULL, 1, 2, INT64_MAX, bytes("d"), {}},
    };
    ASSERT_EQ(repo.insert_batch(batch), 4u);
    const std::vector<Row> want = {row_of(batch[0]), row_of(batch[1]),
                                   row_of(batch[2]), row_of(batch[3])};
    EXPECT_EQ(rows(db), want);

    // Top-bit epochs are still a distinct key: a repeat is recognised.
    const std::vector<InboundEvent> again = {batch[0], batch[1]};
    EXPECT_EQ(repo.insert_batch(again), 0u);
    EXPECT_EQ(repo.count(), 4u);
}

TEST_F(Store, DataSurvivesCloseAndReopen)
{
    const std::vector<InboundEvent> batch = {
        event(0xF000000000000001ULL, 1, "durable"), event(42, 2, "")};
    {
        Database db = open_migrated();
        InboundEventRepository repo(db);
        ASSERT_EQ(repo.insert_batch(batch), 2u);
    }
    Database db = open_migrated();
    InboundEventRepository repo(db);
    EXPECT_EQ(repo.count(), 2u);
    const std::vector<Row> want = {row_of(batch[0]), row_of(batch[1])};
    EXPECT_EQ(rows(db), want);
    // And the key still holds across connections.
    EXPECT_EQ(repo.insert_batch(batch), 0u);
}

TEST_F(Store, CommittedBatchIsVisibleToASecondConnection)
{
    Database writer = open_migrated();
    Database reader = Database::open(path_);
    InboundEventRepository repo(writer);
    const std::vector<InboundEvent> batch = {event(1, 1, "x")};
    ASSERT_EQ(repo.insert_batch(batch), 1u);
    EXPECT_EQ(query_int(reader, "SELECT count(*) FROM inbound_events"), 1);
}

TEST_F(Store, FailedBatchLeavesNoPartialRowsAndTheRepositoryStaysUsable)
{
    Database db = open_migrated();
    // A trigger makes the third record of the batch fail, after two rows
    // were already inserted inside the batch's transaction.
    db.exec("CREATE TRIGGER fail_seq_3 BEFORE INSERT ON inbound_events"
            " WHEN NEW.ring_seq = 3"
            " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
    InboundEventRepository repo(db);
    const std::vector<InboundEvent> batch = {
        event(1, 1, "a"), event(1, 2, "b"), event(1, 3, "c"), event(1, 4, "d")};
    try {
        repo.insert_batch(batch);
        FAIL() << "insert_batch must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()), "step: disk on fire");
        EXPECT_EQ(e.code(), SQLITE_CONSTRAINT_TRIGGER);
    }
    EXPECT_EQ(repo.count(), 0u) << "rows 1 and 2 must be rolled back";
    EXPECT_EQ(sqlite3_get_autocommit(db.raw()), 1)
        << "no transaction may be left open";

    // The helper retries without the bad record: the same prepared statement
    // and a fresh transaction must work.
    const std::vector<InboundEvent> retry = {event(1, 1, "a"), event(1, 2, "b"),
                                             event(1, 4, "d")};
    EXPECT_EQ(repo.insert_batch(retry), 3u);
    EXPECT_EQ(repo.count(), 3u);
}

// ---------------------------------------------------------------------------
// Transaction

TEST_F(Store, TransactionRollsBackWhenLeftByAnException)
{
    Database db = open_migrated();
    try {
        Transaction tx(db);
        db.exec("INSERT INTO inbound_events"
                " (ring_epoch, ring_seq, kind, received_at, payload)"
                " VALUES (1, 1, 1, 1, x'00')");
        throw std::runtime_error("boom");
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");
    }
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM inbound_events"), 0);
    EXPECT_EQ(sqlite3_get_autocommit(db.raw()), 1);
}

TEST_F(Store, TransactionRollsBackWhenNotCommitted)
{
    Database db = open_migrated();
    {
        Transaction tx(db);
        db.exec("INSERT INTO inbound_events"
                " (ring_epoch, ring_seq, kind, received_at, payload)"
                " VALUES (1, 1, 1, 1, x'00')");
        EXPECT_EQ(query_int(db, "SELECT count(*) FROM inbound_events"), 1)
            << "visible inside the transaction";
    }
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM inbound_events"), 0);
}

TEST_F(Store, TransactionCommitKeepsTheChange)
{
    Database db = open_migrated();
    {
        Transaction tx(db);
        db.exec("INSERT INTO inbound_events"
                " (ring_epoch, ring_seq, kind, received_at, payload)"
                " VALUES (1, 1, 1, 1, x'00')");
        tx.commit();
    }
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM inbound_events"), 1);
    EXPECT_EQ(sqlite3_get_autocommit(db.raw()), 1);
}

TEST_F(Store, TransactionInsideATransactionThrows)
{
    // A Transaction inside another joins it (unit_of_work_test.cpp); one
    // inside a transaction begun behind the wrappers' back cannot.
    Database db = open_migrated();
    db.exec("BEGIN");
    try {
        Transaction inner(db);
        FAIL() << "nested BEGIN must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "exec: cannot start a transaction within a transaction");
        EXPECT_EQ(e.code(), SQLITE_ERROR);
    }
    // The failed inner one must not have rolled back the outer one.
    EXPECT_EQ(sqlite3_get_autocommit(db.raw()), 0);
}

TEST_F(Store, TransactionTakesTheWriteLockAtOnce)
{
    // BEGIN IMMEDIATE: a second writer sees the lock as soon as the first
    // transaction starts, not only at its first write.
    Database db = open_migrated();
    Database other = Database::open(path_);
    sqlite3_busy_timeout(other.raw(), 0);  // fail fast instead of waiting 5 s
    Transaction tx(db);
    try {
        Transaction second(other);
        FAIL() << "a second BEGIN IMMEDIATE must not get the lock";
    } catch (const StoreError& e) {
        EXPECT_EQ(e.code() & 0xff, SQLITE_BUSY);
    }
}

// ---------------------------------------------------------------------------
// Statement and exec errors

TEST_F(Store, PrepareErrorThrowsStoreErrorWithSqlitesMessage)
{
    Database db = open_migrated();
    try {
        db.prepare("SELEKT 1");
        FAIL() << "prepare must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()), "prepare: near \"SELEKT\": syntax error");
        EXPECT_EQ(e.code(), SQLITE_ERROR);
    }
    try {
        db.prepare("SELECT * FROM no_such_table");
        FAIL() << "prepare must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()), "prepare: no such table: no_such_table");
    }
}

TEST_F(Store, StepErrorThrowsAndTheStatementCanRunAgain)
{
    Database db = open_migrated();
    auto st = db.prepare("INSERT INTO inbound_events"
                         " (ring_epoch, ring_seq, kind, received_at, payload)"
                         " VALUES (?1, ?2, 1, 1, ?3)");
    // No payload bound: NULL into a NOT NULL column.
    st.bind(1, int64_t{1}).bind(2, int64_t{1});
    try {
        st.run();
        FAIL() << "run must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "step: NOT NULL constraint failed: inbound_events.payload");
        EXPECT_EQ(e.code(), SQLITE_CONSTRAINT_NOTNULL);
    }
    const unsigned char b[] = {1, 2, 3};
    st.bind(1, int64_t{1}).bind(2, int64_t{1}).bind_blob(3, b);
    st.run();
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM inbound_events"), 1);

    // A UNIQUE violation surfaces too (the repository avoids it with
    // ON CONFLICT, a raw insert does not).
    st.bind(1, int64_t{1}).bind(2, int64_t{1}).bind_blob(3, b);
    try {
        st.run();
        FAIL() << "run must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "step: UNIQUE constraint failed: inbound_events.ring_epoch,"
                  " inbound_events.ring_seq");
        EXPECT_EQ(e.code(), SQLITE_CONSTRAINT_UNIQUE);
    }
}

TEST_F(Store, BindOutOfRangeThrowsStoreError)
{
    Database db = open_migrated();
    auto st = db.prepare("SELECT ?1");
    try {
        st.bind(2, int64_t{5});
        FAIL() << "bind must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()), "bind: column index out of range");
        EXPECT_EQ(e.code(), SQLITE_RANGE);
    }
    EXPECT_THROW(st.bind(0, std::string_view("x")), StoreError);
    const unsigned char b[] = {1};
    EXPECT_THROW(st.bind_blob(3, b), StoreError);
}

TEST_F(Store, BindAndColumnRoundTripTextAndIntegers)
{
    Database db = open_migrated();
    auto st = db.prepare("SELECT ?1, ?2, ?3");
    const std::string text("with\0nul", 8);
    st.bind(1, int64_t{-42}).bind(2, std::string_view(text)).bind(3, INT64_MIN);
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_int(0), -42);
    EXPECT_EQ(st.column_text(1), text);
    EXPECT_EQ(st.column_int(2), INT64_MIN);
    EXPECT_FALSE(st.step());
    st.reset();
    // reset() clears the bindings: unbound parameters are NULL.
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_text(1), "");
    EXPECT_EQ(st.column_int(0), 0);
}

TEST_F(Store, ExecErrorThrowsStoreErrorWithSqlitesMessage)
{
    Database db = open_migrated();
    try {
        db.exec("DELETE FROM nope");
        FAIL() << "exec must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()), "exec: no such table: nope");
        EXPECT_EQ(e.code(), SQLITE_ERROR);
    }
}

TEST_F(Store, StoreErrorIsARuntimeErrorCarryingItsCode)
{
    StoreError e("what happened", 1234);
    const std::runtime_error& base = e;
    EXPECT_STREQ(base.what(), "what happened");
    EXPECT_EQ(e.code(), 1234);
}

}  // namespace

// Schema step 10: a live device's stanzas kept before their ack, once each.
TEST(WaStanzaRepository, KeepsEachStanzaOnceInArrivalOrder)
{
    chatwoot::test::TempStore t("cw-stanzas");
    chatwoot::store::WaStanzaRepository stanzas(*t.db);
    const std::vector<unsigned char> a{1, 2, 3}, b{4, 5};
    EXPECT_TRUE(stanzas.keep("support", "message|x@s.whatsapp.net||A1", "message", a, 10));
    EXPECT_TRUE(stanzas.keep("support", "receipt|x@s.whatsapp.net||A1", "receipt", b, 11));
    // The server delivering it again after a crash before the ack.
    EXPECT_FALSE(stanzas.keep("support", "message|x@s.whatsapp.net||A1", "message", b, 12));
    EXPECT_TRUE(stanzas.keep("sales", "message|x@s.whatsapp.net||A1", "message", a, 12));
    EXPECT_EQ(stanzas.count("support"), 2u);

    auto kept = stanzas.oldest("support", 10);
    ASSERT_EQ(kept.size(), 2u);
    EXPECT_EQ(kept[0].tag, "message");
    EXPECT_EQ(kept[0].node, a);
    EXPECT_EQ(kept[1].node, b);
    stanzas.remove(kept[0].id);
    EXPECT_EQ(stanzas.count("support"), 1u);
    EXPECT_EQ(stanzas.count("sales"), 1u);
}
