#include "live_device.hpp"

#include "log.hpp"

#include "wa/binary/encoder.hpp"
#include "wa/binary/jid.hpp"
#include "wa/session/stanza_ack.hpp"
#include "wa/transport/websocket_url.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace chatwoot::helper {

namespace {

namespace ws = wa::session;
using wa::binary::Node;

// Store values beside the keys (store::SignalStore::value).
constexpr std::string_view kRoutingInfo = "routing_info";
constexpr std::string_view kAcceptedVersion = "accepted_version";

// Our remove-companion-device IQ's cookie, so its answer is told apart.
constexpr std::uint64_t kLogoutCookie = 0x6c6f676f7574;  // "logout"
constexpr ws::Millis kLogoutTimeout = ws::seconds(10);
// The media_conn IQ's cookie: its answer feeds the media fetcher.
constexpr std::uint64_t kMediaConnCookie = 0x6d65646961;  // "media"
constexpr ws::Millis kMediaConnTimeout = ws::seconds(20);

std::string hex(wa::ByteView bytes)
{
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::optional<wa::proto::WaVersion> parse_version(std::string_view text)
{
    unsigned a = 0, b = 0, c = 0;
    char tail = 0;
    const std::string s(text);
    if (std::sscanf(s.c_str(), "%u.%u.%u%c", &a, &b, &c, &tail) != 3) return std::nullopt;
    return wa::proto::WaVersion{a, b, c};
}

// "+5511..." for status, from "5511...:3@s.whatsapp.net".
std::string jid_text(const std::optional<wa::binary::Jid>& jid)
{
    return jid ? jid->to_string() : std::string();
}

}  // namespace

LiveDeviceOptions live_device_options(const cw_inbox_conf_t& conf)
{
    LiveDeviceOptions o;
    o.name = conf.name;
    o.socket.url = conf.whatsapp_server ? conf.whatsapp_server : "wss://web.whatsapp.com/ws/chat";
    if (conf.whatsapp_ca_file) o.socket.ca_file = conf.whatsapp_ca_file;
    if (conf.whatsapp_proxy) o.socket.proxy = conf.whatsapp_proxy;
    std::copy(std::begin(conf.whatsapp_root_key), std::end(conf.whatsapp_root_key),
              o.session.root_key.begin());
    const unsigned* v = conf.whatsapp_version;
    if (v[0] != 0 || v[1] != 0 || v[2] != 0) {
        o.session.client.version = wa::proto::WaVersion{v[0], v[1], v[2]};
        o.version_pinned = true;
    }
    if (conf.whatsapp_device_name) o.session.companion.os = conf.whatsapp_device_name;
    o.intake.ignore_groups = conf.ignore_groups != 0;
    for (size_t j = 0; j < conf.ignore_jids_n; j++) {
        auto jid = bridge::Jid::parse(conf.ignore_jids[j]);
        o.intake.ignored_chats.insert(jid ? jid->without_device().to_string()
                                          : std::string(conf.ignore_jids[j]));
    }
    if (conf.whatsapp_media_max != 0) o.media_max = conf.whatsapp_media_max;
    return o;
}

LiveDevice::LiveDevice(LiveDeviceOptions options, store::Database& db, HttpTransport& http,
                       wa::crypto::RandomSource random)
    : options_(std::move(options)),
      db_(db),
      http_(http),
      random_(std::move(random)),
      store_(db, options_.name),
      keys_(db, store_, random_),
      stanzas_(db),
      receiver_(MessageReceiver::Options{options_.name, options_.intake, false}, db, store_, keys_,
                random_),
      sender_(db, store_, options_.name, random_),
      media_retries_(options_.name, random_),
      media_(http, [this](MediaFetcher::MediaConnAnswer answer) { ask_media_conn(std::move(answer)); },
             MediaFetchOptions{options_.media_max, options_.socket.ca_file, options_.socket.proxy}),
      uploader_(http, [this](MediaFetcher::MediaConnAnswer answer) { ask_media_conn(std::move(answer)); },
                MediaUploadOptions{options_.socket.ca_file, options_.socket.proxy})
{
    for (ngx_event_t* ev : {&timer_, &retry_}) {
        ev->data = this;
        ev->log = ngx_cycle->log;
        ev->cancelable = 1;
    }
    timer_.handler = &LiveDevice::on_timer;
    retry_.handler = &LiveDevice::on_retry;
    media_.use_media_retry([this](const MediaRetryAsk& ask, wa::ByteView media_key,
                                  MediaFetcher::RetryAnswer answer) {
        ask_media_retry(ask, media_key, std::move(answer));
    });
    // A group's subject names its Chatwoot contact: the receiver asks the
    // send path, which owns the group info cache and its queries; the
    // answer (or error, or timeout) files what waited on it.
    receiver_.group_info_hook = [this](const wa::binary::Jid& group,
                                       MessageReceiver::GroupInfoDone done) {
        if (conn_ == nullptr) return false;
        return sender_.fetch_group(
            *conn_, group,
            [this, done = std::move(done)](wa::message::GroupInfoFetch how) {
                done(how);
                // Lost with the connection: the next login's drain asks again.
                if (how != wa::message::GroupInfoFetch::lost) receive_messages();
            },
            now());
    };
    receiver_.history_download_hook = [this] { fetch_history(); };
    status_ = DeviceStatus::of(DeviceState::connecting);
    version_ = options_.session.client.version;
    if (!options_.version_pinned) {
        // auto: the last version WhatsApp accepted, else the built-in one.
        if (auto accepted = store_.value(kAcceptedVersion)) {
            if (auto v = parse_version(std::string(accepted->begin(), accepted->end()))) {
                version_ = *v;
            }
        }
    }
}

LiveDevice::~LiveDevice()
{
    alive_.reset();
    if (timer_.timer_set) ngx_del_timer(&timer_);
    if (retry_.timer_set) ngx_del_timer(&retry_);
    // The socket goes without a closing handshake or an event: the helper
    // is going away, and the next one logs in with the same keys.
    ws_.reset();
}

template <typename F>
void LiveDevice::guarded(const char* what, F&& f) noexcept
{
    try {
        f();
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": WhatsApp %s failed: %s",
            options_.name.c_str(), what, e.what());
    } catch (...) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": WhatsApp %s failed",
            options_.name.c_str(), what);
    }
}

ws::Millis LiveDevice::now() const
{
    return static_cast<ws::Millis>(ngx_current_msec);
}

void LiveDevice::start(DeviceEvents& events)
{
    events_ = &events;
    connect();
}

void LiveDevice::set_state(DeviceState state, std::string reason)
{
    const bool changed = state != status_.state || reason != status_.reason;
    status_.state = state;
    status_.reason = std::move(reason);
    if (state != DeviceState::pairing_qr) status_.qr.clear();
    if (state != DeviceState::pairing_code && state != DeviceState::passkey) {
        status_.pair_code.clear();
    }
    if (state != DeviceState::passkey) {
        status_.passkey_options.clear();
        status_.passkey_expires_at = 0;
    }
    if (state != DeviceState::connected) status_.connected_since = 0;
    if (changed && events_ != nullptr) events_->state_changed(status_);
}

void LiveDevice::stop(DeviceState state, std::string reason)
{
    if (retry_.timer_set) ngx_del_timer(&retry_);
    set_state(state, std::move(reason));
}

