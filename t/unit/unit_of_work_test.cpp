// The store's unit of work (store/sqlite_handle.hpp): units nest as
// savepoints inside one BEGIN IMMEDIATE transaction, an inner unit's
// failure undoes only its own writes, and only the outermost unit's commit
// makes anything durable.  The last test is the case the unit of work is
// for: one WhatsApp message's ratchet advance (written from inside a
// libsignal callback) and its wa_inbound row commit together or not at all.

#include "store/schema.hpp"
#include "store/sqlite_handle.hpp"
#include "store/wa_inbound_repository.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace {

using chatwoot::store::Database;
using chatwoot::store::StoreError;
using chatwoot::store::Transaction;
using chatwoot::store::UnitOfWork;
using chatwoot::store::WaInboundRepository;

class UnitOfWorkTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "cw_unit_XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        db_.emplace(Database::open((dir_ / "store.db").string()));
        chatwoot::store::migrate(*db_);
        db().exec("CREATE TABLE notes (text TEXT NOT NULL"
                  " CHECK (text <> 'bad'))");
    }

    void TearDown() override
    {
        db_.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    Database& db() { return *db_; }

    void note(std::string_view text)
    {
        db().prepare("INSERT INTO notes (text) VALUES (?1)").bind(1, text).run();
    }

    // The notes a fresh connection sees: what was committed.
    std::string committed_notes()
    {
        Database other = Database::open((dir_ / "store.db").string());
        return notes(other);
    }

    static std::string notes(Database& d)
    {
        std::string out;
        d.prepare("SELECT text FROM notes ORDER BY rowid")
            .each_row([&](const auto& st) {
                out += out.empty() ? "" : ",";
                out += st.column_text(0);
            });
        return out;
    }

    bool in_transaction() { return sqlite3_get_autocommit(db().raw()) == 0; }

    std::filesystem::path dir_;
    std::optional<Database> db_;
};

TEST_F(UnitOfWorkTest, AnInnerUnitJoinsTheOuterOneAndOnlyTheOuterCommitWrites)
{
    {
        UnitOfWork outer(db());
        EXPECT_TRUE(outer.outermost());
        note("outer");
        {
            UnitOfWork inner(db());
            EXPECT_FALSE(inner.outermost());
            EXPECT_EQ(db().unit_depth(), 2);
            note("inner");
            inner.commit();
        }
        EXPECT_EQ(db().unit_depth(), 1);
        EXPECT_TRUE(in_transaction()) << "an inner commit must not end the transaction";
        EXPECT_EQ(committed_notes(), "") << "nothing is durable before the outer commit";
        outer.commit();
    }
    EXPECT_EQ(db().unit_depth(), 0);
    EXPECT_FALSE(in_transaction());
    EXPECT_EQ(committed_notes(), "outer,inner");
}

TEST_F(UnitOfWorkTest, AnInnerUnitLeftWithoutCommitUndoesOnlyItsOwnWrites)
{
    {
        UnitOfWork outer(db());
        note("before");
        {
            UnitOfWork inner(db());
            note("dropped");
        }
        note("after");
        outer.commit();
    }
    EXPECT_EQ(committed_notes(), "before,after");
}

TEST_F(UnitOfWorkTest, AnInnerFailureRollsBackToItsSavepointAndTheOuterDecides)
{
    {
        UnitOfWork outer(db());
        note("kept");
        try {
            UnitOfWork inner(db());
            note("undone");
            note("bad");   // the CHECK fails
            inner.commit();
            FAIL() << "the insert must throw";
        } catch (const StoreError& e) {
            EXPECT_EQ(e.code(), SQLITE_CONSTRAINT_CHECK);
        }
        EXPECT_EQ(notes(db()), "kept");
        EXPECT_TRUE(in_transaction());
        outer.commit();
    }
    EXPECT_EQ(committed_notes(), "kept");
}

