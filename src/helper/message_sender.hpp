// The send path of a live device: an OutgoingMessage (an agent's reply, a
// revoke, typing, a read receipt) turned into what WhatsApp takes, and its
// outcome into a SendResult (waweb.md 1.14-1.17, waweb-2026.md 3-4).
//
// A DM, LID-first:
//   1. the contact's LID: the PN <-> LID map, else a usync lookup (which
//      also says whether the number is on WhatsApp at all: a number that
//      is not fails at once, and nothing is sent to it)
//   2. the device lists of the contact and of our own account: the
//      wa_device_lists cache, else one usync devices query
//   3. bundles for devices without a session: one encrypt get IQ
//   4. one store::UnitOfWork: encrypt for every device (the ratchets
//      advance), keep the plaintext in wa_recent_sends; commit; then the
//      <message> goes out (a crash before the send re-encrypts with newer
//      ratchet keys, which recipients take; one after it sends the same
//      id again, which recipients drop)
//   5. the server's <ack>: accepted -> sent; 463/475 -> failed with the
//      reason an agent can act on, never retried; a phash that differs from
//      ours -> the device lists are dropped and the message goes again,
//      once; no ack in time or the connection gone -> retry later (the
//      outbox sends the same id again)
// A group: its info (cache, else w:g2), member device lists, our sender
// key to devices not in wa_sender_key_holders (inside their 1:1 enc), one
// skmsg for all; the new holders recorded in the same unit of work.
// Typing and read receipts go at once and are done when sent.
//
// A recipient's retry receipt: the stored plaintext encrypted again for
// that one device (on a session rebuilt from the receipt's keys when it
// brings them) and sent with the same id.
//
// Sans nginx: the live device hands in its Connection on each call and
// arms a timer at next_deadline().  Single-threaded.
#pragma once

#include "device.hpp"

#include "../store/send_state_repository.hpp"
#include "../store/signal_store.hpp"
#include "../store/sqlite_handle.hpp"

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/crypto/random.hpp"
#include "wa/message/group_info.hpp"
#include "wa/message/usync.hpp"
#include "wa/signal/protocol_context.hpp"
#include "wa/proto/message.pb.h"
#include "wa/session/clock.hpp"
#include "wa/session/connection.hpp"
#include "wa/session/iq_engine.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace chatwoot::helper {

struct MessageSenderOptions {
    wa::session::Millis ack_timeout = wa::session::seconds(30);
    wa::session::Millis iq_timeout = wa::session::seconds(30);
    // The plaintexts kept for retry receipts (wa_recent_sends) are the
    // store's retention's to prune (store/retention.cpp: a week).
};

// The reasons an agent reads in Chatwoot (kNotOnWhatsApp: device.hpp).
inline constexpr std::string_view kFirstMessageRefused =
    "WhatsApp refused a first message to this contact; ask them to write first";

// IQ cookies of the sender carry this tag in their top 16 bits.
inline constexpr std::uint64_t kMessageSenderCookieTag = 0x5e4dULL << 48;

class MessageSender {
public:
    MessageSender(store::Database& db, store::SignalStore& store, std::string name,
                  wa::crypto::RandomSource random, MessageSenderOptions options = {});

    // `done` runs exactly once, maybe within this call.  `now` is the
    // monotonic clock, `unix_now` the wall clock (receipts, tokens).
    void send(wa::session::Connection& conn, const OutgoingMessage& message, Device::Done done,
              wa::session::Millis now, std::int64_t unix_now) noexcept;

    // True when the answer was to one of ours.
    bool on_iq_answered(wa::session::Connection& conn, const wa::session::IqOutcome& outcome,
                        wa::session::Millis now, std::int64_t unix_now);

    // An <ack> stanza; true when it was for a message we wait on.
    bool on_ack(wa::session::Connection& conn, const wa::binary::Node& ack,
                wa::session::Millis now, std::int64_t unix_now);

    // A <receipt type="retry">, and what the caller does with its ack.
    enum class RetryAnswer {
        // Nothing to resend (not ours, unreadable, keys refused): ack it.
        done,
        // Resent (after the commit of its ratchet step): ack it once the
        // server has acked the resend, so that a connection lost before
        // that gets the receipt again, and the resend goes again.
        resent,
        // Not handled now (the store failed): left unacked, WhatsApp
        // delivers it again.
        later,
    };
    RetryAnswer on_retry_receipt(wa::session::Connection& conn, const wa::binary::Node& receipt,
                                 std::int64_t unix_now);

    // Sends whose ack is overdue: retry later.
    void on_timer(wa::session::Millis now);
    std::optional<wa::session::Millis> next_deadline() const;

    // The connection is gone: every send waiting on it is retried later.
    void connection_lost();

    // A devices notification: the cached list of `user` is stale.
    void devices_changed(const wa::binary::Jid& user);

    std::size_t in_flight() const { return jobs_.size(); }

