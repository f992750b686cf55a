// What the outbox needs of the media send path (media_sender.hpp): the
// outbox's state machine stays free of HTTP and nginx, and its unit tests
// give a fake.
#pragma once

#include "device.hpp"

#include "../bridge/agent_reply.hpp"
#include "../store/outbox_part_repository.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chatwoot::helper {

struct MediaEntry {
    int64_t outbox_id = 0;
    std::string chat;
    std::string caption;
    std::optional<std::string> quoted;
    int64_t chatwoot_message_id = 0;
};

class MediaSending {
public:
    virtual ~MediaSending() = default;
    // The parts of an entry going in flight: a fresh id (from the device)
    // and media key each, and the caption's id on the first.  Empty when
    // they cannot be made now.
    virtual std::vector<store::OutboxPart> plan(int64_t outbox_id,
                                                const bridge::AgentReply& reply) = 0;
    // Files them, in the caller's unit of work.
    virtual void file(const std::vector<store::OutboxPart>& parts) = 0;
    // Moves the entry's parts on; done runs exactly once (sent when every
    // part is acked), maybe from within this call.
    virtual void send(MediaEntry entry, Device::Done done) = 0;
};

}  // namespace chatwoot::helper
