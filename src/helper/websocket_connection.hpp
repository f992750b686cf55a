// A WebSocket client connection on the helper's nginx event loop.
//
// libcurl makes the connection in connect-only mode: DNS (its threaded
// resolver), TCP, an optional CONNECT proxy tunnel and TLS with
// verification, all without blocking, through a CurlMultiDriver.  The
// bytes then go through curl_easy_send/curl_easy_recv while nginx watches
// the socket.  Above that, the sans-I/O pieces of src/wa/transport: the
// opening handshake and wslay's frames.
//
//     auto ws = WebSocketConnection::open(options, events, random);
//     ... events.on_open(); ws->send(bytes); events.on_message(bytes) ...
//     ws->close();      // closing handshake, then events.on_close()
//
// Each connection has a CurlMultiDriver of its own rather than sharing the
// Chatwoot client's: curl keeps a connect-only connection in its multi
// handle's connection cache, and libcurl 7.88 (Debian 12) prunes that
// cache from other transfers (connections idle for curl's max age, or
// with unread input, count as dead), which would close a live WhatsApp
// socket under us.  Alone in its multi handle, the connection is never
// looked at by another transfer.
#pragma once

#include "curl_multi_driver.hpp"
#include "ngx.hpp"

#include "wa/bytes.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"
#include "wa/transport/websocket_handshake.hpp"
#include "wa/transport/websocket_session.hpp"
#include "wa/transport/websocket_url.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace chatwoot::helper {

struct WebSocketOptions {
    std::string url;      // ws:// or wss://
    std::string ca_file;  // CAs trusted besides the system's, PEM; optional
    std::string proxy;    // "http://host:port": a CONNECT tunnel; optional
    wa::transport::HandshakeOptions handshake;  // Origin, extra headers
    wa::transport::WebSocketLimits limits;
    long connect_timeout_ms = 20000;    // DNS + TCP + proxy + TLS
    long handshake_timeout_ms = 20000;  // the request out and the 101 in
    long close_timeout_ms = 5000;       // our close frame until the peer's
};

struct WebSocketClosed {
    enum class Why {
        connect_failed,    // DNS, TCP, proxy or TLS (certificate) failure
        handshake_failed,  // the server did not switch to WebSocket
        timed_out,         // no connection or no handshake answer in time
        closed_by_peer,    // the server's close frame
        closed_by_us,      // close() finished (or the peer never answered it)
        protocol_error,    // the server broke RFC 6455; we closed
        connection_lost,   // the TCP/TLS connection ended or failed
    };
    Why why = Why::connection_lost;
    int http_status = 0;        // the answer's status when the handshake failed
    std::uint16_t code = 1006;  // the close frame's code; 1006: none
    std::string detail;         // for the log; carries no secret
};

const char* websocket_closed_name(WebSocketClosed::Why why);

struct WebSocketEvents {
    std::function<void()> on_open;
    // A whole message (WhatsApp sends binary ones; a text message comes
    // here too, as its bytes).  The view is valid during the call.
    std::function<void(wa::ByteView)> on_message;
    // After the last message of one read from the socket (not called for a
    // read that completed none): where an owner that only took the
    // messages in acts on all of them at once (one commit for a burst).
    std::function<void()> on_read_end;
    // Exactly once, last; the connection may be destroyed from inside it.
    std::function<void(const WebSocketClosed&)> on_close;
};

class WebSocketConnection {
public:
    // Starts connecting.  Events come from the event loop, never from
    // inside this call.  A URL that is not ws:// or wss:// is an error.
    static wa::Result<std::unique_ptr<WebSocketConnection>> open(
        WebSocketOptions options, WebSocketEvents events, wa::crypto::RandomSource random);

    // Drops the connection at once (no closing handshake, no event).
    ~WebSocketConnection();
    WebSocketConnection(const WebSocketConnection&) = delete;
    WebSocketConnection& operator=(const WebSocketConnection&) = delete;

    // A binary message; only while open.  If writing fails, on_close
    // follows from the event loop, never from inside these calls.
    wa::Status send(wa::ByteView message);
    // A WebSocket ping (the pong is wslay's business on the other side).
    wa::Status ping(wa::ByteView payload = {});
    // Starts the closing handshake (or, before the connection is open,
    // abandons it); on_close follows from the event loop.
    void close(std::uint16_t code = 1000);

    bool is_open() const { return state_ == State::open; }

    // Only open() makes connections (the key's constructor is private).
    class Key {
        friend class WebSocketConnection;
        Key() = default;
    };
    WebSocketConnection(Key, WebSocketOptions options, WebSocketEvents events,
                        wa::crypto::RandomSource random, wa::transport::WebSocketUrl url);

private:
    enum class State { connecting, handshaking, open, closing, done };

    void start();
    void connected(CURLcode code, const std::string& error, std::unique_ptr<CurlStream> stream);
    void after_connect();
    void start_handshake();
    void read_ready();
    void write_ready();
    void timer_fired();
    bool process(wa::ByteView chunk);
    bool feed_frames(wa::ByteView bytes);
    bool flush();
    void finish(WebSocketClosed closed);
    void teardown();
    void arm(ngx_event_t& ev, long ms);

    static void on_read(ngx_event_t* ev) noexcept;
    static void on_write(ngx_event_t* ev) noexcept;
    static void on_timer(ngx_event_t* ev) noexcept;
    static void on_kick(ngx_event_t* ev) noexcept;
    static void guarded(ngx_event_t* ev, void (WebSocketConnection::*step)()) noexcept;

    WebSocketOptions options_;
    WebSocketEvents events_;
    wa::crypto::RandomSource random_;
    wa::transport::WebSocketUrl url_;

    State state_ = State::connecting;
    std::unique_ptr<CurlMultiDriver> driver_;
    const void* attempt_ = nullptr;
    std::unique_ptr<CurlStream> stream_;  // after driver_: ends first
    std::optional<WebSocketClosed> pending_;  // reported by the kick event
    std::string connect_error_;
    CURLcode connect_code_ = CURLE_OK;
    bool connect_done_ = false;

    std::optional<wa::transport::ClientHandshake> handshake_;
    std::size_t request_sent_ = 0;
    std::optional<wa::transport::WebSocketSession> session_;
    std::vector<wa::Bytes> inbox_;                      // messages of one receive()
    std::optional<wa::transport::CloseInfo> peer_close_;

    ngx_event_t timer_{};  // the current phase's deadline
    ngx_event_t kick_{};   // a 0 ms event: continue from the event loop
    bool in_call_ = false;  // inside send(), ping() or close()
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatwoot::helper
