// An agent's reply with attachments, sent to a live device as WhatsApp
// media (issue 11): one message per attachment ("part", schema step 13),
// each under its own WhatsApp id committed before the first is sent.
//
// Each part moves on from what the store says of it, so a retry (after a
// transient failure or a crash) resumes where it stopped:
//
//   fetching --(data_url fetched into the media store, prepared)--> prepared
//   prepared --(encrypted with its committed key, uploaded)--> uploaded
//   uploaded --(message acked by the server)--> sent (+ its wa_sent row)
//
// - A part uploaded is never uploaded again (its url, direct path and
//   hashes are kept); a crash between the upload and that commit uploads
//   again once, with the same key, so the same bytes.
// - A part acked is never sent again; one sent but not acked when the
//   helper died goes again under the same id, which recipients drop.
// - Parts go strictly in order; the caption (the reply's signed text) is
//   the first part's, or, when the first part's kind carries none (audio,
//   voice note, sticker: WhatsApp shows no caption on those), its own text
//   message sent just before it under the id committed for it.  The quote
//   goes on the first message that is sent.
// - Every URL is checked before anything goes: a reply with one attachment
//   on another host fails whole, nothing of it sent.
// - A refusal (host, 4xx, too large) or a device's refusal fails the entry
//   with a reason the agent reads; a 5xx, the network or an offline device
//   is a retry, with the outbox's backoff.
//
// No nginx: the fetcher's transport, the device and the clock are given.
#pragma once

#include "attachment_fetcher.hpp"
#include "device.hpp"
#include "media_prep/media_preparer.hpp"
#include "media_sending.hpp"
#include "media_store.hpp"

#include "../bridge/agent_reply.hpp"
#include "../store/outbox_part_repository.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace chatwoot::helper {

// Whether WhatsApp shows a caption on a message of this kind.
bool kind_carries_caption(const std::string& kind);

class MediaSender final : public MediaSending {
public:
    using Clock = std::function<int64_t()>;                 // unix seconds
    using RandomBytes = std::function<std::string(size_t)>;

    MediaSender(std::string inbox, store::OutboxPartRepository& parts, Device& device,
                AttachmentFetcher& fetcher, media_prep::MediaPreparer& preparer,
                MediaStore& store, RandomBytes random, Clock clock);
    ~MediaSender() override;
    MediaSender(const MediaSender&) = delete;
    MediaSender& operator=(const MediaSender&) = delete;

    // The parts of an entry going in flight: a fresh id (from the device)
    // and media key each, and the caption's id on the first.  The caller
    // files them in the unit of work that moves the entry in flight.
    std::vector<store::OutboxPart> plan(int64_t outbox_id,
                                        const bridge::AgentReply& reply) override;
    void file(const std::vector<store::OutboxPart>& parts) override { parts_.add_all(parts); }

    // Moves the entry's parts on; done runs exactly once (sent when every
    // part is acked), maybe from within this call, unless this sender is
    // destroyed first.
    void send(MediaEntry entry, Device::Done done) override;

    size_t running() const { return runs_.size(); }

private:
    struct Run {
        MediaEntry entry;
        Device::Done done;
        std::vector<store::OutboxPart> parts;
        bool quote_used = false;
    };
    void advance(int64_t id);
    void fetched(int64_t id, size_t index, const std::string& path);
    void finish(int64_t id, SendResult result);
    template <typename F>
    void guarded(int64_t id, F&& f) noexcept;

    std::string inbox_;
    store::OutboxPartRepository& parts_;
    Device& device_;
    AttachmentFetcher& fetcher_;
    media_prep::MediaPreparer& preparer_;
    MediaStore& store_;
    RandomBytes random_;
    Clock clock_;
    std::map<int64_t, Run> runs_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatwoot::helper