TEST_F(UnitOfWorkTest, AnOuterRollbackDropsWhatInnerUnitsCommitted)
{
    try {
        UnitOfWork outer(db());
        note("outer");
        {
            UnitOfWork inner(db());
            note("inner");
            {
                UnitOfWork innermost(db());
                note("innermost");
                innermost.commit();
            }
            inner.commit();
        }
        throw std::runtime_error("the caller failed after the inner commits");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(db().unit_depth(), 0);
    EXPECT_FALSE(in_transaction());
    EXPECT_EQ(notes(db()), "");
}

TEST_F(UnitOfWorkTest, UnitsCanFollowEachOtherInsideOneOuterUnit)
{
    // Savepoint names are per depth: a second inner unit at the same depth
    // must not touch the first one's released writes.
    {
        UnitOfWork outer(db());
        {
            UnitOfWork a(db());
            note("a");
            a.commit();
        }
        {
            UnitOfWork b(db());
            note("b");
        }
        {
            UnitOfWork c(db());
            note("c");
            c.commit();
        }
        outer.commit();
    }
    EXPECT_EQ(committed_notes(), "a,c");
    // And the connection is ready for the next outermost unit.
    {
        UnitOfWork next(db());
        note("next");
        next.commit();
    }
    EXPECT_EQ(committed_notes(), "a,c,next");
}

TEST_F(UnitOfWorkTest, CommittingAnOuterUnitWhileAnInnerIsOpenIsRefused)
{
    UnitOfWork outer(db());
    UnitOfWork inner(db());
    try {
        outer.commit();
        FAIL() << "commit must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(e.code(), SQLITE_MISUSE);
    }
    EXPECT_TRUE(in_transaction());
}

TEST_F(UnitOfWorkTest, ACommitTwiceIsRefused)
{
    UnitOfWork outer(db());
    outer.commit();
    EXPECT_THROW(outer.commit(), StoreError);
}

TEST_F(UnitOfWorkTest, AnOuterUnitThatCannotBeginLeavesNoDepthBehind)
{
    Database other = Database::open((dir_ / "store.db").string());
    sqlite3_busy_timeout(other.raw(), 0);
    UnitOfWork holder(db());
    EXPECT_THROW(UnitOfWork second(other), StoreError);
    EXPECT_EQ(other.unit_depth(), 0);
}

TEST_F(UnitOfWorkTest, ATransactionEndedUnderTheUnitIsNeitherJoinedNorCommitted)
{
    // SQLite rolls a whole transaction back on its own after some errors
    // (a full disk, an I/O error); here a stray ROLLBACK does the same.
    // Joining would then open a new transaction and commit the inner
    // unit's writes alone; committing would report a success for writes
    // that are gone.
    UnitOfWork outer(db());
    note("lost");
    db().exec("ROLLBACK");
    try {
        UnitOfWork inner(db());
        FAIL() << "joining must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "unit of work: cannot join: SQLite rolled the transaction back");
    }
    EXPECT_EQ(db().unit_depth(), 1);
    try {
        outer.commit();
        FAIL() << "commit must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(e.code(), SQLITE_ABORT);
    }
    EXPECT_EQ(committed_notes(), "");
}

TEST_F(UnitOfWorkTest, TransactionIsTheSameUnitAndExistingWritersJoinIt)
{
    // A repository method that opens its own Transaction (here
    // WaInboundRepository::settle) becomes part of the caller's unit.
    WaInboundRepository inbound(db());
    {
        UnitOfWork outer(db());
        ASSERT_TRUE(inbound.add("main", "WA1", "chat@s.whatsapp.net", "{}", 1));
        const int64_t id = inbound.last_id();
        inbound.settle(id, true, 77, "", "main", "chat@s.whatsapp.net", {});
        EXPECT_TRUE(in_transaction());
        // left without commit
    }
    EXPECT_EQ(inbound.last_id(), 0) << "the settle's own commit joined the outer unit";
}

// ---------------------------------------------------------------------------
// One WhatsApp message: ratchet advance + wa_inbound row, together or not.

// What the coming SQLite Signal store does in libsignal's store_session
// callback: its own unit (joining the message's), and no exception out of
// the callback: a failure becomes an error code.
class FakeSessionStore {
public:
    explicit FakeSessionStore(Database& db) : db_(db)
    {
        db_.exec("CREATE TABLE signal_sessions (address TEXT PRIMARY KEY,"
                 " record BLOB NOT NULL)");
    }

    // libsignal's store_session: 0 on success, a negative code on failure.
    int store_session(std::string_view address, std::string_view record) noexcept
    {
        try {
            UnitOfWork unit(db_);
            db_.prepare("INSERT INTO signal_sessions (address, record) VALUES (?1, ?2)"
                        " ON CONFLICT (address) DO UPDATE SET record = excluded.record")
                .bind(1, address)
                .bind(2, record)
                .run();
            unit.commit();
            return 0;
        } catch (...) {
            return -1;
        }
    }

    std::string load_session(std::string_view address)
    {
        std::string out;
        db_.prepare("SELECT record FROM signal_sessions WHERE address = ?1")
            .bind(1, address)
            .each_row([&](const auto& st) { out = st.column_text(0); });
        return out;
    }

private:
    Database& db_;
};

// A stand-in for session_cipher decrypt: advances the ratchet (chain key
// n -> n+1) through the store callback, then hands the plaintext back.
std::string decrypt(FakeSessionStore& store, std::string_view address)
{
    const std::string old = store.load_session(address);
    const int n = std::stoi(old.substr(std::string_view("chain-").size()));
    if (store.store_session(address, "chain-" + std::to_string(n + 1)) != 0) {
        throw std::runtime_error("store_session failed");
    }
    return "hello";
}

TEST_F(UnitOfWorkTest, AFailureAfterTheRatchetWriteLeavesTheOldSessionState)
{
    FakeSessionStore sessions(db());
    WaInboundRepository inbound(db());
    const std::string peer = "4915112345678.0";
    ASSERT_EQ(sessions.store_session(peer, "chain-41"), 0);
    // The wa_inbound insert fails after the ratchet advanced (a full disk,
    // a constraint): simulated by a trigger.
    db().exec("CREATE TRIGGER inbound_fails BEFORE INSERT ON wa_inbound"
              " BEGIN SELECT RAISE(ABORT, 'disk full'); END");

    auto receive = [&] {
        UnitOfWork message(db());
        const std::string text = decrypt(sessions, peer);
        EXPECT_EQ(sessions.load_session(peer), "chain-42") << "advanced inside the unit";
        inbound.add("main", "3EB0AAAA", "4915112345678@s.whatsapp.net", text, 100);
        message.commit();
    };
    try {
        receive();
        FAIL() << "the row insert must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()), "step: disk full");
    }
    EXPECT_EQ(sessions.load_session(peer), "chain-41")
        << "a ratchet that advanced without its message stored loses the redelivery";
    EXPECT_EQ(inbound.last_id(), 0);
    EXPECT_FALSE(in_transaction());

    // WhatsApp redelivers the message; with the cause gone it decrypts
    // from the old state and everything commits once.
    db().exec("DROP TRIGGER inbound_fails");
    receive();
    EXPECT_EQ(sessions.load_session(peer), "chain-42");
    EXPECT_EQ(inbound.count("pending"), 1u);
}

// After-commit work (Database::after_commit): what a batch of messages owes
// the network (transmissions, acks, receipts) leaves only once the one
// commit that makes all of them durable is done.

TEST_F(UnitOfWorkTest, AfterCommitWorkRunsAtOnceWithNoUnitOpen)
{
    int ran = 0;
    db().after_commit([&] { ++ran; });
    EXPECT_EQ(ran, 1);
}

TEST_F(UnitOfWorkTest, AfterCommitWorkWaitsForTheOutermostCommitAndSeesItDurable)
{
    std::string seen;
    std::string order;
    {
        UnitOfWork outer(db());
        note("a");
        db().after_commit([&] { seen = committed_notes(); order += "1"; });
        {
            UnitOfWork inner(db());
            note("b");
            db().after_commit([&] { order += "2"; });
            inner.commit();
        }
        EXPECT_EQ(order, "") << "an inner commit releases nothing";
        outer.commit();
        EXPECT_EQ(order, "12") << "run by the outer commit, in the order handed in";
    }
    EXPECT_EQ(seen, "a,b") << "the work saw both writes durable";
}

TEST_F(UnitOfWorkTest, AfterCommitWorkOfARolledBackUnitIsDropped)
{
    std::string order;
    {
        UnitOfWork outer(db());
        db().after_commit([&] { order += "kept"; });
        {
            UnitOfWork inner(db());
            note("undone");
            db().after_commit([&] { order += ",undone"; });
        }
        db().after_commit([&] { order += ",after"; });
        outer.commit();
    }
    EXPECT_EQ(order, "kept,after");
    {
        UnitOfWork outer(db());
        db().after_commit([&] { order += ",never"; });
    }
    EXPECT_EQ(order, "kept,after");
    db().after_commit([&] { order += ",later"; });
    EXPECT_EQ(order, "kept,after,later") << "nothing of the rolled-back unit is left queued";
}

TEST_F(UnitOfWorkTest, AfterCommitWorkMayOpenUnitsAndHandInWorkOfItsOwn)
{
    std::string order;
    {
        UnitOfWork outer(db());
        db().after_commit([&] {
            EXPECT_EQ(db().unit_depth(), 0);
            UnitOfWork next(db());
            note("from the work");
            db().after_commit([&] { order += "inner work,"; });
            next.commit();
            order += "work,";
        });
        db().after_commit([&] { throw std::runtime_error("swallowed"); });
        db().after_commit([&] { order += "last"; });
        outer.commit();
    }
    EXPECT_EQ(order, "inner work,work,last");
    EXPECT_EQ(committed_notes(), "from the work");
    EXPECT_EQ(db().unit_depth(), 0);
}

}  // namespace
