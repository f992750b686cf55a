#include "pg_import_sink.hpp"

#include <algorithm>
#include <string_view>

namespace chatwoot::helper {

namespace {

std::string wa_id_of(std::string_view source_id)
{
    constexpr std::string_view prefix = "WAID:";
    if (source_id.starts_with(prefix)) {
        source_id.remove_prefix(prefix.size());
    }
    return std::string(source_id);
}

}  // namespace

ImportSinkResult to_sink_result(const pg::PgWriteResult& r)
{
    ImportSinkResult out;
    if (r.error) {
        out.error = "PostgreSQL: "
                    + (r.error->empty() ? std::string("the chat could not be written") : *r.error);
        out.give_up = r.refused;
        return out;
    }
    for (const auto& id : r.inserted_ids) out.posted.push_back({wa_id_of(id), 0});
    for (const auto& id : r.failed_ids) out.failed.push_back(wa_id_of(id));
    // Whatever else the page held was in the inbox already: the job records
    // the messages it is not told of as skipped.
    return out;
}

PgImportSink::PgImportSink(pg::PgLoop& loop, PgImportSinkOptions options)
    : loop_(loop), options_(std::move(options))
{
    options_.writers = std::max<size_t>(1, options_.writers);
    options_.retry_first_ms = std::max<uint64_t>(1, options_.retry_first_ms);
    options_.retry_max_ms = std::max(options_.retry_first_ms, options_.retry_max_ms);
    options_.retry_bound = std::max(1u, options_.retry_bound);
}

// Timers first (their callbacks name writers), then the writers: nothing
// of ours runs from here on.
PgImportSink::~PgImportSink()
{
    retries_.clear();
    writers_.clear();
}

uint64_t PgImportSink::retry_delay(unsigned n) const
{
    uint64_t d = options_.retry_first_ms;
    for (unsigned i = 1; i < n && d < options_.retry_max_ms; i++) d *= 2;
    return std::min(d, options_.retry_max_ms);
}

void PgImportSink::import_chat(const bridge::ImportChat& batch, Done done)
{
    auto it = retries_.find(batch.chat_jid);
    if (it == retries_.end() || it->second.failures == 0) {
        write(batch, std::move(done));
        return;
    }
    // The same chat again after an error: not before its backoff.
    Retry& retry = it->second;
    retry.timer = loop_.after(retry_delay(retry.failures),
                              [this, batch, done = std::move(done)]() mutable {
                                  write(std::move(batch), std::move(done));
                              });
}

pg::PgImportWriter& PgImportSink::least_busy()
{
    pg::PgImportWriter* best = nullptr;
    for (auto& w : writers_) {
        if (best == nullptr || w->pending() < best->pending()) best = w.get();
    }
    if ((best == nullptr || best->pending() > 0) && writers_.size() < options_.writers) {
        pg::PgWriterOptions o;
        o.conninfo = options_.conninfo;
        o.target = pg::Target{options_.account_id, inbox_id_};
        o.timeouts = options_.timeouts;
        o.now = options_.now;
        writers_.push_back(std::make_unique<pg::PgImportWriter>(loop_, std::move(o)));
        best = writers_.back().get();
    }
    return *best;
}

void PgImportSink::write(bridge::ImportChat chat, Done done)
{
    std::string key = chat.chat_jid;
    least_busy().write(std::move(chat),
                       [this, key = std::move(key), done = std::move(done)](pg::PgWriteResult r) {
                           written(key, r, done);
                       });
}

void PgImportSink::written(const std::string& chat, const pg::PgWriteResult& r, const Done& done)
{
    ImportSinkResult result = to_sink_result(r);
    if (result.error.empty()) {
        retries_.erase(chat);
    } else {
        // The timer that ran this write may be the one in the entry: keep
        // the entry (the handle is spent, its callback already moved out).
        Retry& retry = retries_[chat];
        retry.failures++;
        if (retry.failures >= options_.retry_bound && !result.give_up) {
            result.give_up = true;
            result.error = std::to_string(retry.failures)
                           + " attempts in a row failed; the last: " + result.error;
        }
        if (result.give_up) {
            retries_.erase(chat);
        }
    }
    if (done) done(result);
}

}  // namespace chatwoot::helper