    // A group's info outside any send (the receive path names a group's
    // contact after its subject).  The cached one, if any:
    std::optional<wa::message::GroupInfo> group_info(const wa::binary::Jid& group);
    // Asks WhatsApp (w:g2) and keeps the answer in the cache; `done` runs
    // once, later, with how it ended (an error or a timeout: failed; the
    // connection gone: lost).  One query per group: a second ask while one
    // is out waits for the same answer.  False when the query could not
    // be sent (no connection): `done` does not run.
    using GroupFetched = std::function<void(wa::message::GroupInfoFetch)>;
    bool fetch_group(wa::session::Connection& conn, const wa::binary::Jid& group,
                     GroupFetched done, wa::session::Millis now);

    // Whether a phone number is on WhatsApp, outside any send (the send
    // API asks before it files anything): a number whose LID the map knows
    // is, at once; else one usync look-up (its LID and devices kept, as a
    // send's look-up keeps them).  `done` runs once, maybe within this
    // call: unknown when WhatsApp did not answer or the connection went.
    // False when the query could not be sent: `done` does not run.
    bool check_number(wa::session::Connection& conn, const wa::binary::Jid& pn,
                      Device::NumberDone done, wa::session::Millis now, std::int64_t unix_now);

private:
    enum class Asked { lookup, group, devices, bundles, token, group_fetch, number };
    struct PendingIq {
        std::string id;  // the message's; the contact's LID for a token issue; the group's
        Asked what;
    };

    struct Job {
        OutgoingMessage message;
        Device::Done done;
        std::optional<wa::binary::Jid> chat;     // as the outbox named it
        std::optional<wa::binary::Jid> target;   // where the stanza goes (a LID for DMs when known)
        std::optional<wa::binary::Jid> pn;       // the contact's PN, for peer_recipient_pn
        std::optional<wa::message::GroupInfo> group;
        bool looked_up = false;
        bool group_asked = false;
        bool devices_asked = false;
        bool bundles_asked = false;
        bool resent = false;                     // after a phash mismatch
        std::set<std::string> unreachable;       // devices without a bundle
        std::vector<std::string> users;          // whose device lists were used
        std::string phash;
        std::optional<wa::session::Millis> ack_deadline;
        std::uint64_t iq_cookie = 0;
    };

    void advance(wa::session::Connection& conn, const std::string& id,
                 wa::session::Millis now, std::int64_t unix_now);
    void finish(const std::string& id, SendResult result);
    // A history request: one peer message to our own phone.
    void advance_peer(wa::session::Connection& conn, const std::string& id, wa::session::Millis now);
    void fetched(const std::string& group, wa::message::GroupInfoFetch how);
    void checked(const std::string& pn, NumberCheck how);
    NumberCheck take_number(const std::string& pn, const wa::binary::Node& answer,
                            std::int64_t unix_now);
    bool ask(wa::session::Connection& conn, const std::string& id, Asked what,
             wa::binary::Node iq, wa::session::Millis now);
    // nullopt: go on; else the job's outcome.
    std::optional<SendResult> take_lookup(Job& job, const wa::binary::Node& answer,
                                          std::int64_t unix_now);
    void take_devices(const wa::binary::Node& answer, std::int64_t unix_now);
    void take_bundles(Job& job, const wa::binary::Node& answer);
    std::optional<std::vector<wa::binary::Jid>> cached_devices(const wa::binary::Jid& user);
    std::optional<wa::message::GroupInfo> cached_group(const wa::binary::Jid& group);
    void keep_group(const wa::message::GroupInfo& info, std::int64_t unix_now);
    wa::binary::Jid own_device(bool lid) const;
    std::optional<SendResult> transmit(wa::session::Connection& conn, Job& job, const std::string& id,
                        const std::vector<wa::binary::Jid>& devices,
                        const std::map<std::string, wa::binary::Jid>& sessions, std::int64_t unix_now);
    void issue_token(wa::session::Connection& conn, const Job& job, wa::session::Millis now,
                     std::int64_t unix_now);
    wa::proto::Message content(const Job& job);
    std::string quoted_author(const Job& job);
    wa::binary::Jid session_jid(wa::signal::ProtocolContext& ctx, const wa::binary::Jid& device);
    // A device's LID form and phone-number form, as far as the map knows them.
    std::pair<std::optional<wa::binary::Jid>, std::optional<wa::binary::Jid>> session_candidates(
        const wa::binary::Jid& device);
    // The form (LID first) under which a session with `device` exists;
    // nullopt when there is none; an error when the store failed.
    wa::Result<std::optional<wa::binary::Jid>> established_session(wa::signal::ProtocolContext& ctx,
                                                                  const wa::binary::Jid& device);

    store::Database& db_;
    store::SignalStore& store_;
    store::SendStateRepository state_;
    std::string name_;
    wa::crypto::RandomSource random_;
    MessageSenderOptions options_;
    std::map<std::string, Job> jobs_;               // by message id
    std::map<std::uint64_t, PendingIq> iqs_;        // by our IQ cookie
    std::map<std::string, std::vector<GroupFetched>> group_fetches_;  // by group JID
    std::map<std::string, std::vector<Device::NumberDone>> number_checks_;  // by PN JID
    std::uint64_t next_cookie_ = 1;
};

}  // namespace chatwoot::helper
