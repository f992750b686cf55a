#include "queue_drain.hpp"

#include "zone_lock.hpp"

#include "../store/filed_clock.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <exception>

namespace chatwoot::helper {

namespace {

// Bounds one commit, so that a long backlog never stalls the event loop for
// more than a few milliseconds between batches.
constexpr size_t kBatchRecords = 512;
constexpr size_t kBatchBytes = 4 * 1024 * 1024;
constexpr size_t kKeepPayloadBytes = 16 * 1024;

uint64_t fresh_epoch()
{
    return (static_cast<uint64_t>(ngx_time()) << 32)
           ^ (static_cast<uint64_t>(ngx_pid) << 16) ^ ngx_random();
}

}  // namespace

QueueDrain::QueueDrain(cw_shared_t* shared, ngx_slab_pool_t* shpool,
                       store::InboundEventRepository& repository,
                       store::OutboxRepository& outbox)
    : shared_(shared), shpool_(shpool), repository_(repository), outbox_(outbox),
      commands_(repository.database()),
      controls_repo_(repository.database())
{
    batch_.reserve(kBatchRecords);
    readings_.reserve(kBatchRecords);
    filed_.reserve(kBatchRecords);
}

store::InboundEvent& QueueDrain::next_entry()
{
    if (batch_n_ == batch_.size()) {
        batch_.emplace_back();
    }
    return batch_[batch_n_++];
}

// Files a webhook the store has not seen into the outbox, in the same
// transaction as its inbound row (written with the others of the batch
// just before the commit).
void QueueDrain::file(const store::InboundEvent& event, size_t index,
                      int64_t row_id)
{
    const auto& reading = readings_[index];
    if (reading && reading->action == "typing") {
        typings_.push_back(index);   // presence, not a job: handed over after the commit
        return;
    }
    if (!reading) {
        return;  // unreadable: logged below
    }
    if (take_control(event, *reading)) {
        return;
    }
    store::OutboxEntry& entry = filed_.emplace_back();
    entry.inbox = reading->inbox;
    entry.action = reading->action;
    entry.conversation_id = reading->conversation_id;
    entry.chatwoot_message_id = reading->message_id;
    entry.inbound_id = row_id;
    entry.created_at = event.received_at;
    if (reading->action == "send" && reading->message_id) {
        // From the worker's arrival time when the record has it (records
        // queued by an older module: from now).
        store::agent_message_filed().mark(*reading->message_id,
                                          reading->accepted_msec ? *reading->accepted_msec * 1000
                                                                 : store::unix_usec_now());
    }
}

// Files a command record: decoded when it can be, kept as failed with the
// reason when not.
void QueueDrain::take_command(const cw_ring_record_t& rec, uint64_t epoch, int64_t now)
{
    const std::span<const unsigned char> bytes(rec.data, rec.len);
    ipc::DrainedCommandRecord read = ipc::read_command_record(epoch, rec.seq, bytes, now);
    DrainedCommand& d = commands_batch_.emplace_back();
    d.row.id = std::move(read.id);
    d.row.kind = std::move(read.kind);
    d.row.created_at = read.created_at;
    d.row.payload.assign(bytes.begin(), bytes.end());
    d.command = std::move(read.command);
    if (!d.command) {
        d.row.failure = std::move(read.failure);
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "chatwoot helper: queued command %s kept as failed: %s",
                      d.row.id.c_str(), d.row.failure->c_str());
    }
}

// After the commit and the pop: each new, readable command to the handler.
void QueueDrain::hand_over_commands()
{
    if (!on_command_) {
        return;
    }
    for (const DrainedCommand& d : commands_batch_) {
        if (!d.added || !d.command) {
            continue;
        }
        try {
            on_command_(d.row.id, *d.command);
        } catch (const std::exception& e) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chatwoot helper: command %s (%s) stays pending: %s",
                          d.row.id.c_str(), d.row.kind.c_str(), e.what());
        } catch (...) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chatwoot helper: command %s (%s) stays pending: "
                          "unknown exception",
                          d.row.id.c_str(), d.row.kind.c_str());
        }
    }
}

