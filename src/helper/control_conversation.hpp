// The control conversation of one inbox: a contact "WhatsApp bridge"
// (identifier "bridge:<inbox>") and its conversation in the inbox, made on
// first need, where the helper tells agents what the WhatsApp device does
// and where agents type commands.
//
// - Notices: each change worth telling (connected with the number,
//   disconnected and reconnecting, logged out, needs pairing, passkey,
//   client outdated, restricted, a message Chatwoot refused for good) goes
//   through a NoticeThrottle (one per kind a minute, a summary after), and
//   a notice decided is a row before it is posted.  Posts are incoming
//   messages (agents are notified) made by a bridge::ForwardJob, one at a
//   time on a lane of their own in the inbox's REST client: the row id is
//   in the source id, so a post whose answer was lost, or a helper killed
//   mid-post, looks before posting again.
// - The QR: while the device shows QR codes, the current one is posted as a
//   PNG (rendered at post time from the device's status: the store never
//   holds it), the previous image is deleted once the new one is posted,
//   and the last one once the phone is linked.
// - Commands (status, qr, code, logout, reconnect, help): the drain files
//   them (control_commands, once per Chatwoot message id) instead of the
//   outbox; take_commands() acts on them and files the answer as a notice.
#pragma once

#include "chatwoot_client.hpp"
#include "device.hpp"
#include "ngx.hpp"

#include "../bridge/control_throttle.hpp"
#include "../bridge/forward_job.hpp"
#include "../store/control_repository.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace chatwoot::helper {

class ControlConversation {
public:
    using Clock = std::function<int64_t()>;   // unix seconds

    ControlConversation(std::string inbox, ChatwootClient& client, rest::Api api,
                        int64_t inbox_id, store::Database& db, Device& device,
                        std::string media_dir, int64_t throttle_sec, Clock now);
    ~ControlConversation();
    ControlConversation(const ControlConversation&) = delete;
    ControlConversation& operator=(const ControlConversation&) = delete;

    // For an inbox named by name: its id, once Chatwoot told it.
    void set_inbox_id(int64_t id);

    // The device's status as it is now: on each change, and on each tick
    // (a QR rotates, a restriction comes, without a state change).
    void observe(const DeviceStatus& status);

    // The forwarder gave up on a WhatsApp message (Chatwoot refused it).
    void message_rejected(const std::string& chat, int64_t timestamp, const std::string& reason);

    // WhatsApp refused an agent's reply with 463: the account may not start
    // chats with new contacts now (reach-out restriction).
    void reply_refused(int64_t conversation_id);

    // Commands filed by the drain (or left by a helper that died).
    void take_commands();

    // Summaries that are due, and the next post.
    void tick();

    static std::string contact_identifier(std::string_view inbox)
    {
        return "bridge:" + std::string(inbox);
    }

private:
    void notice(std::string_view kind, std::string text, bool throttled, std::string label = {});
    void file_notice(std::string_view kind, std::string_view text, bool qr, int64_t now);
    std::string answer(const std::string& content);
    std::string status_text();
    void pump();
    void start_post(const store::ControlNotice& n);
    void send_job();
    void job_ended();
    void delete_qr(const store::ControlNotice& n);
    std::string hhmmss(int64_t t) const;

    std::string inbox_;
    ChatwootClient& client_;
    rest::Api api_;
    int64_t inbox_id_;
    store::Database& db_;
    store::ControlRepository repo_;
    Device& device_;
    std::string media_dir_;
    bridge::NoticeThrottle throttle_;
    Clock now_;

    bool observed_ = false;
    DeviceStatus last_;
    int64_t state_since_ = 0;
    size_t shown_qr_ = 0;      // hash of the QR text last filed (no copy kept)
    size_t shown_code_ = 0;    // of the pairing code last filed
    bool qr_asked_ = false;    // a "qr" command wants the QR even if shown before
    bool linking_ = false;     // a QR or code was shown: "Linked as" when connected

    // The post or delete under way (one at a time).
    bool busy_ = false;
    bool work_ = true;                // the store may hold something to post or delete
    std::unique_ptr<bridge::ForwardJob> job_;
    store::ControlNotice posting_;
    std::string qr_file_;
    int64_t keep_qr_ = 0;             // the QR image on show: not deleted
    std::set<int64_t> tried_;         // rows this helper tried: a retry looks first
    std::set<int64_t> mine_;          // rows this helper filed (others: an earlier one's)
    // Set while alive: callbacks from the client after we are gone do nothing.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatwoot::helper
