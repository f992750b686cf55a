#include "wa/session/iq_engine.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace chatwoot::wa::session {

std::string_view iq_outcome_name(IqOutcome::Kind kind)
{
    switch (kind) {
    case IqOutcome::Kind::result: return "result";
    case IqOutcome::Kind::error: return "error";
    case IqOutcome::Kind::timeout: return "timeout";
    case IqOutcome::Kind::dropped: return "dropped";
    }
    return "unknown";
}

Result<IqError> parse_iq_error(const binary::Node& iq)
{
    const binary::Node* error = iq.child("error");
    if (error == nullptr) {
        return make_error(Errc::malformed, "iq error: no <error> child");
    }
    IqError out;
    out.text = std::string(error->attr("text").value_or(""));
    const std::string_view code = error->attr("code").value_or("");
    int value = 0;
    auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), value);
    if (ec != std::errc{} || end != code.data() + code.size() || value < 1 || value > 999) {
        return make_error(Errc::malformed, "iq error: code is not a number in 1..999");
    }
    out.code = value;
    return out;
}

IqEngine::IqEngine(const crypto::RandomSource& random)
{
    std::array<std::uint8_t, 4> r{};
    Status got = random ? random(r) : Status(make_error(Errc::crypto_failure, "no random source"));
    if (!got) {
        broken_ = make_error(Errc::crypto_failure, "iq ids: " + got.error().detail);
        return;
    }
    const unsigned a = (unsigned(r[0]) << 8) | r[1];
    const unsigned b = (unsigned(r[2]) << 8) | r[3];
    prefix_ = std::to_string(a) + "." + std::to_string(b) + "-";
}

Result<std::string> IqEngine::prepare(binary::Node& iq, Millis now, Millis timeout,
                                      std::uint64_t cookie)
{
    if (broken_) {
        return *broken_;
    }
    if (iq.tag != "iq") {
        return make_error(Errc::malformed, "iq engine: <" + iq.tag + "> is not an <iq>");
    }
    const auto type = iq.attr("type");
    if (type != "get" && type != "set") {
        return make_error(Errc::malformed, "iq engine: a request's type is \"get\" or \"set\"");
    }
    std::string id = prefix_ + std::to_string(++counter_);
    iq.set_attr("id", id);
    pending_.insert_or_assign(id, Pending{now + std::max<Millis>(timeout, 0), cookie, counter_});
    return id;
}

std::optional<IqOutcome> IqEngine::match(const binary::Node& node)
{
    if (node.tag != "iq") {
        return std::nullopt;
    }
    const auto type = node.attr("type");
    if (type != "result" && type != "error") {
        return std::nullopt;
    }
    const auto id = node.attr("id");
    if (!id) {
        return std::nullopt;
    }
    auto it = pending_.find(*id);
    if (it == pending_.end()) {
        return std::nullopt;
    }
    IqOutcome out;
    out.id = it->first;
    out.cookie = it->second.cookie;
    pending_.erase(it);
    out.response = node;
    if (type == "result") {
        out.kind = IqOutcome::Kind::result;
    } else {
        out.kind = IqOutcome::Kind::error;
        auto parsed = parse_iq_error(node);
        if (parsed) {
            out.error = std::move(*parsed);
        } else {
            out.error = IqError{0, parsed.error().detail};
        }
    }
    return out;
}

std::optional<IqOutcome> IqEngine::match(const binary::NodeView& node)
{
    if (node.tag() != "iq") {
        return std::nullopt;
    }
    const auto type = node.attr("type");
    if (!type || (!(*type == "result") && !(*type == "error"))) {
        return std::nullopt;
    }
    const auto id = node.attr("id");
    if (!id) {
        return std::nullopt;
    }
    if (!pending_.contains(id->to_string())) {
        return std::nullopt;
    }
    // The owned path from here: the owner keeps the answer.
    return match(node.owned());
}

std::vector<IqOutcome> IqEngine::expire(Millis now)
{
    std::vector<std::pair<std::uint64_t, IqOutcome>> due;
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline <= now) {
            IqOutcome out;
            out.id = it->first;
            out.cookie = it->second.cookie;
            out.kind = IqOutcome::Kind::timeout;
            due.emplace_back(it->second.order, std::move(out));
            it = pending_.erase(it);
        } else {
            ++it;
        }
    }
    std::ranges::sort(due, {}, &std::pair<std::uint64_t, IqOutcome>::first);
    std::vector<IqOutcome> outcomes;
    outcomes.reserve(due.size());
    for (auto& d : due) outcomes.push_back(std::move(d.second));
    return outcomes;
}

std::vector<IqOutcome> IqEngine::cancel_all()
{
    std::vector<std::pair<std::uint64_t, IqOutcome>> all;
    for (auto& [id, p] : pending_) {
        IqOutcome out;
        out.id = id;
        out.cookie = p.cookie;
        out.kind = IqOutcome::Kind::dropped;
        all.emplace_back(p.order, std::move(out));
    }
    pending_.clear();
    std::ranges::sort(all, {}, &std::pair<std::uint64_t, IqOutcome>::first);
    std::vector<IqOutcome> outcomes;
    outcomes.reserve(all.size());
    for (auto& a : all) outcomes.push_back(std::move(a.second));
    return outcomes;
}

bool IqEngine::forget(std::string_view id)
{
    auto it = pending_.find(id);
    if (it == pending_.end()) return false;
    pending_.erase(it);
    return true;
}

std::optional<Millis> IqEngine::next_deadline() const
{
    std::optional<Millis> next;
    for (const auto& [id, p] : pending_) {
        if (!next || p.deadline < *next) next = p.deadline;
    }
    return next;
}

}  // namespace chatwoot::wa::session
