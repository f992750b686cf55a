// The PostgreSQL import's sink (issue 12, "Original timestamps through
// PostgreSQL"): an import job hands it one chat at a time and it writes the
// chat straight into Chatwoot's tables with WhatsApp's timestamps.
//
// Per connection, once: the checks (tables and columns, schema version,
// the inbox belongs to the account and is an API inbox, Chatwoot's
// display_id trigger and sequence, this role's privileges); a database
// that fails them fails every chat with the reason, and is checked again
// on the next chat (the operator may have fixed it).
//
// Per chat, one transaction: a per-chat advisory lock; which "WAID:<id>"
// the inbox already has (all of them: nothing is written, the chat is
// skipped whole); the contact inbox by source_id, else the contact by
// identifier (else by phone when it has no identifier), else both created;
// the contact's open or pending conversation in the inbox, else a new open
// one; the messages in one statement under a savepoint, and when the
// server refuses that, each under its own savepoint so that the one it
// refuses fails alone; the conversation's and contact's last activity;
// COMMIT.  A connection lost or a statement failing outside a message:
// the transaction rolls back and `done` says so; writing the chat again
// is safe (idempotent on (inbox_id, source_id)).
#pragma once

#include "pg_connection.hpp"
#include "pg_loop.hpp"
#include "pg_statements.hpp"

#include "bridge/import_batch.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatwoot::helper::pg {

struct PgWriteResult {
    PgWriteResult() = default;
    // The outcome in numbers, as the tests spell it.
    PgWriteResult(uint64_t inserted_, uint64_t skipped_, uint64_t failed_, std::string failure_,
                  std::optional<std::string> error_)
        : inserted(inserted_), skipped(skipped_), failed(failed_), failure(std::move(failure_)),
          error(std::move(error_))
    {
    }
    uint64_t inserted = 0;   // messages written
    uint64_t skipped = 0;    // already in the inbox (or repeated in the chat)
    uint64_t failed = 0;     // refused one by one; the chat went on
    std::string failure;     // the first refused message's reason ("" if none)
    // The chat was not written (rolled back, nothing of it committed): why.
    // The counts above are then 0.
    std::optional<std::string> error;
    // With `error`: the database's checks refused it (wrong inbox, unknown
    // schema version, missing tables): not a passing fault.
    bool refused = false;
    // Which messages ("WAID:<id>") were written and which were refused, so
    // that an import job records each one's outcome; the rest were skipped.
    std::vector<std::string> inserted_ids;
    std::vector<std::string> failed_ids;
    // The outcome in numbers (the ids are its detail).
    bool operator==(const PgWriteResult& o) const
    {
        return inserted == o.inserted && skipped == o.skipped && failed == o.failed
               && failure == o.failure && error == o.error && refused == o.refused;
    }
};

struct PgWriterOptions {
    std::string conninfo;          // URL or key=value pairs (a secret: never logged)
    Target target;
    PgTimeouts timeouts;
    size_t batch_max = 1000;       // messages per INSERT statement
    // Unix seconds now, for a created contact's created_at (injected).
    std::function<int64_t()> now;
    // Tests: called with the step's name just before it is sent
    // ("connect", "check", "begin", "contact", "conversation", "messages",
    // "message", "finish", "rollback").
    std::function<void(std::string_view step)> on_step;
};

class PgImportWriter {
public:
    using Done = std::function<void(PgWriteResult)>;

    PgImportWriter(PgLoop& loop, PgWriterOptions options);
    ~PgImportWriter();
    PgImportWriter(const PgImportWriter&) = delete;
    PgImportWriter& operator=(const PgImportWriter&) = delete;

    // Queues a chat; chats are written one after another, in the order
    // given.  `done` runs from the loop, never from inside this call, and
    // may call write() again; it must not destroy the writer (it runs
    // inside the connection's event handler): do that on a later turn.
    void write(bridge::ImportChat chat, Done done);

    // Chats queued or being written.
    size_t pending() const noexcept { return queue_.size() + (job_ ? 1 : 0); }

private:
    struct Job;

    void kick();
    void start_job();
    void connect();
    void step(std::string_view name, std::vector<Statement> batch,
              void (PgImportWriter::*then)(std::vector<Answer>));
    void on_connected(std::optional<std::string> error);
    void on_checked(std::vector<Answer> answers);
    void begin();
    void on_begun(std::vector<Answer> answers);
    void on_contact(std::vector<Answer> answers);
    void on_conversation(std::vector<Answer> answers);
    void insert_next();
    void on_batch(std::vector<Answer> answers);
    void on_batch_rolled_back(std::vector<Answer> answers);
    void on_single(std::vector<Answer> answers);
    void on_single_rolled_back(std::vector<Answer> answers);
    void finish();
    void on_finished(std::vector<Answer> answers);
    void fail(std::string why, bool roll_back);
    void on_rolled_back(std::vector<Answer> answers);
    void complete(PgWriteResult result);
    void record_inserted(const Answer& returned, size_t from, size_t to);

    PgLoop& loop_;
    PgWriterOptions options_;
    std::unique_ptr<PgConnection> conn_;
    std::vector<std::unique_ptr<PgConnection>> old_conns_;
    bool checked_ = false;
    std::deque<std::pair<bridge::ImportChat, Done>> queue_;
    std::unique_ptr<Job> job_;
    std::unique_ptr<PgLoop::Handle> kick_;
};

}  // namespace chatwoot::helper::pg
