// The live WhatsApp Web session of one inbox: the Device the helper runs
// when the inbox block says `whatsapp on` (the default).
//
// It drives the sans-I/O session layer (src/wa/session) with real I/O:
//
//   WebSocketConnection   bytes in and out (curl connect-only + wslay)
//   Connection            Noise, login or registration, IQs, keepalive
//   QrPairing             an unpaired device's QR refs and pair-success
//   CodePairing           or its code, when linked by phone number
//   PasskeyPairing        a passkey-gated account's ceremony (state passkey)
//   AfterLogin            prekeys, passive active, presence
//   DeviceKeys            the keys, in the helper's SQLite store
//
// and keeps what the operator sees: the state, the QR of the moment, our
// JIDs, connected-since, reconnects and the last error.
//
// Life of a device:
//   unpaired    registration connection; the refs become QR codes
//               (pairing_qr), or, asked with a phone number, a code to
//               type on the phone (pairing_code); a scan or the code links
//               it, the server asks for a restart (515) and the next
//               connection logs in
//   paired      login connection -> connected; a lost connection comes
//               back after reconnect_after() (backoff with jitter)
//   stops       QR expired unscanned (unpaired), logged out by the phone
//               (keys cleared), replaced by another connection, client
//               outdated, banned or refused: no reconnect until the
//               operator asks (POST .../pair), so a device never fights
//               WhatsApp in a loop
//
// Only one helper is active per state directory (the state lock), so one
// device never has two connections.
#pragma once

#include "device.hpp"
#include "curl_multi_driver.hpp"
#include "device_keys.hpp"
#include "message_sender.hpp"
#include "message_receiver.hpp"
#include "ngx.hpp"
#include "websocket_connection.hpp"

#include "../store/signal_store.hpp"
#include "../store/wa_stanza_repository.hpp"
#include "../store/sqlite_handle.hpp"

#include "chatwoot_helper.h"

#include "wa/crypto/random.hpp"
#include "wa/session/after_login.hpp"
#include "wa/session/code_pairing.hpp"
#include "wa/session/passkey_pairing.hpp"
#include "wa/session/connection.hpp"
#include "wa/session/qr_pairing.hpp"
#include "wa/session/reconnect_policy.hpp"

#include "media_fetcher.hpp"
#include "media_store.hpp"
#include "media_retry_requests.hpp"
#include "media_uploader.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace chatwoot::helper {

struct LiveDeviceOptions {
    std::string name;                        // the inbox's, for logs and store rows
    WebSocketOptions socket;                 // where and how to connect
    wa::session::ConnectionConfig session;   // root key, client, companion props
    bool version_pinned = false;             // whatsapp_version a.b.c (else auto)
    wa::session::BackoffPolicy backoff;
    bridge::IntakeFilter intake;             // ignore_groups, ignore_jids
    std::uint64_t media_max = 64ull * 1024 * 1024;  // whatsapp_media_max
};

// The options an inbox block's whatsapp_* directives give.
LiveDeviceOptions live_device_options(const cw_inbox_conf_t& conf);

class LiveDevice final : public Device {
public:
    // `http` fetches the web client's page when WhatsApp calls our version
    // outdated (whatsapp_version auto).
    LiveDevice(LiveDeviceOptions options, store::Database& db, HttpTransport& http,
               wa::crypto::RandomSource random = wa::crypto::system_random());
    ~LiveDevice() override;
    LiveDevice(const LiveDevice&) = delete;
    LiveDevice& operator=(const LiveDevice&) = delete;

    void start(DeviceEvents& events) override;
    DeviceStatus status() const override { return status_; }
    std::string new_message_id() override;
    void send(const OutgoingMessage& message, Done done) noexcept override;
    bool sends_media() const override { return true; }
    void check_number(const std::string& pn_jid, NumberDone done) noexcept override;
    void upload_media(const MediaUpload& upload, UploadDone done) noexcept override;
    void tick(int64_t) override {}
    std::optional<std::string> pair(const std::optional<std::string>& phone) override;
    std::optional<std::string> log_out() override;
    std::optional<std::string> reconnect() override;
    std::optional<std::string> passkey_assertion(const std::string& json) override;
    std::optional<std::string> passkey_confirm() override;