bool QueueDrain::take_control(const store::InboundEvent& event,
                              const webhook::QueuedWebhook& reading)
{
    if (!reading.contact_source_id.starts_with("bridge:")) {
        return false;
    }
    if (reading.action != "send" || !reading.message_id) {
        return true;   // nothing of the control conversation goes to WhatsApp
    }
    // The text, read only for these few records (replies are not parsed
    // here otherwise).
    rapidjson::Document doc;
    doc.Parse(reinterpret_cast<const char*>(event.payload.data()), event.payload.size());
    std::string content;
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("event")
        && doc["event"].IsObject() && doc["event"].HasMember("content")
        && doc["event"]["content"].IsString())
    {
        const auto& c = doc["event"]["content"];
        // A command is a few words: a long text is none, and needs no copy.
        content.assign(c.GetString(), std::min<size_t>(c.GetStringLength(), 256));
    }
    controls_.emplace_back(reading.inbox,
                           store::ControlCommandRow{*reading.message_id, reading.conversation_id,
                                                    std::move(content), event.received_at});
    return true;
}

// Inside the batch's unit of work: once per Chatwoot message id.
void QueueDrain::add_controls()
{
    for (const auto& [inbox, row] : controls_) {
        if (controls_repo_.add_command(inbox, row)
            && std::find(controls_new_.begin(), controls_new_.end(), inbox)
                   == controls_new_.end())
        {
            controls_new_.push_back(inbox);
        }
    }
    controls_.clear();
}

void QueueDrain::hand_over_controls()
{
    if (!on_control_) {
        return;
    }
    for (const std::string& inbox : controls_new_) {
        try {
            on_control_(inbox);
        } catch (const std::exception& e) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chatwoot helper: inbox \"%s\": control commands stay pending: %s",
                          inbox.c_str(), e.what());
        } catch (...) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chatwoot helper: inbox \"%s\": control commands stay pending",
                          inbox.c_str());
        }
    }
}

// After the commit and the pop: each new typing record to the handler.
void QueueDrain::hand_over_typings()
{
    if (!on_typing_) {
        return;
    }
    for (size_t index : typings_) {
        const auto& reading = readings_[index];
        try {
            on_typing_(reading->inbox, reading->conversation_id, reading->typing_on);
        } catch (const std::exception& e) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chatwoot helper: passing on an agent's typing failed: %s",
                          e.what());
        } catch (...) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chatwoot helper: passing on an agent's typing failed");
        }
    }
}

// Inside the batch's unit of work: the drained commands, under their ids.
void QueueDrain::add_commands()
{
    for (DrainedCommand& d : commands_batch_) {
        d.added = commands_.add(d.row);
    }
}

size_t QueueDrain::set_aside_bad_records(std::span<const store::InboundEvent> batch,
                                         int64_t now, std::string_view batch_error)
{
    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "chatwoot helper: committing %uz queued records failed: %*s; "
                  "storing them one by one", batch.size(), batch_error.size(),
                  batch_error.data());
    // The failed attempt's entries: a record stored already (no new row,
    // so nothing filed) must not write them.
    filed_.clear();
    typings_.clear();
    controls_.clear();
    controls_new_.clear();
    const auto sorted = repository_.insert_each(
        batch, now,
        [&](const store::InboundEvent& e, int64_t row_id) {
            filed_.clear();   // only this record's entry: one record a unit
            file(e, static_cast<size_t>(&e - batch_.data()), row_id);
        },
        [&] {
            // Emptied whatever happens: a refused entry must not come
            // back with the next record (a repeat files nothing new).
            try {
                outbox_.add_all(filed_);
                add_controls();
            } catch (...) {
                filed_.clear();
                controls_.clear();
                throw;
            }
            filed_.clear();
        });
    for (const auto& aside : sorted.set_aside) {
        const store::InboundEvent& e = batch[aside.index];
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: queued record %uL (%uz bytes) was refused "
                      "by the store and set aside in the dead_letters table: %s",
                      e.ring_seq, e.payload.size(), aside.error.c_str());
    }
    cw_add(&shared_->store.dead_letters, sorted.set_aside.size());
    return sorted.added;
}

