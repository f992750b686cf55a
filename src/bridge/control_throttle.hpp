// How often the control conversation speaks: at most one notice per kind
// of change (connected, disconnected, logged out, ...) per window (a
// minute), and the changes held back meanwhile as one summary once the
// window is over ("3 more changes: ..."), so a device that flaps does not
// bury the conversation.  Sans-I/O: the caller gives the time (unix
// seconds) and asks when the next summary is due.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::bridge {

class NoticeThrottle {
public:
    explicit NoticeThrottle(int64_t window_sec = 60) : window_(window_sec) {}

    // A change of `kind` happened at `now`: true when its notice goes now;
    // false when it is held for the summary (`label` says it there, e.g.
    // "disconnected at 12:00:03").
    bool offer(std::string_view kind, std::string_view label, int64_t now);

    // The summary due at `now`, if a held change's window is over: its
    // text, and every kind it covers may speak again a window later.
    std::optional<std::string> summary(int64_t now);

    // When summary() has something to say, if anything is held.
    std::optional<int64_t> next_due() const;

    size_t held() const { return held_.size(); }

private:
    struct Held {
        std::string kind;
        std::string label;
    };
    int64_t window_;
    std::map<std::string, int64_t, std::less<>> last_;   // kind -> when it last spoke
    std::vector<Held> held_;
};

}  // namespace chatwoot::bridge
