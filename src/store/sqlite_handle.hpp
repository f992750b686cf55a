// RAII over the SQLite C API: a connection, prepared statements and
// transactions.  Errors become StoreError with SQLite's own message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

class StoreError : public std::runtime_error {
public:
    StoreError(std::string_view what, int code);
    int code() const noexcept { return code_; }

private:
    int code_;
};

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
    // settings every user of the store relies on: WAL, full sync.
    static Database open(const std::string& path);

    void exec(std::string_view sql);
    Statement prepare(std::string_view sql) { return Statement(db_.get(), sql); }
    int64_t changes() const { return sqlite3_changes64(db_.get()); }
    int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_.get()); }
    sqlite3* raw() const { return db_.get(); }

private:
    struct Close {
        void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
    };
    explicit Database(sqlite3* db) : db_(db) {}
    std::unique_ptr<sqlite3, Close> db_;
};

// BEGIN IMMEDIATE on construction, ROLLBACK unless commit() was called.
// Within its scope, commits do not wait for the disk (WAL with
// synchronous=NORMAL): a power cut may lose them, a crashed process not;
// the next ordinary (FULL) commit makes them durable too.  For writes
// whose loss costs a repeated look-up, never a message.
class RelaxedSync {
public:
    explicit RelaxedSync(Database& db);
    ~RelaxedSync();
    RelaxedSync(const RelaxedSync&) = delete;
    RelaxedSync& operator=(const RelaxedSync&) = delete;

private:
    Database& db_;
};

class Transaction {
public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Database& db_;
    bool done_ = false;
};

}  // namespace chatwoot::store
