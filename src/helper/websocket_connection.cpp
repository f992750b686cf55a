#include "websocket_connection.hpp"

#include <array>
#include <exception>
#include <utility>

namespace chatwoot::helper {

namespace {

using wa::ByteView;
using wa::Errc;
using wa::make_error;
using Why = WebSocketClosed::Why;

// Marks a call from the owner for as long as it runs.
class InCall {
public:
    explicit InCall(bool& flag) : flag_(flag), saved_(flag) { flag_ = true; }
    ~InCall() { flag_ = saved_; }
    InCall(const InCall&) = delete;
    InCall& operator=(const InCall&) = delete;

private:
    bool& flag_;
    bool saved_;
};

// One read's worth: a TLS record's plaintext is at most 16 KiB.
constexpr std::size_t read_chunk = 16 * 1024;

void log_exception(const char* where, const std::exception* e)
{
    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0, "chatwoot helper: websocket %s failed: %s",
                  where, e ? e->what() : "unknown exception");
}

WebSocketClosed closed(Why why, std::string detail, std::uint16_t code = 1006, int status = 0)
{
    WebSocketClosed c;
    c.why = why;
    c.detail = std::move(detail);
    c.code = code;
    c.http_status = status;
    return c;
}

}  // namespace

const char* websocket_closed_name(WebSocketClosed::Why why)
{
    switch (why) {
    case Why::connect_failed: return "connect_failed";
    case Why::handshake_failed: return "handshake_failed";
    case Why::timed_out: return "timed_out";
    case Why::closed_by_peer: return "closed_by_peer";
    case Why::closed_by_us: return "closed_by_us";
    case Why::protocol_error: return "protocol_error";
    case Why::connection_lost: return "connection_lost";
    }
    return "unknown";
}

wa::Result<std::unique_ptr<WebSocketConnection>> WebSocketConnection::open(
    WebSocketOptions options, WebSocketEvents events, wa::crypto::RandomSource random)
{
    auto url = wa::transport::parse_websocket_url(options.url);
    if (!url) {
        return url.error();
    }
    if (!random) {
        return make_error(Errc::crypto_failure, "no random source for the WebSocket");
    }
    auto ws = std::make_unique<WebSocketConnection>(Key{}, std::move(options), std::move(events),
                                                    std::move(random), std::move(url).value());
    ws->start();
    return ws;
}

WebSocketConnection::WebSocketConnection(Key, WebSocketOptions options, WebSocketEvents events,
                                         wa::crypto::RandomSource random,
                                         wa::transport::WebSocketUrl url)
    : options_(std::move(options)),
      events_(std::move(events)),
      random_(std::move(random)),
      url_(std::move(url))
{
    for (ngx_event_t* ev : {&timer_, &kick_}) {
        ev->data = this;
        ev->log = ngx_cycle->log;
        // Pending deadlines must not hold up the helper's exit.
        ev->cancelable = 1;
    }
    timer_.handler = &WebSocketConnection::on_timer;
    kick_.handler = &WebSocketConnection::on_kick;
}

WebSocketConnection::~WebSocketConnection()
{
    *alive_ = false;
    teardown();
    if (kick_.timer_set) {
        ngx_del_timer(&kick_);
    }
}

void WebSocketConnection::start()
{
    driver_ = std::make_unique<CurlMultiDriver>(1);
    ConnectRequest req;
    req.url = url_.connect_url();
    req.connect_timeout_ms = options_.connect_timeout_ms;
    req.ca_file = options_.ca_file;
    req.proxy = options_.proxy;
    attempt_ = driver_->connect(req, [this](CURLcode code, const std::string& error,
                                            std::unique_ptr<CurlStream> stream) {
        connected(code, error, std::move(stream));
    });
    // curl has its own connect timeout; this one also covers a resolver
    // that never answers.
    arm(timer_, options_.connect_timeout_ms + 1000);
}

