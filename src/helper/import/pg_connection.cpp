#include "pg_connection.hpp"

#include <libpq-fe.h>

#include <sys/stat.h>

namespace chatwoot::helper::pg {

void PgConnection::ConnDeleter::operator()(pg_conn* c) const noexcept
{
    PQfinish(c);
}

PgConnection::PgConnection(PgLoop& loop, std::string conninfo, PgTimeouts timeouts)
    : loop_(loop), conninfo_(std::move(conninfo)), timeouts_(timeouts)
{
}

// The watch holds a duplicate of libpq's socket: it goes first, then
// PQfinish closes libpq's own.
PgConnection::~PgConnection()
{
    timer_.reset();
    soon_.clear();
    watch_.reset();
    retired_.clear();
    conn_.reset();
}

// A watch is never destroyed from inside its own callback (which may be
// running now): it is put aside and destroyed on a later turn.
void PgConnection::retire_watch()
{
    if (!watch_) {
        return;
    }
    watch_->want_write(false);
    retired_.push_back(std::move(watch_));
    watched_fd_ = -1;
    later([this] { retired_.clear(); });
}

std::string PgConnection::libpq_error() const
{
    std::string e = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
    while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) {
        e.pop_back();
    }
    // libpq may put several lines (one per address tried): keep them on one.
    for (char& c : e) {
        if (c == '\n') {
            c = ' ';
        }
    }
    return e.empty() ? std::string("unknown libpq error") : e;
}

void PgConnection::later(std::function<void()> f)
{
    // Several may wait (a retired watch and a failure): each its own
    // handle; they are few per connection and go with it.
    soon_.push_back(loop_.after(0, std::move(f)));
}

void PgConnection::connect(ConnectDone done)
{
    connect_done_ = std::move(done);
    state_ = State::connecting;
    // expand_dbname: the one "dbname" value may be a URL or key=value
    // pairs, as psql takes it.
    const char* keys[] = {"dbname", nullptr};
    const char* values[] = {conninfo_.c_str(), nullptr};
    conn_.reset(PQconnectStartParams(keys, values, 1));
    if (!conn_ || PQstatus(conn_.get()) == CONNECTION_BAD) {
        later([this] { fail("cannot connect to PostgreSQL: " + libpq_error()); });
        return;
    }
    // libpq prints the server's notices and warnings on stderr (nginx's
    // error log, unformatted); the import has no use for them.
    PQsetNoticeProcessor(conn_.get(), [](void*, const char*) {}, nullptr);
    if (PQsetnonblocking(conn_.get(), 1) != 0) {
        later([this] { fail("cannot make the PostgreSQL connection non-blocking: " + libpq_error()); });
        return;
    }
    timer_ = loop_.after(timeouts_.connect_ms, [this] {
        fail("cannot connect to PostgreSQL: no answer in " + std::to_string(timeouts_.connect_ms)
             + " ms");
    });
    // libpq's rule: start as if PQconnectPoll had said "writing".
    if (!watch_socket(true)) {
        later([this] { fail("cannot watch the PostgreSQL socket"); });
    }
}

// Watches libpq's current socket (a new one when it changed, even under
// the same number: the inode tells).
bool PgConnection::watch_socket(bool want_write)
{
    const int fd = PQsocket(conn_.get());
    if (fd < 0) {
        return false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return false;
    }
    if (!watch_ || fd != watched_fd_ || st.st_ino != watched_ino_) {
        retire_watch();
        watch_ = loop_.watch(fd, [this] { on_ready(); });
        if (!watch_) {
            return false;
        }
        watched_fd_ = fd;
        watched_ino_ = st.st_ino;
    }
    return watch_->want_write(want_write);
}

void PgConnection::on_ready() noexcept
{
    try {
        if (state_ == State::connecting) {
            poll_connect();
        } else if (state_ == State::running) {
            poll_results();
        } else if (state_ == State::idle && conn_) {
            // Idle: the server may say something (a notice, its shutdown):
            // read it, and notice a closed connection before the next batch.
            if (PQconsumeInput(conn_.get()) == 0 || PQstatus(conn_.get()) == CONNECTION_BAD) {
                state_ = State::broken;
                retire_watch();
            }
        }
    } catch (const std::exception& e) {
        fail(std::string("PostgreSQL connection: ") + e.what());
    } catch (...) {
        fail("PostgreSQL connection: unknown exception");
    }
}

void PgConnection::poll_connect()
{
    switch (PQconnectPoll(conn_.get())) {
    case PGRES_POLLING_FAILED:
        fail("cannot connect to PostgreSQL: " + libpq_error());
        return;
    case PGRES_POLLING_READING:
        if (!watch_socket(false)) {
            fail("cannot watch the PostgreSQL socket");
        }
        return;
    case PGRES_POLLING_WRITING:
        if (!watch_socket(true)) {
            fail("cannot watch the PostgreSQL socket");
        }
        return;
    case PGRES_POLLING_OK:
        break;
    default:
        return;
    }
    if (PQenterPipelineMode(conn_.get()) != 1) {
        fail("cannot enter pipeline mode: " + libpq_error());
        return;
    }
    if (!watch_socket(false)) {
        fail("cannot watch the PostgreSQL socket");
        return;
    }
    timer_.reset();
    state_ = State::idle;
    ConnectDone done = std::move(connect_done_);
    connect_done_ = nullptr;
    if (done) {
        done(std::nullopt);
    }
}

