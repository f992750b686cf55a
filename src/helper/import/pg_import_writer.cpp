#include "pg_import_writer.hpp"

#include <algorithm>
#include <unordered_map>

namespace chatwoot::helper::pg {

struct PgImportWriter::Job {
    bridge::ImportChat chat;
    Done done;
    ChatRows rows;            // still to write (after the look-up)
    uint64_t skipped = 0;
    int64_t contact_id = 0;
    int64_t contact_inbox_id = 0;
    int64_t conversation_id = 0;
    size_t next = 0;          // the first row of the next statement
    size_t single_end = 0;    // one by one up to here (after a refused batch)
    uint64_t inserted = 0;
    uint64_t failed = 0;
    std::string failure;
    std::optional<int64_t> newest_inserted;
    std::optional<int64_t> newest_incoming;
    std::vector<std::string> inserted_ids;
    std::vector<std::string> failed_ids;
    std::string error;        // set while rolling back
    // Its first statement went to a connection an earlier chat used: a
    // server restart since may have cut it without our noticing yet.
    bool on_reused_connection = false;
    bool reconnected = false;
};

PgImportWriter::PgImportWriter(PgLoop& loop, PgWriterOptions options)
    : loop_(loop), options_(std::move(options))
{
    if (options_.batch_max == 0) {
        options_.batch_max = 1;
    }
}

PgImportWriter::~PgImportWriter()
{
    kick_.reset();
    conn_.reset();
    old_conns_.clear();
}

void PgImportWriter::write(bridge::ImportChat chat, Done done)
{
    queue_.emplace_back(std::move(chat), std::move(done));
    kick();
}

// Work starts from the loop: never inside write(), and never inside a
// connection's callback (which may be about to replace that connection).
void PgImportWriter::kick()
{
    if (job_ || kick_ || queue_.empty()) {
        return;
    }
    kick_ = loop_.after(0, [this] {
        kick_.reset();
        start_job();
    });
}

void PgImportWriter::start_job()
{
    if (job_ || queue_.empty()) {
        return;
    }
    job_ = std::make_unique<Job>();
    job_->chat = std::move(queue_.front().first);
    job_->done = std::move(queue_.front().second);
    queue_.pop_front();

    old_conns_.clear();   // retired on an earlier turn: safe to destroy now
    if (conn_ && conn_->ready() && checked_) {
        job_->on_reused_connection = true;
        begin();
        return;
    }
    connect();
}

void PgImportWriter::connect()
{
    if (conn_) {
        old_conns_.push_back(std::move(conn_));
    }
    checked_ = false;
    conn_ = std::make_unique<PgConnection>(loop_, options_.conninfo, options_.timeouts);
    if (options_.on_step) {
        options_.on_step("connect");
    }
    conn_->connect([this](std::optional<std::string> error) { on_connected(std::move(error)); });
}

void PgImportWriter::on_connected(std::optional<std::string> error)
{
    if (error) {
        fail(*error, false);
        return;
    }
    step("check", check_statements(options_.target), &PgImportWriter::on_checked);
}

void PgImportWriter::step(std::string_view name, std::vector<Statement> batch,
                          void (PgImportWriter::*then)(std::vector<Answer>))
{
    if (options_.on_step) {
        options_.on_step(name);
    }
    conn_->run(std::move(batch),
               [this, then](std::optional<std::string> lost, std::vector<Answer> answers) {
                   if (lost) {
                       // The chat's first statement on a connection left
                       // idle since the last chat: nothing of the chat was
                       // done, so once more on a new connection.
                       if (then == &PgImportWriter::on_begun && job_->on_reused_connection
                           && !job_->reconnected) {
                           job_->reconnected = true;
                           job_->on_reused_connection = false;
                           connect();
                           return;
                       }
                       fail(*lost + " (the chat's transaction was rolled back)", false);
                       return;
                   }
                   (this->*then)(std::move(answers));
               });
}

void PgImportWriter::on_checked(std::vector<Answer> answers)
{
    if (auto why = check_verdict(options_.target, answers)) {
        // The next chat connects and checks again.
        if (conn_) {
            old_conns_.push_back(std::move(conn_));
        }
        PgWriteResult r;
        r.error = std::move(*why);
        r.refused = true;
        complete(std::move(r));
        return;
    }
    checked_ = true;
    begin();
}

void PgImportWriter::begin()
{
    const ChatRows all = chat_rows(job_->chat);
    job_->skipped = all.repeated;
    if (all.source_ids.empty()) {
        PgWriteResult r;
        r.skipped = job_->skipped;
        complete(std::move(r));
        return;
    }
    job_->rows = all;
    step("begin", begin_statements(options_.target, job_->chat, all), &PgImportWriter::on_begun);
}

void PgImportWriter::on_begun(std::vector<Answer> answers)
{
    for (const Answer& a : answers) {
        if (!a.ok) {
            fail("cannot begin the chat's transaction: " + a.error, true);
            return;
        }
    }
    ChatRows missing = missing_rows(job_->rows, answers.back());
    job_->skipped += job_->rows.source_ids.size() - missing.source_ids.size();
    job_->rows = std::move(missing);
    if (job_->rows.source_ids.empty()) {
        // Everything is there already: nothing to create either.
        step("finish", {rollback_statement()}, &PgImportWriter::on_finished);
        return;
    }
    const int64_t now = options_.now ? options_.now() : 0;
    step("contact", {contact_statement(options_.target, job_->chat, now)},
         &PgImportWriter::on_contact);
}

void PgImportWriter::on_contact(std::vector<Answer> answers)
{
    const Answer& a = answers.at(0);
    if (!a.ok) {
        fail("cannot find or create the contact: " + a.error, true);
        return;
    }
    auto contact = int_at(a, 0);
    auto contact_inbox = int_at(a, 1);
    if (!contact || !contact_inbox) {
        // Someone else created the contact or its contact inbox between our
        // look-up and our insert (Chatwoot's own API, for instance).
        fail("the contact was created by someone else meanwhile; write the chat again", true);
        return;
    }
    job_->contact_id = *contact;
    job_->contact_inbox_id = *contact_inbox;
    step("conversation",
         {conversation_statement(options_.target, job_->contact_id, job_->contact_inbox_id,
                                 job_->rows.timestamps.front())},
         &PgImportWriter::on_conversation);
}

void PgImportWriter::on_conversation(std::vector<Answer> answers)
{
    const Answer& a = answers.at(0);
    auto id = int_at(a, 0);
    if (!a.ok || !id) {
        fail("cannot find or create the conversation: " + (a.ok ? std::string("no row") : a.error),
             true);
        return;
    }
    job_->conversation_id = *id;
    job_->next = 0;
    job_->single_end = 0;
    insert_next();
}

void PgImportWriter::insert_next()
{
    Job& j = *job_;
    const size_t n = j.rows.source_ids.size();
    if (j.next >= n) {
        finish();
        return;
    }
    if (j.next < j.single_end) {
        step("message",
             insert_statements(options_.target, j.conversation_id, j.contact_id, j.rows, j.next,
                               j.next + 1),
             &PgImportWriter::on_single);
        return;
    }
    const size_t to = std::min(n, j.next + options_.batch_max);
    step("messages",
         insert_statements(options_.target, j.conversation_id, j.contact_id, j.rows, j.next, to),
         &PgImportWriter::on_batch);
}

// What an INSERT ... RETURNING source_id answered for rows [from, to): the
// rows it left out were in the inbox already.
void PgImportWriter::record_inserted(const Answer& returned, size_t from, size_t to)
{
    Job& j = *job_;
    std::unordered_map<std::string_view, size_t> index;
    for (size_t i = from; i < to; i++) {
        index.emplace(j.rows.source_ids[i], i);
    }
    uint64_t inserted = 0;
    for (const Row& r : returned.rows) {
        if (r.empty() || !r[0]) {
            continue;
        }
        auto it = index.find(*r[0]);
        if (it == index.end()) {
            continue;
        }
        inserted++;
        j.inserted_ids.push_back(j.rows.source_ids[it->second]);
        const int64_t ts = j.rows.timestamps[it->second];
        j.newest_inserted = std::max(j.newest_inserted.value_or(ts), ts);
        if (j.rows.message_types[it->second] == 0) {
            j.newest_incoming = std::max(j.newest_incoming.value_or(ts), ts);
        }
    }
    j.inserted += inserted;
    j.skipped += (to - from) - inserted;
}

void PgImportWriter::on_batch(std::vector<Answer> answers)
{
    Job& j = *job_;
    const size_t to = std::min(j.rows.source_ids.size(), j.next + options_.batch_max);
    if (!answers.at(0).ok) {
        fail("cannot set a savepoint: " + answers[0].error, true);
        return;
    }
    if (answers.at(1).ok && answers.at(2).ok) {
        record_inserted(answers[1], j.next, to);
        j.next = to;
        insert_next();
        return;
    }
    // The server refused the batch: back to its savepoint, and these rows
    // one by one (a single-row batch goes there directly).
    j.single_end = to;
    step("rollback", rollback_to_savepoint_statements(), &PgImportWriter::on_batch_rolled_back);
}

void PgImportWriter::on_batch_rolled_back(std::vector<Answer> answers)
{
    for (const Answer& a : answers) {
        if (!a.ok) {
            fail("cannot roll back to the savepoint: " + a.error, true);
            return;
        }
    }
    insert_next();
}

void PgImportWriter::on_single(std::vector<Answer> answers)
{
    Job& j = *job_;
    if (!answers.at(0).ok) {
        fail("cannot set a savepoint: " + answers[0].error, true);
        return;
    }
    if (answers.at(1).ok && answers.at(2).ok) {
        record_inserted(answers[1], j.next, j.next + 1);
        j.next++;
        insert_next();
        return;
    }
    j.failed++;
    j.failed_ids.push_back(j.rows.source_ids[j.next]);
    if (j.failure.empty()) {
        j.failure = j.rows.source_ids[j.next] + ": " + answers[1].error;
    }
    j.next++;
    step("rollback", rollback_to_savepoint_statements(), &PgImportWriter::on_single_rolled_back);
}

void PgImportWriter::on_single_rolled_back(std::vector<Answer> answers)
{
    on_batch_rolled_back(std::move(answers));
}

void PgImportWriter::finish()
{
    Job& j = *job_;
    step("finish",
         finish_statements(j.conversation_id, j.contact_id, j.newest_inserted, j.newest_incoming),
         &PgImportWriter::on_finished);
}

void PgImportWriter::on_finished(std::vector<Answer> answers)
{
    for (const Answer& a : answers) {
        if (!a.ok) {
            fail("cannot commit the chat: " + a.error, true);
            return;
        }
    }
    Job& j = *job_;
    PgWriteResult r{j.inserted, j.skipped, j.failed, j.failure, std::nullopt};
    r.inserted_ids = std::move(j.inserted_ids);
    r.failed_ids = std::move(j.failed_ids);
    complete(std::move(r));
}

// The chat is not written.  With a transaction open on a working
// connection, roll it back first (else the connection is gone, and the
// server has rolled it back).
void PgImportWriter::fail(std::string why, bool roll_back)
{
    if (roll_back && conn_ && conn_->ready()) {
        job_->error = std::move(why);
        step("rollback", {rollback_statement()}, &PgImportWriter::on_rolled_back);
        return;
    }
    if (conn_ && !conn_->ready()) {
        old_conns_.push_back(std::move(conn_));
    }
    PgWriteResult r;
    r.error = std::move(why);
    complete(std::move(r));
}

void PgImportWriter::on_rolled_back(std::vector<Answer> answers)
{
    std::string why = std::move(job_->error);
    if (answers.empty() || !answers[0].ok) {
        // The connection is in a state we do not know: use a new one.
        if (conn_) {
            old_conns_.push_back(std::move(conn_));
        }
    }
    PgWriteResult r;
    r.error = std::move(why);
    complete(std::move(r));
}

void PgImportWriter::complete(PgWriteResult result)
{
    std::unique_ptr<Job> job = std::move(job_);
    kick();
    if (job->done) {
        job->done(std::move(result));
    }
}

}  // namespace chatwoot::helper::pg
