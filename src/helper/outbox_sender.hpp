// Hands the outbox of one inbox to its WhatsApp device, one state machine
// per entry (schema step 6):
//
//   pending --(id chosen and committed)--> in_flight --(server ack)--> sent
//      |                                      |  \--(transient)--> in_flight, later
//      \--(permanent, or device_timeout)------+--> failing --(reported)--> failed
//
// - The WhatsApp id is committed before the first transmission: a resend
//   after a crash or a drop goes under the same id, which recipients drop.
// - A conversation stops at its first entry that is not through: a later
//   reply never overtakes an earlier one.  Failing entries do not hold it.
// - A transient failure backs off (1 s doubling to 60 s), persisted.
// - A failure reaches Chatwoot (status failed, external_error) before the
//   entry is settled failed; a crash in between reports it again.
//
// No nginx here: time comes from a clock, Chatwoot through a FailureReporter,
// the log through log.hpp, so unit tests drive it with fakes.
#pragma once

#include "chatwoot_shared.h"
#include "device.hpp"
#include "media_sending.hpp"

#include "../bridge/agent_reply.hpp"
#include "../store/outbox_repository.hpp"
#include "../store/read_mark_repository.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatwoot::helper {

// Marks an agent's message failed in Chatwoot.
class FailureReporter {
public:
    enum class Outcome {
        reported,   // Chatwoot has it
        refused,    // Chatwoot will never take it (the message is gone)
        retry       // not now
    };
    using Done = std::function<void(Outcome, const std::string& why)>;

    virtual ~FailureReporter() = default;
    virtual void report(int64_t conversation_id, int64_t message_id,
                        const std::string& reason, Done done) = 0;
};

class OutboxSender {
public:
    using Clock = std::function<int64_t()>;   // unix seconds

    OutboxSender(std::string inbox, store::OutboxRepository& outbox, Device& device,
                 FailureReporter& reporter, bridge::SignatureOptions signature,
                 int64_t timeout_seconds, Clock clock);
    ~OutboxSender();
    OutboxSender(const OutboxSender&) = delete;
    OutboxSender& operator=(const OutboxSender&) = delete;

    // Moves every entry that can move now.  Does nothing while held (the
    // reconciler's first look comes first).
    void tick();
    void hold(bool held) { held_ = held; }
    // Nothing to do until an entry is filed: the last pass found none
    // unsettled and no answer waits to be settled.  The runtime then skips
    // its look, and the queue drain wakes it when agent actions come.
    bool idle() const { return found_none_ && completed_.empty() && !held_; }

    void count_into(cw_bridge_stats_t* stats) { stats_ = stats; }
    // Each sent reply's time since its webhook was taken (metrics).
    void observe_into(cw_latency_t* latency) { latency_ = latency; }

    // How the device's answers that come between ticks move the next
    // entries.  Unset: each answer settles its entry and runs a pass at
    // once.  Set (the runtime's wake-up, a tick within a millisecond): the
    // answer waits for that tick, so the answers of one socket read share
    // one pass (a pass reads up to 500 unsettled entries: one per answer
    // was most of the helper's time under a backlog of replies).
    void tick_soon_with(std::function<void()> soon) { soon_ = std::move(soon); }

    // Before an agent's reply goes, the contact's messages not yet marked
    // read are marked read on WhatsApp (one read receipt, oldest first; in
    // a group one per member who wrote), and the chat's mark moves once
    // the device took them all.  Not an outbox entry: a receipt that cannot
    // go now is tried again with the next reply and never holds one back.
    // Unset, nothing is marked read.
    void mark_read_with(store::ReadMarkRepository* marks) { marks_ = marks; }
    // Receipts at most in one go (the newest; older ones count as read).
    static constexpr size_t kMaxReadIds = 256;

    // A reply with attachments, on a device that sends media, goes through
    // `media` (one WhatsApp message per attachment, media_sender.hpp); its
    // parts and their ids are committed with the entry's move in flight.
    // Unset, or on a device that sends none, attachments go as links.
    void send_media_with(MediaSending* media) { media_ = media; }

    // Transmissions waiting for the device's answer (for tests and status).
    size_t awaiting() const { return awaiting_.size(); }

    static constexpr const char* kDeviceNotAvailable = "DEVICE_NOT_AVAILABLE";

private:
    using Job = store::OutboxRepository::Job;
    struct Completion {
        Job job;
        std::string chat;
        SendResult result;
    };

    // One pass over the unsettled entries; true if any moved.
    bool pass(int64_t now);
    // What to do with the entry at the head of its conversation; true when
    // the conversation may go on to its next entry.
    // An entry a pass found ready to go to the device.
    struct Ready {
        Job* job;
        OutgoingMessage message;
        // A reply with attachments going as media: what the media sender
        // gets, and the reply its parts are planned from.
        std::optional<MediaEntry> media;
        std::optional<bridge::AgentReply> reply;
        // A deletion of a reply that went as several messages (one per
        // attachment): the others it revokes too.
        std::vector<std::string> more_revokes;
    };
    bool step(Job& job, int64_t now, bool connected, std::vector<Ready>& ready);
    // The pass's ready entries: the new ones' WhatsApp ids committed in one
    // unit, then each handed to the device.  True when an entry moved.
    bool transmit_all(std::vector<Ready>& ready);
    void transmit(Job& job, OutgoingMessage message, std::optional<MediaEntry> media,
                  std::vector<std::string> more_revokes);
    void send_reads(const std::string& chat, int64_t outbox_id) noexcept;
    void on_done(Completion c);
    void settle_completion(const Completion& c);
    void settle_quietly(const Completion& c) noexcept;
    void fail(Job& job, const std::string& reason);
    void report(const Job& job, int64_t now);
    void on_reported(const Job& job, FailureReporter::Outcome outcome,
                     const std::string& why);
    void settled_failed(const Job& job);

    std::string inbox_;
    store::OutboxRepository& outbox_;
    Device& device_;
    FailureReporter& reporter_;
    bridge::SignatureOptions signature_;
    int64_t timeout_;
    Clock clock_;
    cw_bridge_stats_t* stats_ = nullptr;
    cw_latency_t* latency_ = nullptr;
    std::function<void()> soon_;
    bool held_ = false;
    bool in_tick_ = false;
    bool found_none_ = false;   // the last pass found no unsettled entry

    std::unordered_set<int64_t> awaiting_;    // sent, answer not in yet
    std::unordered_set<int64_t> reporting_;   // failure report under way
    std::unordered_map<int64_t, int64_t> report_again_at_;
    std::vector<Completion> completed_;       // answers that came during a pass
    store::ReadMarkRepository* marks_ = nullptr;
    MediaSending* media_ = nullptr;
    std::unordered_set<std::string> reading_;  // chats whose receipts are out
    // Callbacks hold a weak copy: an answer after this sender is gone is
    // dropped (the entry stays in flight in the store and goes again).
    std::shared_ptr<OutboxSender*> self_;
};

}  // namespace chatwoot::helper
