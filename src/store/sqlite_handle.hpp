// RAII over the SQLite C API: a connection, prepared statements and
// transactions.  Errors become StoreError with SQLite's own message.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chatwoot::store {

class StoreError : public std::runtime_error {
public:
    StoreError(std::string_view what, int code);
    int code() const noexcept { return code_; }

private:
    int code_;
};

// True for an error the statement's data causes (a constraint, a type
// mismatch, a value too big): the same record meets it again however often
// it is retried, so retrying its batch can never succeed.  False for the
// database's state (busy, locked, I/O, a full disk, out of memory, a
// broken file), which a later attempt may get past.
bool is_record_error(int code) noexcept;

class Statement {
public:
    Statement(sqlite3* db, std::string_view sql);

    Statement& bind(int index, int64_t value);
    Statement& bind(int index, std::string_view text);
    Statement& bind_null(int index);
    Statement& bind_blob(int index, std::span<const unsigned char> bytes);
    // Without a copy: the bytes must stay put until the statement is reset.
    Statement& bind_blob_view(int index, std::span<const unsigned char> bytes);

    // Steps once: true while a row is available.
    bool step();
    // Runs a statement that returns no rows, then resets it for reuse.
    void run();
    void reset();

    int64_t column_int(int index) const;
    bool column_is_null(int index) const;
    std::optional<int64_t> column_optional_int(int index) const;

    // Calls row(*this) for each row, then resets the statement whatever
    // happens, so that a prepared query is always ready for its next use.
    template <typename F>
    void each_row(F&& row)
    {
        try {
            while (step()) {
                row(*this);
            }
        } catch (...) {
            reset();
            throw;
        }
        reset();
    }

    // The first column of the first row, 0 when there is none; then resets.
    int64_t scalar();
    std::string column_text(int index) const;
    std::vector<unsigned char> column_blob(int index) const;

    sqlite3_stmt* raw() const { return stmt_.get(); }

private:
    Statement& bind_blob_with(int index, std::span<const unsigned char> bytes,
                              sqlite3_destructor_type lifetime);

    struct Finalize {
        void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
    };
    sqlite3* db_;
    std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

class Database {
public:
    // Opens (creating if needed) the file and applies the connection
    // settings every user of the store relies on: WAL, full sync.  The
    // file, its -wal and -shm, and the directory holding them are made
    // private first (private_paths.hpp); a directory open to others that
    // is not ours is refused with a StoreError naming it.
    static Database open(const std::string& path);

    void exec(std::string_view sql);
    Statement prepare(std::string_view sql) { return Statement(db_.get(), sql); }
    // exec() for the few statements run over and over with the same text
    // (a unit of work's BEGIN, SAVEPOINT, RELEASE, COMMIT; the sync
    // pragmas): prepared once and kept.  Parsing them anew for every unit
    // was a tenth of the receive path's time.
    void exec_kept(const std::string& sql);
    int64_t changes() const { return sqlite3_changes64(db_.get()); }
    int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_.get()); }
    sqlite3* raw() const { return db_.get(); }

    // How many units of work are open on this connection (0: none).
    int unit_depth() const { return unit_depth_; }

    // Work that may only happen once the writes before it are durable: a
    // transmission whose ratchet step was just written, the ack and the
    // receipt of a stanza just kept.  With no unit of work open it runs at
    // once; inside one it waits for the outermost unit's COMMIT and runs
    // right after it, in the order handed in, so callers that batch several
    // messages into one commit (one fsync) release what each owes only
    // then.  A unit that rolls back drops the work handed in within it.
    // The work must not throw; what it throws anyway is swallowed (the
    // writes are durable by then, and the rest of the work must still run).
    void after_commit(std::function<void()> work);

private:
    friend class UnitOfWork;
    void run_after_commit() noexcept;
    struct Close {
        void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
    };
    explicit Database(sqlite3* db) : db_(db) {}
    std::unique_ptr<sqlite3, Close> db_;
    int unit_depth_ = 0;
    std::vector<std::function<void()>> after_commit_;
    std::unordered_map<std::string, Statement> kept_;
};

// BEGIN IMMEDIATE on construction, ROLLBACK unless commit() was called.
// Within its scope, commits do not wait for the disk (WAL with
// synchronous=NORMAL): a power cut may lose them, a crashed process not;
// the next ordinary (FULL) commit makes them durable too.  For writes
// whose loss costs a repeated look-up, never a message.  Inside a unit of
// work it does nothing: SQLite cannot change the level in a transaction,
// and the outer unit's commit carries writes that need the full one.
class RelaxedSync {
public:
    explicit RelaxedSync(Database& db);
    ~RelaxedSync();
    RelaxedSync(const RelaxedSync&) = delete;
    RelaxedSync& operator=(const RelaxedSync&) = delete;

private:
    Database& db_;
    bool active_;
};

// A unit of work that nests.  The outermost one on a connection is a
// BEGIN IMMEDIATE transaction (the write lock at once, so a commit never
// meets a busy upgrade); one opened while another is open joins it as a
// SAVEPOINT.  An inner unit's commit() only releases its savepoint: its
// writes become part of the outer unit, which decides whether they reach
// the disk.  A unit left without commit() (an exception, an early return)
// rolls back its own writes and nothing else: the outer unit may still
// commit the rest, or be left in turn and roll back everything.
//
// This is what lets one WhatsApp message's ratchet advance (written from
// inside libsignal's callbacks, each store call in its own unit), its
// wa_inbound row and its media references commit together or not at all:
// the caller opens the outer unit around the decryption and the inserts,
// and every store method that opens a unit joins it.
//
// Units must end in the reverse order of their opening, which scopes
// give; they are neither copied nor moved.
class UnitOfWork {
public:
    explicit UnitOfWork(Database& db);
    ~UnitOfWork();
    UnitOfWork(const UnitOfWork&) = delete;
    UnitOfWork& operator=(const UnitOfWork&) = delete;

    // Outermost: COMMIT.  Inner: RELEASE of its savepoint.  Throws
    // StoreError when SQLite refuses (the unit then rolls back when left),
    // or when SQLite has already rolled the whole transaction back on its
    // own (a full disk, an I/O error): then nothing of the outer unit may
    // be taken as written.
    void commit();

    bool outermost() const { return level_ == 1; }

private:
    void check_transaction_alive(const char* what) const;

    Database& db_;
    int level_;          // 1: the outermost unit
    std::size_t after_;  // the after-commit work handed in before this unit
    bool done_ = false;
};

// The name every existing writer uses; a Transaction opened inside a unit
// of work joins it.
using Transaction = UnitOfWork;

}  // namespace chatwoot::store
