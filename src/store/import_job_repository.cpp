#include "import_job_repository.hpp"

namespace chatwoot::store {

namespace {

constexpr const char* kColumns =
    "id, inbox, what, days, since, flags, state, chats_total, chats_done, chats_failed,"
    " messages_total, messages_done, messages_skipped, messages_failed, contacts_done,"
    " current_chat, last_error, created_at, started_at, updated_at, finished_at";

ImportState state_of(std::string_view name)
{
    if (name == "running") return ImportState::running;
    if (name == "paused") return ImportState::paused;
    if (name == "completed") return ImportState::completed;
    if (name == "failed") return ImportState::failed;
    return ImportState::queued;
}

std::string select(std::string_view rest)
{
    return std::string("SELECT ") + kColumns + " FROM import_jobs " + std::string(rest);
}

}  // namespace

const char* import_state_name(ImportState state)
{
    switch (state) {
    case ImportState::running: return "running";
    case ImportState::paused: return "paused";
    case ImportState::completed: return "completed";
    case ImportState::failed: return "failed";
    case ImportState::queued: break;
    }
    return "queued";
}

ImportJobRepository::ImportJobRepository(Database& db)
    : db_(db),
      insert_(db.prepare("INSERT INTO import_jobs"
                         " (id, inbox, what, days, since, flags, created_at, updated_at)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)")),
      find_(db.prepare(select("WHERE id = ?1"))),
      active_(db.prepare(select("WHERE inbox = ?1 AND state IN ('queued', 'running', 'paused')"
                                " ORDER BY created_at, id LIMIT 1"))),
      recent_(db.prepare(select("ORDER BY state IN ('queued', 'running', 'paused') DESC,"
                                " created_at DESC, id DESC LIMIT ?1"))),
      add_chat_(db.prepare("INSERT OR IGNORE INTO import_job_chats"
                           " (job, chat, messages_total, oldest) VALUES (?1, ?2, ?3, ?4)")),
      start_(db.prepare("UPDATE import_jobs SET state = 'running', chats_total = ?2,"
                        " messages_total = ?3, started_at = ?4, updated_at = ?4"
                        " WHERE id = ?1 AND state = 'queued'")),
      state_(db.prepare("UPDATE import_jobs SET state = ?2, updated_at = ?3"
                        " WHERE id = ?1 AND state IN ('queued', 'running', 'paused')")),
      complete_(db.prepare("UPDATE import_jobs SET state = 'completed', current_chat = '',"
                           " finished_at = ?2, updated_at = ?2"
                           " WHERE id = ?1 AND state IN ('queued', 'running', 'paused')")),
      fail_(db.prepare("UPDATE import_jobs SET state = 'failed', last_error = ?2,"
                       " current_chat = '', finished_at = ?3, updated_at = ?3"
                       " WHERE id = ?1 AND state IN ('queued', 'running', 'paused')")),
      note_error_(db.prepare("UPDATE import_jobs SET last_error = ?2, updated_at = ?3"
                             " WHERE id = ?1")),
      open_chats_(db.prepare("SELECT chat, messages_total, last_timestamp, last_id"
                             " FROM import_job_chats WHERE job = ?1 AND state = 'pending'"
                             " ORDER BY oldest, chat")),
      cursor_(db.prepare("UPDATE import_job_chats SET last_timestamp = ?3, last_id = ?4"
                         " WHERE job = ?1 AND chat = ?2")),
      count_posted_(db.prepare("UPDATE import_jobs SET messages_done = messages_done + 1,"
                               " updated_at = ?2 WHERE id = ?1")),
      count_skipped_(db.prepare("UPDATE import_jobs SET messages_skipped = messages_skipped"
                                " + 1, updated_at = ?2 WHERE id = ?1")),
      count_skips_(db.prepare("UPDATE import_jobs SET messages_skipped = messages_skipped"
                              " + ?2, updated_at = ?3 WHERE id = ?1")),
      count_failed_(db.prepare("UPDATE import_jobs SET messages_failed = messages_failed + 1,"
                               " updated_at = ?2 WHERE id = ?1")),
      posted_(db.prepare("INSERT OR IGNORE INTO import_posted"
                         " (inbox, wa_id, chat, chatwoot_message_id, job)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)")),
      finish_chat_(db.prepare("UPDATE import_job_chats SET state = ?3"
                              " WHERE job = ?1 AND chat = ?2 AND state = 'pending'")),
      current_chat_(db.prepare("UPDATE import_jobs SET current_chat = ?2 WHERE id = ?1")),
      add_contacts_(db.prepare("UPDATE import_jobs SET contacts_done = contacts_done + ?2,"
                               " updated_at = ?3 WHERE id = ?1")),
      add_total_(db.prepare("UPDATE import_jobs SET messages_total = messages_total + ?2,"
                            " updated_at = ?3 WHERE id = ?1")),
      add_chat_total_(db.prepare("UPDATE import_job_chats SET messages_total = messages_total + ?3"
                                 " WHERE job = ?1 AND chat = ?2")),
      known_(db.prepare("SELECT EXISTS (SELECT 1 FROM import_posted"
                        "                WHERE inbox = ?1 AND wa_id = ?2)"
                        " OR EXISTS (SELECT 1 FROM wa_inbound WHERE inbox = ?1 AND wa_id = ?2)"
                        " OR EXISTS (SELECT 1 FROM wa_sent WHERE inbox = ?1 AND wa_id = ?2)")),
      linked_(db.prepare("SELECT count(*) FROM import_on_link WHERE inbox = ?1")),
      mark_linked_(db.prepare("INSERT OR IGNORE INTO import_on_link (inbox, job, created_at)"
                              " VALUES (?1, ?2, ?3)"))
{
}

ImportJobRow ImportJobRepository::read_row(const Statement& row)
{
    ImportJobRow j;
    j.id = row.column_text(0);
    j.inbox = row.column_text(1);
    j.what = row.column_text(2);
    j.days = row.column_int(3);
    j.since = row.column_int(4);
    j.flags = row.column_int(5);
    j.state = state_of(row.column_text(6));
    j.chats_total = row.column_int(7);
    j.chats_done = row.column_int(8);
    j.chats_failed = row.column_int(9);
    j.messages_total = row.column_int(10);
    j.messages_done = row.column_int(11);
    j.messages_skipped = row.column_int(12);
    j.messages_failed = row.column_int(13);
    j.contacts_done = row.column_int(14);
    j.current_chat = row.column_text(15);
    j.last_error = row.column_text(16);
    j.created_at = row.column_int(17);
    j.started_at = row.column_int(18);
    j.updated_at = row.column_int(19);
    j.finished_at = row.column_int(20);
    return j;
}

std::optional<std::string> ImportJobRepository::file(const NewImportJob& job)
{
    UnitOfWork unit(db_);
    if (find(job.id)) {
        unit.commit();
        return std::nullopt;   // the same command again
    }
    if (auto running = active(job.inbox)) {
        return "inbox \"" + job.inbox + "\" has an import " + import_state_name(running->state)
               + " already: " + running->id;
    }
    insert_.bind(1, std::string_view(job.id))
        .bind(2, std::string_view(job.inbox))
        .bind(3, std::string_view(job.what))
        .bind(4, job.days)
        .bind(5, job.since)
        .bind(6, job.flags)
        .bind(7, job.created_at)
        .run();
    unit.commit();
    return std::nullopt;
}

std::optional<ImportJobRow> ImportJobRepository::find(std::string_view id)
{
    std::optional<ImportJobRow> out;
    find_.bind(1, id).each_row([&](const Statement& row) { out = read_row(row); });
    return out;
}

std::optional<ImportJobRow> ImportJobRepository::active(std::string_view inbox)
{
    std::optional<ImportJobRow> out;
    active_.bind(1, inbox).each_row([&](const Statement& row) { out = read_row(row); });
    return out;
}

std::vector<ImportJobRow> ImportJobRepository::recent(size_t limit)
{
    std::vector<ImportJobRow> out;
    recent_.bind(1, static_cast<int64_t>(limit)).each_row([&](const Statement& row) {
        out.push_back(read_row(row));
    });
    return out;
}

void ImportJobRepository::start(std::string_view id,
                                const std::vector<ImportChatProgress>& chats, int64_t now)
{
    UnitOfWork unit(db_);
    int64_t messages = 0;
    int64_t order = 0;
    for (const auto& c : chats) {
        // The plan's order: oldest chats first (their rank, not a time).
        add_chat_.bind(1, id).bind(2, std::string_view(c.chat)).bind(3, c.messages_total)
            .bind(4, order++).run();
        messages += c.messages_total;
    }
    start_.bind(1, id).bind(2, static_cast<int64_t>(chats.size())).bind(3, messages)
        .bind(4, now).run();
    unit.commit();
}

void ImportJobRepository::set_state(std::string_view id, ImportState state, int64_t now)
{
    state_.bind(1, id).bind(2, std::string_view(import_state_name(state))).bind(3, now).run();
}

void ImportJobRepository::complete(std::string_view id, int64_t now)
{
    complete_.bind(1, id).bind(2, now).run();
}

void ImportJobRepository::fail(std::string_view id, std::string_view why, int64_t now)
{
    fail_.bind(1, id).bind(2, why).bind(3, now).run();
}

void ImportJobRepository::note_error(std::string_view id, std::string_view why, int64_t now)
{
    note_error_.bind(1, id).bind(2, why).bind(3, now).run();
}

std::vector<ImportChatProgress> ImportJobRepository::open_chats(std::string_view id)
{
    std::vector<ImportChatProgress> out;
    open_chats_.bind(1, id).each_row([&](const Statement& row) {
        out.push_back({row.column_text(0), row.column_int(1), row.column_int(2),
                       row.column_text(3)});
    });
    return out;
}

void ImportJobRepository::record(std::string_view job, std::string_view inbox,
                                 std::string_view chat, std::string_view wa_id,
                                 int64_t timestamp, ImportOutcome outcome,
                                 int64_t chatwoot_message_id, int64_t now)
{
    UnitOfWork unit(db_);
    cursor_.bind(1, job).bind(2, chat).bind(3, timestamp).bind(4, wa_id).run();
    switch (outcome) {
    case ImportOutcome::posted:
        posted_.bind(1, inbox).bind(2, wa_id).bind(3, chat).bind(4, chatwoot_message_id)
            .bind(5, job).run();
        count_posted_.bind(1, job).bind(2, now).run();
        break;
    case ImportOutcome::skipped:
        count_skipped_.bind(1, job).bind(2, now).run();
        break;
    case ImportOutcome::failed:
        count_failed_.bind(1, job).bind(2, now).run();
        break;
    }
    unit.commit();
}

void ImportJobRepository::record_skipped(std::string_view job, std::string_view chat,
                                         int64_t timestamp, std::string_view wa_id, int64_t n,
                                         int64_t now)
{
    UnitOfWork unit(db_);
    cursor_.bind(1, job).bind(2, chat).bind(3, timestamp).bind(4, wa_id).run();
    count_skips_.bind(1, job).bind(2, n).bind(3, now).run();
    unit.commit();
}

void ImportJobRepository::finish_chat(std::string_view job, std::string_view chat, bool failed,
                                      int64_t now)
{
    UnitOfWork unit(db_);
    finish_chat_.bind(1, job).bind(2, chat)
        .bind(3, std::string_view(failed ? "failed" : "done")).run();
    if (db_.changes() > 0) {
        auto st = db_.prepare(failed ? "UPDATE import_jobs SET chats_failed = chats_failed + 1,"
                                       " updated_at = ?2 WHERE id = ?1"
                                     : "UPDATE import_jobs SET chats_done = chats_done + 1,"
                                       " updated_at = ?2 WHERE id = ?1");
        st.bind(1, job).bind(2, now).run();
    }
    unit.commit();
}

void ImportJobRepository::set_current_chat(std::string_view job, std::string_view chat)
{
    current_chat_.bind(1, job).bind(2, chat).run();
}

void ImportJobRepository::add_contacts(std::string_view job, int64_t n, int64_t now)
{
    add_contacts_.bind(1, job).bind(2, n).bind(3, now).run();
}

void ImportJobRepository::add_messages_total(std::string_view job, std::string_view chat,
                                             int64_t n, int64_t now)
{
    UnitOfWork unit(db_);
    add_total_.bind(1, job).bind(2, n).bind(3, now).run();
    add_chat_total_.bind(1, job).bind(2, chat).bind(3, n).run();
    unit.commit();
}

bool ImportJobRepository::known_to_chatwoot(std::string_view inbox, std::string_view wa_id)
{
    known_.bind(1, inbox).bind(2, wa_id);
    return known_.scalar() != 0;
}

bool ImportJobRepository::linked_before(std::string_view inbox)
{
    linked_.bind(1, inbox);
    return linked_.scalar() != 0;
}

void ImportJobRepository::mark_linked(std::string_view inbox, std::string_view job, int64_t now)
{
    mark_linked_.bind(1, inbox).bind(2, job).bind(3, now).run();
}

}  // namespace chatwoot::store
