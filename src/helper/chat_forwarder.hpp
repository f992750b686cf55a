// Drives WhatsApp messages of one inbox into Chatwoot: one message per chat
// at a time (order per chat), chats side by side (bounded), each message a
// bridge::ForwardJob whose requests go through the inbox's REST client.
// Everything it acts on is in the store first; it only ever moves a row
// from pending to posted or failed, with the chat's mapping, in one commit.
#pragma once

#include "chatwoot_client.hpp"

#include "../bridge/forward_job.hpp"
#include "../store/wa_inbound_repository.hpp"

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "media_fetcher.hpp"
#include "media_store.hpp"

#include <map>

#include <vector>

namespace chatwoot::helper {

class ChatForwarder {
public:
    // Rows up to `inherited_up_to` were there when this helper started: an
    // earlier helper may have posted them before it died.
    ChatForwarder(std::string inbox, store::WaInboundRepository& inbound,
                  ChatwootClient& client, rest::Api api, bridge::InboxOptions options,
                  size_t max_active_chats, int64_t inherited_up_to, MediaStore& media);

    ~ChatForwarder();
    ChatForwarder(const ChatForwarder&) = delete;
    ChatForwarder& operator=(const ChatForwarder&) = delete;

    // Settles the messages whose jobs ended since the last call (one
    // commit), then starts idle chats that have pending messages (none
    // until the inbox id is known).
    void kick();

    // With a way to be called back soon (the runtime's next tick), a job
    // that ends does not settle its row at once: the rows of every job
    // ending before that call settle in one commit (group commit), and
    // each chat's next message starts after it.  Without one, each row
    // settles as its job ends.
    void settle_soon_with(std::function<void()> soon) { soon_ = std::move(soon); }

    // For an inbox named by name: its id, once Chatwoot told it.
    void set_inbox_id(int64_t id) { options_.inbox_id = id; }

    void count_into(cw_bridge_stats_t* stats) { stats_ = stats; }
    // Each posted message's time since its device filed it (metrics).
    void observe_into(cw_latency_t* latency) { latency_ = latency; }

    // Told of each message Chatwoot refused for good (its row failed):
    // the chat, the message's WhatsApp time, the reason.
    using Rejected = std::function<void(const std::string& chat, int64_t timestamp,
                                        const std::string& reason)>;
    void on_rejected(Rejected rejected) { rejected_ = std::move(rejected); }

    size_t active() const { return active_.size(); }

    // Jobs have ended whose rows the next kick settles.
    bool settling() const { return !finished_.empty(); }

    // Nothing to do until a device pushes a message: the last kick found no
    // pending chat and no job runs.  The runtime then skips its look.
    bool idle() const { return found_none_ && active_.empty() && fetching_.empty(); }

    // WhatsApp media are downloaded with this before their message is
    // posted (null: a device without downloads; the placeholder goes).
    void use_media(MediaFetcher* fetcher, std::uint64_t max_file_size)
    {
        fetcher_ = fetcher;
        media_max_ = max_file_size;
    }

private:
    struct Active {
        int64_t row_id = 0;
        std::unique_ptr<bridge::ForwardJob> job;
        std::vector<std::string> media;   // released once the row is settled
    };

    bool start_next(const std::string& chat);
    bool fetch_media(const std::string& chat, int64_t row_id, const bridge::WaMessage& message);
    void media_fetched(const std::string& chat, int64_t row_id, const MediaOutcome& outcome);
    void send(const std::string& chat);
    void on_reply(const std::string& chat, const ChatwootClient::Reply& reply);
    void finish(const std::string& chat);
    // Settles the chats in finished_ in one commit, then moves each on.
    void settle_finished();
    // After its row is settled: media, counters, the chat's next message.
    // False when the chat has no next message.
    bool settled(const std::string& chat);

    std::string inbox_;
    store::WaInboundRepository& inbound_;
    ChatwootClient& client_;
    rest::Api api_;
    bridge::InboxOptions options_;
    size_t max_active_;
    int64_t inherited_up_to_;
    int64_t started_at_;   // Unix seconds
    MediaStore& media_;
    std::unordered_map<std::string, Active> active_;
    // Chats whose last message may be in Chatwoot although the store could
    // not record it: their next job looks before it posts.
    std::unordered_set<std::string> unsure_;
    cw_bridge_stats_t* stats_ = nullptr;
    cw_latency_t* latency_ = nullptr;
    bool found_none_ = false;   // the last kick's look found no pending chat
    std::function<void()> soon_;
    Rejected rejected_;
    std::vector<std::string> finished_;   // chats whose job ended, row not yet settled
    MediaFetcher* fetcher_ = nullptr;
    std::uint64_t media_max_ = 0;
    // Chats whose oldest message waits for its file, and the outcomes of
    // downloads by row (taken by the next start_next of the chat).  Kept
    // in memory only: after a restart the row's media is fetched again
    // (and, expired, asked of the phone again).  The wait is bounded by the
    // fetcher (media_fetcher.hpp: its rounds, and for expired media the
    // phone's answer within MediaRetryDesk::kAnswerWait, 2 min, then the
    // rounds once more): the chat's later messages wait at most that long,
    // then come after this one, in order.
    std::unordered_set<std::string> fetching_;
    std::map<int64_t, MediaOutcome> fetched_;
};

}  // namespace chatwoot::helper
