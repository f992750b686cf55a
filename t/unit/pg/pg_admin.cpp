#include "pg_admin.hpp"

#include <libpq-fe.h>

#include <stdexcept>

namespace chatwoot::test {

void PgAdmin::Deleter::operator()(pg_conn* c) const noexcept
{
    PQfinish(c);
}

PgAdmin::PgAdmin(const std::string& conninfo)
{
    const char* keys[] = {"dbname", nullptr};
    const char* values[] = {conninfo.c_str(), nullptr};
    conn_.reset(PQconnectdbParams(keys, values, 1));
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
        throw std::runtime_error(std::string("admin connection: ")
                                 + (conn_ ? PQerrorMessage(conn_.get()) : "out of memory"));
    }
}

PgAdmin::~PgAdmin() = default;

std::vector<PgAdmin::Row> PgAdmin::query(const std::string& sql)
{
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(conn_.get(), sql.c_str()), &PQclear);
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        throw std::runtime_error(sql + ": " + PQerrorMessage(conn_.get()));
    }
    std::vector<Row> rows;
    for (int i = 0; i < PQntuples(r.get()); i++) {
        Row row;
        for (int j = 0; j < PQnfields(r.get()); j++) {
            if (PQgetisnull(r.get(), i, j)) {
                row.emplace_back(std::nullopt);
            } else {
                row.emplace_back(std::string(PQgetvalue(r.get(), i, j)));
            }
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string PgAdmin::value(const std::string& sql)
{
    auto rows = query(sql);
    if (rows.empty() || rows[0].empty() || !rows[0][0]) {
        return "";
    }
    return *rows[0][0];
}

int64_t PgAdmin::count(const std::string& sql)
{
    return std::stoll(value(sql));
}

}  // namespace chatwoot::test
