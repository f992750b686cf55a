// Finding the Chatwoot inbox an nginx inbox block names by its name, and
// making it when the operator asked for that (`inbox name=... create=...`),
// as a sans-I/O job like ForwardJob: the caller sends request() and feeds
// the answer back.
//
// Only an API channel inbox will do: Chatwoot accepts incoming messages
// and status updates only there.  A create whose answer was lost may have
// happened, so the job lists again before it creates again.
#pragma once

#include "../chatwoot/api_requests.hpp"
#include "../chatwoot/retry_policy.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace chatwoot::bridge {

class InboxResolution {
public:
    // create_webhook_url: make the inbox with this callback when it is
    // missing; nullopt: a missing inbox is an error for the operator.
    InboxResolution(std::string name, std::optional<std::string> create_webhook_url,
                    rest::Api api);

    enum class State { request, done, failed };

    State state() const { return state_; }
    const rest::Request& request() const { return request_; }
    void on_answer(const rest::Classification& c, std::string_view body);

    int64_t inbox_id() const { return inbox_id_; }
    bool created() const { return created_; }
    const std::string& failure() const { return failure_; }

private:
    void list();
    void fail(std::string why);
    void on_list(std::string_view body);

    std::string name_;
    std::optional<std::string> create_url_;
    rest::Api api_;
    State state_ = State::request;
    bool creating_ = false;
    bool created_ = false;
    int lists_ = 0;
    rest::Request request_;
    int64_t inbox_id_ = 0;
    std::string failure_;
};

}  // namespace chatwoot::bridge
