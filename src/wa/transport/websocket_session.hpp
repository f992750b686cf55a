// WebSocket frames after the opening handshake, by wslay (RFC 6455 section
// 5), driven from memory: received bytes go in with receive(), the bytes to
// write come out of output().  wslay's recv and send callbacks read from and
// write to our buffers, never a socket, so the same object works on any event
// loop and in tests with two sessions talking through memory.
//
// Masking (client side, with injected randomness), fragmentation, ping/pong
// and the closing handshake are wslay's; this class owns its context (RAII),
// turns its callbacks into ours and its failures into Error values.
//
//     auto ws = WebSocketSession::client(random, callbacks);
//     ws->send_binary(frame);           // queued and framed at once
//     write(ws->output()); ws->consume(n_written);
//     ws->receive(bytes_read);          // callbacks run inside
//
// A callback must not destroy the session it was called from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "wa/bytes.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::transport {

struct CloseInfo {
    // The peer's status code (RFC 6455 7.4), 1005 when its close frame had
    // none; 1006 when the connection failed without a close frame.
    std::uint16_t code = 1005;
    std::string reason;
};

struct WebSocketCallbacks {
    // A whole binary message (fragments already joined).  The view is valid
    // during the call only.
    std::function<void(ByteView)> on_binary;
    // A whole text message, UTF-8 checked by wslay.
    std::function<void(std::string_view)> on_text;
    // A pong (an answer to our ping, or unsolicited); pings are answered by
    // wslay itself.
    std::function<void(ByteView)> on_pong;
    // The peer's close frame.  wslay has queued our answering close by then;
    // once it is written, the connection may be closed.
    std::function<void(const CloseInfo&)> on_close;
};

struct WebSocketLimits {
    // A received message longer than this is refused: wslay answers with
    // close 1009 and receive() fails.  WhatsApp's frames are at most 2^24-1
    // bytes each, and one message may carry more than one, hence 32 MiB.
    std::size_t max_message = std::size_t{32} << 20;
};

class WebSocketSession {
public:
    // A client masks what it sends with 4 bytes from `mask_random` per
    // frame (RFC 6455 5.3) and refuses masked frames from the server.
    static Result<WebSocketSession> client(crypto::RandomSource mask_random,
                                           WebSocketCallbacks callbacks,
                                           WebSocketLimits limits = {});
    // A server (for tests: the other end of a client in memory) refuses
    // unmasked frames.
    static Result<WebSocketSession> server(WebSocketCallbacks callbacks,
                                           WebSocketLimits limits = {});

    WebSocketSession(WebSocketSession&&) noexcept;
    WebSocketSession& operator=(WebSocketSession&&) noexcept;
    ~WebSocketSession();

    // Takes received bytes, cut anywhere; every whole message among them
    // reaches its callback before this returns.  A protocol violation by the
    // peer (bad opcode, unmasked/masked frame on the wrong side, reserved
    // bits, bad UTF-8 in text, a message over the limit, a bad close code)
    // is an Error; wslay has then queued a close frame with the matching
    // code (see output()) and reads nothing more.  After the peer's close,
    // further bytes are ignored.
    Status receive(ByteView bytes);

    // Queue a message and frame it into output() at once.  With
    // `fragment_size` > 0 a binary message goes out in frames of at most
    // that many bytes (and never more than 4096: wslay's buffer).  After
    // close() or the peer's close these fail with Errc::wrong_state.
    Status send_binary(ByteView message, std::size_t fragment_size = 0);
    Status send_text(std::string_view message);
    // At most 125 bytes of payload (a control frame's limit).
    Status ping(ByteView payload = {});
    // Starts the closing handshake: code 1000-4999 except the reserved ones,
    // a reason of at most 123 bytes.
    Status close(std::uint16_t code = 1000, std::string_view reason = {});

    // Bytes to write, in order; consume() what was written.
    ByteView output() const;
    void consume(std::size_t n);
    bool has_output() const;

    // False once the peer's close arrived or a protocol violation stopped
    // reading.
    bool can_read() const;
    // Our close frame is in output() (or already consumed).
    bool close_sent() const;
    bool close_received() const;
    // Both closes exchanged, or reading stopped on a failure, and the output
    // is written: the connection can be closed.
    bool finished() const;
    // The code our close frame carries (1006 when none was sent).
    std::uint16_t close_code_sent() const;

private:
    struct Impl;
    explicit WebSocketSession(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace chatwoot::wa::transport
