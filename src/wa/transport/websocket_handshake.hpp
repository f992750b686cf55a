// The WebSocket opening handshake, client side (RFC 6455 section 4), with no
// I/O: it hands out the request's bytes and takes the answer's bytes as they
// arrive, cut anywhere.
//
//     auto hs = ClientHandshake::start(url, options, random);
//     write(hs->request());
//     for each chunk read:
//         auto step = hs->feed(chunk);
//         if (!step) fail(step.error(), hs->failure(), hs->http_status());
//         if (step->complete) frames.receive(chunk.subspan(step->consumed));
//
// Only the handshake is written by hand; the frames after it are wslay's
// (websocket_session.hpp).  The answer is parsed strictly: an HTTP/1.1 101
// with `Upgrade: websocket`, a `Connection` holding `upgrade`, and the
// `Sec-WebSocket-Accept` that our key calls for; an extension or a
// subprotocol we did not offer is refused (RFC 6455 4.1, items 2-6).  The
// answer's head is bounded; bytes after it are the first frames and are
// left to the caller.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wa/bytes.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"
#include "wa/transport/websocket_url.hpp"

namespace chatwoot::wa::transport {

// What WhatsApp Web's own client sends (waweb.md 1.1); the server refuses
// a handshake without it.
inline constexpr std::string_view whatsapp_origin = "https://web.whatsapp.com";

struct HandshakeOptions {
    std::string origin{whatsapp_origin};  // empty: no Origin header
    // More request headers, e.g. {"Cache-Control", "no-cache"}.  Names must
    // be tokens and values free of control characters; the headers the
    // handshake itself writes (Host, Upgrade, Connection, Origin,
    // Sec-WebSocket-*) cannot be given here.
    std::vector<std::pair<std::string, std::string>> extra_headers;
    // The answer's status line and headers, with the empty line, may not be
    // longer than this.
    std::size_t max_response_head = 16 * 1024;
};

// Why a handshake failed, for tests and for the state a device shows.
enum class HandshakeFailure {
    none,
    not_http,            // the first bytes are not "HTTP/1.1 "
    bad_status_line,     // "HTTP/1.1 " followed by something that is no status
    not_switching,       // a status other than 101; http_status() says which
    bad_header,          // a header line that breaks HTTP's grammar
    too_large,           // the head is longer than max_response_head
    bad_upgrade,         // Upgrade missing, repeated, or not "websocket"
    bad_connection,      // no Connection header holding "upgrade"
    missing_accept,      // no Sec-WebSocket-Accept, or more than one
    wrong_accept,        // a Sec-WebSocket-Accept our key does not call for
    unrequested_extension,
    unrequested_protocol,
};

const char* handshake_failure_name(HandshakeFailure f);

// base64(SHA-1(key || "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), the value
// a server answers a Sec-WebSocket-Key with (RFC 6455 4.2.2 item 5.4).
std::string websocket_accept(std::string_view key);

class ClientHandshake {
public:
    struct Step {
        bool complete = false;
        // How many bytes of the chunk just fed belong to the handshake; the
        // rest, once complete, are WebSocket frames.
        std::size_t consumed = 0;
    };

    // Makes the request with a fresh 16-byte key from `random`.  Fails on
    // bad extra headers or when `random` fails.
    static Result<ClientHandshake> start(const WebSocketUrl& url, const HandshakeOptions& options,
                                         const crypto::RandomSource& random);

    // The request's bytes, to be written once.
    const std::string& request() const { return request_; }

    // Sec-WebSocket-Key as sent (not a secret: it only proves the server
    // speaks WebSocket).
    const std::string& key() const { return key_; }

    // Takes the next bytes of the answer.  After a failure every call
    // returns the same error; after completion, feeding is Errc::wrong_state.
    Result<Step> feed(ByteView chunk);

    bool complete() const { return complete_; }
    HandshakeFailure failure() const { return failure_; }
    // The answer's status code once the status line was read, else 0.
    int http_status() const { return status_; }

private:
    ClientHandshake() = default;

    Error fail(HandshakeFailure why, Errc code, std::string detail);
    Result<Step> check_early();
    Status parse_head(std::string_view head);
    Status parse_status_line(std::string_view line);

    std::string request_;
    std::string key_;
    std::string expected_accept_;
    std::size_t max_head_ = 0;
    std::string head_;           // the answer's bytes so far, at most max_head_
    std::size_t scanned_ = 0;    // head_ bytes already checked for line ends
    bool status_checked_ = false;
    bool complete_ = false;
    HandshakeFailure failure_ = HandshakeFailure::none;
    std::optional<Error> error_;
    int status_ = 0;
};

}  // namespace chatwoot::wa::transport