// Runs inside the driver's bookkeeping: keep the result and go on from the
// event loop, where the owner may destroy us (and the driver) safely.
void WebSocketConnection::connected(CURLcode code, const std::string& error,
                                    std::unique_ptr<CurlStream> stream)
{
    attempt_ = nullptr;
    connect_done_ = true;
    connect_code_ = code;
    connect_error_ = error;
    stream_ = std::move(stream);
    arm(kick_, 0);
}

void WebSocketConnection::after_connect()
{
    if (!stream_) {
        finish(closed(Why::connect_failed, "cannot connect to " + url_.host_header() + ": " +
                                               connect_error_));
        return;
    }
    ngx_connection_t* c = stream_->connection();
    c->data = this;
    c->read->handler = &WebSocketConnection::on_read;
    c->write->handler = &WebSocketConnection::on_write;
    c->log = ngx_cycle->log;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
    start_handshake();
}

void WebSocketConnection::start_handshake()
{
    auto hs = wa::transport::ClientHandshake::start(url_, options_.handshake, random_);
    if (!hs) {
        finish(closed(Why::handshake_failed, hs.error().detail));
        return;
    }
    handshake_.emplace(std::move(hs).value());
    request_sent_ = 0;
    state_ = State::handshaking;
    arm(timer_, options_.handshake_timeout_ms);
    ngx_connection_t* c = stream_->connection();
    if (!c->read->active && ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
        finish(closed(Why::connection_lost, "cannot watch the socket"));
        return;
    }
    flush();
}

// Writes what is pending (the handshake request, then wslay's frames);
// watches for writability only while something is left.  False when the
// connection ended (finish() ran).
bool WebSocketConnection::flush()
{
    ngx_connection_t* c = stream_->connection();
    for (;;) {
        ByteView pending;
        if (state_ == State::handshaking) {
            pending = wa::as_bytes(handshake_->request()).subspan(request_sent_);
        } else if (session_) {
            pending = session_->output();
        }
        if (pending.empty()) {
            break;
        }
        size_t sent = 0;
        CURLcode rc = stream_->send(pending.data(), pending.size(), sent);
        if (rc == CURLE_AGAIN) {
            if (!c->write->active && ngx_add_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
                finish(closed(Why::connection_lost, "cannot watch the socket"));
                return false;
            }
            return true;
        }
        if (rc != CURLE_OK) {
            finish(closed(Why::connection_lost,
                          std::string("sending failed: ") + curl_easy_strerror(rc)));
            return false;
        }
        if (state_ == State::handshaking) {
            request_sent_ += sent;
        } else {
            session_->consume(sent);
        }
    }
    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
    // Both closes exchanged: nothing more will come or go.
    if (session_ && session_->finished() && state_ != State::done) {
        const bool ours = state_ == State::closing;
        const std::uint16_t code = peer_close_ ? peer_close_->code : std::uint16_t{1006};
        finish(closed(ours ? Why::closed_by_us : Why::closed_by_peer,
                      peer_close_ ? "closing handshake done: " + peer_close_->reason
                                  : "closing handshake done",
                      code));
        return false;
    }
    return true;
}

void WebSocketConnection::read_ready()
{
    std::array<std::uint8_t, read_chunk> buf;
    while (state_ == State::handshaking || state_ == State::open ||
           state_ == State::closing) {
        size_t got = 0;
        CURLcode rc = stream_->recv(buf.data(), buf.size(), got);
        if (rc == CURLE_AGAIN) {
            return;
        }
        if (rc != CURLE_OK) {
            finish(closed(Why::connection_lost,
                          std::string("receiving failed: ") + curl_easy_strerror(rc)));
            return;
        }
        if (got == 0) {
            if (state_ == State::closing && session_ && session_->close_sent()) {
                finish(closed(Why::closed_by_us, "the peer closed the connection after our close"));
            } else {
                finish(closed(Why::connection_lost,
                              "the peer closed the connection without a close frame"));
            }
            return;
        }
        if (!process(ByteView(buf.data(), got))) {
            return;
        }
    }
}