// A new connection: the stored identity logs in, a device without one
// registers (and shows QR codes).  Keys are made and stored before the
// first byte goes out, so the QR a phone scans belongs to keys that exist.
void LiveDevice::connect()
{
    if (ws_ != nullptr) return;
    auto credentials = keys_.load_or_create();
    if (!credentials) {
        log(LogLevel::error,
            "chatwoot helper: inbox \"%s\": WhatsApp device keys cannot be read: %s",
            options_.name.c_str(), credentials.error().detail.c_str());
        status_.reconnects++;
        set_state(DeviceState::error, "device keys: " + credentials.error().detail);
        retry_in(ws::seconds(30));
        return;
    }
    credentials_ = std::move(*credentials);
    status_.pn_jid = jid_text(credentials_->jid);
    status_.lid = jid_text(credentials_->lid);

    ws::ConnectionConfig config = options_.session;
    if (auto routing = store_.value(kRoutingInfo)) config.routing_info = *routing;
    config.client.version = version_;

    conn_ = std::make_unique<ws::Connection>(config, keys_, random_);
    after_ = std::make_unique<ws::AfterLogin>(keys_);
    pairing_.reset();
    code_.reset();
    passkey_.reset();
    if (!credentials_->paired()) {
        pairing_ = std::make_unique<ws::QrPairing>(*credentials_, random_);
        passkey_ = std::make_unique<ws::PasskeyPairing>(*credentials_, random_);
    }
    end_.reset();
    connected_at_.reset();
    logging_out_ = false;

    WebSocketEvents events;
    events.on_open = [this] { guarded("connection", [&] { on_open(); }); };
    events.on_message = [this](wa::ByteView m) { guarded("connection", [&] { on_message(m); }); };
    events.on_read_end = [this] { guarded("connection", [&] { pump(); }); };
    events.on_close = [this](const WebSocketClosed& c) {
        guarded("connection", [&] { on_socket_closed(c); });
    };
    auto socket = WebSocketConnection::open(options_.socket, std::move(events), random_);
    if (!socket) {
        conn_.reset();
        stop(DeviceState::error, "whatsapp_server: " + socket.error().detail);
        return;
    }
    ws_ = std::move(*socket);
    if (credentials_->paired()) {
        set_state(DeviceState::connecting);
    } else {
        set_state(DeviceState::pairing_qr, pairing_failure_);
    }
}

void LiveDevice::on_open()
{
    if (conn_ == nullptr) return;
    (void) conn_->start(now(), static_cast<std::int64_t>(ngx_time()));
    pump();
}

// Only taken in: the events of every message of one read are handled
// together when the read ends (on_read_end), so a burst of stanzas shares
// one commit (pump).
void LiveDevice::on_message(wa::ByteView message)
{
    if (conn_ == nullptr || conn_->state() == ws::ConnectionState::closed) return;
    (void) conn_->receive(message, now());
}

void LiveDevice::on_socket_closed(const WebSocketClosed& closed)
{
    if (conn_ != nullptr && !end_) {
        if (conn_->state() == ws::ConnectionState::idle) {
            // Never got as far as the handshake (DNS, TCP, TLS, HTTP).
            ws::StreamEnd end;
            end.kind = ws::EndKind::transient;
            end.detail = std::string(websocket_closed_name(closed.why)) +
                         (closed.detail.empty() ? "" : ": " + closed.detail);
            end_ = end;
        } else {
            conn_->socket_closed(now(), std::string(websocket_closed_name(closed.why)) +
                                            (closed.detail.empty() ? "" : ": " + closed.detail));
            pump();
        }
    }
    // The socket object may go from inside its own close event.
    ws_.reset();
    finish_connection();
}

// Moves what the session layers made: bytes to the socket, events to their
// handlers, until all is quiet; then the one timer they share.
void LiveDevice::pump()
{
    if (pumping_) return;  // a handler sent more: the loop below takes it
    pumping_ = true;
    struct Reset {
        bool& f;
        ~Reset() { f = false; }
    } reset{pumping_};

    for (bool moved = true; moved && conn_ != nullptr;) {
        moved = false;
        for (wa::Bytes& m : conn_->take_messages()) {
            moved = true;
            if (ws_ != nullptr && ws_->is_open()) (void) ws_->send(m);
        }
        // A run of stanzas whose handling is a store write (messages and
        // receipts kept, acks of our sends settled) shares one unit of work:
        // one commit, one fsync, for a burst.  What each owes the network
        // (its receipt and ack, the next reply of a conversation) waits for
        // that commit (Database::after_commit).  Any other event ends the
        // run first, so it finds everything before it durable and sent.
        std::optional<store::UnitOfWork> batch;
        while (conn_ != nullptr) {
            auto e = conn_->poll_event();
            if (!e) break;
            moved = true;
            if (!batches(*e)) {
                end_batch(batch);
            } else if (!batch) {
                begin_batch(batch);
            }
            handle(*e);
        }
        end_batch(batch);
        while (pairing_ != nullptr) {
            auto e = pairing_->poll_event();
            if (!e) break;
            moved = true;
            handle_pairing(*e);
        }
        while (code_ != nullptr) {
            auto e = code_->poll_event();
            if (!e) break;
            moved = true;
            handle_code(*e);
        }
        while (passkey_ != nullptr) {
            auto e = passkey_->poll_event();
            if (!e) break;
            moved = true;
            handle_passkey(*e);
        }
        while (after_ != nullptr) {
            auto e = after_->poll_event();
            if (!e) break;
            moved = true;
            handle_login(*e);
        }
    }
    arm_timer();
}

bool LiveDevice::batches(const ws::Event& event)
{
    const auto* st = std::get_if<ws::event::Stanza>(&event);
    if (st == nullptr) return false;
    const std::string_view tag = st->view.tag();
    if (tag == "ack") return true;
    if (st->ack != ws::AckState::deferred) return false;
    // Retry receipts are answered as they come (a resend, not a keep).
    if (tag == "receipt") return st->view.attr("type") != std::optional<std::string_view>("retry");
    return tag == "message";
}

void LiveDevice::begin_batch(std::optional<store::UnitOfWork>& batch)
{
    try {
        batch.emplace(db_);
    } catch (const std::exception& e) {
        // Each stanza then commits on its own.
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": WhatsApp stanzas not batched (%s)",
            options_.name.c_str(), e.what());
    }
}

void LiveDevice::end_batch(std::optional<store::UnitOfWork>& batch)
{
    if (!batch) return;
    try {
        batch->commit();   // runs what the batch owes, in order
    } catch (const std::exception& e) {
        log(LogLevel::error,
            "chatwoot helper: inbox \"%s\": WhatsApp stanzas not stored (%s); not acked, WhatsApp "
            "delivers them again", options_.name.c_str(), e.what());
    }
    batch.reset();
}

