// A WhatsApp device made of files, for tests and demos: every *.json file
// in its directory is one incoming message (bridge/wa_message_json.hpp),
// taken in name order (a writer must make them appear in that order, e.g.
// by renaming complete files into the directory one after another).  A message's attachments are files named relative
// to the directory; they move into the media store with the message.  Each file is committed to the store before it is
// removed, so a crash in between only makes the store see it twice, which
// it ignores (one row per WhatsApp id).  The real multi-device session will
// hand its messages over the same way, into the same table.
#pragma once

#include "media_store.hpp"

#include "../bridge/intake_filter.hpp"
#include "../bridge/agent_reply.hpp"
#include "../store/outbox_repository.hpp"
#include "../store/sqlite_handle.hpp"
#include "../store/wa_inbound_repository.hpp"

#include <cstdint>
#include <string>

namespace chatwoot::helper {

class SyntheticDevice {
public:
    SyntheticDevice(std::string inbox, std::string dir, store::Database& db,
                    store::WaInboundRepository& inbound, store::OutboxRepository& outbox,
                    bridge::IntakeFilter filter, MediaStore& media)
        : inbox_(std::move(inbox)),
          dir_(std::move(dir)),
          db_(db),
          media_(media),
          inbound_(inbound),
          outbox_(outbox),
          filter_(std::move(filter))
    {
    }

    // Sends an agent reply: a file in <dir>/sent named after the outbox
    // entry, so doing it again after a crash writes the same file.  Returns
    // the WhatsApp id it was sent as.  Throws when it cannot.
    std::string send(const bridge::AgentReply& reply, int64_t outbox_id);

    // Revokes a message we sent (a deletion in Chatwoot).
    void revoke(const std::string& chat, const std::string& wa_id, int64_t outbox_id);

    // Takes what is there now; returns how many messages were new.
    size_t poll(int64_t now);

    const std::string& inbox() const { return inbox_; }

private:
    std::string inbox_;
    std::string dir_;
    store::Database& db_;
    MediaStore& media_;
    store::WaInboundRepository& inbound_;
    store::OutboxRepository& outbox_;
    bridge::IntakeFilter filter_;

    void write_sent(const std::string& name, const std::string& json);
};

}  // namespace chatwoot::helper
