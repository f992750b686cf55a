// Start-up reconciliation of agent replies (DESIGN.md section 4): a reply
// whose webhook never reached the store (a power loss took the shared
// memory with it, nginx was down and Chatwoot gave up its one try) is
// still in Chatwoot.  Chatwoot is the truth for what agents wrote, the
// store for what we took, so the helper lists the inbox's recently active
// conversations and their recent messages and files every agent reply
// since the watermark as if its webhook had come.  The outbox keeps one
// entry per Chatwoot message, so a reply already there is not sent twice.
//
// Sans-I/O like ForwardJob: request() out, on_answer() in.  What it finds
// comes out as message_created webhook bodies, so they go through the same
// parser and the same normalised record as real webhooks.
#pragma once

#include "../chatwoot/api_requests.hpp"
#include "../chatwoot/retry_policy.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace chatwoot::bridge {

class OutboxReconciliation {
public:
    struct Limits {
        int max_conversation_pages = 20;   // 25 conversations a page
        int max_message_pages = 10;        // 20 messages a page, per conversation
    };

    // Replies created at or after `since` (unix seconds) are looked for.
    OutboxReconciliation(int64_t account_id, int64_t inbox_id, int64_t since, rest::Api api,
                         Limits limits);

    enum class State { request, done, failed };

    State state() const { return state_; }
    const rest::Request& request() const { return request_; }
    void on_answer(const rest::Classification& c, std::string_view body);

    // message_created bodies of the replies found, oldest first within a
    // conversation.  Valid when done (and partly when failed).
    const std::vector<std::string>& found() const { return found_; }
    const std::string& failure() const { return failure_; }
    // How many conversations and messages were looked at.
    int conversations_seen() const { return conversations_seen_; }

private:
    void on_conversations(std::string_view body);
    void on_messages(std::string_view body);
    void next_conversation();
    void fail(std::string why);

    int64_t account_id_;
    int64_t inbox_id_;
    int64_t since_;
    rest::Api api_;
    Limits limits_;

    State state_ = State::request;
    rest::Request request_;
    bool listing_conversations_ = true;
    int page_ = 1;
    bool last_page_ = false;
    struct Conversation {
        int64_t id = 0;
        std::string contact_source_id;   // the contact_inbox's, may be empty
    };
    std::vector<Conversation> conversations_;   // to look into, in order
    size_t next_ = 0;
    int message_pages_ = 0;
    std::vector<std::string> pending_;     // this conversation's, newest first
    std::vector<std::string> found_;
    std::string failure_;
    int conversations_seen_ = 0;
};

}  // namespace chatwoot::bridge