QueueDrain::Outcome QueueDrain::drain_batch()
{
    // Entries keep their memory for the next batch, unless a large record
    // left them holding much.
    for (store::InboundEvent& e : batch_) {
        if (e.payload.capacity() > kKeepPayloadBytes) {
            std::vector<unsigned char>().swap(e.payload);
        }
    }
    batch_n_ = 0;
    last_records_ = 0;
    readings_.clear();
    filed_.clear();
    typings_.clear();
    commands_batch_.clear();
    controls_.clear();
    controls_new_.clear();
    uint64_t last_seq = 0;
    bool corrupt = false;
    bool more = false;
    uint64_t epoch = 0;
    const int64_t now = ngx_time();

    cw_ring_t* ring = &shared_->ring;
    cw_ring_cursor_t cursor;
    {
        // Only the index is read under the lock: the records it covers stay
        // put until we pop them, so workers never wait for our copying.
        ZoneLock lock(shpool_);
        epoch = cw_ring_current(ring)->epoch;
        cursor = cw_ring_begin(ring);
    }

    cw_ring_record_t rec;
    size_t bytes = 0;
    while (batch_n_ < kBatchRecords && bytes < kBatchBytes) {
        cw_ring_rc_t rc = cw_ring_next(ring, &cursor, &rec);
        if (rc == CW_RING_CORRUPT) {
            corrupt = true;
            break;
        }
        if (rc != CW_RING_OK) {
            break;
        }
        last_seq = rec.seq;
        bytes += rec.len;
        if (rec.kind == CW_RECORD_COMMAND) {
            take_command(rec, epoch, now);
            continue;
        }
        store::InboundEvent& e = next_entry();
        e.ring_epoch = epoch;
        e.ring_seq = rec.seq;
        e.kind = rec.kind;
        e.received_at = now;
        e.payload.assign(rec.data, rec.data + rec.len);
        e.delivery_id.clear();

        auto& reading = readings_.emplace_back();
        if (rec.kind == CW_RECORD_WEBHOOK) {
            reading = webhook::read_queued_webhook(std::string_view(
                reinterpret_cast<const char*>(e.payload.data()), e.payload.size()));
            if (!reading) {
                ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                              "chatwoot helper: queued record %uL is not a "
                              "webhook record; kept, not filed", rec.seq);
            } else {
                e.delivery_id = reading->delivery;
            }
        }
    }
    more = !corrupt && cursor.remaining > 0;

    const std::span<const store::InboundEvent> batch(batch_.data(), batch_n_);
    const size_t records = batch.size() + commands_batch_.size();
    if (records > 0) {
        try {
            size_t added = 0;
            try {
                added = repository_.insert_batch(
                    batch,
                    [&](const store::InboundEvent& e, int64_t row_id) {
                        file(e, static_cast<size_t>(&e - batch_.data()), row_id);
                    },
                    [&] {
                        outbox_.add_all(filed_);
                        add_controls();
                        add_commands();
                    });
            } catch (const store::StoreError& e) {
                if (!store::is_record_error(e.code())) {
                    throw;
                }
                // One of the records carries the error: retrying the batch
                // would fail every time until the ring is full.  The
                // commands commit with what is kept, in one unit.
                store::UnitOfWork unit(repository_.database());
                added = set_aside_bad_records(batch, now, e.what());
                add_commands();
                unit.commit();
            }
            cw_add(&shared_->store.persisted, added);
            cw_add(&shared_->store.batches, 1);
        } catch (const std::exception& e) {
            // Records stay in the ring; the poll timer tries again.
            cw_add(&shared_->store.errors, 1);
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chatwoot helper: committing %uz queued records "
                          "failed, they stay queued: %s",
                          records, e.what());
            return Outcome::failed;
        }

        ZoneLock lock(shpool_);
        // A ring reset in between has a new epoch: then our sequence
        // numbers mean nothing there and nothing is popped.
        if (cw_ring_current(ring)->epoch == epoch
            && cw_ring_pop_through(ring, last_seq) != CW_RING_OK)
        {
            corrupt = true;
        }
    }
    hand_over_commands();
    hand_over_typings();
    hand_over_controls();

    if (corrupt) {
        ZoneLock lock(shpool_);
        cw_ring_reset(ring, fresh_epoch());
        cw_add(&shared_->queue.resets, 1);
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "chatwoot helper: the shared queue was inconsistent "
                      "after %uz good records and was reset",
                      records);
        return Outcome::more;
    }
    last_records_ = records;
    return more ? Outcome::more : Outcome::empty;
}

}  // namespace chatwoot::helper
