// One connection of a WhatsApp Web session, sans I/O (waweb.md 1.2-1.9).
//
// The driver (the helper's WebSocket adapter, or a test) owns the socket
// and one timer, and loops:
//
//     conn.start(now, unix_time);             // once, on a fresh socket
//     ... socket readable:  conn.receive(message, now);
//     ... timer fired:      conn.on_timer(now);
//     then: for (auto& m : conn.take_messages()) websocket_send(m);
//           while (auto e = conn.poll_event()) handle(*e);
//           arm the timer at conn.next_timer() (none: disarm);
//           after event::Closed, close the socket.
//
// What it does:
//   start        ClientHello (after "WA" 6 3, and the edge-routing preface
//                when the last session left routing info)
//   ServerHello  the certificate chain checked against the injected root
//                key; ClientFinish carrying the ClientPayload: registration
//                for a device without a JID, login for a paired one
//   then         <success> (logged in), <failure> or <stream:error>
//                (closed, with what to do: stream_end.hpp), or, for a new
//                device, the server's <iq> pair-device (handed up: the
//                pairing layer answers it through send_node)
//   logged in    a ping IQ every 20-30 s (random, from the injected
//                source); a ping that gets no answer while nothing else
//                arrived either means the connection is dead
//   backlog      <ib><offline> and <ib><edge_routing> become events
//   always       the server's own pings answered; IQ answers matched
//                (iq_engine.hpp); each delivered stanza that needs an ack
//                acked (stanza_ack.hpp), at once, or, for <message> and
//                retry receipts, by the owner once it has committed the
//                stanza (an ack before the commit could lose it in a crash)
//
// Bad input never crashes it: a frame that fails to authenticate or is too
// large ends the connection (the stream cannot be trusted after it); a node
// that does not decode is reported and skipped.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "wa/binary/decoder.hpp"
#include "wa/binary/node.hpp"
#include "wa/binary/node_view.hpp"
#include "wa/binary/view_decoder.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"
#include "wa/noise/cert_chain.hpp"
#include "wa/noise/frame_codec.hpp"
#include "wa/noise/handshake.hpp"
#include "wa/noise/transport.hpp"
#include "wa/proto/client_payload_builder.hpp"
#include "wa/session/clock.hpp"
#include "wa/session/iq_engine.hpp"
#include "wa/session/session_store.hpp"
#include "wa/session/stream_end.hpp"

namespace chatwoot::wa::session {

struct ConnectionConfig {
    // The server's long-term root key (a test server signs with its own).
    crypto::Key32 root_key = noise::whatsapp_root_key;
    std::uint32_t root_serial = noise::whatsapp_root_serial;

    proto::ClientOptions client;       // version, push name, locale
    proto::CompanionProps companion;   // how the phone lists us (registration)

    // The raw <ib><edge_routing><routing_info> of the last session; empty
    // for none (waweb-2026.md 6).
    Bytes routing_info;

    Millis handshake_timeout = seconds(20);  // start until <success> or pairing
    Millis keepalive_min = seconds(20);
    Millis keepalive_max = seconds(30);
    Millis keepalive_timeout = seconds(10);  // a ping's answer deadline
    Millis iq_timeout = default_iq_timeout;

    std::size_t max_frame_size = noise::max_frame_size;
    binary::DecodeLimits decode_limits;

    // Acks for these are the owner's (send_ack) after it committed them.
    bool defer_message_acks = true;
};

enum class ConnectionState {
    idle,        // start() not called
    handshake,   // ClientHello sent, waiting for the ServerHello
    logging_in,  // ClientFinish sent, waiting for <success> or a pairing request
    pairing,     // a new device being shown QR codes (no <success> yet)
    connected,   // logged in
    closed,      // over; see the Closed event
};

std::string_view connection_state_name(ConnectionState state);

// One decrypted frame and the view decoded from it.  The receive loop
// reads most stanzas once (a tag, a few attributes, a payload handed on),
// so a frame is decoded into views, not copies (node_view.hpp); this is
// what those views point into.  Frames are pooled by the connection and
// shared with the events that borrow from them: a frame is reused only
// once no event holds it any more.
class ReceivedFrame {
public:
    explicit ReceivedFrame(const binary::DecodeLimits& limits) : decoder_(limits) {}