void LiveDevice::handle(ws::Event& event)
{
    const ws::Millis t = now();
    if (auto* in = std::get_if<ws::event::LoggedIn>(&event)) {
        connected_at_ = t;
        status_.connected_since = static_cast<int64_t>(ngx_time());
        if (auto lid = in->success.attr_jid("lid"); lid && status_.lid.empty()) {
            status_.lid = lid->to_string();
        }
        if (!options_.version_pinned) {
            version_refreshed_ = false;
            const std::string v = version_.to_string();
            guarded("store", [&] {
                store_.put_value(kAcceptedVersion, wa::ByteView(
                    reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
            });
        }
        log(LogLevel::notice, "chatwoot helper: inbox \"%s\": WhatsApp logged in as %s",
            options_.name.c_str(), status_.pn_jid.c_str());
        set_state(DeviceState::connected);
        after_->on_logged_in(*conn_, t);
        // What a crash or a lost connection left: receipts owed, stanzas
        // kept but not handled.
        receive_messages();
        // Media retries asked while offline.
        send_media_retries();
        // History chunks a crash or a lost connection left undownloaded.
        fetch_history();
    } else if (auto* req = std::get_if<ws::event::ServerRequest>(&event)) {
        if (passkey_ != nullptr) passkey_->on_server_request(req->iq);
        if (pairing_ != nullptr && pairing_->on_server_request(*conn_, req->iq, t)) return;
        // An IQ we do not serve still gets an answer, or the server waits.
        Node reply("iq");
        if (auto id = req->iq.attr("id")) reply.set_attr("id", *id);
        reply.set_attr("to", wa::binary::server_jid());
        reply.set_attr("type", "error");
        reply.content = wa::binary::Children{
            Node("error", {{"code", {"501"}}, {"text", {"feature-not-implemented"}}})};
        (void) conn_->send_node(reply);
    } else if (auto* st = std::get_if<ws::event::Stanza>(&event)) {
        // The layers above take owned nodes, and only notifications (rare):
        // the rest stays a view into its frame.
        if (st->view.tag() == "ack") {
            const Node ack = st->to_node();
            if (ack.attr("class") == std::optional<std::string_view>("message")) {
                // The server has one of our resends: the retry receipt that
                // asked for it is done with (one receipt per ack: two
                // devices may ask for the same message).
                if (auto id = ack.attr("id")) {
                    if (auto held = held_retry_acks_.find(std::string(*id)); held != held_retry_acks_.end()) {
                        db_.after_commit([this, receipt = std::move(held->second)] {
                            if (conn_ != nullptr) (void) conn_->send_ack(receipt);
                        });
                        held_retry_acks_.erase(held);
                    }
                }
            }
            (void) sender_.on_ack(*conn_, ack, t, static_cast<std::int64_t>(ngx_time()));
            return;
        }
        if (st->view.tag() == "receipt" && st->ack == ws::AckState::deferred) {
            // A recipient could not decrypt one of ours: answered before the
            // ack, so a crash in between gets the receipt again.
            const Node node = st->to_node();
            if (node.attr("type") == std::optional<std::string_view>("retry")) {
                // Handled here and now (the resend is made from the stored
                // plaintext), so it is not kept: acked once handled, or
                // left unacked for the server to deliver again.
                switch (sender_.on_retry_receipt(*conn_, node, static_cast<std::int64_t>(ngx_time()))) {
                case MessageSender::RetryAnswer::done:
                    db_.after_commit([this, node] {
                        if (conn_ != nullptr) (void) conn_->send_ack(node);
                    });
                    break;
                case MessageSender::RetryAnswer::resent:
                    // Acked when the server acks the resend (the "ack"
                    // branch above): lost with the connection before that,
                    // the receipt comes again and so does the resend.
                    if (auto id = node.attr("id")) held_retry_acks_.emplace(std::string(*id), node);
                    break;
                case MessageSender::RetryAnswer::later:
                    break;
                }
                return;
            }
        }
        if (st->view.tag() == "notification") {
            const Node node = st->to_node();
            if (node.attr("type") == std::optional<std::string_view>("mediaretry")) {
                // Our phone's answer to a media retry (acked by the
                // connection, as every notification is).
                guarded("media retry", [&] { media_retries_.on_notification(node); });
                return;
            }
            if (node.attr("type") == std::optional<std::string_view>("devices")) {
                if (auto from = node.attr_jid("from")) {
                    guarded("store", [&] { sender_.devices_changed(*from); });
                }
            }
            if (code_ != nullptr && code_->on_stanza(*conn_, node, t)) return;
            if (passkey_ != nullptr && passkey_->on_stanza(*conn_, node, t)) return;
            if (after_ != nullptr && after_->on_stanza(*conn_, node, t)) return;
            if (auto restriction = receiver_.on_notification(node, static_cast<int64_t>(ngx_time())))
                set_restriction(std::move(*restriction));
        } else if (st->view.tag() == "receipt" && st->ack != ws::AckState::deferred) {
            // Delivery and read receipts (acked by the connection); retry
            // receipts are deferred and kept like messages.
            receiver_.on_receipt(st->to_node(), events_, static_cast<int64_t>(ngx_time()));
        }
        if (st->ack == ws::AckState::deferred) keep_and_ack(*st);
    } else if (auto* iq = std::get_if<ws::event::IqAnswered>(&event)) {
        if (iq->outcome.cookie == kMediaConnCookie) {
            wa::Result<wa::media::MediaConn> answer =
                iq->outcome.kind == ws::IqOutcome::Kind::result
                    ? wa::media::parse_media_conn(iq->outcome.response)
                    : wa::Result<wa::media::MediaConn>(wa::make_error(
                          wa::Errc::unsupported,
                          "media_conn " + std::string(ws::iq_outcome_name(iq->outcome.kind))));
            if (!answer) {
                log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp media_conn: %s",
                    options_.name.c_str(), answer.error().detail.c_str());
            }
            auto waiters = std::move(media_conn_waiters_);
            media_conn_waiters_.clear();
            for (auto& w : waiters) w(answer);
            return;
        }
        if (iq->outcome.cookie == kLogoutCookie) {
            log(LogLevel::notice,
                "chatwoot helper: inbox \"%s\": WhatsApp logout answered: %s",
                options_.name.c_str(), std::string(ws::iq_outcome_name(iq->outcome.kind)).c_str());
            forget_keys();
            conn_->close(t);
            return;
        }
        if (code_ != nullptr && code_->on_iq_answered(*conn_, iq->outcome, t)) return;
        if (passkey_ != nullptr && passkey_->on_iq_answered(*conn_, iq->outcome, t)) return;
        if (sender_.on_iq_answered(*conn_, iq->outcome, t, static_cast<std::int64_t>(ngx_time()))) {
            return;
        }
        if (after_ != nullptr) after_->on_iq_answered(*conn_, iq->outcome, t);
    } else if (auto* off = std::get_if<ws::event::OfflineDone>(&event)) {
        log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp backlog delivered (%d)",
            options_.name.c_str(), off->count);
    } else if (auto* ri = std::get_if<ws::event::RoutingInfo>(&event)) {
        guarded("store", [&] { store_.put_value(kRoutingInfo, wa::ByteView(ri->routing_info)); });
    } else if (auto* pe = std::get_if<ws::event::ProtocolError>(&event)) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp sent what we cannot read: %s",
            options_.name.c_str(), pe->error.detail.c_str());
    } else if (auto* dead = std::get_if<ws::event::ConnectionDead>(&event)) {
        log(LogLevel::warn,
            "chatwoot helper: inbox \"%s\": WhatsApp connection dead (silent for %" PRId64
            " ms); reconnecting", options_.name.c_str(), static_cast<int64_t>(dead->silent_for));
    } else if (auto* closed = std::get_if<ws::event::Closed>(&event)) {
        if (pairing_ != nullptr) pairing_->on_closed(closed->end);
        if (code_ != nullptr) code_->on_closed(closed->end);
        if (passkey_ != nullptr) passkey_->on_closed(closed->end);
        connection_over(closed->end);
    }
}

