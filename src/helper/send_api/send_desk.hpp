// The send API's helper side (include/chatwoot_send.h; README "Send API"):
// a send command becomes a message agents see in Chatwoot and a contact
// gets on WhatsApp, once, whatever is killed when.
//
//   take:     the api_sends row (an inbox not running yet: it waits,
//             queued, until it runs).
//   check:    a phone number is looked up first (usync, through the
//             device): one WhatsApp does not know fails now, with nothing
//             made in Chatwoot.  A device that cannot tell (offline, no
//             answer within kCheckWait) lets it go on: the send path looks
//             it up again before anything is sent.
//   file:     the WhatsApp id chosen, the message filed for the forwarder
//             under it (wa_inbound, from_me) and the row moved to posting
//             with it: one commit, before anything reaches Chatwoot or
//             WhatsApp, so every later step is keyed by that id.
//   posting:  the inbox's forwarder finds or creates the contact and the
//             conversation (bridge::chat_identity: the chat the live path
//             files that person under) and posts the message as outgoing
//             with source_id WAID:<wa_id>; the webhook's echo of it is
//             dropped by the worker as our own (webhook_event.hpp), and a
//             forwarder killed mid-post looks before posting again.
//   sending:  posted: an outbox entry for that Chatwoot message, filed as
//             a reconciled reply is and moved in flight under the chosen
//             id in the same commit; the outbox sender sends it (strictly
//             after the conversation's earlier replies) and, on failure,
//             marks the Chatwoot message failed with the reason.
//   sent / failed: the outbox entry's outcome, with its reason.
//
// A repeated idempotency key within a day (the worker's zone table lost,
// say, by a restart of nginx) files the send as a duplicate of the first:
// nothing is sent, and its id shows the first's outcome.
//
// What became of the newest CW_SEND_SLOTS sends is published in the zone
// for GET <location>/<id>.  No nginx here: unit-tested with fakes.
#pragma once

#include "chatwoot_send.h"

#include "../device.hpp"

#include "../../ipc/command_record.hpp"
#include "../../store/api_send_repository.hpp"
#include "../../store/inbound_event_repository.hpp"
#include "../../store/outbox_repository.hpp"
#include "../../store/reconciliation_repository.hpp"
#include "../../store/wa_inbound_repository.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace chatwoot::helper {

// What the desk needs of an inbox's runtime.
class SendInbox {
public:
    virtual ~SendInbox() = default;
    // Running, with a device that can name message ids.
    virtual bool ready() = 0;
    // Whether the inbox has a WhatsApp device at all (not "whatsapp off"):
    // without one a send can never go, and fails at once.
    virtual bool has_device() = 0;
    virtual std::string new_message_id() = 0;
    virtual int64_t account_id() const = 0;
    virtual int64_t inbox_id() const = 0;      // 0 while unknown
    // Whether the phone-number chat is on WhatsApp (Device::check_number).
    virtual void check_number(const std::string& pn_jid, Device::NumberDone done) = 0;
    // A message of `chat` is filed for Chatwoot: forward it.
    virtual void forward(const std::string& chat) = 0;
    // An outbox entry is filed: look at the outbox.
    virtual void wake_outbox() = 0;
};

class SendDesk {
public:
    using FindInbox = std::function<SendInbox*(std::string_view name)>;
    using Clock = std::function<int64_t()>;   // unix seconds

    SendDesk(store::Database& db, store::InboundEventRepository& inbound,
             store::OutboxRepository& outbox, store::WaInboundRepository& wa_inbound,
             FindInbox find_inbox, Clock clock);
    ~SendDesk();
    SendDesk(const SendDesk&) = delete;
    SendDesk& operator=(const SendDesk&) = delete;

    // A send command the queue drain committed.  nullopt: its row is
    // committed (or was, by an earlier helper); else why it cannot be.
    std::optional<std::string> take(const std::string& id, const ipc::SendCommand& command,
                                    int64_t created_at);

    // Moves every open send that can move; true if one did.
    bool advance();

    // Writes the newest sends that changed since the last call into the
    // zone's table, then the position of the newest taken.
    void publish(cw_send_table_t* table);

    // How long an idempotency key holds.
    static constexpr int64_t kKeyTtl = CW_SEND_KEY_TTL;
    // How long a number check may take before the send goes on without.
    static constexpr int64_t kCheckWait = 60;
    // What the outbox's own failure words mean to an application.
    static std::string readable(std::string_view outbox_failure);

private:
    // The chat the live path files this person under (one per person).
    std::string identity(const std::string& inbox, const std::string& to);
    // queued: the number checked, then filed; false when nothing moved.
    bool start(store::ApiSend& send, SendInbox& inbox);
    void on_checked(const std::string& id, NumberCheck how);
    // queued -> posting; false when the inbox cannot take it yet.
    bool file_for_chatwoot(store::ApiSend& send, SendInbox& inbox);
    bool step(store::ApiSend& send);
    void settle(store::ApiSend& send, std::string state, std::string reason = {});
    std::string outbox_record(const store::ApiSend& send, SendInbox& inbox,
                              int64_t conversation_id, int64_t message_id);

    store::Database& db_;
    store::InboundEventRepository& inbound_;
    store::OutboxRepository& outbox_;
    store::WaInboundRepository& wa_inbound_;
    store::ApiSendRepository sends_;
    store::ReconciliationRepository marks_;
    FindInbox find_inbox_;
    Clock clock_;
    // What each published row showed, to write only what changed.
    std::unordered_map<int64_t, std::string> shown_;
    // Number checks under way (since when) and those answered yes or
    // "cannot tell", by send id.  In memory: a new helper checks again.
    std::unordered_map<std::string, int64_t> checking_;
    std::unordered_set<std::string> checked_;
    // Callbacks hold a weak copy: an answer after the desk is gone is dropped.
    std::shared_ptr<SendDesk*> self_;
};

}  // namespace chatwoot::helper