    // The node's encoded bytes: the frame minus its flags byte, inflated
    // when it was zlib-flagged.  What a stanza is kept as, verbatim.
    ByteView node_bytes() const { return body_; }

private:
    friend class Connection;

    Bytes plain_;      // the decrypted frame: flags byte, then the node or a zlib stream
    Bytes inflated_;   // the node of a zlib-flagged frame
    ByteView body_;    // into plain_ or inflated_
    binary::ViewDecoder decoder_;
};

// How the ack of a delivered stanza stands.
enum class AckState {
    not_needed,  // the stanza takes no ack
    sent,        // acked already
    deferred,    // the owner must call send_ack once it has handled it
};

namespace event {

// <success>: logged in.  The node carries t, lid, props...
struct LoggedIn {
    binary::Node success;
};

// An <iq type="get|set"> from the server that this layer does not answer
// itself (pair-device, pair-success, ...): the owner replies via send_node.
struct ServerRequest {
    binary::Node iq;
};

// Any other stanza (message, receipt, notification, call, presence, an
// <ib> with children other than the two below...).
//
// `view` borrows from `frame`: it stays valid as long as this event (or a
// copy of it) lives, however many frames the connection reads meanwhile.
// Whoever keeps a part of it copies that part; to_node() copies all of it,
// for the layers that take a binary::Node (the few notifications they
// handle: call it only once the tag says the stanza is theirs).
struct Stanza {
    binary::NodeView view;
    AckState ack = AckState::not_needed;
    std::shared_ptr<const ReceivedFrame> frame;