void LiveDevice::handle_pairing(ws::PairingEvent& event)
{
    if (auto* qr = std::get_if<ws::pairing_event::QrCode>(&event)) {
        // The refs are there: a code asked for before them can go now.
        if (code_phone_) {
            const std::string phone = std::move(*code_phone_);
            code_phone_.reset();
            if (auto refused = request_code(phone)) {
                log(LogLevel::warn,
                    "chatwoot helper: inbox \"%s\": WhatsApp pairing code not asked for: %s",
                    options_.name.c_str(), refused->c_str());
            }
        }
        // While a code is asked for or shown, the QR codes rotate unseen (a
        // scan would still link the device); a passkey ceremony holds them.
        if (status_.state == DeviceState::pairing_code) return;
        if (passkey_ != nullptr && passkey_->active()) return;
        status_.qr = qr->text;  // a secret: the devices view shows it, no log does
        set_state(DeviceState::pairing_qr, pairing_failure_);
    } else if (std::get_if<ws::pairing_event::QrExpired>(&event)) {
        log(LogLevel::notice,
            "chatwoot helper: inbox \"%s\": WhatsApp QR codes expired unscanned; "
            "ask for new ones on the login page or with POST .../pair", options_.name.c_str());
    } else if (auto* paired = std::get_if<ws::pairing_event::Paired>(&event)) {
        // Stored before the phone hears from us: a crash after our reply
        // must not leave a linked device whose keys we lost.
        auto stored = keys_.store_pairing(paired->account);
        if (!stored) {
            log(LogLevel::error,
                "chatwoot helper: inbox \"%s\": WhatsApp pairing cannot be stored: %s",
                options_.name.c_str(), stored.error().detail.c_str());
            pairing_->abandon(*conn_);
            return;
        }
        credentials_->jid = paired->account.jid;
        credentials_->lid = paired->account.lid;
        status_.pn_jid = jid_text(credentials_->jid);
        status_.lid = jid_text(credentials_->lid);
        log(LogLevel::notice, "chatwoot helper: inbox \"%s\": WhatsApp linked as %s (%s)",
            options_.name.c_str(), status_.pn_jid.c_str(), paired->account.platform.c_str());
        (void) pairing_->commit(*conn_);
        pairing_failure_.clear();
        set_state(DeviceState::connecting);
    } else if (auto* err = std::get_if<ws::pairing_event::PairingError>(&event)) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp pairing refused: %s",
            options_.name.c_str(), err->error.detail.c_str());
    }
}

void LiveDevice::handle_code(ws::CodeEvent& event)
{
    if (auto* code = std::get_if<ws::code_event::Code>(&event)) {
        status_.pair_code = code->display;  // a secret: the devices view shows it, no log does
        pairing_failure_.clear();
        set_state(DeviceState::pairing_code);
        log(LogLevel::notice,
            "chatwoot helper: inbox \"%s\": WhatsApp pairing code ready: type it on the phone "
            "(Linked devices > Link with phone number)", options_.name.c_str());
    } else if (auto* adv = std::get_if<ws::code_event::AdvSecret>(&event)) {
        // The phone typed the code: the pair-success that follows is
        // checked with the secret both sides just agreed, kept first.
        adopt_adv_secret(adv->adv_secret);
    } else if (std::get_if<ws::code_event::Finished>(&event)) {
        log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp took the pairing code",
            options_.name.c_str());
    } else if (auto* err = std::get_if<ws::code_event::CodeError>(&event)) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp pairing code %s failed: %s%s",
            options_.name.c_str(), std::string(ws::code_step_name(err->step)).c_str(),
            err->error.detail.c_str(),
            err->server.code != 0 ? (" (server " + std::to_string(err->server.code) + ")").c_str()
                                  : "");
        if (code_ != nullptr && code_->state() == ws::CodePairingState::failed) {
            // Back to the QR codes, which kept rotating meanwhile.
            status_.qr = pairing_ && pairing_->current_qr() ? *pairing_->current_qr() : "";
            pairing_failure_ = "pairing code: " + err->error.detail;
            set_state(DeviceState::pairing_qr, pairing_failure_);
        }
    }
}

void LiveDevice::handle_passkey(ws::PasskeyEvent& event)
{
    const auto unix_at = [&](ws::Millis at) {
        return static_cast<int64_t>(ngx_time()) + std::max<ws::Millis>(at - now(), 0) / 1000;
    };
    if (auto* want = std::get_if<ws::passkey_event::AssertionWanted>(&event)) {
        // The account links only through its passkey: the QR stops, the
        // socket stays, and the operator makes an assertion in a browser.
        if (pairing_ != nullptr) pairing_->hold();
        if (want->options_json.size() >= CW_SNAPSHOT_PASSKEY_SIZE) {
            log(LogLevel::error,
                "chatwoot helper: inbox \"%s\": WhatsApp passkey request options of %zu bytes "
                "are too large to show; starting over", options_.name.c_str(),
                want->options_json.size());
            fresh_qr_ = true;
            conn_->close(now());
            return;
        }
        status_.passkey_options = want->options_json;
        status_.passkey_expires_at = unix_at(want->expires_at);
        pairing_failure_.clear();
        set_state(DeviceState::passkey);
        log(LogLevel::notice,
            "chatwoot helper: inbox \"%s\": WhatsApp asks for the account's passkey: finish "
            "linking on the login page", options_.name.c_str());
    } else if (auto* code = std::get_if<ws::passkey_event::Code>(&event)) {
        status_.pair_code = code->display;  // a secret: the devices view shows it, no log does
        status_.passkey_options.clear();
        status_.passkey_expires_at = unix_at(code->expires_at);
        set_state(DeviceState::passkey);
        if (events_ != nullptr) events_->state_changed(status_);
        log(LogLevel::notice,
            "chatwoot helper: inbox \"%s\": WhatsApp passkey accepted; confirm that the phone "
            "shows the same code%s", options_.name.c_str(),
            code->handoff_proven ? "" : " (no handoff proof: compare carefully)");
    } else if (auto* adv = std::get_if<ws::passkey_event::AdvSecretReplaced>(&event)) {
        adopt_adv_secret(adv->adv_secret);
    } else if (auto* failed = std::get_if<ws::passkey_event::Failed>(&event)) {
        // The server's ceremony is over too: a new registration brings
        // fresh refs and a fresh QR.
        log(LogLevel::warn,
            "chatwoot helper: inbox \"%s\": WhatsApp passkey linking failed at %s: %s; "
            "showing a new QR code", options_.name.c_str(), failed->step.c_str(),
            failed->error.detail.c_str());
        pairing_failure_ = "passkey: " + failed->step + ": " + failed->error.detail;
        set_state(DeviceState::pairing_qr, pairing_failure_);
        fresh_qr_ = true;
        if (conn_->state() != ws::ConnectionState::closed) conn_->close(now());
    }
}