    // WhatsApp media downloads (media_conn from this session, TLS trusted
    // as the socket's: whatsapp_server's ca_file=, whatsapp_proxy).
    MediaFetcher& media() { return media_; }
    // Where history sync blobs are downloaded to (beside the media the
    // forwarder fetches; each file removed once its chunk is stored).
    // Unset: notifications that name a blob wait in history_pending.
    void use_media_store(MediaStore& store) { history_files_ = &store; }

private:
    void ask_media_conn(MediaFetcher::MediaConnAnswer answer);
    void ask_media_retry(const MediaRetryAsk& ask, wa::ByteView media_key,
                         MediaFetcher::RetryAnswer answer);
    void send_media_retries();
    void fetch_history();
    void history_fetched(int64_t stanza, const std::string& path, const MediaOutcome& outcome);
    void connect();
    void on_open();
    void on_message(wa::ByteView message);
    void on_socket_closed(const WebSocketClosed& closed);
    void pump();
    static bool batches(const wa::session::Event& event);
    void begin_batch(std::optional<store::UnitOfWork>& batch);
    void end_batch(std::optional<store::UnitOfWork>& batch);
    void handle(wa::session::Event& event);
    void acknowledge_kept(const std::string& key, const wa::binary::Node& node, bool fresh,
                          const MessageReceiver::Filed& filed, int64_t unix_now);
    void handle_pairing(wa::session::PairingEvent& event);
    void handle_login(wa::session::LoginEvent& event);
    void handle_code(wa::session::CodeEvent& event);
    void handle_passkey(wa::session::PasskeyEvent& event);
    void adopt_adv_secret(const wa::crypto::Key32& secret);
    std::optional<std::string> passkey_step(wa::Status done);
    std::optional<std::string> request_code(const std::string& phone);
    void connection_over(const wa::session::StreamEnd& end);
    void finish_connection();
    void retry_in(wa::session::Millis delay);
    void stop(DeviceState state, std::string reason);
    void set_state(DeviceState state, std::string reason = {});
    void arm_timer();
    void timer_fired();
    void forget_keys();
    void keep_and_ack(const wa::session::event::Stanza& stanza);
    void receive_messages();
    void set_restriction(std::string restriction);
    void refresh_version();
    void version_page(const TransferResult& result);
    wa::session::Millis now() const;

    static void on_timer(ngx_event_t* ev) noexcept;
    static void on_retry(ngx_event_t* ev) noexcept;
    template <typename F>
    void guarded(const char* what, F&& f) noexcept;

    LiveDeviceOptions options_;
    store::Database& db_;
    HttpTransport& http_;
    wa::crypto::RandomSource random_;
    store::SignalStore store_;
    DeviceKeys keys_;
    store::WaStanzaRepository stanzas_;
    MessageReceiver receiver_;  // kept messages -> wa_inbound rows, receipts
    DeviceEvents* events_ = nullptr;
    DeviceStatus status_;

    std::optional<wa::session::DeviceCredentials> credentials_;
    std::unique_ptr<wa::session::Connection> conn_;
    std::unique_ptr<wa::session::QrPairing> pairing_;
    std::unique_ptr<wa::session::CodePairing> code_;
    std::unique_ptr<wa::session::PasskeyPairing> passkey_;
    bool fresh_qr_ = false;  // we closed a registration to start it over
    bool reconnect_now_ = false;  // we closed a login connection to connect again
    // Why the last code or passkey attempt failed: the device's reason
    // while it shows QR codes again, until the next attempt or a link, so
    // that the operator sees it with the fresh QR, not for a moment only.
    std::string pairing_failure_;
    std::optional<std::string> code_phone_;  // asked for before the refs came
    std::unique_ptr<wa::session::AfterLogin> after_;
    MessageSender sender_;  // agent replies, typing, read receipts (outlives connections)
    std::unique_ptr<WebSocketConnection> ws_;
    std::optional<wa::session::StreamEnd> end_;   // why the current connection ended
    bool logging_out_ = false;                     // our remove-companion-device is out
    std::optional<wa::session::Millis> connected_at_;

    wa::proto::WaVersion version_;      // what the next connection announces
    bool version_refreshed_ = false;    // fetched after a 405, not accepted yet
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for late answers

    std::uint32_t attempt_ = 0;
    // Retry receipts answered with a resend, by message id: each is acked
    // when the server acks a resend of that id.
    std::multimap<std::string, wa::binary::Node> held_retry_acks_;
    // Answers owed for the media_conn IQ under way (one IQ for all).
    std::vector<MediaFetcher::MediaConnAnswer> media_conn_waiters_;
    // Media retries asked of our phone (receipts out, answers in, their
    // bound); they outlive connections: an answer may come on the next one.
    MediaRetryRequests media_retries_;
    MediaFetcher media_;
    MediaUploader uploader_;   // attachments of agent replies
    MediaStore* history_files_ = nullptr;
    std::set<int64_t> history_fetching_;  // history_pending rows being downloaded
    bool pumping_ = false;
    ngx_event_t timer_{};  // the session's (keepalive, IQ timeouts, QR rotation)
    ngx_event_t retry_{};  // the next connection attempt
};

}  // namespace chatwoot::helper
