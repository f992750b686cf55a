#include "control_throttle.hpp"

#include <algorithm>

namespace chatwoot::bridge {

bool NoticeThrottle::offer(std::string_view kind, std::string_view label, int64_t now)
{
    const bool kind_held = std::any_of(held_.begin(), held_.end(),
                                       [&](const Held& h) { return h.kind == kind; });
    auto it = last_.find(kind);
    // A kind with changes waiting keeps them in order: this one joins
    // them, even if its window is over, rather than overtaking them.
    if (!kind_held && (it == last_.end() || now - it->second >= window_)) {
        last_.insert_or_assign(std::string(kind), now);
        return true;
    }
    held_.push_back(Held{std::string(kind), std::string(label)});
    return false;
}

std::optional<int64_t> NoticeThrottle::next_due() const
{
    std::optional<int64_t> due;
    for (const Held& h : held_) {
        auto it = last_.find(h.kind);
        const int64_t at = it == last_.end() ? 0 : it->second + window_;
        if (!due || at < *due) due = at;
    }
    return due;
}

std::optional<std::string> NoticeThrottle::summary(int64_t now)
{
    auto due = next_due();
    if (!due || now < *due) {
        return std::nullopt;
    }
    // One summary covers everything held, whatever its kind: the reader
    // wants the story since the last notice, in order.
    std::string text = std::to_string(held_.size()) + " more change"
                       + (held_.size() == 1 ? "" : "s") + ": ";
    for (size_t i = 0; i < held_.size(); i++) {
        if (i > 0) text += ", ";
        text += held_[i].label;
        last_.insert_or_assign(held_[i].kind, now);
    }
    held_.clear();
    return text;
}

}  // namespace chatwoot::bridge