// The refusal is the command's reason as it is: the command's kind names
// the step, and the snapshot keeps 95 bytes of it.
// A linking step agreed a new ADV secret (pairing by code, the passkey
// ceremony): stored, then the pair-success that follows is checked with it.
// A store that fails starts the registration over with a fresh QR.
void LiveDevice::adopt_adv_secret(const wa::crypto::Key32& secret)
{
    if (auto s = keys_.store_adv_secret(secret); !s) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": WhatsApp pairing cannot be stored: %s",
            options_.name.c_str(), s.error().detail.c_str());
        fresh_qr_ = true;
        conn_->close(now());
        return;
    }
    credentials_->adv_secret = secret;
    if (pairing_ != nullptr) pairing_->use_adv_secret(secret);
}

std::optional<std::string> LiveDevice::passkey_step(wa::Status done)
{
    pump();
    if (!done) {
        return done.error().detail;
    }
    return std::nullopt;
}

std::optional<std::string> LiveDevice::passkey_assertion(const std::string& json)
{
    if (passkey_ == nullptr || conn_ == nullptr || !passkey_->active()) {
        return "no passkey ceremony waits for an assertion";
    }
    return passkey_step(passkey_->submit_assertion(*conn_, json, now()));
}

std::optional<std::string> LiveDevice::passkey_confirm()
{
    if (passkey_ == nullptr || conn_ == nullptr || !passkey_->active()) {
        return "no passkey ceremony waits for a confirmation";
    }
    return passkey_step(passkey_->confirm(*conn_, now()));
}

// Asks for a code on the registration connection showing QR codes now.
std::optional<std::string> LiveDevice::request_code(const std::string& phone)
{
    if (conn_ == nullptr || pairing_ == nullptr || !credentials_) return "not registering";
    if (code_ == nullptr) code_ = std::make_unique<ws::CodePairing>(*credentials_, random_);
    auto asked = code_->request(*conn_, phone, now());
    if (!asked) return asked.error().detail;
    pump();
    return std::nullopt;
}

void LiveDevice::handle_login(ws::LoginEvent& event)
{
    if (auto* count = std::get_if<ws::login_event::PreKeyCount>(&event)) {
        log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp holds %u of our prekeys",
            options_.name.c_str(), count->count);
    } else if (auto* up = std::get_if<ws::login_event::PreKeysUploaded>(&event)) {
        log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp prekeys uploaded: %u",
            options_.name.c_str(), up->count);
    } else if (std::get_if<ws::login_event::Active>(&event)) {
        log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp session active",
            options_.name.c_str());
    } else if (auto* failed = std::get_if<ws::login_event::StepFailed>(&event)) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp %s failed: %s",
            options_.name.c_str(), failed->step.c_str(), failed->error.detail.c_str());
    }
}

// The session layer ended the connection: the socket goes, and what comes
// next waits for its close event (finish_connection).
void LiveDevice::connection_over(const ws::StreamEnd& end)
{
    end_ = end;
    if (ws_ != nullptr) {
        ws_->close(1000);
    }
}

void LiveDevice::finish_connection()
{
    const ws::StreamEnd end = end_.value_or(ws::StreamEnd{});
    const bool expired = pairing_ != nullptr && pairing_->state() == ws::PairingState::expired;
    const ws::Millis up_for = connected_at_ ? now() - *connected_at_ : -1;  // -1: never logged in
    const bool was_paired = credentials_ && credentials_->paired();

    // The session objects of this socket go; the next one starts fresh.
    // Sends waiting on it go again later, with the same ids.
    sender_.connection_lost();
    // The next session may be given other hosts and another token.
    media_.drop_media_conn();
    uploader_.drop_media_conn();
    held_retry_acks_.clear();   // unacked: the server delivers them again
    if (timer_.timer_set) ngx_del_timer(&timer_);
    after_.reset();
    code_.reset();
    passkey_.reset();
    pairing_.reset();
    conn_.reset();
    connected_at_.reset();
    const std::string what = std::string(ws::end_kind_name(end.kind)) +
                             (end.code != 0 ? " " + std::to_string(end.code) : "") +
                             (end.detail.empty() ? "" : ": " + end.detail);

    if (fresh_qr_) {
        // We ended a registration to start it over (a failed passkey
        // ceremony): new refs, a new QR, at once.
        fresh_qr_ = false;
        connect();
        return;
    }
    if (reconnect_now_) {
        // An operator asked for a new connection: at once, no backoff.
        reconnect_now_ = false;
        attempt_ = 0;
        connect();
        return;
    }
    if (logging_out_ || (end.kind == ws::EndKind::local_close && !expired)) {
        // We closed it: a logout (keys gone, a fresh registration shows a
        // new QR) or the helper stopping.
        if (logging_out_) {
            logging_out_ = false;
            attempt_ = 0;
            status_.pn_jid.clear();
            status_.lid.clear();
            log(LogLevel::notice, "chatwoot helper: inbox \"%s\": WhatsApp device logged out",
                options_.name.c_str());
            connect();
        }
        return;
    }
    if (expired) {
        stop(DeviceState::unpaired,
             "the QR codes expired unscanned; open the login page or POST .../pair for new ones");
        return;
    }
    switch (end.kind) {
    case ws::EndKind::logged_out:
        log(LogLevel::warn,
            "chatwoot helper: inbox \"%s\": WhatsApp device was logged out (%s); its keys are "
            "cleared, link it again", options_.name.c_str(), what.c_str());
        forget_keys();
        status_.pn_jid.clear();
        status_.lid.clear();
        stop(DeviceState::logged_out, "removed by the phone or WhatsApp: link it again");
        return;
    case ws::EndKind::replaced:
        log(LogLevel::error,
            "chatwoot helper: inbox \"%s\": WhatsApp connection replaced by another one of this "
            "device (%s); not reconnecting: is a second bridge using these keys?",
            options_.name.c_str(), what.c_str());
        stop(DeviceState::error, "replaced by another connection of this device");
        return;
    case ws::EndKind::client_outdated:
        if (!options_.version_pinned && !version_refreshed_) {
            // WhatsApp moved on: ask its web client which version it runs
            // now, and try once more with that.
            version_refreshed_ = true;
            log(LogLevel::warn,
                "chatwoot helper: inbox \"%s\": WhatsApp calls client version %s outdated; "
                "fetching the current one", options_.name.c_str(), version_.to_string().c_str());
            set_state(status_.state, "client outdated: fetching the current version");
            refresh_version();
            return;
        }
        log(LogLevel::error,
            "chatwoot helper: inbox \"%s\": WhatsApp refused client version %s as outdated; set "
            "\"whatsapp_version\" to the current one%s", options_.name.c_str(),
            version_.to_string().c_str(),
            options_.version_pinned ? " or to auto" : " (the web client's page did not help)");
        stop(DeviceState::error, "client outdated");
        return;
    case ws::EndKind::banned:
    case ws::EndKind::refused:
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": WhatsApp refused the device (%s)",
            options_.name.c_str(), what.c_str());
        stop(DeviceState::error, what);
        return;
    default:
        break;
    }

    std::uint32_t r = 0;
    (void) random_(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&r), sizeof r));
    // attempt_ counts the retries since the last stable connection: the
    // first one waits about `initial`, each next one twice as long.
    if (up_for >= options_.backoff.stable_after) attempt_ = 0;
    const auto delay = ws::reconnect_after(options_.backoff, end, attempt_, r);
    if (!delay) {
        stop(DeviceState::error, what);
        return;
    }
    if (end.kind != ws::EndKind::restart_required) {
        status_.reconnects++;
        log(LogLevel::warn,
            "chatwoot helper: inbox \"%s\": WhatsApp connection lost (%s); reconnecting in %"
            PRId64 " ms", options_.name.c_str(), what.c_str(), static_cast<int64_t>(*delay));
        attempt_++;
    }
    set_state(was_paired || (credentials_ && credentials_->paired()) ? DeviceState::connecting
                                                                      : DeviceState::pairing_qr,
              end.kind == ws::EndKind::restart_required ? std::string() : what);
    retry_in(*delay);
}