// False when the connection ended or `this` is gone.
bool WebSocketConnection::process(ByteView chunk)
{
    if (state_ != State::handshaking) {
        return feed_frames(chunk);
    }
    auto step = handshake_->feed(chunk);
    if (!step) {
        finish(closed(Why::handshake_failed, step.error().detail, 1006,
                      handshake_->http_status()));
        return false;
    }
    if (!step->complete) {
        return true;
    }
    handshake_.reset();
    wa::transport::WebSocketCallbacks cb;
    cb.on_binary = [this](ByteView m) { inbox_.emplace_back(m.begin(), m.end()); };
    cb.on_text = [this](std::string_view m) {
        ByteView b = wa::as_bytes(m);
        inbox_.emplace_back(b.begin(), b.end());
    };
    cb.on_close = [this](const wa::transport::CloseInfo& info) { peer_close_ = info; };
    auto session = wa::transport::WebSocketSession::client(random_, std::move(cb),
                                                           options_.limits);
    if (!session) {
        finish(closed(Why::protocol_error, session.error().detail));
        return false;
    }
    session_.emplace(std::move(session).value());
    state_ = State::open;
    if (timer_.timer_set) {
        ngx_del_timer(&timer_);
    }
    std::weak_ptr<bool> alive = alive_;
    if (events_.on_open) {
        events_.on_open();
        if (alive.expired() || state_ == State::done) {
            return false;
        }
    }
    return feed_frames(chunk.subspan(step->consumed));
}

bool WebSocketConnection::feed_frames(ByteView bytes)
{
    wa::Status st = session_->receive(bytes);
    // Messages first, in order; the owner may close or destroy us in any.
    std::vector<wa::Bytes> messages = std::move(inbox_);
    inbox_.clear();
    std::weak_ptr<bool> alive = alive_;
    for (const wa::Bytes& m : messages) {
        if (events_.on_message) {
            events_.on_message(m);
        }
        if (alive.expired() || state_ == State::done) {
            return false;
        }
    }
    if (!messages.empty() && events_.on_read_end) {
        events_.on_read_end();
        if (alive.expired() || state_ == State::done) {
            return false;
        }
    }
    if (!st) {
        // wslay queued a close frame with the reason's code: send it if the
        // socket takes it now, then go.
        const std::uint16_t code = session_->close_code_sent();
        size_t sent = 0;
        ByteView out = session_->output();
        if (!out.empty()) {
            (void) stream_->send(out.data(), out.size(), sent);
        }
        finish(closed(Why::protocol_error, st.error().detail, code));
        return false;
    }
    return flush();
}

void WebSocketConnection::write_ready()
{
    if (state_ == State::handshaking || state_ == State::open || state_ == State::closing) {
        flush();
    }
}

void WebSocketConnection::timer_fired()
{
    switch (state_) {
    case State::connecting:
        finish(closed(Why::timed_out, "no connection to " + url_.host_header() + " within " +
                                          std::to_string(options_.connect_timeout_ms) + " ms"));
        break;
    case State::handshaking:
        finish(closed(Why::timed_out, "no WebSocket handshake answer within " +
                                          std::to_string(options_.handshake_timeout_ms) +
                                          " ms"));
        break;
    case State::closing:
        finish(closed(Why::closed_by_us, "the peer did not answer our close frame"));
        break;
    default:
        break;
    }
}

wa::Status WebSocketConnection::send(ByteView message)
{
    if (state_ != State::open) {
        return make_error(Errc::wrong_state, "the WebSocket is not open");
    }
    if (wa::Status st = session_->send_binary(message); !st) {
        return st;
    }
    InCall guard(in_call_);
    flush();
    return wa::Done{};
}

wa::Status WebSocketConnection::ping(ByteView payload)
{
    if (state_ != State::open) {
        return make_error(Errc::wrong_state, "the WebSocket is not open");
    }
    if (wa::Status st = session_->ping(payload); !st) {
        return st;
    }
    InCall guard(in_call_);
    flush();
    return wa::Done{};
}

