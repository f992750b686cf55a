// The receive path of a live device: the <message> stanzas LiveDevice kept
// (store::WaStanzaRepository) become wa_inbound rows for the Chatwoot side,
// exactly once (DESIGN.md section 3, issue 10 "Receive").
//
// For each kept message, oldest first, ONE unit of work holds:
//   decryption (the SignalStore is the ProtocolStore, so the ratchet
//   advance and sender keys join the unit), the PN <-> LID pairs the
//   stanza teaches, the wa_inbound row(s), and the stanza marked done with
//   the receipt it owes.
// Only after the commit does the receipt go (delivery, or retry), and is
// marked sent; a crash in between sends it at the next drain
// (owed_receipts).  A store failure rolls the unit back: the stanza stays
// and the next drain tries again; nothing is dropped.
//
// What is not posted: our own sends' echoes (OutboxRepository), chats the
// inbox's intake filter refuses, peer messages of our own phone (app state
// keys, history sync notifications), sender-key distributions alone.
//
// Undecryptable: a retry receipt with the next count (and our keys from
// the second one); the sender resends the same id with that count, which
// LiveDevice keeps as a new stanza.  At kMaxRetries the agents get a
// placeholder ("could not be decrypted") instead: never silence.
//
// A group is one contact named after its subject: a group message whose
// group info is not cached yet waits (with the rest of its batch, so that
// order stays simple) until `group_info_hook` has fetched it, and is filed
// with chat_name = the subject.  One fetch per group at a time; a group
// WhatsApp does not describe (an error, a timeout) is filed without a name
// for the rest of this run.
//
// Also: read receipts of contacts (a "read" row so Chatwoot marks our
// messages read), device-list, privacy-token and account-restriction
// notifications.  Retry receipts someone sends us (rows of tag "receipt")
// belong to the send path, which answers them as they come in (LiveDevice
// does not keep them); a kept one is handed to `retry_receipt_hook` when
// set, else marked done.
#pragma once

#include "device.hpp"
#include "history_receiver.hpp"

#include "../bridge/forward_job.hpp"
#include "../bridge/intake_filter.hpp"
#include "../store/outbox_repository.hpp"
#include "../store/send_state_repository.hpp"
#include "../store/signal_store.hpp"
#include "../store/sqlite_handle.hpp"
#include "../store/wa_inbound_repository.hpp"
#include "../store/wa_stanza_repository.hpp"

#include "wa/binary/node.hpp"
#include "wa/crypto/random.hpp"
#include "wa/message/content.hpp"
#include "wa/message/envelope.hpp"
#include "wa/message/group_info.hpp"
#include "wa/message/receipts.hpp"
#include "wa/session/after_login.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace chatwoot::helper {

class MessageReceiver {
public:
    struct Options {
        std::string inbox;            // the inbox's name: the store rows' device
        bridge::IntakeFilter intake;  // what the inbox carries into Chatwoot
        bool passive = false;         // delivery receipts say "inactive"
    };

    // Sends a node now; false when it did not go (no connection).
    using Send = std::function<bool(const wa::binary::Node&)>;
    // A kept retry receipt (row id, node): true when handled (the hook
    // marks the row done itself).
    using RetryReceiptHook = std::function<bool(int64_t, const wa::binary::Node&)>;
    // Asks WhatsApp for a group's info (kept in wa_group_info); `done`
    // runs once, later.  False when it could not be asked now (no
    // connection): the next drain asks again.
    using GroupInfoDone = std::function<void(wa::message::GroupInfoFetch)>;
    using GroupInfoHook = std::function<bool(const wa::binary::Jid& group, GroupInfoDone done)>;

    // `keeper` makes the fresh pre-key a retry receipt hands out.  All
    // borrowed; they outlive the receiver.
    MessageReceiver(Options options, store::Database& db, store::SignalStore& signal,
                    wa::session::PreKeyKeeper& keeper, wa::crypto::RandomSource random);

    // Owed receipts first, then every kept stanza not handled yet.  New
    // rows are announced through `events` (may be null) after their commit.
    // Returns how many stanzas were handled; stops early when the store
    // fails (logged; the rest waits for the next drain).
    std::size_t drain(const Send& send, DeviceEvents* events, int64_t now);

