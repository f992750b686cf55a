// Runs an InboxResolution (bridge/inbox_resolution.hpp) through the REST
// client for an inbox block named by name: tries again every minute while
// it fails (a token without rights, an inbox not made yet), and hands the
// id over once Chatwoot has told it.  Messages wait in the store meanwhile.
#pragma once

#include "ngx.hpp"

#include "chatwoot_client.hpp"

#include "../bridge/inbox_resolution.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace chatwoot::helper {

class InboxResolver {
public:
    using Resolved = std::function<void(int64_t inbox_id)>;

    InboxResolver(std::string inbox, std::string name, std::optional<std::string> create_url,
                  ChatwootClient& client, rest::Api api, Resolved resolved);
    ~InboxResolver();
    InboxResolver(const InboxResolver&) = delete;
    InboxResolver& operator=(const InboxResolver&) = delete;

    void start();

private:
    void send();
    static void on_retry_timer(ngx_event_t* ev) noexcept;

    std::string inbox_;
    std::string name_;
    std::optional<std::string> create_url_;
    ChatwootClient& client_;
    rest::Api api_;
    Resolved resolved_;
    std::unique_ptr<bridge::InboxResolution> job_;
    ngx_event_t retry_timer_{};
};

}  // namespace chatwoot::helper
