// A WhatsApp device made of files, for tests and demos, behind the same
// Device interface as the live session: every *.json file in its directory
// is one incoming message (bridge/wa_message_json.hpp), taken in name order
// (a writer must make them appear in that order, e.g. by renaming complete
// files into the directory one after another).  A message's attachments are
// files named relative to the directory, and must stay inside it (no
// absolute path, no "..", no symbolic link out); they move into the media
// store with the message.  Each file is committed to the store before it is
// removed, so a crash in between only makes the store see it twice, which
// it ignores (one row per WhatsApp id); the chats are then pushed to the
// runtime.  It is connected; what it sends lands in <dir>/sent/.  Files
// stand in for WhatsApp's side of linking, so that the devices API and
// its login page can be tried without WhatsApp:
// - "pairing-code": it shows pairing_code with the file's text as the code
//   to type (empty: no code from the server yet);
// - else "pairing-qr": it shows pairing_qr with the file's text as its QR
//   (empty: no QR yet);
// - "account": the linked account, its pn_jid on the first line and a push
//   name on the second (optional), shown while connected;
// - a pair or pair-code command writes "pair-request": empty for a QR, the
//   phone's digits for a code, for a test to see that it arrived.
// Each is looked at on every tick; removing the file undoes it.
#pragma once

#include "device.hpp"
#include "media_store.hpp"

#include "../bridge/intake_filter.hpp"
#include "../bridge/agent_reply.hpp"
#include "../store/outbox_repository.hpp"
#include "../store/sqlite_handle.hpp"
#include "../store/wa_inbound_repository.hpp"

#include <cstdint>
#include <optional>
#include <random>
#include <string>

namespace chatwoot::helper {

class SyntheticDevice final : public Device {
public:
    SyntheticDevice(std::string inbox, std::string dir, store::Database& db,
                    store::WaInboundRepository& inbound, store::OutboxRepository& outbox,
                    bridge::IntakeFilter filter, MediaStore& media);

    void start(DeviceEvents& events) override { events_ = &events; }
    DeviceStatus status() const override;
    std::string new_message_id() override;

    // Writes <dir>/sent/<outbox id>.json (a revoke: <outbox id>-revoke.json),
    // so doing it again after a crash writes the same file; done when the
    // file is renamed into place.  Typing: typing-<time in ns>.json,
    // {"typing":true|false,"chat":...}; read receipts: <outbox id of the
    // reply they go before>-read.json, {"read":[ids],"sender":...,"chat":...}
    // (sender only in groups).
    void send(const OutgoingMessage& message, Done done) noexcept override;

    // Takes what is in the directory now and pushes the chats that got
    // messages.
    void tick(int64_t now) override { poll(now); }
    bool wants_ticks() const override { return true; }

    // Takes what is there now; returns how many messages were new.
    size_t poll(int64_t now);

    const std::string& inbox() const { return inbox_; }

    // Writes "pair-request" (see above).
    std::optional<std::string> pair(const std::optional<std::string>& phone) override;

private:
    std::string inbox_;
    std::string dir_;
    store::Database& db_;
    MediaStore& media_;
    store::WaInboundRepository& inbound_;
    store::OutboxRepository& outbox_;
    bridge::IntakeFilter filter_;
    DeviceEvents* events_ = nullptr;
    std::mt19937_64 ids_;
    int64_t typing_seq_ = 0;

    // What the files above say, as last read.
    std::optional<std::string> pairing_qr_;
    std::optional<std::string> pairing_code_;
    std::string pn_jid_;
    std::string push_name_;

    void write_sent(const std::string& name, const std::string& json);
    void write_presence(const OutgoingMessage& message);
    void write_file(const std::string& name, const std::string& text);
    void look_at_pairing_files();
};

}  // namespace chatwoot::helper
