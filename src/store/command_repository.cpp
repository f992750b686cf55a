#include "command_repository.hpp"

namespace chatwoot::store {

namespace {

CommandState state_of(std::string_view name)
{
    if (name == "done") {
        return CommandState::done;
    }
    if (name == "failed") {
        return CommandState::failed;
    }
    return CommandState::pending;
}

}  // namespace

const char* command_state_name(CommandState state)
{
    switch (state) {
    case CommandState::done:
        return "done";
    case CommandState::failed:
        return "failed";
    case CommandState::pending:
        break;
    }
    return "pending";
}

CommandRepository::CommandRepository(Database& db)
    : add_(db.prepare("INSERT OR IGNORE INTO commands"
                      " (id, kind, payload, state, reason, created_at, updated_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)")),
      settle_(db.prepare("UPDATE commands SET state = ?2, reason = ?3, updated_at = ?4"
                         " WHERE id = ?1 AND state = 'pending'")),
      find_(db.prepare("SELECT id, kind, payload, state, reason, created_at, updated_at"
                       " FROM commands WHERE id = ?1")),
      pending_(db.prepare("SELECT id, kind, payload, state, reason, created_at, updated_at"
                          " FROM commands WHERE state = 'pending'"
                          " ORDER BY created_at, id LIMIT ?1")),
      count_(db.prepare("SELECT count(*) FROM commands WHERE state = ?1")),
      db_(db)
{
}

bool CommandRepository::add(const NewCommand& c)
{
    add_.bind(1, std::string_view(c.id))
        .bind(2, std::string_view(c.kind))
        .bind_blob_view(3, c.payload)
        .bind(4, std::string_view(c.failure ? "failed" : "pending"));
    if (c.failure) {
        add_.bind(5, std::string_view(*c.failure));
    } else {
        add_.bind_null(5);
    }
    add_.bind(6, c.created_at);
    // run() resets the statement, which releases the payload view.
    add_.run();
    return db_.changes() > 0;
}

bool CommandRepository::settle(std::string_view id, CommandState state,
                               std::string_view reason, int64_t now)
{
    settle_.bind(1, id).bind(2, std::string_view(command_state_name(state)));
    if (reason.empty()) {
        settle_.bind_null(3);
    } else {
        settle_.bind(3, reason);
    }
    settle_.bind(4, now);
    settle_.run();
    return db_.changes() > 0;
}

StoredCommand CommandRepository::read_row(const Statement& row)
{
    StoredCommand c;
    c.id = row.column_text(0);
    c.kind = row.column_text(1);
    c.payload = row.column_blob(2);
    c.state = state_of(row.column_text(3));
    c.reason = row.column_text(4);
    c.created_at = row.column_int(5);
    c.updated_at = row.column_int(6);
    return c;
}

std::optional<StoredCommand> CommandRepository::find(std::string_view id)
{
    std::optional<StoredCommand> out;
    find_.bind(1, id);
    find_.each_row([&](const Statement& row) { out = read_row(row); });
    return out;
}

std::vector<StoredCommand> CommandRepository::pending(size_t limit)
{
    std::vector<StoredCommand> out;
    pending_.bind(1, static_cast<int64_t>(limit));
    pending_.each_row([&](const Statement& row) { out.push_back(read_row(row)); });
    return out;
}

uint64_t CommandRepository::count(CommandState state)
{
    count_.bind(1, std::string_view(command_state_name(state)));
    return static_cast<uint64_t>(count_.scalar());
}

}  // namespace chatwoot::store
