#include "wa/session/connection.hpp"

#include <algorithm>
#include <charconv>

#include "wa/binary/encoder.hpp"
#include "wa/binary/payload.hpp"
#include "wa/binary/tags.hpp"
#include "wa/proto/codec.hpp"
#include "wa/session/stanza_ack.hpp"

namespace chatwoot::wa::session {

namespace {

// The iq cookie of our keepalive pings, for debugging only: owners'
// cookies are theirs to pick, so a ping is recognised by its id.
constexpr std::uint64_t ping_cookie = ~std::uint64_t{0};

// What tells one delivered stanza from another for the ack ledger: the
// attributes its ack repeats.
std::string ack_key(const binary::Node& stanza)
{
    std::string key = stanza.tag;
    for (std::string_view name : {"id", "from", "participant"}) {
        key += '\0';
        key += stanza.attr(name).value_or("");
    }
    return key;
}

std::string ack_key(const binary::NodeView& stanza)
{
    std::string key(stanza.tag());
    for (std::string_view name : {"id", "from", "participant"}) {
        key += '\0';
        if (auto v = stanza.attr(name)) v->append_to(key);
    }
    return key;
}

bool attr_is(const binary::NodeView& node, std::string_view key, std::string_view text)
{
    const auto v = node.attr(key);
    return v && *v == text;
}

bool is_from_server(const binary::NodeView& node)
{
    std::string from;
    if (auto v = node.attr("from")) v->append_to(from);
    std::string_view f = from;
    if (f.starts_with('@')) f.remove_prefix(1);
    return f == binary::kServerPhone;
}

// Whether build_ack() would find the id and from it needs, without
// building the ack.
bool addressable(const binary::NodeView& stanza)
{
    const binary::AttrView* id = stanza.find_attr("id");
    const binary::AttrView* from = stanza.find_attr("from");
    return id != nullptr && id->value.size() != 0 && from != nullptr && from->value.size() != 0;
}

// Frames kept for reuse; more are made while events hold these, and let go
// with their last event.
constexpr std::size_t kPooledFrames = 4;

}  // namespace

std::string_view connection_state_name(ConnectionState state)
{
    switch (state) {
    case ConnectionState::idle: return "idle";
    case ConnectionState::handshake: return "handshake";
    case ConnectionState::logging_in: return "logging in";
    case ConnectionState::pairing: return "pairing";
    case ConnectionState::connected: return "connected";
    case ConnectionState::closed: return "closed";
    }
    return "unknown";
}

Result<Bytes> edge_routing_preface(ByteView routing_info)
{
    if (routing_info.size() > noise::max_frame_size) {
        return make_error(Errc::too_large, "edge routing info over 16 MiB");
    }
    const std::size_t n = routing_info.size();
    Bytes out{'E', 'D', 0, 1, std::uint8_t(n >> 16), std::uint8_t(n >> 8), std::uint8_t(n)};
    out.insert(out.end(), routing_info.begin(), routing_info.end());
    return out;
}

Connection::Connection(ConnectionConfig config, SessionStore& store, crypto::RandomSource random)
    : config_(std::move(config)),
      store_(store),
      random_(std::move(random)),
      reassembler_(std::min(config_.max_frame_size, noise::max_frame_size)),
      iq_(random_)
{
}

Status Connection::start(Millis now, std::int64_t unix_time)
{
    if (state_ != ConnectionState::idle) {
        return make_error(Errc::wrong_state, "connection: start() called twice");
    }
    state_ = ConnectionState::handshake;
    handshake_deadline_ = now + config_.handshake_timeout;
    last_received_ = now;

    auto credentials = store_.load_credentials();
    if (!credentials) {
        fail(EndKind::refused, "session store: " + credentials.error().detail);
        return Done{};
    }
    credentials_ = std::move(*credentials);

    Bytes header(noise::wa_header.begin(), noise::wa_header.end());
    if (!config_.routing_info.empty()) {
        auto preface = edge_routing_preface(config_.routing_info);
        if (preface) {
            header.insert(header.begin(), preface->begin(), preface->end());
        }
        // Routing is an optimisation: without it the server still answers.
    }
    writer_.emplace(header);

    auto ephemeral = crypto::x25519_generate(random_);
    if (!ephemeral) {
        fail(EndKind::refused, "ephemeral key: " + ephemeral.error().detail);
        return Done{};
    }
    noise::HandshakeConfig hs;
    hs.ephemeral = *ephemeral;
    hs.noise_static = credentials_->noise_key;
    hs.cert_policy = noise::CertPolicy{config_.root_key, config_.root_serial, unix_time};
    handshake_.emplace(std::move(hs));
    auto hello = handshake_->client_hello();
    if (!hello) {
        fail(EndKind::protocol_error, "client hello: " + hello.error().detail);
        return Done{};
    }
    if (Status w = write_frame(*hello); !w) {
        fail(EndKind::protocol_error, "client hello: " + w.error().detail);
    }
    return Done{};
}

Status Connection::receive(ByteView message, Millis now)
{
    if (state_ == ConnectionState::idle || state_ == ConnectionState::closed) {
        return make_error(Errc::wrong_state,
                          std::string("connection: bytes received while ") +
                              std::string(connection_state_name(state_)));
    }
    last_received_ = now;
    reassembler_.feed(message);
    while (state_ != ConnectionState::closed) {
        auto frame = reassembler_.next();
        if (!frame) {
            fail(EndKind::protocol_error, "frame: " + frame.error().detail);
            break;
        }
        if (!*frame) break;
        on_frame(**frame, now);
    }
    return Done{};
}

std::shared_ptr<ReceivedFrame> Connection::free_frame()
{
    for (const std::shared_ptr<ReceivedFrame>& f : frames_) {
        // Held by the pool alone: no event borrows from it any more.
        if (f.use_count() == 1) return f;
    }
    auto f = std::make_shared<ReceivedFrame>(config_.decode_limits);
    if (frames_.size() < kPooledFrames) frames_.push_back(f);
    return f;
}

void Connection::on_frame(ByteView frame, Millis now)
{
    if (state_ == ConnectionState::handshake) {
        on_server_hello(frame);
        return;
    }
    std::shared_ptr<ReceivedFrame> rf = free_frame();
    if (Status s = transport_->decrypt(frame, rf->plain_); !s) {
        // The counters no longer agree: nothing after this can be read.
        fail(EndKind::protocol_error, "transport: " + s.error().detail);
        return;
    }
    // One bad node does not poison the stream (the frame authenticated),
    // but without an id it cannot be acked: report it and go on.
    auto bad_node = [this](const Error& e) {
        emit(event::ProtocolError{make_error(e.code, "node: " + e.detail)});
    };
    const Bytes& plain = rf->plain_;
    if (plain.empty()) {
        bad_node(make_error(Errc::truncated, "payload without a flags byte"));
        return;
    }
    if ((plain[0] & binary::tag::kFlagCompressed) != 0) {
        auto inflated = binary::inflate_bounded(ByteView(plain).subspan(1),
                                                config_.decode_limits.max_inflated_size);
        if (!inflated) {
            bad_node(inflated.error());
            return;
        }
        rf->inflated_ = std::move(*inflated);
        rf->body_ = rf->inflated_;
    } else {
        rf->body_ = ByteView(plain).subspan(1);
    }
    auto node = rf->decoder_.decode_node(rf->body_);
    if (!node) {
        bad_node(node.error());
        return;
    }
    on_node(*node, std::move(rf), now);
}

void Connection::on_server_hello(ByteView frame)
{
    if (Status s = handshake_->read_server_hello(frame); !s) {
        fail(EndKind::protocol_error, "server hello: " + s.error().detail);
        return;
    }
    auto payload = client_payload();
    if (!payload) {
        fail(EndKind::refused, "client payload: " + payload.error().detail);
        return;
    }
    auto finish = handshake_->client_finish(*payload);
    if (!finish) {
        fail(EndKind::protocol_error, "client finish: " + finish.error().detail);
        return;
    }
    auto keys = handshake_->transport_keys();
    if (!keys) {
        fail(EndKind::protocol_error, "transport keys: " + keys.error().detail);
        return;
    }
    if (Status w = write_frame(*finish); !w) {
        fail(EndKind::protocol_error, "client finish: " + w.error().detail);
        return;
    }
    transport_.emplace(*keys);
    handshake_.reset();  // its keys are not needed any more
    state_ = ConnectionState::logging_in;
}

Result<Bytes> Connection::client_payload() const
{
    const DeviceCredentials& c = *credentials_;
    if (c.jid) {
        std::uint64_t user = 0;
        const std::string& text = c.jid->user();
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), user);
        if (ec != std::errc{} || end != text.data() + text.size() ||
            c.jid->server() != binary::kServerPhone) {
            return make_error(Errc::malformed, "the stored JID is not a phone-number JID");
        }
        return proto::serialize(proto::login_payload(user, c.jid->device(), config_.client));
    }
    proto::RegistrationKeys keys;
    keys.registration_id = c.registration_id;
    keys.identity_public = c.identity_key.public_key;
    keys.signed_prekey_id = c.signed_prekey.id;
    keys.signed_prekey_public = c.signed_prekey.key.public_key;
    keys.signed_prekey_signature = c.signed_prekey.signature;
    auto payload = proto::registration_payload(keys, config_.companion, config_.client);
    if (!payload) return payload.error();
    return proto::serialize(*payload);
}