void LiveDevice::retry_in(ws::Millis delay)
{
    if (retry_.timer_set) ngx_del_timer(&retry_);
    ngx_add_timer(&retry_, static_cast<ngx_msec_t>(std::max<ws::Millis>(delay, 0)));
}

void LiveDevice::arm_timer()
{
    std::optional<ws::Millis> at;
    if (conn_ != nullptr) at = conn_->next_timer();
    if (pairing_ != nullptr) {
        if (auto p = pairing_->next_timer(); p && (!at || *p < *at)) at = p;
    }
    if (passkey_ != nullptr) {
        if (auto p = passkey_->next_timer(); p && (!at || *p < *at)) at = p;
    }
    if (conn_ != nullptr) {
        if (auto p = sender_.next_deadline(); p && (!at || *p < *at)) at = p;
    }
    if (timer_.timer_set) ngx_del_timer(&timer_);
    if (at) {
        ngx_add_timer(&timer_, static_cast<ngx_msec_t>(std::max<ws::Millis>(*at - now(), 0)));
    }
}

void LiveDevice::timer_fired()
{
    if (conn_ == nullptr) return;
    const ws::Millis t = now();
    conn_->on_timer(t);
    if (pairing_ != nullptr) pairing_->on_timer(*conn_, t);
    if (passkey_ != nullptr) passkey_->on_timer(*conn_, t);
    sender_.on_timer(t);
    pump();
}

// Messages and retry receipts: kept as they came, then acked.  The ack
// tells WhatsApp to stop delivering the stanza, so it goes only after the
// commit; a store that fails leaves it unacked, and the server delivers it
// again on the next connection.
void LiveDevice::keep_and_ack(const ws::event::Stanza& stanza)
{
    // Kept verbatim: the node bytes as the server encoded them (inflated),
    // which binary::decode_node() reads back.
    const std::string tag(stanza.view.tag());
    std::string key = tag;
    for (std::string_view a : {"from", "participant", "id"}) {
        key += '|';
        if (auto v = stanza.view.attr(a)) v->append_to(key);
    }
    // A sender answers our retry receipt with the same id and a higher
    // <enc count>: that resend is a stanza of its own, kept anew.
    std::string count;
    for (const auto& child : stanza.view.children()) {
        if (child.tag() != "enc") continue;
        if (auto c = child.attr("count")) {
            std::string v;
            c->append_to(v);
            if (v.size() > count.size() || (v.size() == count.size() && v > count)) count = v;
        }
    }
    if (!count.empty()) key += "|" + count;
    // The stanza's keep and what comes of it (its decryption, its row)
    // share one commit (the batch's, when pump() opened one).  The ack,
    // the receipt and the runtime's news go after it.
    const auto unix_now = static_cast<int64_t>(ngx_time());
    struct Owed {
        std::string key;
        Node node;
        bool fresh = true;
        MessageReceiver::Filed filed;
    };
    auto owed = std::make_shared<Owed>();
    owed->key = std::move(key);
    try {
        store::UnitOfWork unit(db_);
        owed->fresh = stanzas_.keep(options_.name, owed->key, tag, stanza.node_bytes(), unix_now);
        if (owed->fresh) owed->filed = receiver_.file_kept(unix_now);
        unit.commit();
    } catch (const std::exception& e) {
        log(LogLevel::error,
            "chatwoot helper: inbox \"%s\": WhatsApp %s not stored (%s); not acked, WhatsApp "
            "delivers it again", options_.name.c_str(), tag.c_str(), e.what());
        return;
    }
    // Owned: the work may run after this event (and its frame) is gone.
    owed->node = stanza.to_node();
    db_.after_commit([this, owed, unix_now] {
        acknowledge_kept(owed->key, owed->node, owed->fresh, owed->filed, unix_now);
    });
}

// What a kept stanza owes once its commit is done.  The receipt goes before
// the ack, on the same connection: if the connection dies in between, the
// server, lacking the ack, delivers the stanza again and the redelivery
// gets the receipt.  The other way round, a drop after the ack loses the
// receipt for good.
void LiveDevice::acknowledge_kept(const std::string& key, const Node& node, bool fresh,
                                  const MessageReceiver::Filed& filed, int64_t unix_now)
{
    auto send = [this](const Node& n) { return conn_ != nullptr && conn_->send_node(n).ok(); };
    if (!fresh) {
        guarded("receive", [&] { receiver_.redelivered(key, node, send, unix_now); });
        if (conn_ != nullptr) (void) conn_->send_ack(node);
        receive_messages();   // one kept before and left by a failed store, if any
        return;
    }
    guarded("receive", [&] { receiver_.deliver(filed, send, events_, unix_now); });
    if (conn_ != nullptr) (void) conn_->send_ack(node);
    if (!filed.complete) receive_messages();
}// Kept stanzas become wa_inbound rows, each in one unit of work with its
// ratchet; receipts go after the commits.
void LiveDevice::receive_messages()
{
    guarded("receive", [&] {
        receiver_.drain([this](const Node& node) { return conn_ != nullptr && conn_->send_node(node).ok(); },
                        events_, static_cast<int64_t>(ngx_time()));
    });
}

// Each history_pending notification's blob, downloaded as media of type
// md-msg-hist (MediaFetcher: media_conn hosts, hash and MAC checked before
// the file is kept); the chunk is stored when it is whole.
void LiveDevice::fetch_history()
{
    if (history_files_ == nullptr) return;
    guarded("history download", [&] {
        const auto unix_now = static_cast<int64_t>(ngx_time());
        bool settled = false;
        for (const auto& p : receiver_.history().pending()) {
            if (history_fetching_.contains(p.stanza)) continue;
            auto source = receiver_.history().source_of(p, unix_now);
            if (!source) {
                settled = true;
                continue;
            }
            MediaJob job;
            job.type = wa::media::MediaType::history;
            job.media_key = source->media_key;
            if (!source->file_enc_sha256.empty()) job.file_enc_sha256 = source->file_enc_sha256;
            if (!source->file_sha256.empty()) job.file_sha256 = source->file_sha256;
            if (source->file_length != 0) job.file_length = source->file_length;
            job.direct_path = source->direct_path;
            job.destination = history_files_->path_for(options_.name, "history-" + std::to_string(p.stanza), 0);
            const int64_t stanza = p.stanza;
            const std::string path = job.destination;
            history_fetching_.insert(stanza);
            media_.fetch(std::move(job), [this, stanza, path](const MediaOutcome& outcome) {
                history_fetched(stanza, path, outcome);
            });
        }
        if (settled) {
            receive_messages();
            if (db_.unit_depth() == 0) pump();
        }
    });
}

