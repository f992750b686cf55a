// The periodic check of each inbox's Chatwoot: GET /api/v1/profile with the
// inbox's token, answered by Chatwoot's API, with the inbox's account among
// the token's accounts (rest::check_profile judges).  A wrong URL, a wrong
// token or a token without the account shows in status and, from the
// helper's start, at error in the log, not at the first message.
//
// Every inbox is checked once a round, side by side; the next round starts
// an interval after the last answer.  Status holds the worst inbox's last
// result; the log names each inbox whose result changed.
#pragma once

#include "chatwoot_helper.h"
#include "curl_multi_driver.hpp"
#include "ngx.hpp"

#include "../chatwoot/api_requests.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace chatwoot::helper {

class ChatwootCheck {
public:
    ChatwootCheck(HttpTransport& curl, std::span<const cw_inbox_conf_t> inboxes,
                  uint64_t interval_msec, cw_upstream_stats_t* stats);
    ~ChatwootCheck();
    ChatwootCheck(const ChatwootCheck&) = delete;
    ChatwootCheck& operator=(const ChatwootCheck&) = delete;

    // The first round, now.
    void start();

private:
    struct Target {
        std::string inbox;
        std::string url;            // base URL, no trailing slash
        std::string token_header;   // a secret: never logged
        int64_t account_id = 0;
        std::optional<rest::CheckResult> last;
    };

    void round();
    void on_answer(size_t i, const TransferResult& result);
    void record(size_t i, const rest::CheckOutcome& outcome, long http_status,
                bool transport_failed);
    void round_done();
    static void on_timer(ngx_event_t* ev) noexcept;

    HttpTransport& curl_;
    std::vector<Target> targets_;
    uint64_t interval_msec_;
    cw_upstream_stats_t* stats_;
    size_t pending_ = 0;     // answers the round still waits for
    bool starting_ = false;  // inside round(): answers never come from there, refusals do
    ngx_event_t timer_{};
};

}  // namespace chatwoot::helper
