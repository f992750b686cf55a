#include "wa/media/media_retry_desk.hpp"

#include <openssl/crypto.h>

#include <utility>

#include "wa/media/media_keys.hpp"

namespace chatwoot::wa::media {

MediaRetryDesk::Waiting::~Waiting()
{
    if (!media_key.empty()) OPENSSL_cleanse(media_key.data(), media_key.size());
}

void MediaRetryDesk::remember(const std::string& message_id)
{
    if (!asked_.insert(message_id).second) return;
    asked_order_.push_back(message_id);
    while (asked_order_.size() > kMaxRemembered) {
        asked_.erase(asked_order_.front());
        asked_order_.pop_front();
    }
}

Status MediaRetryDesk::ask(const MediaRetryTarget& target, ByteView media_key, Millis now)
{
    if (target.message_id.empty() || target.message_id.size() > kMaxMediaRetryMessageId)
        return make_error(Errc::malformed, "media retry: a bad message id");
    if (media_key.size() != media_key_size)
        return make_error(Errc::malformed, "media retry: the media key is " +
                                               std::to_string(media_key.size()) +
                                               " bytes, want 32");
    if (asked_.contains(target.message_id))
        return make_error(Errc::wrong_state, "media retry: asked already");
    if (waiting_.size() >= kMaxWaiting)
        return make_error(Errc::too_large, "media retry: " + std::to_string(kMaxWaiting) +
                                               " requests wait already");
    remember(target.message_id);
    waiting_.try_emplace(target.message_id, target, media_key, now + kAnswerWait);
    return Done{};
}

std::vector<MediaRetryDesk::Receipt> MediaRetryDesk::take_receipts(
    const crypto::RandomSource& random, std::vector<Answer>& failed)
{
    std::vector<Receipt> out;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        Waiting& w = it->second;
        if (w.sent) {
            ++it;
            continue;
        }
        auto node = media_retry_receipt(w.target, w.media_key, random);
        if (!node) {
            failed.push_back(Answer{it->first, node.error()});
            it = waiting_.erase(it);
            continue;
        }
        w.sent = true;
        out.push_back(Receipt{it->first, std::move(*node)});
        ++it;
    }
    return out;
}

void MediaRetryDesk::unsent(const std::string& message_id)
{
    if (auto it = waiting_.find(message_id); it != waiting_.end()) it->second.sent = false;
}

Result<MediaRetryDesk::Answer> MediaRetryDesk::on_notification(const binary::Node& notification)
{
    auto notice = parse_media_retry_notification(notification);
    if (!notice) return notice.error();
    auto it = waiting_.find(notice->message_id);
    if (it == waiting_.end())
        return make_error(Errc::not_found, "media retry: an answer for a message not asked about");
    Answer answer{it->first, media_retry_outcome(it->second.media_key, *notice)};
    waiting_.erase(it);
    return answer;
}

std::vector<std::string> MediaRetryDesk::expire(Millis now)
{
    std::vector<std::string> out;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.deadline <= now) {
            out.push_back(it->first);
            it = waiting_.erase(it);
        } else {
            ++it;
        }
    }
    return out;
}

std::optional<MediaRetryDesk::Millis> MediaRetryDesk::next_deadline() const
{
    std::optional<Millis> at;
    for (const auto& [id, w] : waiting_) {
        if (!at || w.deadline < *at) at = w.deadline;
    }
    return at;
}

bool MediaRetryDesk::cancel(const std::string& message_id)
{
    return waiting_.erase(message_id) > 0;
}

}  // namespace chatwoot::wa::media
