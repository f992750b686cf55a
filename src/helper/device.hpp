// The WhatsApp side of one inbox, behind one interface: the live WhatsApp
// Web session, or the synthetic device (files) that tests and demos use.
//
// - Inbound: a device commits each message to the store itself (one unit of
//   work with whatever else it must keep, e.g. the Signal ratchet), then
//   tells its runtime which chat has news; nothing polls it.
// - Outbound: send() transmits a message under the id the outbox chose and
//   committed; it completes when the far side acknowledges (WhatsApp's ack),
//   possibly before send() returns, with a SendResult.  Sending the same id
//   again is how a resend after a crash or a drop is made: recipients drop
//   the repeat.
// - State: what the status and devices views show.
#pragma once

#include "chatwoot_snapshot.h"

#include "../wa/message/outgoing.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::helper {

// The states are the snapshot's (include/chatwoot_snapshot.h): one owner.
enum class DeviceState : uint64_t {
    unpaired = CW_DEVICE_UNPAIRED,          // no WhatsApp account linked
    pairing_qr = CW_DEVICE_PAIRING_QR,      // showing QR codes to scan
    pairing_code = CW_DEVICE_PAIRING_CODE,  // waiting for the code typed on the phone
    connecting = CW_DEVICE_CONNECTING,      // linked; (re)connecting to WhatsApp
    connected = CW_DEVICE_CONNECTED,        // linked and online: sends go out
    logged_out = CW_DEVICE_LOGGED_OUT,      // the phone removed this device
    error = CW_DEVICE_ERROR,                // stopped for a reason the operator must act on
    passkey = CW_DEVICE_PASSKEY             // a passkey-gated account links: assertion, then code
};

// The lower-case name status and the devices API show.
std::string_view to_string(DeviceState s) noexcept;

struct DeviceStatus {
    DeviceState state = DeviceState::unpaired;
    std::string reason;               // why, for error (and logged_out)
    // Who the device is, once linked (the live session fills these).
    std::string pn_jid;
    std::string lid;
    std::string push_name;
    int64_t connected_since = 0;      // unix seconds; 0 when not connected
    uint64_t reconnects = 0;
    // Secrets of the moment: the devices view shows them, nothing else.
    std::string qr;
    std::string pair_code;            // also the passkey ceremony's code
    // Passkey-gated linking (state passkey): the WebAuthn request options
    // for the operator's browser while an assertion is wanted, and when the
    // step waiting now (assertion or confirmation) runs out, unix seconds.
    std::string passkey_options;
    int64_t passkey_expires_at = 0;
    // An account restriction WhatsApp pushed and that is in force (the
    // reach-out time lock with its end, new-chat capping), "" for none:
    // sends to new contacts may fail while it lasts.
    std::string restriction;

    static DeviceStatus of(DeviceState state, std::string reason = {})
    {
        DeviceStatus s;
        s.state = state;
        s.reason = std::move(reason);
        return s;
    }
};

// An uploaded attachment as a message carries it (issue 11): what the
// recipient needs to fetch, check and decrypt it, and to show it.  The
// message layer's own shape: the device hands it on as it is.
using OutgoingMedia = wa::message::MediaContent;

// A file to encrypt with `media_key` and upload to WhatsApp's media hosts.
struct MediaUpload {
    std::string path;
    std::string kind;                 // as OutgoingMedia::kind: selects the key family
    std::string media_key;            // 32 bytes, chosen and committed before
};

struct OutgoingMessage {
    enum class Kind {
        text,      // an agent's reply
        revoke,    // delete revoked_id for everyone
        typing,    // chat state: composing (typing_on) or paused; no id, no ack
        read,      // mark the contact's read_ids read; no id of its own
        history_request  // ask our phone for older messages of `chat`
                         // (a peer message with its own id; acked like a
                         // text, answered later by an ON_DEMAND history chunk)
    };
    Kind kind = Kind::text;
    std::string id;                   // the WhatsApp message id it goes as
    std::string chat;                 // chat JID
    std::string text;                 // WhatsApp formatting (text)
    std::optional<std::string> quoted;  // WhatsApp id it answers (text)
    std::string quoted_sender;        // who wrote the quoted message (groups), may be empty
    std::string revoked_id;           // the message revoked (revoke)
    bool typing_on = false;           // typing
    std::vector<std::string> read_ids;  // read: the contact's messages, oldest first
    std::string read_sender;          // read, groups: whose messages they are
    int64_t outbox_id = 0;            // for the device's own bookkeeping
    // text with media: the attachment, `text` its caption (may be empty).
    std::optional<OutgoingMedia> media;
    // history_request: the oldest message of `chat` we have, and how many
    // older ones to ask for.
    struct HistoryAsk {
        std::string oldest_id;
        bool oldest_from_me = false;
        int64_t oldest_timestamp_ms = 0;
        int32_t count = 50;
    };
    HistoryAsk history;
};

