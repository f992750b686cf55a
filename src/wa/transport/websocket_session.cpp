#include "wa/transport/websocket_session.hpp"

#include <wslay/wslay.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <new>
#include <optional>

namespace chatwoot::wa::transport {

namespace {

struct ContextFree {
    void operator()(wslay_event_context* ctx) const noexcept { wslay_event_context_free(ctx); }
};
using Context = std::unique_ptr<wslay_event_context, ContextFree>;

// A close code we may send (RFC 6455 7.4.1, 7.4.2): the ones defined for
// use in a close frame and the registered and private ranges; wslay itself
// refuses any other when it receives one.
bool sendable_close_code(std::uint16_t code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

constexpr std::size_t max_control_payload = 125;

}  // namespace

// A binary message sent in frames of a chosen size: wslay pulls its bytes
// through read_fragment() as it frames them.
struct Fragmenter {
    Bytes data;
    std::size_t pos = 0;
    std::size_t fragment_size = 0;
    bool done = false;
};

struct WebSocketSession::Impl {
    Context ctx;
    crypto::RandomSource random;
    WebSocketCallbacks callbacks;

    ByteView input;             // what receive() is feeding wslay
    std::size_t input_pos = 0;
    bool in_receive = false;

    Bytes out;                  // framed bytes not yet written
    std::size_t out_pos = 0;

    std::list<Fragmenter> fragments;  // stable addresses for wslay's source
    std::optional<Error> callback_error;
    std::optional<Error> failure;     // sticky: the connection is unusable

    static ssize_t on_recv(wslay_event_context_ptr ctx, std::uint8_t* buf, std::size_t len,
                           int, void* self) noexcept;
    static ssize_t on_send(wslay_event_context_ptr ctx, const std::uint8_t* data,
                           std::size_t len, int, void* self) noexcept;
    static int on_genmask(wslay_event_context_ptr ctx, std::uint8_t* buf, std::size_t len,
                          void* self) noexcept;
    static void on_message(wslay_event_context_ptr ctx, const wslay_event_on_msg_recv_arg* arg,
                           void* self) noexcept;
    static ssize_t read_fragment(wslay_event_context_ptr ctx, std::uint8_t* buf,
                                 std::size_t len, const wslay_event_msg_source* source,
                                 int* eof, void* self) noexcept;