void PgConnection::run(std::vector<Statement> batch, BatchDone done)
{
    batch_done_ = std::move(done);
    if (state_ != State::idle) {
        later([this] { fail("the PostgreSQL connection is not ready"); });
        return;
    }
    state_ = State::running;
    expected_ = batch.size();
    answers_.clear();
    answers_.reserve(batch.size());
    for (const Statement& s : batch) {
        std::vector<Oid> types;
        std::vector<const char*> values;
        std::vector<int> lengths;
        std::vector<int> formats;
        for (const Param& p : s.params) {
            types.push_back(p.type);
            values.push_back(p.value ? p.value->data() : nullptr);
            lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
            formats.push_back(p.binary ? 1 : 0);
        }
        // A text-format value is read up to its NUL: pg_statements sends
        // text that may hold one in binary format, and numbers as text.
        const int n = static_cast<int>(s.params.size());
        if (PQsendQueryParams(conn_.get(), s.sql.c_str(), n, n ? types.data() : nullptr,
                              n ? values.data() : nullptr, n ? lengths.data() : nullptr,
                              n ? formats.data() : nullptr, 0)
            != 1) {
            std::string why = "cannot send to PostgreSQL: " + libpq_error();
            later([this, why] { fail(why); });
            return;
        }
    }
    if (PQpipelineSync(conn_.get()) != 1) {
        std::string why = "cannot send to PostgreSQL: " + libpq_error();
        later([this, why] { fail(why); });
        return;
    }
    timer_ = loop_.after(timeouts_.batch_ms, [this] {
        fail("PostgreSQL did not answer in " + std::to_string(timeouts_.batch_ms) + " ms");
    });
    if (!flush()) {
        std::string why = "cannot send to PostgreSQL: " + libpq_error();
        later([this, why] { fail(why); });
    }
}

// Writes what libpq has buffered; watches writability only while some is
// left.
bool PgConnection::flush()
{
    const int r = PQflush(conn_.get());
    if (r < 0) {
        return false;
    }
    return watch_socket(r == 1);
}

void PgConnection::poll_results()
{
    if (!flush() || PQconsumeInput(conn_.get()) == 0) {
        fail("connection to PostgreSQL lost: " + libpq_error());
        return;
    }
    bool last_was_null = false;
    while (state_ == State::running && PQisBusy(conn_.get()) == 0) {
        PGresult* raw = PQgetResult(conn_.get());
        if (raw == nullptr) {
            // The end of one statement's results; two in a row: nothing
            // more has arrived yet.
            if (last_was_null) {
                break;
            }
            last_was_null = true;
            continue;
        }
        last_was_null = false;
        std::unique_ptr<PGresult, void (*)(PGresult*)> r(raw, &PQclear);
        const ExecStatusType st = PQresultStatus(r.get());
        if (st == PGRES_PIPELINE_SYNC) {
            if (PQstatus(conn_.get()) == CONNECTION_BAD) {
                fail("connection to PostgreSQL lost: " + libpq_error());
                return;
            }
            if (answers_.size() != expected_) {
                fail("PostgreSQL answered " + std::to_string(answers_.size()) + " of "
                     + std::to_string(expected_) + " statements");
                return;
            }
            timer_.reset();
            state_ = State::idle;
            BatchDone done = std::move(batch_done_);
            batch_done_ = nullptr;
            std::vector<Answer> answers = std::move(answers_);
            answers_.clear();
            if (done) {
                done(std::nullopt, std::move(answers));
            }
            return;
        }
        Answer a;
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            a.ok = true;
            const int rows = PQntuples(r.get());
            const int cols = PQnfields(r.get());
            a.rows.reserve(static_cast<size_t>(rows));
            for (int i = 0; i < rows; i++) {
                Row row;
                row.reserve(static_cast<size_t>(cols));
                for (int j = 0; j < cols; j++) {
                    if (PQgetisnull(r.get(), i, j)) {
                        row.emplace_back(std::nullopt);
                    } else {
                        row.emplace_back(std::string(PQgetvalue(r.get(), i, j),
                                                     static_cast<size_t>(PQgetlength(r.get(), i, j))));
                    }
                }
                a.rows.push_back(std::move(row));
            }
        } else if (st == PGRES_PIPELINE_ABORTED) {
            a.error = "not run: an earlier statement of the batch failed";
        } else {
            const char* primary = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY);
            const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
            a.error = primary ? primary : PQresStatus(st);
            a.sqlstate = state ? state : "";
        }
        answers_.push_back(std::move(a));
    }
    if (state_ == State::running && PQstatus(conn_.get()) == CONNECTION_BAD) {
        fail("connection to PostgreSQL lost: " + libpq_error());
    }
}

// The connection is done for: no more events, and whoever waits hears why.
void PgConnection::fail(std::string why)
{
    const State was = state_;
    state_ = State::broken;
    timer_.reset();
    retire_watch();
    if (was == State::connecting || connect_done_) {
        ConnectDone done = std::move(connect_done_);
        connect_done_ = nullptr;
        if (done) {
            done(std::move(why));
        }
        return;
    }
    BatchDone done = std::move(batch_done_);
    batch_done_ = nullptr;
    answers_.clear();
    if (done) {
        done(std::move(why), {});
    }
}

}  // namespace chatwoot::helper::pg