void LiveDevice::history_fetched(int64_t stanza, const std::string& path, const MediaOutcome& outcome)
{
    history_fetching_.erase(stanza);
    guarded("history chunk", [&] {
        const auto unix_now = static_cast<int64_t>(ngx_time());
        switch (outcome.kind) {
        case MediaOutcome::Kind::fetched: {
            std::string bytes;
            {
                std::ifstream in(path, std::ios::binary);
                if (!in) throw std::runtime_error("cannot read " + path);
                bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            }
            // Gone before the commit: a crash in between leaves the
            // pending row, and the next helper downloads it again; after
            // the commit it would be left behind for good.
            history_files_->release(path);
            receiver_.history().downloaded(stanza, wa::as_bytes(bytes), unix_now);
            break;
        }
        case MediaOutcome::Kind::damaged:
        case MediaOutcome::Kind::too_large:
        case MediaOutcome::Kind::gone:
            // No better by asking again: skipped, its receipt still goes.
            receiver_.history().refused(
                stanza,
                std::string(outcome.kind == MediaOutcome::Kind::damaged     ? "blob damaged or forged ("
                            : outcome.kind == MediaOutcome::Kind::too_large ? "blob too large ("
                                                                            : "blob gone from WhatsApp (") +
                    outcome.reason + ")",
                unix_now);
            break;
        case MediaOutcome::Kind::failed:
            log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp history chunk (stanza "
                "%lld) not downloaded (%s); tried again after the next login",
                options_.name.c_str(), static_cast<long long>(stanza), outcome.reason.c_str());
            break;
        }
    });
    history_files_->release(path);
    // The hist_sync receipt the chunk now owes, onto the socket now (not
    // with the next event that pumps: a keepalive may be 20 s away).
    receive_messages();
    if (db_.unit_depth() == 0) pump();
}

void LiveDevice::set_restriction(std::string restriction)
{
    if (restriction == status_.restriction) return;
    status_.restriction = std::move(restriction);
    if (events_ != nullptr) events_->state_changed(status_);
}

void LiveDevice::forget_keys()
{
    auto s = keys_.forget();
    if (!s) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": WhatsApp keys cannot be cleared: %s",
            options_.name.c_str(), s.error().detail.c_str());
    }
    credentials_.reset();
}

// The web client's page names the build it runs ("client_revision"); the
// page is at the WebSocket server's host (https://web.whatsapp.com/).
void LiveDevice::refresh_version()
{
    auto url = wa::transport::parse_websocket_url(options_.socket.url);
    if (!url) {
        version_page(TransferResult{CURLE_URL_MALFORMAT, 0, url.error().detail, {}, false, {}});
        return;
    }
    HttpRequest req;
    req.url = std::string(url->tls ? "https://" : "http://") + url->host_header() + "/";
    req.headers = {"Accept: text/html"};
    req.timeout_ms = 20000;
    req.max_body = 4 * 1024 * 1024;  // the page is a few hundred KiB
    req.ca_file = options_.socket.ca_file;
    req.proxy = options_.socket.proxy;
    std::weak_ptr<bool> alive = alive_;
    http_.request(std::move(req), [this, alive](const TransferResult& r) {
        if (alive.expired()) return;
        guarded("version check", [&] { version_page(r); });
    });
}

void LiveDevice::version_page(const TransferResult& r)
{
    std::optional<std::uint32_t> revision;
    if (r.code == CURLE_OK && r.http_status == 200 && !r.body_truncated) {
        constexpr std::string_view key = "\"client_revision\":";
        if (auto at = r.body.find(key); at != std::string::npos) {
            std::uint64_t n = 0;
            std::size_t i = at + key.size(), digits = 0;
            for (; i < r.body.size() && r.body[i] >= '0' && r.body[i] <= '9' && digits < 10;
                 ++i, ++digits) {
                n = n * 10 + static_cast<unsigned>(r.body[i] - '0');
            }
            if (digits > 0 && n > 0 && n <= 0xffffffffu) revision = static_cast<std::uint32_t>(n);
        }
    }
    if (!revision) {
        const std::string why = r.code != CURLE_OK ? r.error
                                : r.http_status != 200 ? "HTTP " + std::to_string(r.http_status)
                                                       : std::string("no client_revision in it");
        log(LogLevel::error,
            "chatwoot helper: inbox \"%s\": WhatsApp client version %s is outdated and the web "
            "client's page cannot tell the current one (%s); set \"whatsapp_version\"",
            options_.name.c_str(), version_.to_string().c_str(), why.c_str());
        stop(DeviceState::error, "client outdated");
        return;
    }
    version_.tertiary = *revision;
    log(LogLevel::notice, "chatwoot helper: inbox \"%s\": WhatsApp client version now %s",
        options_.name.c_str(), version_.to_string().c_str());
    connect();
}

void LiveDevice::on_timer(ngx_event_t* ev) noexcept
{
    auto& d = *static_cast<LiveDevice*>(ev->data);
    d.guarded("timer", [&] { d.timer_fired(); });
}

void LiveDevice::on_retry(ngx_event_t* ev) noexcept
{
    auto& d = *static_cast<LiveDevice*>(ev->data);
    d.guarded("reconnect", [&] { d.connect(); });
}

std::string LiveDevice::new_message_id()
{
    // WhatsApp Web's own form: "3EB0" and random hex.
    std::uint8_t bytes[9];
    if (!random_(std::span<std::uint8_t>(bytes, sizeof bytes))) return {};
    return "3EB0" + hex(wa::ByteView(bytes, sizeof bytes));
}

void LiveDevice::upload_media(const MediaUpload& upload, UploadDone done) noexcept
{
    auto once = std::make_shared<UploadDone>(std::move(done));
    try {
        // Only linked devices have media_conn; uploads wait for the session.
        if (status_.state != DeviceState::connected || conn_ == nullptr) {
            (*once)(UploadResult{SendResult::Kind::retry, "WhatsApp is not connected", {}, {}, {}, {}, 0});
            return;
        }
        uploader_.upload(upload, [once](const UploadResult& r) {
            if (*once) {
                auto d = std::move(*once);
                *once = nullptr;
                d(r);
            }
        });
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": uploading media failed: %s",
            options_.name.c_str(), e.what());
        if (*once) (*once)(UploadResult{SendResult::Kind::retry, e.what(), {}, {}, {}, {}, 0});
    } catch (...) {
        if (*once) (*once)(UploadResult{SendResult::Kind::retry, "unknown error", {}, {}, {}, {}, 0});
    }
}

void LiveDevice::send(const OutgoingMessage& message, Done done) noexcept
{
    try {
        if (status_.state != DeviceState::connected || conn_ == nullptr) {
            done(SendResult{SendResult::Kind::retry, "WhatsApp is not connected"});
            return;
        }
        sender_.send(*conn_, message, std::move(done), now(), static_cast<std::int64_t>(ngx_time()));
        // Never while a unit of work is open (a caller's batch of sends):
        // the pump could handle a close and take the connection away under
        // the transmissions the batch's commit still owes.
        if (db_.unit_depth() == 0) {
            pump();
        } else {
            db_.after_commit([this] { pump(); });
        }
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": WhatsApp send failed: %s",
            options_.name.c_str(), e.what());
    } catch (...) {
    }
}