    // What a handled stanza owes once the unit it was filed in commits.
    struct After {
        int64_t row_id = 0;
        wa::binary::Node node;
        std::optional<std::string> receipt;
        std::vector<std::string> chats;
        bool history_download = false;  // a history chunk to fetch (history_pending)
    };
    struct Filed {
        std::vector<After> after;
        std::size_t handled = 0;
        // Nothing to try again now: no failure, no full batch (a stanza
        // waiting for its group's info waits for the answer's drain).
        bool complete = true;
    };
    // Files kept stanzas not handled yet (a batch) inside the caller's
    // unit of work, each in a savepoint of its own; a store failure stops
    // the batch there (logged) and leaves the rest kept.  Nothing is sent:
    // after the caller's commit, deliver() sends the receipts and tells
    // `events`.  So the stanza's keep, its decryption and its row can share
    // one commit.
    Filed file_kept(int64_t now);
    void deliver(const Filed& filed, const Send& send, DeviceEvents* events, int64_t now);

    // The server delivered a stanza again that we kept already (keep()
    // said no): when it was handled and its receipt marked sent, that
    // receipt may have died with a helper before it reached the socket,
    // and the server redelivers until it gets one: send it again (a
    // delivery receipt when the message is stored, else the retry it
    // asked for).  Stanzas not handled yet are left to drain().
    void redelivered(std::string_view stanza_key, const wa::binary::Node& message, const Send& send,
                     int64_t now);

    // A <receipt> that is not a retry (the connection acked it): reads
    // of our messages by contacts become read rows.
    void on_receipt(const wa::binary::Node& receipt, DeviceEvents* events, int64_t now);

    // devices, privacy_token and mex notifications; others are ignored.
    // Returns the account restriction as text when a MEX notification
    // changed it ("" when lifted).
    std::optional<std::string> on_notification(const wa::binary::Node& notification, int64_t now);

    RetryReceiptHook retry_receipt_hook;
    // A history notification's blob waits in history_pending: called
    // after the commit that filed it (the device downloads it).
    std::function<void()> history_download_hook;
    HistoryReceiver& history() { return history_; }
    // Unset: groups are filed without their subject, at once.
    GroupInfoHook group_info_hook;

    // For tests and status: the retry limit reached, placeholders posted.
    uint64_t undecryptable() const { return undecryptable_; }

private:
    struct Outcome {
        std::optional<std::string> receipt;  // what is owed after the commit
        std::vector<std::string> chats;      // with new rows
        bool waits = false;                  // for its group's info: not handled
        bool history_download = false;      // a history chunk to fetch
    };
    enum class Step { handled, left, waits };

    Step handle(const store::WaStanzaRepository::Kept& row, std::vector<After>& after,
                int64_t now);
    // The group's subject as chat_name ("" when it has none or WhatsApp
    // would not say); nullopt while its info is being fetched.
    std::optional<std::string> group_name(const wa::binary::Jid& group);
    Outcome file(int64_t row_id, const wa::binary::Node& node,
                 std::span<const unsigned char> bytes, int64_t now);
    bool send_receipt(const wa::binary::Node& node, std::string_view receipt, const Send& send,
                      int64_t now);
    void receipts_sent(const std::vector<int64_t>& row_ids);
    void mark_receipts_gone();
    void flush_receipts_gone();
    wa::binary::Node build_receipt(const wa::binary::Node& node, std::string_view receipt, int64_t now);
    std::string chat_for(const wa::binary::Jid& chat);
    std::string display_jid(const wa::binary::Jid& user);
    bool add_row(const bridge::WaMessage& m, int64_t now, std::vector<std::string>& chats);
    wa::message::OwnAccount own();
    void group_changed(const wa::message::GroupChanged& change);
    void identity_changed(const wa::binary::Jid& user);

    Options options_;
    store::Database& db_;
    store::SignalStore& signal_;
    wa::session::PreKeyKeeper& keeper_;
    wa::crypto::RandomSource random_;
    // Rows whose receipts went, not yet marked so in the store.
    std::vector<int64_t> receipts_gone_;
    store::WaStanzaRepository stanzas_;
    store::WaInboundRepository inbound_;
    store::OutboxRepository outbox_;
    store::Statement drop_devices_;
    store::Statement put_token_;
    store::Statement handled_;
    store::Statement stored_;
    store::SendStateRepository groups_;  // wa_group_info, as the send path keeps it
    HistoryReceiver history_;            // our phone's history sync chunks
    std::map<std::string, std::string> names_;  // group -> subject, known this run
    std::set<std::string> asking_;    // groups whose info is being fetched
    std::set<std::string> unnamed_;   // groups WhatsApp did not describe, this run
    uint64_t undecryptable_ = 0;
};

// What one decrypted Message becomes for the bridge; nullopt when it
// posts nothing.  `chat` is the chat the row goes under.
std::optional<bridge::WaMessage> to_wa_message(const wa::message::MessageEnvelope& envelope,
                                               const wa::message::Content& content,
                                               std::string chat, std::string sender);

}  // namespace chatwoot::helper
