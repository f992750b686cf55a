#include "sqlite_handle.hpp"

#include "private_paths.hpp"

#include <filesystem>
#include <system_error>

namespace chatwoot::store {

namespace {

[[noreturn]] void fail(sqlite3* db, std::string_view where, int rc)
{
    std::string msg(where);
    msg += ": ";
    msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    throw StoreError(msg, rc);
}

}  // namespace

bool is_record_error(int code) noexcept
{
    switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
        return true;
    default:
        return false;
    }
}

StoreError::StoreError(std::string_view what, int code)
    : std::runtime_error(std::string(what)), code_(code)
{
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db)
{
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) {
        fail(db, "prepare", rc);
    }
    stmt_.reset(raw);
}

Statement& Statement::bind(int index, int64_t value)
{
    int rc = sqlite3_bind_int64(stmt_.get(), index, value);
    if (rc != SQLITE_OK) {
        fail(db_, "bind", rc);
    }
    return *this;
}

Statement& Statement::bind(int index, std::string_view text)
{
    int rc = sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(),
                                 SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) {
        fail(db_, "bind", rc);
    }
    return *this;
}

Statement& Statement::bind_null(int index)
{
    int rc = sqlite3_bind_null(stmt_.get(), index);
    if (rc != SQLITE_OK) {
        fail(db_, "bind", rc);
    }
    return *this;
}

Statement& Statement::bind_blob(int index, std::span<const unsigned char> bytes)
{
    return bind_blob_with(index, bytes, SQLITE_TRANSIENT);
}

Statement& Statement::bind_blob_view(int index,
                                     std::span<const unsigned char> bytes)
{
    return bind_blob_with(index, bytes, SQLITE_STATIC);
}

Statement& Statement::bind_blob_with(int index,
                                     std::span<const unsigned char> bytes,
                                     sqlite3_destructor_type lifetime)
{
    // A zero-length blob must still be a blob, not NULL.
    static const unsigned char empty = 0;
    const void* p = bytes.empty() ? &empty : bytes.data();
    int rc = sqlite3_bind_blob64(stmt_.get(), index, p, bytes.size(), lifetime);
    if (rc != SQLITE_OK) {
        fail(db_, "bind", rc);
    }
    return *this;
}

bool Statement::step()
{
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    sqlite3_reset(stmt_.get());
    fail(db_, "step", rc);
}

void Statement::run()
{
    try {
        while (step()) {
        }
    } catch (...) {
        reset();
        throw;
    }
    reset();
}

void Statement::reset()
{
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

int64_t Statement::column_int(int index) const
{
    return sqlite3_column_int64(stmt_.get(), index);
}

bool Statement::column_is_null(int index) const
{
    return sqlite3_column_type(stmt_.get(), index) == SQLITE_NULL;
}

std::optional<int64_t> Statement::column_optional_int(int index) const
{
    if (column_is_null(index)) {
        return std::nullopt;
    }
    return column_int(index);
}

int64_t Statement::scalar()
{
    int64_t value = 0;
    bool first = true;
    each_row([&](const Statement& st) {
        if (first) {
            value = st.column_int(0);
            first = false;
        }
    });
    return value;
}

std::string Statement::column_text(int index) const
{
    const auto* p = sqlite3_column_text(stmt_.get(), index);
    int n = sqlite3_column_bytes(stmt_.get(), index);
    return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}

std::vector<unsigned char> Statement::column_blob(int index) const
{
    const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_.get(), index));
    int n = sqlite3_column_bytes(stmt_.get(), index);
    return p ? std::vector<unsigned char>(p, p + n) : std::vector<unsigned char>();
}

Database Database::open(const std::string& path)
{
    // Private whatever the umask (private_paths.hpp): the directory, and
    // the file before SQLite first opens it, since SQLite gives the -wal
    // and -shm files it creates the database file's mode.  Files left by
    // an earlier, laxer build are tightened too.
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty() && std::filesystem::is_directory(parent, ec)) {
        make_private_directory(parent.string(), false);
    }
    if (make_private_file(path, true)) {
        make_private_file(path + "-wal", false);
        make_private_file(path + "-shm", false);
    }

    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                 | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    Database db(raw);  // owns raw even when open failed
    if (rc != SQLITE_OK) {
        fail(raw, "open " + path, rc);
    }
    sqlite3_extended_result_codes(raw, 1);
    // Another reader (an operator's sqlite3 shell, a test) may hold a lock
    // briefly; wait rather than fail a commit.
    sqlite3_busy_timeout(raw, 5000);
    // Larger pages: a batch of webhooks is written in a quarter of the WAL
    // frames (and system calls).  Only takes effect on a new file.
    db.exec("PRAGMA page_size=16384");
    db.exec("PRAGMA journal_mode=WAL");
    // FULL: a commit survives power loss, not only a crash of the helper.
    db.exec("PRAGMA synchronous=FULL");
    db.exec("PRAGMA foreign_keys=ON");
    return db;
}