struct SendResult {
    enum class Kind {
        sent,          // the server acknowledged it
        failed,        // will never go: the reason is reported to Chatwoot
        retry          // not now (offline, timeout, server busy): try later
    };
    Kind kind = Kind::retry;
    std::string reason;
};

// How an upload ended: sent (with where the blob is), failed (the reason an
// agent reads) or retry (a host or the network failed; try later).
struct UploadResult {
    SendResult::Kind kind = SendResult::Kind::retry;
    std::string reason;
    std::string url;
    std::string direct_path;
    std::string file_sha256;
    std::string file_enc_sha256;
    uint64_t file_length = 0;
};

// The reason an application and an agent read for a number WhatsApp does
// not know (the send path's and the send API's).
inline constexpr std::string_view kNotOnWhatsApp = "this number is not on WhatsApp";

// Whether a phone number is on WhatsApp, as the device could tell.
enum class NumberCheck {
    on_whatsapp,
    not_on_whatsapp,
    unknown        // could not ask (offline, no such look-up): go on, the send path asks again
};

// What a device tells its runtime.
class DeviceEvents {
public:
    virtual ~DeviceEvents() = default;
    // Messages of `chat` are committed to the store: forward them.
    virtual void inbound(std::string_view chat) = 0;
    // The state changed (shown in status; sends wait for `connected`).
    virtual void state_changed(const DeviceStatus& status) = 0;
};

class Device {
public:
    using Done = std::function<void(const SendResult&)>;

    virtual ~Device() = default;

    // Begins connecting (or watching, for the synthetic device).
    virtual void start(DeviceEvents& events) = 0;

    virtual DeviceStatus status() const = 0;

    // A fresh message id in WhatsApp's form, for the outbox to commit before
    // the first transmission.
    virtual std::string new_message_id() = 0;

    // Transmits `message`; `done` runs exactly once, maybe from within this
    // call.  Never throws: a failure is a SendResult.
    virtual void send(const OutgoingMessage& message, Done done) noexcept = 0;

    // Whether the phone-number chat `pn_jid` is on WhatsApp (the send API
    // asks before it creates a contact in Chatwoot).  `done` runs exactly
    // once, maybe within this call.  Never throws.
    using NumberDone = std::function<void(NumberCheck)>;
    virtual void check_number(const std::string& pn_jid, NumberDone done) noexcept
    {
        (void) pn_jid;
        done(NumberCheck::unknown);
    }

    // Whether the device sends attachments as WhatsApp media (the live
    // session); one that does not gets their links in the text.
    virtual bool sends_media() const { return false; }
    using UploadDone = std::function<void(const UploadResult&)>;
    // Encrypts the file with the media key and uploads it; `done` runs
    // exactly once, maybe from within this call.  Never throws.
    virtual void upload_media(const MediaUpload& upload, UploadDone done) noexcept
    {
        (void) upload;
        done(UploadResult{SendResult::Kind::failed, "this device sends no media", {}, {}, {}, {}, 0});
    }

    // Called now and then by the runtime (unix seconds): housekeeping such
    // as the synthetic device's look at its directory.
    virtual void tick(int64_t now) = 0;
    // Whether tick() has work of its own at the runtime's quick pace (the
    // synthetic device looks at its directory); a device driven by its own
    // events says no, and an idle runtime then ticks slowly.
    virtual bool wants_ticks() const { return false; }

    // What the operator asks through the devices API.  nullopt: taken (the
    // outcome shows in the state); else why the device cannot.
    virtual std::optional<std::string> pair(const std::optional<std::string>& phone)
    {
        (void) phone;
        return "this device cannot be paired";
    }
    virtual std::optional<std::string> log_out() { return "this device cannot log out"; }
    // Drops the connection to WhatsApp and connects again at once (the
    // control conversation's "reconnect"); a linked device only.
    virtual std::optional<std::string> reconnect() { return "this device cannot reconnect"; }
    // A passkey-gated account's ceremony: the operator's assertion (the
    // PublicKeyCredential JSON made on web.whatsapp.com), then their word
    // that the code on both screens is the same.
    virtual std::optional<std::string> passkey_assertion(const std::string& json)
    {
        (void) json;
        return "this device has no passkey ceremony";
    }
    virtual std::optional<std::string> passkey_confirm()
    {
        return "this device has no passkey ceremony";
    }
};

// The device of an inbox that has none yet: never connected, so its
// replies wait for device_timeout and are then reported failed.
class AbsentDevice final : public Device {
public:
    void start(DeviceEvents&) override {}
    DeviceStatus status() const override
    {
        return DeviceStatus::of(DeviceState::unpaired, "no WhatsApp device configured");
    }
    std::string new_message_id() override { return {}; }
    void send(const OutgoingMessage&, Done done) noexcept override
    {
        done(SendResult{SendResult::Kind::retry, "no WhatsApp device"});
    }
    void tick(int64_t) override {}
};

}  // namespace chatwoot::helper