void LiveDevice::check_number(const std::string& pn_jid, NumberDone done) noexcept
{
    // done runs once: the sender takes it only when its query went out.
    try {
        auto pn = wa::binary::Jid::parse(pn_jid);
        if (pn && status_.state == DeviceState::connected && conn_ != nullptr) {
            auto shared = std::make_shared<NumberDone>(std::move(done));
            if (sender_.check_number(
                    *conn_, *pn, [shared](NumberCheck how) { (*shared)(how); }, now(),
                    static_cast<std::int64_t>(ngx_time()))) {
                if (db_.unit_depth() == 0) {
                    pump();
                } else {
                    db_.after_commit([this] { pump(); });
                }
                return;
            }
            done = std::move(*shared);
        }
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": a number check failed: %s",
            options_.name.c_str(), e.what());
    } catch (...) {
    }
    if (done) {
        try {
            done(NumberCheck::unknown);
        } catch (...) {
        }
    }
}

std::optional<std::string> LiveDevice::pair(const std::optional<std::string>& phone)
{
    if (phone) {
        auto digits = ws::normalize_phone_number(*phone);
        if (!digits) return digits.error().detail;
        if (credentials_ && credentials_->paired()) {
            return "the device is linked already; log it out first";
        }
        // A code asked for anew replaces the one shown: never the old one
        // under the new request.
        status_.pair_code.clear();
        if (pairing_ != nullptr && pairing_->state() == ws::PairingState::showing_qr) {
            return request_code(*digits);
        }
        // No refs yet (connecting) or no connection: asked for as soon as
        // the server's refs arrive.
        code_phone_ = *digits;
        if (ws_ == nullptr) {
            attempt_ = 0;
            if (retry_.timer_set) ngx_del_timer(&retry_);
            connect();
        }
        return std::nullopt;
    }
    if (ws_ != nullptr) {
        if (credentials_ && credentials_->paired()) {
            return "the device is linked already; log it out first";
        }
        // Registering: back to the QR codes if a code was shown instead.
        if (status_.state == DeviceState::pairing_code && pairing_ != nullptr) {
            status_.qr = pairing_->current_qr().value_or("");
            set_state(DeviceState::pairing_qr);
        }
        return std::nullopt;
    }
    // Not connected: a linked device that stopped (replaced, outdated,
    // refused) connects again; an unlinked one shows new QR codes.
    attempt_ = 0;
    if (retry_.timer_set) ngx_del_timer(&retry_);
    connect();
    return std::nullopt;
}

std::optional<std::string> LiveDevice::log_out()
{
    if (!credentials_ || !credentials_->paired()) return "the device is not linked";
    if (conn_ != nullptr && conn_->state() == ws::ConnectionState::connected) {
        // Tell WhatsApp, so the phone's list drops us; the keys go when
        // the answer comes (or its timeout), then the socket.
        Node remove("remove-companion-device");
        remove.set_attr("jid", *credentials_->jid);
        remove.set_attr("reason", "user_initiated");
        Node iq("iq");
        iq.set_attr("to", wa::binary::server_jid());
        iq.set_attr("type", "set");
        iq.set_attr("xmlns", "md");
        iq.content = wa::binary::Children{std::move(remove)};
        auto sent = conn_->send_iq(std::move(iq), now(), kLogoutCookie, kLogoutTimeout);
        if (sent) {
            logging_out_ = true;
            pump();
            return std::nullopt;
        }
    }
    // Not connected: the keys go now; WhatsApp drops the device when it
    // notices (the phone can remove it too).
    forget_keys();
    logging_out_ = true;
    if (conn_ != nullptr) {
        conn_->close(now());
        pump();
    } else {
        if (retry_.timer_set) ngx_del_timer(&retry_);
        finish_connection();
    }
    return std::nullopt;
}

std::optional<std::string> LiveDevice::reconnect()
{
    if (!credentials_ || !credentials_->paired()) {
        return "the device is not linked; type qr (or code +5511...) to link a phone";
    }
    if (logging_out_) return "the device is logging out";
    if (conn_ != nullptr) {
        reconnect_now_ = true;
        conn_->close(now());
        pump();
        return std::nullopt;
    }
    if (ws_ == nullptr) {
        // Waiting to reconnect (or stopped): now.
        attempt_ = 0;
        if (retry_.timer_set) ngx_del_timer(&retry_);
        connect();
    }
    return std::nullopt;
}

// One media_conn IQ at a time: jobs that need hosts while it is out wait
// for the same answer.  Without a connection, the answer is an error at
// once and the fetcher backs off.
void LiveDevice::ask_media_conn(MediaFetcher::MediaConnAnswer answer)
{
    if (!media_conn_waiters_.empty()) {
        media_conn_waiters_.push_back(std::move(answer));
        return;
    }
    if (conn_ == nullptr || conn_->state() != ws::ConnectionState::connected) {
        answer(wa::make_error(wa::Errc::wrong_state, "not connected to WhatsApp"));
        return;
    }
    auto sent = conn_->send_iq(wa::media::media_conn_query(), now(), kMediaConnCookie,
                               kMediaConnTimeout);
    if (!sent) {
        answer(wa::make_error(wa::Errc::wrong_state, "media_conn not sent: " + sent.error().detail));
        return;
    }
    media_conn_waiters_.push_back(std::move(answer));
    pump();
}

// A media retry (MediaFetcher: every host said the blob is gone), addressed
// as the message was: to our own user, for its chat (and sender, in a
// group).  A request that cannot be made is answered inside this call.
void LiveDevice::ask_media_retry(const MediaRetryAsk& ask, wa::ByteView media_key,
                                 MediaFetcher::RetryAnswer answer)
{
    auto refuse = [&](const std::string& why) {
        log(LogLevel::info,
            "chatwoot helper: inbox \"%s\": WhatsApp media of message %s not asked of the "
            "phone: %s", options_.name.c_str(), ask.message_id.c_str(), why.c_str());
        answer(wa::make_error(wa::Errc::wrong_state, "the phone was not asked: " + why));
    };
    if (!credentials_ || !credentials_->jid) return refuse("the device is not linked");
    auto chat = wa::binary::Jid::parse(ask.chat);
    if (!chat) return refuse("the chat's JID does not parse");
    wa::media::MediaRetryTarget target{.own = *credentials_->jid,
                                       .message_id = ask.message_id,
                                       .chat = chat->without_device(),
                                       .from_me = ask.from_me};
    if (!ask.participant.empty()) {
        auto participant = wa::binary::Jid::parse(ask.participant);
        if (!participant) return refuse("the sender's JID does not parse");
        target.participant = participant->without_device();
    }
    media_retries_.ask(target, media_key, std::move(answer), [this](const Node& receipt) {
        return conn_ != nullptr && conn_->state() == ws::ConnectionState::connected &&
               conn_->send_node(receipt).ok();
    });
    pump();
}

// Receipts of media retries asked while offline, after a login.
void LiveDevice::send_media_retries()
{
    media_retries_.send_unsent([this](const Node& receipt) {
        return conn_ != nullptr && conn_->state() == ws::ConnectionState::connected &&
               conn_->send_node(receipt).ok();
    });
}

}  // namespace chatwoot::helper
