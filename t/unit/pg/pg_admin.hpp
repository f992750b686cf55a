// A blocking libpq connection for tests and the benchmark only: set-up
// (rename a table, add a schema version) and reading back what the writer
// wrote.  The code under test never blocks; this never runs in the helper.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

struct pg_conn;

namespace chatwoot::test {

class PgAdmin {
public:
    using Row = std::vector<std::optional<std::string>>;

    // Throws std::runtime_error when it cannot connect.
    explicit PgAdmin(const std::string& conninfo);
    ~PgAdmin();

    // Throws std::runtime_error with the server's message on failure.
    std::vector<Row> query(const std::string& sql);
    void exec(const std::string& sql) { query(sql); }
    // The first column of the first row ("" when NULL or no row).
    std::string value(const std::string& sql);
    int64_t count(const std::string& sql);

private:
    struct Deleter {
        void operator()(pg_conn* c) const noexcept;
    };
    std::unique_ptr<pg_conn, Deleter> conn_;
};

}  // namespace chatwoot::test