    void deliver(const wslay_event_on_msg_recv_arg& arg);
    Status flush();
    Status queued(int rv, const char* what);
};

ssize_t WebSocketSession::Impl::on_recv(wslay_event_context_ptr ctx, std::uint8_t* buf,
                                        std::size_t len, int, void* self) noexcept
{
    auto* s = static_cast<Impl*>(self);
    const std::size_t left = s->input.size() - s->input_pos;
    if (left == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    const std::size_t n = std::min(left, len);
    std::memcpy(buf, s->input.data() + s->input_pos, n);
    s->input_pos += n;
    return static_cast<ssize_t>(n);
}

ssize_t WebSocketSession::Impl::on_send(wslay_event_context_ptr ctx, const std::uint8_t* data,
                                        std::size_t len, int, void* self) noexcept
{
    auto* s = static_cast<Impl*>(self);
    try {
        s->out.insert(s->out.end(), data, data + len);
    } catch (...) {
        s->callback_error = make_error(Errc::too_large, "no memory for outgoing frames");
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return static_cast<ssize_t>(len);
}

int WebSocketSession::Impl::on_genmask(wslay_event_context_ptr ctx, std::uint8_t* buf,
                                       std::size_t len, void* self) noexcept
{
    auto* s = static_cast<Impl*>(self);
    try {
        Status st = s->random(std::span<std::uint8_t>(buf, len));
        if (st) return 0;
        s->callback_error = make_error(st.error().code, "frame mask: " + st.error().detail);
    } catch (...) {
        s->callback_error = make_error(Errc::crypto_failure, "frame mask: randomness threw");
    }
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

ssize_t WebSocketSession::Impl::read_fragment(wslay_event_context_ptr, std::uint8_t* buf,
                                              std::size_t len,
                                              const wslay_event_msg_source* source, int* eof,
                                              void*) noexcept
{
    auto* f = static_cast<Fragmenter*>(source->data);
    const std::size_t n = std::min({len, f->fragment_size, f->data.size() - f->pos});
    std::memcpy(buf, f->data.data() + f->pos, n);
    f->pos += n;
    // The last bytes and the end go together: wslay takes a read of 0
    // bytes as "nothing yet" and would wait for more.
    if (f->pos == f->data.size()) {
        *eof = 1;
        f->done = true;
    }
    return static_cast<ssize_t>(n);
}

void WebSocketSession::Impl::on_message(wslay_event_context_ptr ctx,
                                        const wslay_event_on_msg_recv_arg* arg,
                                        void* self) noexcept
{
    auto* s = static_cast<Impl*>(self);
    if (s->callback_error) return;  // reading stops after a failed callback
    try {
        s->deliver(*arg);
        return;
    } catch (const std::exception& e) {
        s->callback_error = make_error(Errc::wrong_state,
                                       std::string("a WebSocket callback failed: ") + e.what());
    } catch (...) {
        s->callback_error = make_error(Errc::wrong_state, "a WebSocket callback failed");
    }
    // Our own failure: tell the peer (1011) and read no more.
    wslay_event_shutdown_read(ctx);
    (void) wslay_event_queue_close(ctx, WSLAY_CODE_INTERNAL_SERVER_ERROR, nullptr, 0);
}

void WebSocketSession::Impl::deliver(const wslay_event_on_msg_recv_arg& arg)
{
    const ByteView payload(arg.msg, arg.msg_length);
    switch (arg.opcode) {
    case WSLAY_BINARY_FRAME:
        if (callbacks.on_binary) callbacks.on_binary(payload);
        break;
    case WSLAY_TEXT_FRAME:
        if (callbacks.on_text) callbacks.on_text(as_chars(payload));
        break;
    case WSLAY_PONG:
        if (callbacks.on_pong) callbacks.on_pong(payload);
        break;
    case WSLAY_CONNECTION_CLOSE: {
        CloseInfo info;
        info.code = arg.status_code == 0 ? std::uint16_t{WSLAY_CODE_NO_STATUS_RCVD} : arg.status_code;
        if (payload.size() > 2) info.reason.assign(as_chars(payload.subspan(2)));
        if (callbacks.on_close) callbacks.on_close(info);
        break;
    }
    default:  // pings: wslay has queued the pong
        break;
    }
}

// Frames everything wslay has queued into `out`.  Deferred while wslay is
// inside wslay_event_recv (a callback may queue a message): receive()
// flushes when it returns.
Status WebSocketSession::Impl::flush()
{
    if (in_receive) return Done{};
    const int rv = wslay_event_send(ctx.get());
    fragments.remove_if([](const Fragmenter& f) { return f.done; });
    if (rv != 0 && !failure) {
        failure = callback_error ? *callback_error
                                 : make_error(Errc::wrong_state, "wslay_event_send failed (" +
                                                                     std::to_string(rv) + ")");
    }
    if (failure && rv != 0) return *failure;
    return Done{};
}

Status WebSocketSession::Impl::queued(int rv, const char* what)
{
    switch (rv) {
    case 0:
        return flush();
    case WSLAY_ERR_NO_MORE_MSG:
        return make_error(Errc::wrong_state,
                          std::string(what) + " after the closing handshake began");
    case WSLAY_ERR_NOMEM:
        throw std::bad_alloc();
    default:
        return make_error(Errc::malformed, std::string(what) + " refused by wslay (" +
                                               std::to_string(rv) + ")");
    }
}

WebSocketSession::WebSocketSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebSocketSession::WebSocketSession(WebSocketSession&&) noexcept = default;
WebSocketSession& WebSocketSession::operator=(WebSocketSession&&) noexcept = default;
WebSocketSession::~WebSocketSession() = default;

Result<WebSocketSession> WebSocketSession::client(crypto::RandomSource mask_random,
                                                  WebSocketCallbacks callbacks,
                                                  WebSocketLimits limits)
{
    if (!mask_random) return make_error(Errc::crypto_failure, "no random source for masks");
    auto impl = std::make_unique<Impl>();
    impl->random = std::move(mask_random);
    impl->callbacks = std::move(callbacks);
    const wslay_event_callbacks c{&Impl::on_recv,  &Impl::on_send, &Impl::on_genmask, nullptr,
                                  nullptr,         nullptr,        &Impl::on_message};
    wslay_event_context_ptr ctx = nullptr;
    if (wslay_event_context_client_init(&ctx, &c, impl.get()) != 0) throw std::bad_alloc();
    impl->ctx.reset(ctx);
    wslay_event_config_set_max_recv_msg_length(ctx, limits.max_message);
    return WebSocketSession(std::move(impl));
}

Result<WebSocketSession> WebSocketSession::server(WebSocketCallbacks callbacks,
                                                  WebSocketLimits limits)
{
    auto impl = std::make_unique<Impl>();
    impl->callbacks = std::move(callbacks);
    const wslay_event_callbacks c{&Impl::on_recv, &Impl::on_send, nullptr, nullptr,
                                  nullptr,        nullptr,        &Impl::on_message};
    wslay_event_context_ptr ctx = nullptr;
    if (wslay_event_context_server_init(&ctx, &c, impl.get()) != 0) throw std::bad_alloc();
    impl->ctx.reset(ctx);
    wslay_event_config_set_max_recv_msg_length(ctx, limits.max_message);
    return WebSocketSession(std::move(impl));
}

Status WebSocketSession::receive(ByteView bytes)
{
    Impl& s = *impl_;
    if (s.failure) return *s.failure;
    wslay_event_context* ctx = s.ctx.get();
    if (!wslay_event_get_read_enabled(ctx)) return Done{};  // after the peer's close

    s.input = bytes;
    s.input_pos = 0;
    s.in_receive = true;
    const int rv = wslay_event_recv(ctx);
    s.in_receive = false;
    s.input = {};

    if (s.callback_error) {
        s.failure = *s.callback_error;
    } else if (rv == WSLAY_ERR_NOMEM) {
        throw std::bad_alloc();
    } else if (rv == WSLAY_ERR_CALLBACK_FAILURE) {
        // Our recv callback only ever says "no more bytes", so this is
        // wslay's frame parser refusing what it read (a fragmented or
        // oversized control frame, a bad length); it has queued a close.
        s.failure = make_error(Errc::malformed, "the peer broke WebSocket framing");
    } else if (rv != 0) {
        s.failure = make_error(Errc::malformed,
                               "wslay_event_recv failed (" + std::to_string(rv) + ")");
    }
    const bool violated = !s.failure && !wslay_event_get_read_enabled(ctx) &&
                          !wslay_event_get_close_received(ctx);
    Status flushed = s.flush();
    if (violated) {
        // wslay stopped reading and queued a close with the reason's code.
        const std::uint16_t code = wslay_event_get_status_code_sent(ctx);
        s.failure = make_error(
            code == WSLAY_CODE_MESSAGE_TOO_BIG ? Errc::too_large : Errc::malformed,
            "the peer broke the WebSocket protocol (we close with " + std::to_string(code) +
                ")");
    }
    if (s.failure) return *s.failure;
    return flushed;
}

Status WebSocketSession::send_binary(ByteView message, std::size_t fragment_size)
{
    Impl& s = *impl_;
    if (s.failure) return *s.failure;
    if (fragment_size == 0 || message.size() <= fragment_size) {
        const wslay_event_msg msg{WSLAY_BINARY_FRAME, message.data(), message.size()};
        return s.queued(wslay_event_queue_msg(s.ctx.get(), &msg), "a binary message");
    }
    Fragmenter& f = s.fragments.emplace_back();
    f.data.assign(message.begin(), message.end());
    f.fragment_size = fragment_size;
    wslay_event_fragmented_msg msg{};
    msg.opcode = WSLAY_BINARY_FRAME;
    msg.source.data = &f;
    msg.read_callback = &Impl::read_fragment;
    const int rv = wslay_event_queue_fragmented_msg(s.ctx.get(), &msg);
    if (rv != 0) s.fragments.pop_back();
    return s.queued(rv, "a fragmented binary message");
}

Status WebSocketSession::send_text(std::string_view message)
{
    Impl& s = *impl_;
    if (s.failure) return *s.failure;
    const ByteView bytes = as_bytes(message);
    const wslay_event_msg msg{WSLAY_TEXT_FRAME, bytes.data(), bytes.size()};
    return s.queued(wslay_event_queue_msg(s.ctx.get(), &msg), "a text message");
}

Status WebSocketSession::ping(ByteView payload)
{
    Impl& s = *impl_;
    if (s.failure) return *s.failure;
    if (payload.size() > max_control_payload)
        return make_error(Errc::too_large, "a ping payload over 125 bytes");
    const wslay_event_msg msg{WSLAY_PING, payload.data(), payload.size()};
    return s.queued(wslay_event_queue_msg(s.ctx.get(), &msg), "a ping");
}

Status WebSocketSession::close(std::uint16_t code, std::string_view reason)
{
    Impl& s = *impl_;
    if (s.failure) return *s.failure;
    if (!sendable_close_code(code))
        return make_error(Errc::malformed, "close code " + std::to_string(code) +
                                               " may not be sent");
    if (reason.size() > max_control_payload - 2)
        return make_error(Errc::too_large, "a close reason over 123 bytes");
    const ByteView r = as_bytes(reason);
    return s.queued(wslay_event_queue_close(s.ctx.get(), code, r.data(), r.size()), "a close");
}

ByteView WebSocketSession::output() const
{
    return ByteView(impl_->out).subspan(impl_->out_pos);
}

void WebSocketSession::consume(std::size_t n)
{
    Impl& s = *impl_;
    s.out_pos += std::min(n, s.out.size() - s.out_pos);
    if (s.out_pos == s.out.size()) {
        // An idle connection keeps no big buffer from a big message.
        if (s.out.capacity() > 64 * 1024) {
            Bytes().swap(s.out);
        } else {
            s.out.clear();
        }
        s.out_pos = 0;
    } else if (s.out_pos > 64 * 1024 && s.out_pos * 2 > s.out.size()) {
        // Keep the buffer from growing while a slow socket drains it.
        s.out.erase(s.out.begin(), s.out.begin() + static_cast<std::ptrdiff_t>(s.out_pos));
        s.out_pos = 0;
    }
}

bool WebSocketSession::has_output() const
{
    return impl_->out_pos < impl_->out.size();
}

bool WebSocketSession::can_read() const
{
    return wslay_event_get_read_enabled(impl_->ctx.get()) != 0 && !impl_->failure;
}

bool WebSocketSession::close_sent() const
{
    return wslay_event_get_close_sent(impl_->ctx.get()) != 0;
}

bool WebSocketSession::close_received() const
{
    return wslay_event_get_close_received(impl_->ctx.get()) != 0;
}

bool WebSocketSession::finished() const
{
    wslay_event_context* ctx = impl_->ctx.get();
    return !has_output() && !wslay_event_get_write_enabled(ctx) &&
           (!wslay_event_get_read_enabled(ctx) || impl_->failure);
}

std::uint16_t WebSocketSession::close_code_sent() const
{
    return wslay_event_get_status_code_sent(impl_->ctx.get());
}

}  // namespace chatwoot::wa::transport