    // The stanza as the server encoded it (no flags byte, not compressed):
    // binary::decode() of it gives to_node().
    ByteView node_bytes() const { return frame ? frame->node_bytes() : ByteView{}; }
    binary::Node to_node() const { return view.owned(); }
};

struct IqAnswered {
    IqOutcome outcome;
};

// <ib><offline count=N/>: the server has delivered the backlog that
// waited while we were away; what follows is live.
struct OfflineDone {
    int count = 0;
};

// <ib><edge_routing><routing_info>: the owner keeps it for the next
// connection's ConnectionConfig::routing_info.
struct RoutingInfo {
    Bytes routing_info;
};

// Input we could not understand that did not end the connection (a node
// that does not decode, a stanza that cannot be acked).
struct ProtocolError {
    Error error;
};

// The keepalive found the connection dead; Closed follows.
struct ConnectionDead {
    Millis silent_for = 0;  // since the last byte from the server
};

// The connection is over: close the socket and follow end.reconnect().
struct Closed {
    StreamEnd end;
};

}  // namespace event

using Event = std::variant<event::LoggedIn, event::ServerRequest, event::Stanza,
                           event::IqAnswered, event::OfflineDone, event::RoutingInfo,
                           event::ProtocolError, event::ConnectionDead, event::Closed>;

class Connection {
public:
    // `store` must outlive the connection.  `random` makes the IQ id
    // prefix (4 bytes, here), the ephemeral key (32, in start()) and the
    // keepalive jitter (4 per ping).  One Connection per socket: a
    // reconnect makes a new one, so no state of a dead socket leaks in.
    Connection(ConnectionConfig config, SessionStore& store, crypto::RandomSource random);

    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Loads the credentials and sends the ClientHello.  `unix_time` (wall
    // clock, seconds) checks the certificates' validity; `now` is the
    // monotonic clock of every other call.  A store or random failure ends
    // the connection at once (event::Closed).  Errc::wrong_state when
    // called twice.
    Status start(Millis now, std::int64_t unix_time);

    // One WebSocket message from the server, cut anywhere.
    // Errc::wrong_state before start() or after the connection closed.
    Status receive(ByteView message, Millis now);

    // The timer armed at next_timer() fired (early or late calls are fine).
    void on_timer(Millis now);

    // The socket went away under us.
    void socket_closed(Millis now, std::string reason = "socket closed");

    // We end it (event::Closed with EndKind::local_close).
    void close(Millis now);

    // A node to the server.  Errc::wrong_state until the handshake is done
    // or after close; the encoder's errors for a node it cannot write.
    Status send_node(const binary::Node& node);

    // An IQ request: given an id (returned), sent, and answered later by
    // event::IqAnswered carrying `cookie`.  Timeout: config.iq_timeout.
    Result<std::string> send_iq(binary::Node iq, Millis now, std::uint64_t cookie = 0,
                                std::optional<Millis> timeout = std::nullopt);

    // Acks (error 0) or nacks a stanza this connection delivered.
    Status send_ack(const binary::Node& stanza, int error = 0);
    Status send_ack(const binary::NodeView& stanza, int error = 0);

    // Stanzas delivered with AckState::deferred and not acked yet.  Ones
    // still open when the connection ends are redelivered by the server on
    // the next one, which is the point of deferring; a count that only
    // grows on a live connection is an owner that forgets to ack.
    std::size_t deferred_acks() const { return deferred_.size(); }

    // Outputs.
    std::vector<Bytes> take_messages();  // WebSocket binary messages, in order
    std::optional<Event> poll_event();
    std::optional<Millis> next_timer() const;

    ConnectionState state() const { return state_; }
    bool registering() const { return credentials_ && !credentials_->paired(); }
    std::optional<Millis> connected_since() const { return connected_since_; }
    std::size_t pending_iqs() const { return iq_.pending(); }
    // Whether <ib><offline> came: the backlog is through.
    bool offline_done() const { return offline_done_; }

private:
    void on_frame(ByteView frame, Millis now);
    void on_server_hello(ByteView frame);
    std::shared_ptr<ReceivedFrame> free_frame();
    void on_node(const binary::NodeView& node, std::shared_ptr<ReceivedFrame> frame, Millis now);
    void on_iq_outcome(IqOutcome outcome, Millis now);
    void deliver_stanza(const binary::NodeView& node, std::shared_ptr<ReceivedFrame> frame);
    void on_ib(const binary::NodeView& node, std::shared_ptr<ReceivedFrame> frame);
    Result<Bytes> client_payload() const;
    void schedule_ping(Millis now);
    void send_ping(Millis now);
    void finish(StreamEnd end);
    void fail(EndKind kind, std::string detail);
    void emit(Event e) { events_.push_back(std::move(e)); }
    Status write_frame(ByteView body);

    ConnectionConfig config_;
    SessionStore& store_;
    crypto::RandomSource random_;
    ConnectionState state_ = ConnectionState::idle;

    std::optional<DeviceCredentials> credentials_;
    std::optional<noise::ClientHandshake> handshake_;
    std::optional<noise::NoiseTransport> transport_;
    std::optional<noise::FrameWriter> writer_;  // made by start(): its header depends on routing info
    noise::FrameReassembler reassembler_;
    IqEngine iq_;

    Millis handshake_deadline_ = 0;
    std::optional<Millis> connected_since_;
    Millis last_received_ = 0;
    std::optional<Millis> next_ping_;
    std::optional<std::string> ping_id_;
    Millis ping_sent_ = 0;

    bool offline_done_ = false;
    std::set<std::string> deferred_;  // ack_key() of stanzas awaiting the owner's ack

    // Frames to decrypt and decode into, reused once no event holds them
    // (free_frame); a handful, so an owner that keeps events does not
    // make the pool grow.
    std::vector<std::shared_ptr<ReceivedFrame>> frames_;
    Bytes plain_out_;   // send_node's encoded node, reused
    Bytes sealed_out_;  // and its ciphertext
    std::vector<Bytes> out_;
    std::deque<Event> events_;
};

// The edge-routing preface that goes before "WA" 6 3 (waweb-2026.md 6):
// 'E' 'D' 0 1, u24be(length), the routing info.  Errc::too_large when the
// info does not fit 3 bytes of length.
Result<Bytes> edge_routing_preface(ByteView routing_info);

}  // namespace chatwoot::wa::session
