// One chatwoot_inbox block at work inside the helper: its REST client, the
// forwarder (WhatsApp -> Chatwoot), the outbox sender (Chatwoot ->
// WhatsApp), the start-up reconciler, the inbox-by-name resolver and its
// Device.  Each runtime has its own timer and its own error handling: one
// inbox's exception never stops another's tick, and a runtime whose start
// fails is retried with backoff while status says why.
#pragma once

#include "chatwoot_helper.h"
#include "ngx.hpp"

#include "chat_forwarder.hpp"
#include "chatwoot_client.hpp"
#include "control_conversation.hpp"
#include "curl_multi_driver.hpp"
#include "device.hpp"
#include "import/import_runner.hpp"
#include "import/pg_import_sink.hpp"
#include "inbox_resolver.hpp"
#include "media_sender.hpp"
#include "media_store.hpp"
#include "outbox_reconciler.hpp"
#include "outbox_sender.hpp"
#include "snapshot_builder.hpp"

#include "../store/inbound_event_repository.hpp"
#include "../store/outbox_repository.hpp"
#include "../store/read_mark_repository.hpp"
#include "../store/sqlite_handle.hpp"
#include "../store/wa_inbound_repository.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace chatwoot::helper {

// What every runtime shares: the one store and the one curl loop.
struct HelperShared {
    store::Database& db;
    store::InboundEventRepository& inbound;
    store::OutboxRepository& outbox;
    store::WaInboundRepository& wa_inbound;
    MediaStore& media;
    HttpTransport& http;
    cw_bridge_stats_t* stats = nullptr;
    int64_t inherited_up_to = 0;   // wa_inbound rows an earlier helper had
    cw_inbox_stats_area_t* inboxes = nullptr;   // each runtime counts in its slot
};

class InboxRuntime final : private DeviceEvents {
public:
    // How the runtime gets its device; empty: the one the configuration
    // names (synthetic_device, else none yet).  Tests pass their own.
    using DeviceFactory = std::function<std::unique_ptr<Device>(const cw_inbox_conf_t&)>;

    InboxRuntime(const cw_inbox_conf_t& conf, HelperShared shared,
                 DeviceFactory make_device = {});
    ~InboxRuntime() override;
    InboxRuntime(const InboxRuntime&) = delete;
    InboxRuntime& operator=(const InboxRuntime&) = delete;

    // Builds the parts and starts them; on failure, says why and tries
    // again later.  Never throws.
    void start() noexcept;

    const std::string& name() const { return name_; }
    bool running() const { return sender_ != nullptr; }
    const std::string& last_error() const { return last_error_; }
    DeviceStatus device_status() const;
    // The device for operator commands; nullptr while the runtime is down.
    Device* device() { return device_.get(); }
    // What the snapshot shows of this inbox's device.
    DeviceView view();
    // Agent actions may have been filed: the next tick looks at the outbox
    // even when the sender was idle.
    void wake();
    // The send API filed a message of `chat` for Chatwoot (send_api/):
    // forwarded as a device's message is.
    void forward(std::string_view chat) { inbound(chat); }
    const cw_inbox_conf_t& conf() const { return conf_; }
    // An agent started or stopped typing in a conversation: the chat state
    // goes to the contact now if the device is connected, else nowhere
    // (presence is never queued or retried).  Never throws.
    void typing(int64_t conversation_id, bool on) noexcept;
    // Agents typed commands in the inbox's control conversation (filed by
    // the drain): act on them and answer there.  Never throws.
    void control_commands() noexcept;
    // An import job was filed for this inbox: its runner looks now.
    void import_filed() noexcept;

private:
    void build();
    void teardown() noexcept;
    void tick() noexcept;
    bool quiet() const;
    // The next tick within a millisecond (never later than it was due).
    void soon();
    void inbound(std::string_view chat) override;
    void state_changed(const DeviceStatus& status) override;
    static void on_tick_timer(ngx_event_t* ev) noexcept;
    static void on_start_timer(ngx_event_t* ev) noexcept;

    template <typename F>
    void guarded(const char* what, F&& f) noexcept;

    cw_inbox_conf_t conf_;
    HelperShared shared_;
    cw_inbox_stats_t* slot_ = nullptr;   // this inbox's counters, if it got a slot
    DeviceFactory make_device_;
    std::string name_;
    std::string last_error_;
    ngx_msec_t start_backoff_ = 0;
    bool in_device_tick_ = false;
    bool woken_ = true;            // the sender looks at its next tick
    bool inbound_pending_ = false;  // the device pushed during its tick
    ngx_msec_t last_sweep_ = 0;
    ngx_msec_t last_tick_msec_ = 0;  // when the last tick began
    DeviceState shown_state_ = DeviceState::unpaired;
    int64_t state_since_ = 0;
    // The QR last shown, as a hash (no copy of the secret kept here), and
    // the snapshot's qr_serial, which moves with each new QR text.
    size_t shown_qr_hash_ = 0;
    uint64_t qr_serial_ = 0;

    std::unique_ptr<ChatwootClient> client_;
    std::unique_ptr<ChatForwarder> forwarder_;
    std::unique_ptr<ImportRunner> importer_;
    // import_database: the import's chats go into Chatwoot's PostgreSQL.
    std::unique_ptr<PgImportSink> pg_sink_;
    std::unique_ptr<Device> device_;
    // A device that sends media: agents' attachments as WhatsApp media.
    std::unique_ptr<store::OutboxPartRepository> parts_;
    std::unique_ptr<AttachmentFetcher> attachments_;
    std::unique_ptr<media_prep::MediaPreparer> preparer_;
    std::unique_ptr<MediaSender> media_sender_;
    std::unique_ptr<FailureReporter> reporter_;
    std::unique_ptr<OutboxSender> sender_;
    std::unique_ptr<OutboxReconciler> reconciler_;
    std::unique_ptr<InboxResolver> resolver_;
    std::unique_ptr<store::ReadMarkRepository> read_marks_;
    // The "WhatsApp bridge" conversation (control_conversation on).
    std::unique_ptr<ControlConversation> control_;

    ngx_event_t tick_timer_{};
    ngx_event_t start_timer_{};
};

}  // namespace chatwoot::helper
