#include "wa/session/connection.hpp"

#include <algorithm>
#include <charconv>

#include "wa/binary/encoder.hpp"
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

bool is_from_server(const binary::Node& node)
{
    std::string_view from = node.attr("from").value_or("");
    if (from.starts_with('@')) from.remove_prefix(1);
    return from == binary::kServerPhone;
}

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

void Connection::on_frame(ByteView frame, Millis now)
{
    if (state_ == ConnectionState::handshake) {
        on_server_hello(frame);
        return;
    }
    if (Status s = transport_->decrypt(frame, plain_); !s) {
        // The counters no longer agree: nothing after this can be read.
        fail(EndKind::protocol_error, "transport: " + s.error().detail);
        return;
    }
    auto node = binary::decode(plain_, config_.decode_limits);
    if (!node) {
        // One bad node does not poison the stream (the frame authenticated),
        // but without an id it cannot be acked: report it and go on.
        emit(event::ProtocolError{make_error(node.error().code,
                                             "node: " + node.error().detail)});
        return;
    }
    on_node(std::move(*node), now);
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

void Connection::on_node(binary::Node node, Millis now)
{
    const std::string& tag = node.tag;

    if (tag == "iq") {
        if (auto outcome = iq_.match(node)) {
            on_iq_outcome(std::move(*outcome), now);
            return;
        }
        const auto type = node.attr("type");
        if (type == "get" && node.attr("xmlns") == "urn:xmpp:ping") {
            // The server's own keepalive: answer it, or it drops us.
            if (auto id = node.attr("id"); id && !id->empty()) {
                binary::Node pong("iq");
                pong.set_attr("to", binary::server_jid());
                pong.set_attr("id", *id);
                pong.set_attr("type", "result");
                (void)send_node(pong);
            }
            return;
        }
        if (type == "get" || type == "set") {
            if (state_ == ConnectionState::logging_in && node.child("pair-device") != nullptr &&
                is_from_server(node)) {
                state_ = ConnectionState::pairing;
            }
            emit(event::ServerRequest{std::move(node)});
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
        emit(event::LoggedIn{std::move(node)});
        return;
    }
    if (tag == "failure") {
        finish(classify_failure(node));
        return;
    }
    if (tag == "stream:error") {
        finish(classify_stream_error(node));
        return;
    }
    if (tag == "xmlstreamend") {
        finish(StreamEnd{EndKind::transient, 0, "the server ended the stream"});
        return;
    }
    if (tag == "ib") {
        on_ib(std::move(node));
        return;
    }
    deliver_stanza(std::move(node));
}

void Connection::on_ib(binary::Node node)
{
    bool other = !node.children() || node.children()->empty();
    if (const binary::Children* kids = node.children()) {
        for (const binary::Node& child : *kids) {
            if (child.tag == "offline") {
                int count = 0;
                const std::string_view text = child.attr("count").value_or("");
                std::from_chars(text.data(), text.data() + text.size(), count);
                offline_done_ = true;
                emit(event::OfflineDone{count});
            } else if (child.tag == "edge_routing") {
                const binary::Node* info = child.child("routing_info");
                const Bytes* bytes = info != nullptr ? info->bytes() : nullptr;
                if (bytes != nullptr && !bytes->empty() && bytes->size() <= noise::max_frame_size) {
                    emit(event::RoutingInfo{*bytes});
                } else {
                    emit(event::ProtocolError{
                        make_error(Errc::malformed, "edge_routing without routing_info bytes")});
                }
            } else {
                other = true;
            }
        }
    }
    if (other) deliver_stanza(std::move(node));
}

void Connection::deliver_stanza(binary::Node node)
{
    AckState ack = AckState::not_needed;
    if (needs_ack(node)) {
        const bool deferred =
            (node.tag == "message" && config_.defer_message_acks) ||
            (node.tag == "receipt" && node.attr("type") == "retry");
        auto built = build_ack(node);
        if (!built) {
            // Nothing to address an ack to: the stanza cannot be trusted
            // to be what it says, so it is not handed on either.
            emit(event::ProtocolError{built.error()});
            return;
        }
        if (deferred) {
            ack = AckState::deferred;
            deferred_.insert(ack_key(node));
        } else {
            if (Status s = send_node(*built); !s) {
                emit(event::ProtocolError{s.error()});
                return;
            }
            ack = AckState::sent;
        }
    }
    emit(event::Stanza{std::move(node), ack});
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
    auto payload = binary::encode(node);
    if (!payload) return payload.error();
    Bytes body;
    if (Status s = transport_->encrypt(*payload, body); !s) return s;
    return write_frame(body);
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
