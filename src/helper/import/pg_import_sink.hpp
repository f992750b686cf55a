// An import job's way into Chatwoot's PostgreSQL (issue 12, "Original
// timestamps through PostgreSQL"): the ImportSink of an inbox with
// import_database.  It holds up to the inbox's concurrency writers (one
// connection each; four gave the benchmark's 5,000 msg/s) and hands each
// chat page to the least busy one, then tells the job what became of each
// message: written (posted), there already (skipped), refused (failed).
//
// A page that could not be written at all (the server gone, a statement
// failing outside a message) comes back to the job with the error, which
// the job records as its last error and hands the same page over again;
// this sink writes it after a backoff (a timer on the loop, doubling up to
// a cap), and after `retry_bound` failures in a row of the same chat, or at
// once when the database's checks refuse it (another account's inbox, a
// schema version it does not know, missing tables), tells the job to give
// up.  Writing a page twice is safe: the writer is idempotent on
// (inbox_id, source_id).
#pragma once

#include "import_sink.hpp"
#include "pg_import_writer.hpp"
#include "pg_loop.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chatwoot::helper {

struct PgImportSinkOptions {
    std::string conninfo;        // a secret: never logged
    int64_t account_id = 0;
    size_t writers = 1;          // the inbox's concurrency
    uint64_t retry_first_ms = 500;
    uint64_t retry_max_ms = 15'000;
    unsigned retry_bound = 30;   // failures in a row of one chat; then the job fails
    pg::PgTimeouts timeouts;
    std::function<int64_t()> now;
};

class PgImportSink final : public ImportSink {
public:
    PgImportSink(pg::PgLoop& loop, PgImportSinkOptions options);
    ~PgImportSink() override;
    PgImportSink(const PgImportSink&) = delete;
    PgImportSink& operator=(const PgImportSink&) = delete;

    // Once Chatwoot told the inbox's id (the writers are made on the first
    // chat, with it).
    void set_inbox_id(int64_t id) { inbox_id_ = id; }

    void import_chat(const bridge::ImportChat& batch, Done done) override;

    // The backoff before the n-th retry (n >= 1) of a chat.
    uint64_t retry_delay(unsigned n) const;

private:
    struct Retry {
        unsigned failures = 0;   // in a row
        std::unique_ptr<pg::PgLoop::Handle> timer;
    };

    void write(bridge::ImportChat chat, Done done);
    void written(const std::string& chat, const pg::PgWriteResult& r, const Done& done);
    pg::PgImportWriter& least_busy();

    pg::PgLoop& loop_;
    PgImportSinkOptions options_;
    int64_t inbox_id_ = 0;
    std::vector<std::unique_ptr<pg::PgImportWriter>> writers_;
    std::map<std::string, Retry> retries_;   // by chat, while it is failing
};

// What a writer's answer means for the job: the ids without "WAID:".
ImportSinkResult to_sink_result(const pg::PgWriteResult& r);

}  // namespace chatwoot::helper