void WebSocketConnection::close(std::uint16_t code)
{
    InCall guard(in_call_);
    switch (state_) {
    case State::open:
        if (!session_->close(code)) {
            (void) session_->close(1000);  // a code we may not send: the plain one
        }
        state_ = State::closing;
        arm(timer_, options_.close_timeout_ms);
        flush();
        break;
    case State::connecting:
    case State::handshaking:
        // Nothing to say to the server yet: drop the attempt (finish()
        // reports from the event loop, never from inside this call).
        finish(closed(Why::closed_by_us, "closed before the connection was open"));
        break;
    default:
        break;
    }
}

void WebSocketConnection::finish(WebSocketClosed result)
{
    if (state_ == State::done) {
        return;
    }
    state_ = State::done;
    teardown();
    if (in_call_) {
        // Inside the owner's send(), ping() or close(): report from the
        // event loop instead, where the owner may destroy us.
        pending_ = std::move(result);
        arm(kick_, 0);
        return;
    }
    // Last thing: the owner may destroy us in on_close.
    auto on_close = std::move(events_.on_close);
    if (on_close) {
        try {
            on_close(result);
        } catch (const std::exception& e) {
            log_exception("on_close", &e);
        } catch (...) {
            log_exception("on_close", nullptr);
        }
    }
}

// Closes the connection and stops every event; no callback follows.
void WebSocketConnection::teardown()
{
    if (timer_.timer_set) {
        ngx_del_timer(&timer_);
    }
    if (kick_.timer_set && !pending_) {
        ngx_del_timer(&kick_);
    }
    if (attempt_ != nullptr && driver_) {
        driver_->cancel(attempt_);
        attempt_ = nullptr;
    }
    stream_.reset();  // closes the socket and its nginx connection
    session_.reset();
    handshake_.reset();
}

void WebSocketConnection::arm(ngx_event_t& ev, long ms)
{
    if (ev.timer_set) {
        ngx_del_timer(&ev);
    }
    ngx_add_timer(&ev, static_cast<ngx_msec_t>(ms < 0 ? 0 : ms));
}

void WebSocketConnection::on_kick(ngx_event_t* ev) noexcept
{
    auto* ws = static_cast<WebSocketConnection*>(ev->data);
    try {
        if (ws->pending_) {
            WebSocketClosed result = std::move(*ws->pending_);
            ws->pending_.reset();
            auto on_close = std::move(ws->events_.on_close);
            if (on_close) {
                on_close(result);  // may destroy ws
            }
            return;
        }
        if (ws->connect_done_ && ws->state_ == State::connecting) {
            ws->connect_done_ = false;
            ws->after_connect();
        }
    } catch (const std::exception& e) {
        log_exception("connect", &e);
    } catch (...) {
        log_exception("connect", nullptr);
    }
}

void WebSocketConnection::guarded(ngx_event_t* ev, void (WebSocketConnection::*step)()) noexcept
{
    auto* c = static_cast<ngx_connection_t*>(ev->data);
    auto* ws = static_cast<WebSocketConnection*>(c->data);
    try {
        (ws->*step)();
    } catch (const std::exception& e) {
        log_exception("event", &e);
        // An exception leaves the state unknown: end the connection.
        ws->finish(closed(Why::connection_lost, std::string("internal error: ") + e.what()));
    } catch (...) {
        log_exception("event", nullptr);
        ws->finish(closed(Why::connection_lost, "internal error"));
    }
}

void WebSocketConnection::on_read(ngx_event_t* ev) noexcept
{
    ev->ready = 0;
    guarded(ev, &WebSocketConnection::read_ready);
}

void WebSocketConnection::on_write(ngx_event_t* ev) noexcept
{
    ev->ready = 0;
    guarded(ev, &WebSocketConnection::write_ready);
}

void WebSocketConnection::on_timer(ngx_event_t* ev) noexcept
{
    auto* ws = static_cast<WebSocketConnection*>(ev->data);
    try {
        ws->timer_fired();
    } catch (const std::exception& e) {
        log_exception("timer", &e);
    } catch (...) {
        log_exception("timer", nullptr);
    }
}

}  // namespace chatwoot::helper