// Dispatch from the view: only what leaves this layer as an owned node
// (answers to our IQs, server requests, <success>, the rare stream end) is
// copied; a stanza goes up as the view, with its frame.
void Connection::on_node(const binary::NodeView& node, std::shared_ptr<ReceivedFrame> frame,
                         Millis now)
{
    const std::string_view tag = node.tag();

    if (tag == "iq") {
        if (auto outcome = iq_.match(node)) {
            on_iq_outcome(std::move(*outcome), now);
            return;
        }
        const bool get = attr_is(node, "type", "get");
        if (get && attr_is(node, "xmlns", "urn:xmpp:ping")) {
            // The server's own keepalive: answer it, or it drops us.
            if (auto id = node.attr("id"); id && id->size() != 0) {
                binary::Node pong("iq");
                pong.set_attr("to", binary::server_jid());
                pong.set_attr("id", id->owned());
                pong.set_attr("type", "result");
                (void)send_node(pong);
            }
            return;
        }
        if (get || attr_is(node, "type", "set")) {
            if (state_ == ConnectionState::logging_in && node.child("pair-device") != nullptr &&
                is_from_server(node)) {
                state_ = ConnectionState::pairing;
            }
            emit(event::ServerRequest{node.owned()});
            return;
        }
        // An answer to nothing pending: late (timed out) or not ours.
        return;
    }
    if (tag == "success") {
        if (state_ == ConnectionState::connected) {
            emit(event::ProtocolError{make_error(Errc::malformed, "a second <success>")});
            return;
        }
        state_ = ConnectionState::connected;
        connected_since_ = now;
        schedule_ping(now);
        emit(event::LoggedIn{node.owned()});
        return;
    }
    if (tag == "failure") {
        finish(classify_failure(node.owned()));
        return;
    }
    if (tag == "stream:error") {
        finish(classify_stream_error(node.owned()));
        return;
    }
    if (tag == "xmlstreamend") {
        finish(StreamEnd{EndKind::transient, 0, "the server ended the stream"});
        return;
    }
    if (tag == "ib") {
        on_ib(node, std::move(frame));
        return;
    }
    deliver_stanza(node, std::move(frame));
}

