// One libpq connection driven by an event loop, never blocking it:
// PQconnectStartParams/PQconnectPoll to connect, then pipeline mode
// (libpq 14+): a batch of statements is sent at once with one Sync, and
// its answers come back as the socket becomes readable.  The statements
// and what their answers mean are pg_statements' business; this file only
// sends and reads.
//
// A batch that fails part-way is PostgreSQL's pipeline rule: the statement
// that failed answers its error, the ones after it up to the Sync answer
// "skipped", and the transaction (if one is open) is aborted.
#pragma once

#include "pg_loop.hpp"
#include "pg_statements.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

struct pg_conn;

namespace chatwoot::helper::pg {

struct PgTimeouts {
    uint64_t connect_ms = 10'000;
    // A batch that has not answered in this long: the connection is
    // dropped (the server rolls the transaction back) and the batch fails.
    uint64_t batch_ms = 60'000;
};

class PgConnection {
public:
    // nullopt when connected (pipeline mode on), else why not.
    using ConnectDone = std::function<void(std::optional<std::string> error)>;
    // `lost`: the connection broke (or timed out) before the batch's Sync
    // came back; the answers are then meaningless.  Else one answer per
    // statement, in order.
    using BatchDone = std::function<void(std::optional<std::string> lost, std::vector<Answer>)>;

    // `conninfo`: a URL (postgresql://...) or key=value pairs.  Its
    // password never appears in an error this class reports (libpq's
    // messages name the host, port and user, not the password).
    PgConnection(PgLoop& loop, std::string conninfo, PgTimeouts timeouts = {});
    ~PgConnection();
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    // Starts connecting; `done` runs later, from the loop (never from
    // inside this call).  Once per connection.
    void connect(ConnectDone done);

    // Sends a batch; `done` runs from the loop.  Only when ready().
    void run(std::vector<Statement> batch, BatchDone done);

    bool ready() const noexcept { return state_ == State::idle; }
    bool broken() const noexcept { return state_ == State::broken; }

private:
    enum class State { fresh, connecting, idle, running, broken };
    struct ConnDeleter {
        void operator()(pg_conn* c) const noexcept;
    };

    void on_ready() noexcept;
    void poll_connect();
    void poll_results();
    bool watch_socket(bool want_write);
    bool flush();
    void fail(std::string why);
    void retire_watch();
    void later(std::function<void()> f);
    std::string libpq_error() const;

    PgLoop& loop_;
    std::string conninfo_;
    PgTimeouts timeouts_;
    std::unique_ptr<pg_conn, ConnDeleter> conn_;   // destroyed after watch_
    std::unique_ptr<PgLoop::Watch> watch_;
    std::vector<std::unique_ptr<PgLoop::Watch>> retired_;
    int watched_fd_ = -1;
    ino_t watched_ino_ = 0;
    std::unique_ptr<PgLoop::Handle> timer_;
    std::vector<std::unique_ptr<PgLoop::Handle>> soon_;
    State state_ = State::fresh;
    ConnectDone connect_done_;
    BatchDone batch_done_;
    size_t expected_ = 0;
    std::vector<Answer> answers_;
};

}  // namespace chatwoot::helper::pg