void Database::exec(std::string_view sql)
{
    std::string text(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = "exec: ";
        msg += err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw StoreError(msg, rc);
    }
}

RelaxedSync::RelaxedSync(Database& db) : db_(db), active_(db.unit_depth() == 0)
{
    if (active_) {
        db_.exec_kept("PRAGMA synchronous = NORMAL");
    }
}

RelaxedSync::~RelaxedSync()
{
    if (!active_) {
        return;
    }
    try {
        db_.exec_kept("PRAGMA synchronous = FULL");
    } catch (...) {
        // Only fails on a broken connection, which every later use reports.
    }
}

namespace {

std::string savepoint_name(int level)
{
    return "cw_unit_" + std::to_string(level);
}

}  // namespace

void Database::exec_kept(const std::string& sql)
{
    auto it = kept_.find(sql);
    if (it == kept_.end()) {
        it = kept_.emplace(sql, prepare(sql)).first;
    }
    sqlite3_stmt* st = it->second.raw();
    const int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        std::string msg = std::string("exec: ") + sqlite3_errmsg(db_.get());
        sqlite3_reset(st);
        throw StoreError(msg, rc);
    }
    sqlite3_reset(st);
}

void Database::after_commit(std::function<void()> work)
{
    if (unit_depth_ == 0) {
        try {
            work();
        } catch (...) {
        }
        return;
    }
    after_commit_.push_back(std::move(work));
}

void Database::run_after_commit() noexcept
{
    // Taken out first: the work may open units and hand in work of its own
    // (which then runs at once, no unit being open).
    std::vector<std::function<void()>> work;
    work.swap(after_commit_);
    for (auto& w : work) {
        try {
            w();
        } catch (...) {
        }
    }
}

UnitOfWork::UnitOfWork(Database& db)
    : db_(db), level_(db.unit_depth_ + 1), after_(db.after_commit_.size())
{
    if (level_ == 1) {
        db_.exec_kept("BEGIN IMMEDIATE");
    } else {
        // SAVEPOINT outside a transaction would open a new one: joining a
        // transaction SQLite already rolled back would commit this unit's
        // writes on their own.
        check_transaction_alive("join");
        db_.exec_kept("SAVEPOINT " + savepoint_name(level_));
    }
    db_.unit_depth_ = level_;
}

UnitOfWork::~UnitOfWork()
{
    if (!done_) {
        // What was owed for writes that are now undone is not owed.
        if (db_.after_commit_.size() > after_) {
            db_.after_commit_.resize(after_);
        }
        try {
            if (level_ == 1) {
                db_.exec_kept("ROLLBACK");
            } else if (sqlite3_get_autocommit(db_.raw()) == 0) {
                // ROLLBACK TO keeps the savepoint open; RELEASE closes it.
                const std::string name = savepoint_name(level_);
                db_.exec_kept("ROLLBACK TO " + name);
                db_.exec_kept("RELEASE " + name);
            }
        } catch (...) {
            // Nothing to do: SQLite rolls back on its own when it cannot,
            // and the outer unit's commit() finds that out.
        }
    }
    db_.unit_depth_ = level_ - 1;
}

void UnitOfWork::check_transaction_alive(const char* what) const
{
    if (sqlite3_get_autocommit(db_.raw()) != 0) {
        throw StoreError(std::string("unit of work: cannot ") + what
                             + ": SQLite rolled the transaction back",
                         SQLITE_ABORT);
    }
}

void UnitOfWork::commit()
{
    if (done_) {
        throw StoreError("unit of work: committed twice", SQLITE_MISUSE);
    }
    if (db_.unit_depth_ != level_) {
        throw StoreError("unit of work: committed while an inner unit is open",
                         SQLITE_MISUSE);
    }
    check_transaction_alive("commit");
    if (level_ == 1) {
        db_.exec_kept("COMMIT");
    } else {
        db_.exec_kept("RELEASE " + savepoint_name(level_));
    }
    done_ = true;
    if (level_ == 1) {
        db_.unit_depth_ = 0;
        db_.run_after_commit();
    }
}

}  // namespace chatwoot::store