void Connection::on_ib(const binary::NodeView& node, std::shared_ptr<ReceivedFrame> frame)
{
    const auto kids = node.children();
    bool other = kids.empty();
    for (const binary::NodeView& child : kids) {
        if (child.tag() == "offline") {
            int count = 0;
            if (auto v = child.attr("count"); v && !v->is_jid()) {
                std::from_chars(v->text.data(), v->text.data() + v->text.size(), count);
            }
            offline_done_ = true;
            emit(event::OfflineDone{count});
        } else if (child.tag() == "edge_routing") {
            const binary::NodeView* info = child.child("routing_info");
            const auto bytes = info != nullptr ? info->bytes() : std::nullopt;
            if (bytes && !bytes->empty() && bytes->size() <= noise::max_frame_size) {
                emit(event::RoutingInfo{Bytes(bytes->begin(), bytes->end())});
            } else {
                emit(event::ProtocolError{
                    make_error(Errc::malformed, "edge_routing without routing_info bytes")});
            }
        } else {
            other = true;
        }
    }
    if (other) deliver_stanza(node, std::move(frame));
}

void Connection::deliver_stanza(const binary::NodeView& node, std::shared_ptr<ReceivedFrame> frame)
{
    AckState ack = AckState::not_needed;
    if (needs_ack(node)) {
        const bool deferred = (node.tag() == "message" && config_.defer_message_acks) ||
                              (node.tag() == "receipt" && attr_is(node, "type", "retry"));
        if (deferred) {
            // The ack itself is the owner's; only check it can be built.
            if (!addressable(node)) {
                emit(event::ProtocolError{build_ack(node).error()});
                return;
            }
            ack = AckState::deferred;
            deferred_.insert(ack_key(node));
        } else {
            auto built = build_ack(node);
            if (!built) {
                // Nothing to address an ack to: the stanza cannot be trusted
                // to be what it says, so it is not handed on either.
                emit(event::ProtocolError{built.error()});
                return;
            }
            if (Status s = send_node(*built); !s) {
                emit(event::ProtocolError{s.error()});
                return;
            }
            ack = AckState::sent;
        }
    }
    emit(event::Stanza{node, ack, std::move(frame)});
}

