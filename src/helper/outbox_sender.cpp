#include "outbox_sender.hpp"

#include "log.hpp"

#include "../bridge/jid.hpp"
#include "../ipc/inbox_stats.hpp"
#include "../store/filed_clock.hpp"

#include <algorithm>
#include <exception>
#include <memory>

namespace chatwoot::helper {

namespace {

constexpr size_t kBatch = 500;
constexpr int kPassesPerTick = 8;          // answers that came in a pass
constexpr int64_t kBackoffCapSeconds = 60;
constexpr int64_t kReportRetrySeconds = 30;

int64_t backoff_seconds(int64_t attempts)
{
    const int64_t shift = std::min<int64_t>(attempts, 6);
    return std::min<int64_t>(int64_t{1} << shift, kBackoffCapSeconds);
}

}  // namespace

OutboxSender::OutboxSender(std::string inbox, store::OutboxRepository& outbox, Device& device,
                           FailureReporter& reporter, bridge::SignatureOptions signature,
                           int64_t timeout_seconds, Clock clock)
    : inbox_(std::move(inbox)),
      outbox_(outbox),
      device_(device),
      reporter_(reporter),
      signature_(std::move(signature)),
      timeout_(timeout_seconds),
      clock_(std::move(clock)),
      self_(std::make_shared<OutboxSender*>(this))
{
}

OutboxSender::~OutboxSender() = default;

void OutboxSender::tick()
{
    if (held_ || in_tick_) {
        return;
    }
    in_tick_ = true;
    try {
        // Answers that came since the last tick (tick_soon_with): settled
        // first, so that their conversations go on in this tick's passes.
        std::vector<Completion> early;
        early.swap(completed_);
        if (!early.empty()) {
            // One commit for them, and one that does not wait for the disk
            // (an fsync per acked reply was a quarter of the send path's
            // time): a settlement lost to a power cut leaves its entry in
            // flight, and it goes again under the same WhatsApp id, which
            // recipients take once.  A killed helper loses nothing of it.
            store::RelaxedSync relaxed(outbox_.database());
            store::UnitOfWork unit(outbox_.database());
            for (auto& c : early) {
                settle_quietly(c);
            }
            unit.commit();
        }
        for (int i = 0; i < kPassesPerTick; i++) {
            const bool moved = pass(clock_());
            std::vector<Completion> done;
            done.swap(completed_);
            for (auto& c : done) {
                settle_completion(c);
            }
            if (!moved && done.empty()) {
                break;
            }
        }
    } catch (...) {
        in_tick_ = false;
        throw;
    }
    in_tick_ = false;
}

bool OutboxSender::pass(int64_t now)
{
    const bool connected = device_.status().state == DeviceState::connected;
    std::unordered_set<int64_t> stopped;   // conversations held by an entry
    bool moved = false;
    auto jobs = outbox_.unsettled_heads(inbox_, kBatch);
    found_none_ = jobs.empty();
    std::vector<Ready> ready;   // at most one per conversation: each stops at it
    for (auto& job : jobs) {
        if (job.state == "failing") {
            report(job, now);
            continue;
        }
        if (job.action == "status") {
            // Conversation status: nothing to do on WhatsApp, nothing to
            // keep in order.
            outbox_.settle(job.id, "sent");
            moved = true;
            continue;
        }
        if (stopped.contains(job.conversation_id)) {
            continue;
        }
        const std::string before = job.state;
        const int64_t attempts = job.attempts;
        if (!step(job, now, connected, ready)) {
            stopped.insert(job.conversation_id);
        }
        if (job.state != before || job.attempts != attempts) {
            moved = true;
        }
    }
    return transmit_all(ready) || moved;
}

bool OutboxSender::step(Job& job, int64_t now, bool connected, std::vector<Ready>& ready)
{
    if (awaiting_.contains(job.id)) {
        return false;
    }
    // Past device_timeout with no device to take it, or with the device
    // failing it over and over: the agent must know.  A late reply with a
    // device online still goes (better late than never).
    if (now - job.created_at >= timeout_ && (!connected || job.attempts > 0)) {
        fail(job, kDeviceNotAvailable);
        return true;
    }
    if (!connected || job.next_attempt_at > now) {
        return false;
    }

    OutgoingMessage m;
    m.outbox_id = job.id;
    if (job.action == "delete") {
        auto sent = job.chatwoot_message_id
                        ? outbox_.sent_as(inbox_, *job.chatwoot_message_id)
                        : std::nullopt;
        if (!sent) {
            // Not ours to revoke (a contact's message, or never sent).
            outbox_.settle(job.id, "failed");
            job.state = "failed";
            return true;
        }
        if (outbox_.revoked_on_whatsapp(inbox_, sent->second, sent->first)) {
            // Deleted on the owner's phone: Chatwoot's deletion is the echo
            // of ours, and WhatsApp has it already.
            outbox_.settle(job.id, "sent");
            job.state = "sent";
            return true;
        }
        m.kind = OutgoingMessage::Kind::revoke;
        m.revoked_id = sent->first;
        m.chat = sent->second;
        std::vector<std::string> more;
        for (auto& id : outbox_.sent_ids(inbox_, *job.chatwoot_message_id)) {
            if (id != m.revoked_id) more.push_back(std::move(id));
        }
        if (!more.empty()) {
            ready.push_back(Ready{&job, std::move(m), std::nullopt, std::nullopt, std::move(more)});
            return false;
        }
    } else {
        std::string error;
        job.record = outbox_.record_of(job.id).value_or(std::string());
        auto reply = bridge::agent_reply(job.record, signature_, &error);
        if (!reply || !job.chatwoot_message_id) {
            fail(job, reply ? "no Chatwoot message id" : error);
            return true;
        }
        if (media_ != nullptr && device_.sends_media() && !reply->attachments.empty()) {
            send_reads(reply->chat, job.id);
            Ready r{&job, std::move(m), MediaEntry{job.id, reply->chat, reply->caption,
                                                   reply->quoted, *job.chatwoot_message_id},
                    std::move(*reply), {}};
            ready.push_back(std::move(r));
            return false;
        }
        m.chat = std::move(reply->chat);
        m.text = std::move(reply->text);
        m.quoted = std::move(reply->quoted);
        send_reads(m.chat, job.id);
    }
    ready.push_back(Ready{&job, std::move(m), std::nullopt, std::nullopt, {}});
    return false;
}

bool OutboxSender::transmit_all(std::vector<Ready>& ready)
{
    // The ids are durable before a byte leaves (a crash after the commit
    // sends again under the same ids), and one commit serves every new
    // entry of the pass (other conversations' entries wait for that one
    // fsync, not for one each).
    // The whole pass is one unit of work: the ids, and the ratchet steps
    // and recent sends the device writes for each message, commit together
    // (one fsync for the pass, not one per reply); the device releases the
    // transmissions after that commit (store::Database::after_commit).  A
    // pass that fails to commit sends nothing: the entries stay pending.
    if (ready.empty()) {
        return false;
    }
    store::UnitOfWork unit(outbox_.database());
    std::vector<store::OutboxRepository::Begin> begins;
    std::vector<Ready*> fresh;
    std::vector<std::vector<store::OutboxPart>> planned;   // per fresh entry
    std::vector<Ready*> go;
    for (auto& r : ready) {
        if (r.job->state != "pending") {
            go.push_back(&r);   // in flight already: again under its id
            continue;
        }
        std::string id;
        if (r.media) {
            // One id per attachment (and one for a caption of its own),
            // each with its media key: the entry goes as its first part's.
            auto parts = media_->plan(r.job->id, *r.reply);
            if (parts.empty()) {
                continue;
            }
            id = parts.front().wa_id;
            planned.push_back(std::move(parts));
        } else {
            id = device_.new_message_id();
            planned.emplace_back();
        }
        if (id.empty()) {
            planned.pop_back();
            continue;
        }
        begins.push_back({r.job->id, std::move(id)});
        fresh.push_back(&r);
    }
    const std::vector<bool> began = outbox_.begin_sends(begins);
    bool moved = false;
    for (size_t i = 0; i < fresh.size(); i++) {
        if (!began[i]) {
            continue;
        }
        if (!planned[i].empty()) {
            media_->file(planned[i]);
        }
        fresh[i]->job->state = "in_flight";
        fresh[i]->job->wa_id = std::move(begins[i].wa_id);
        go.push_back(fresh[i]);
        moved = true;
    }
    // In the pass's order (the store's), as one by one they went before.
    std::sort(go.begin(), go.end());
    for (Ready* r : go) {
        transmit(*r->job, std::move(r->message), std::move(r->media),
                 std::move(r->more_revokes));
    }
    unit.commit();
    return moved;
}

void OutboxSender::transmit(Job& job, OutgoingMessage message, std::optional<MediaEntry> media,
                            std::vector<std::string> more_revokes)
{
    message.id = job.wa_id;
    awaiting_.insert(job.id);
    std::weak_ptr<OutboxSender*> self = self_;
    Completion c{job, media ? media->chat : message.chat, {}};
    auto settle = [self, c = std::move(c)](const SendResult& r) mutable {
        auto alive = self.lock();
        if (!alive) {
            return;
        }
        c.result = r;
        try {
            (*alive)->on_done(std::move(c));
        } catch (const std::exception& e) {
            // The entry stays in flight in the store; it goes again.
            log(LogLevel::error,
                "chatwoot helper: settling a WhatsApp send failed: %s", e.what());
        } catch (...) {
            log(LogLevel::error, "chatwoot helper: settling a WhatsApp send failed");
        }
    };
    if (!more_revokes.empty()) {
        // One revoke per message the reply went as; the entry settles on
        // the worst answer (a retry sends them all again: revoking twice
        // is harmless, which is also why the others' own ids need not be
        // committed first as the entry's is).
        struct Round {
            size_t left;
            SendResult worst{SendResult::Kind::sent, {}};
        };
        auto round = std::make_shared<Round>(Round{1 + more_revokes.size()});
        auto each = [round, settle](const SendResult& r) mutable {
            if (r.kind == SendResult::Kind::failed
                || (r.kind == SendResult::Kind::retry && round->worst.kind == SendResult::Kind::sent)) {
                round->worst = r;
            }
            if (--round->left == 0) settle(round->worst);
        };
        device_.send(message, each);
        for (auto& id : more_revokes) {
            OutgoingMessage more = message;
            more.id = device_.new_message_id();
            more.revoked_id = std::move(id);
            device_.send(more, each);
        }
        return;
    }
    if (!media) {
        device_.send(message, std::move(settle));
        return;
    }
    // The parts were filed in the pass's unit of work: nothing is fetched
    // or sent before they are durable.
    MediaSending* sender = media_;
    outbox_.database().after_commit(
        [self, sender, entry = std::move(*media), settle = std::move(settle)]() mutable {
            if (self.expired()) {
                return;
            }
            sender->send(std::move(entry), std::move(settle));
        });
}

void OutboxSender::send_reads(const std::string& chat, int64_t outbox_id) noexcept
{
    if (marks_ == nullptr || reading_.contains(chat)) {
        return;
    }
    try {
        const auto unread = marks_->unread(inbox_, chat, kMaxReadIds);
        if (unread.up_to == 0) {
            return;
        }
        if (unread.messages.empty()) {
            marks_->mark(inbox_, chat, unread.up_to);   // nothing of theirs to mark
            return;
        }
        // WhatsApp takes a group's receipts per member who wrote (the
        // receipt's participant): one each, in the order they first wrote;
        // each goes back addressed as the messages came (a contact's LID
        // or phone number, as it wrote).
        const auto jid = bridge::Jid::parse(chat);
        const bool group = jid && jid->kind() == bridge::JidKind::group;
        std::vector<OutgoingMessage> receipts;
        for (const auto& m : unread.messages) {
            const std::string& to = m.wa_chat.empty() ? chat : m.wa_chat;
            const std::string participant = group ? m.wa_sender : std::string();
            auto it = std::find_if(receipts.begin(), receipts.end(), [&](const auto& r) {
                return r.chat == to && r.read_sender == participant;
            });
            if (it == receipts.end()) {
                OutgoingMessage& r = receipts.emplace_back();
                r.kind = OutgoingMessage::Kind::read;
                r.chat = to;
                r.outbox_id = outbox_id;
                r.read_sender = participant;
                it = receipts.end() - 1;
            }
            it->read_ids.push_back(m.wa_id);
        }
        struct Round {
            size_t left;
            bool all_sent = true;
        };
        auto round = std::make_shared<Round>(Round{receipts.size()});
        reading_.insert(chat);
        std::weak_ptr<OutboxSender*> self = self_;
        for (const auto& r : receipts) {
            device_.send(r, [self, round, chat, up_to = unread.up_to](const SendResult& res) {
                round->all_sent = round->all_sent && res.kind == SendResult::Kind::sent;
                if (--round->left > 0) {
                    return;
                }
                auto alive = self.lock();
                if (!alive) {
                    return;
                }
                OutboxSender& s = **alive;
                s.reading_.erase(chat);
                if (!round->all_sent) {
                    log(LogLevel::info,
                        "chatwoot helper: inbox \"%s\": read receipts for %s did not go (%s); "
                        "they go with the next reply", s.inbox_.c_str(), chat.c_str(),
                        res.reason.c_str());
                    return;
                }
                try {
                    s.marks_->mark(s.inbox_, chat, up_to);
                } catch (const std::exception& e) {
                    // Marked read again with the next reply: harmless.
                    log(LogLevel::error,
                        "chatwoot helper: keeping what was marked read failed: %s", e.what());
                } catch (...) {
                    log(LogLevel::error, "chatwoot helper: keeping what was marked read failed");
                }
            });
        }
    } catch (const std::exception& e) {
        reading_.erase(chat);
        log(LogLevel::error,
            "chatwoot helper: inbox \"%s\": finding what to mark read in %s failed: %s",
            inbox_.c_str(), chat.c_str(), e.what());
    } catch (...) {
        reading_.erase(chat);
        log(LogLevel::error,
            "chatwoot helper: inbox \"%s\": finding what to mark read in %s failed",
            inbox_.c_str(), chat.c_str());
    }
}

void OutboxSender::on_done(Completion c)
{
    if (in_tick_) {
        completed_.push_back(std::move(c));
        return;
    }
    if (soon_ && !held_) {
        completed_.push_back(std::move(c));
        soon_();   // the next tick settles it and moves the conversation on
        return;
    }
    settle_completion(c);
    tick();   // the conversation's next entry may go now
}

// A settlement that fails (the store) leaves the entry in flight, to go
// again: logged, and the other answers are still settled.
void OutboxSender::settle_quietly(const Completion& c) noexcept
{
    try {
        settle_completion(c);
    } catch (const std::exception& e) {
        awaiting_.erase(c.job.id);
        log(LogLevel::error, "chatwoot helper: settling a WhatsApp send failed: %s", e.what());
    } catch (...) {
        awaiting_.erase(c.job.id);
        log(LogLevel::error, "chatwoot helper: settling a WhatsApp send failed");
    }
}

void OutboxSender::settle_completion(const Completion& c)
{
    awaiting_.erase(c.job.id);
    const Job& job = c.job;
    const int64_t now = clock_();
    switch (c.result.kind) {
    case SendResult::Kind::sent:
        if (job.action == "send") {
            outbox_.settle_sent(job.id, inbox_, job.wa_id, c.chat, *job.chatwoot_message_id,
                                now);
            if (stats_ != nullptr) {
                cw_add(&stats_->replies_sent, 1);
            }
            // A reply an earlier helper took has its row's whole second.
            ipc::observe_latency(latency_, ipc::elapsed_since(
                store::agent_message_filed().take(*job.chatwoot_message_id)
                    .value_or(job.created_at * 1000000)));
        } else {
            outbox_.settle(job.id, "sent");
        }
        return;
    case SendResult::Kind::retry: {
        const int64_t attempts = job.attempts + 1;
        outbox_.defer(job.id, attempts, now + backoff_seconds(attempts - 1));
        log(LogLevel::info,
            "chatwoot helper: inbox \"%s\": outbox entry %lld not sent yet (%s), "
            "attempt %lld, trying again later",
            inbox_.c_str(), static_cast<long long>(job.id), c.result.reason.c_str(),
            static_cast<long long>(attempts));
        return;
    }
    case SendResult::Kind::failed: {
        Job copy = job;
        if (job.action == "delete") {
            log(LogLevel::warn,
                "chatwoot helper: inbox \"%s\": revoking the message of outbox entry %lld "
                "failed: %s", inbox_.c_str(), static_cast<long long>(job.id),
                c.result.reason.c_str());
            outbox_.settle(job.id, "failed");
            return;
        }
        fail(copy, c.result.reason);
        return;
    }
    }
}

// The entry will never go: its reason is kept first, then reported.
void OutboxSender::fail(Job& job, const std::string& reason)
{
    if (!job.chatwoot_message_id || job.action != "send") {
        // Nothing in Chatwoot to mark (a deletion or status change).
        outbox_.settle(job.id, "failed");
        job.state = "failed";
        return;
    }
    if (!outbox_.begin_failing(job.id, reason)) {
        return;
    }
    job.state = "failing";
    job.failure = reason;
    if (reason != kDeviceNotAvailable) {
        log(LogLevel::warn,
            "chatwoot helper: inbox \"%s\": a reply in conversation %lld cannot go to "
            "WhatsApp: %s", inbox_.c_str(), static_cast<long long>(job.conversation_id),
            reason.c_str());
    }
    report(job, clock_());
}

void OutboxSender::report(const Job& job, int64_t now)
{
    if (reporting_.contains(job.id)) {
        return;
    }
    if (auto it = report_again_at_.find(job.id); it != report_again_at_.end()) {
        if (it->second > now) {
            return;
        }
        report_again_at_.erase(it);
    }
    if (!job.chatwoot_message_id) {
        outbox_.settle(job.id, "failed");
        return;
    }
    reporting_.insert(job.id);
    std::weak_ptr<OutboxSender*> self = self_;
    reporter_.report(
        job.conversation_id, *job.chatwoot_message_id, job.failure,
        [self, job](FailureReporter::Outcome outcome, const std::string& why) {
            auto alive = self.lock();
            if (!alive) {
                return;
            }
            OutboxSender& s = **alive;
            s.reporting_.erase(job.id);
            try {
                s.on_reported(job, outcome, why);
            } catch (const std::exception& e) {
                // Still failing in the store: reported again later.
                log(LogLevel::error,
                    "chatwoot helper: settling a failure report failed: %s", e.what());
            } catch (...) {
                log(LogLevel::error, "chatwoot helper: settling a failure report failed");
            }
        });
}

void OutboxSender::on_reported(const Job& job, FailureReporter::Outcome outcome,
                               const std::string& why)
{
    switch (outcome) {
    case FailureReporter::Outcome::retry:
        report_again_at_[job.id] = clock_() + kReportRetrySeconds;
        return;
    case FailureReporter::Outcome::reported:
        if (job.failure == kDeviceNotAvailable) {
            log(LogLevel::warn,
                "chatwoot helper: inbox \"%s\": no WhatsApp device took message "
                "%lld of conversation %lld in time; marked failed in Chatwoot",
                inbox_.c_str(), static_cast<long long>(*job.chatwoot_message_id),
                static_cast<long long>(job.conversation_id));
        }
        break;
    case FailureReporter::Outcome::refused:
        log(LogLevel::warn,
            "chatwoot helper: inbox \"%s\": marking message %lld failed in "
            "Chatwoot was refused: %s",
            inbox_.c_str(), static_cast<long long>(*job.chatwoot_message_id), why.c_str());
        break;
    }
    // Reported, or refused for good: nothing more can be done.
    settled_failed(job);
}

void OutboxSender::settled_failed(const Job& job)
{
    if (outbox_.settle(job.id, "failed") && stats_ != nullptr) {
        cw_add(&stats_->replies_failed, 1);
    }
}

}  // namespace chatwoot::helper
