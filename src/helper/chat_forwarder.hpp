// Drives WhatsApp messages of one inbox into Chatwoot: one message per chat
// at a time (order per chat), chats side by side (bounded), each message a
// bridge::ForwardJob whose requests go through the inbox's REST client.
// Everything it acts on is in the store first; it only ever moves a row
// from pending to posted or failed, with the chat's mapping, in one commit.
#pragma once

#include "chatwoot_client.hpp"

#include "../bridge/forward_job.hpp"
#include "../store/wa_inbound_repository.hpp"

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "media_store.hpp"

#include <vector>

namespace chatwoot::helper {

class ChatForwarder {
public:
    // Rows up to `inherited_up_to` were there when this helper started: an
    // earlier helper may have posted them before it died.
    ChatForwarder(std::string inbox, store::WaInboundRepository& inbound,
                  ChatwootClient& client, rest::Api api, bridge::InboxOptions options,
                  size_t max_active_chats, int64_t inherited_up_to, MediaStore& media);

    // Starts idle chats that have pending messages (none until the
    // inbox id is known).
    void kick();

    // For an inbox named by name: its id, once Chatwoot told it.
    void set_inbox_id(int64_t id) { options_.inbox_id = id; }

    void count_into(cw_bridge_stats_t* stats) { stats_ = stats; }

    size_t active() const { return active_.size(); }

    // Nothing to do until a device pushes a message: the last kick found no
    // pending chat and no job runs.  The runtime then skips its look.
    bool idle() const { return found_none_ && active_.empty(); }

private:
    struct Active {
        int64_t row_id = 0;
        std::unique_ptr<bridge::ForwardJob> job;
        std::vector<std::string> media;   // released once the row is settled
    };

    bool start_next(const std::string& chat);
    void send(const std::string& chat);
    void on_reply(const std::string& chat, const ChatwootClient::Reply& reply);
    void finish(const std::string& chat);

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
    bool found_none_ = false;   // the last kick's look found no pending chat
};

}  // namespace chatwoot::helper