void Connection::on_iq_outcome(IqOutcome outcome, Millis now)
{
    if (ping_id_ && outcome.id == *ping_id_) {
        ping_id_.reset();
        if (outcome.kind == IqOutcome::Kind::timeout && last_received_ <= ping_sent_) {
            // Not the pong, and not a byte of anything else since the ping.
            emit(event::ConnectionDead{now - last_received_});
            finish(StreamEnd{EndKind::transient, 0, "keepalive: no answer from the server"});
            return;
        }
        // Answered (even with an error, the server is there), or the server
        // is busy sending other things: keep pinging.
        if (outcome.kind != IqOutcome::Kind::dropped) schedule_ping(now);
        return;
    }
    emit(event::IqAnswered{std::move(outcome)});
}

void Connection::on_timer(Millis now)
{
    if (state_ == ConnectionState::idle || state_ == ConnectionState::closed) return;
    if ((state_ == ConnectionState::handshake || state_ == ConnectionState::logging_in) &&
        now >= handshake_deadline_) {
        fail(EndKind::transient, "login timed out");
        return;
    }
    for (IqOutcome& outcome : iq_.expire(now)) {
        on_iq_outcome(std::move(outcome), now);
        if (state_ == ConnectionState::closed) return;
    }
    if (next_ping_ && now >= *next_ping_) {
        send_ping(now);
    }
}

void Connection::schedule_ping(Millis now)
{
    Millis spread = std::max<Millis>(config_.keepalive_max - config_.keepalive_min, 0);
    std::uint8_t r[4]{};
    Millis jitter = 0;
    if (random_ && random_(std::span<std::uint8_t>(r)).ok() && spread > 0) {
        const std::uint32_t v = (std::uint32_t(r[0]) << 24) | (std::uint32_t(r[1]) << 16) |
                                (std::uint32_t(r[2]) << 8) | r[3];
        jitter = static_cast<Millis>(v % static_cast<std::uint64_t>(spread + 1));
    }
    next_ping_ = now + config_.keepalive_min + jitter;
}

void Connection::send_ping(Millis now)
{
    next_ping_.reset();
    binary::Node ping("iq");
    ping.set_attr("to", binary::server_jid());
    ping.set_attr("type", "get");
    ping.set_attr("xmlns", "w:p");
    ping.content = binary::Children{binary::Node("ping")};
    auto id = send_iq(std::move(ping), now, ping_cookie, config_.keepalive_timeout);
    if (!id) {
        fail(EndKind::protocol_error, "keepalive: " + id.error().detail);
        return;
    }
    ping_id_ = *id;
    ping_sent_ = now;
}

void Connection::socket_closed(Millis now, std::string reason)
{
    if (state_ == ConnectionState::closed) return;
    (void)now;
    fail(EndKind::transient, std::move(reason));
}

void Connection::close(Millis now)
{
    if (state_ == ConnectionState::closed) return;
    (void)now;
    fail(EndKind::local_close, "closed by us");
}

Status Connection::send_node(const binary::Node& node)
{
    if (!transport_ || state_ == ConnectionState::closed) {
        return make_error(Errc::wrong_state,
                          std::string("connection: cannot send while ") +
                              std::string(connection_state_name(state_)));
    }
    // Scratch buffers reused send after send: an ack per stanza read is
    // the receive loop's commonest write.
    plain_out_.assign(1, 0);  // the flags byte: not compressed
    if (Status s = binary::encode_node(node, plain_out_); !s) return s;
    sealed_out_.clear();
    if (Status s = transport_->encrypt(plain_out_, sealed_out_); !s) return s;
    return write_frame(sealed_out_);
}

Result<std::string> Connection::send_iq(binary::Node iq, Millis now, std::uint64_t cookie,
                                        std::optional<Millis> timeout)
{
    if (!transport_ || state_ == ConnectionState::closed) {
        return make_error(Errc::wrong_state, "connection: cannot send an iq now");
    }
    auto id = iq_.prepare(iq, now, timeout.value_or(config_.iq_timeout), cookie);
    if (!id) return id.error();
    if (Status s = send_node(iq); !s) {
        // Never sent: it must not time out later as if it had been.
        iq_.forget(*id);
        return s.error();
    }
    return id;
}

Status Connection::send_ack(const binary::Node& stanza, int error)
{
    auto ack = build_ack(stanza, error);
    if (!ack) return ack.error();
    Status sent = send_node(*ack);
    if (sent) deferred_.erase(ack_key(stanza));
    return sent;
}

Status Connection::send_ack(const binary::NodeView& stanza, int error)
{
    auto ack = build_ack(stanza, error);
    if (!ack) return ack.error();
    Status sent = send_node(*ack);
    if (sent) deferred_.erase(ack_key(stanza));
    return sent;
}

std::vector<Bytes> Connection::take_messages()
{
    return std::exchange(out_, {});
}

std::optional<Event> Connection::poll_event()
{
    if (events_.empty()) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
}

std::optional<Millis> Connection::next_timer() const
{
    if (state_ == ConnectionState::idle || state_ == ConnectionState::closed) return std::nullopt;
    std::optional<Millis> next;
    auto consider = [&](std::optional<Millis> t) {
        if (t && (!next || *t < *next)) next = t;
    };
    if (state_ == ConnectionState::handshake || state_ == ConnectionState::logging_in) {
        consider(handshake_deadline_);
    }
    consider(iq_.next_deadline());
    consider(next_ping_);
    return next;
}

Status Connection::write_frame(ByteView body)
{
    Bytes message;
    if (Status s = writer_->append_frame(body, message); !s) return s;
    out_.push_back(std::move(message));
    return Done{};
}

void Connection::finish(StreamEnd end)
{
    if (state_ == ConnectionState::closed) return;
    state_ = ConnectionState::closed;
    next_ping_.reset();
    deferred_.clear();  // the server redelivers them on the next connection
    const std::optional<std::string> ping = std::exchange(ping_id_, std::nullopt);
    for (IqOutcome& outcome : iq_.cancel_all()) {
        if (ping && outcome.id == *ping) continue;  // ours, not the owner's
        emit(event::IqAnswered{std::move(outcome)});
    }
    emit(event::Closed{std::move(end)});
}

void Connection::fail(EndKind kind, std::string detail)
{
    finish(StreamEnd{kind, 0, std::move(detail)});
}

}  // namespace chatwoot::wa::session
