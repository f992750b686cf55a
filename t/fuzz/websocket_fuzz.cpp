// Fuzzes what a hostile server can send a WebSocket client: the answer to
// the opening handshake, then frames, cut into chunks whose sizes the input
// chooses.  Checks that nothing crashes or reads out of bounds, that the
// handshake's verdict does not depend on the cuts, and that a refused frame
// always leaves our close frame last in the output.
//
// Input layout: byte 0 = n (mod 16), the next n bytes are chunk sizes used
// in turn (0 counts as 1), the rest is the stream.  The key is fixed (RFC
// 6455's sample nonce), so an input may carry a correct accept.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "wa/transport/websocket_handshake.hpp"
#include "wa/transport/websocket_session.hpp"

namespace {

using chatwoot::wa::Bytes;
using chatwoot::wa::ByteView;
namespace crypto = chatwoot::wa::crypto;
namespace transport = chatwoot::wa::transport;

struct Verdict {
    bool complete = false;
    transport::HandshakeFailure failure = transport::HandshakeFailure::none;
    std::size_t consumed = 0;  // of the whole stream, when complete
};

transport::ClientHandshake fresh_handshake()
{
    static const auto url = transport::parse_websocket_url("wss://web.whatsapp.com/ws/chat").value();
    constexpr std::string_view nonce = "the sample nonce";
    auto hs = transport::ClientHandshake::start(
        url, {}, crypto::replay_random(Bytes(nonce.begin(), nonce.end())));
    if (!hs) std::abort();
    return std::move(hs).value();
}

// The handshake fed with `stream` cut by `cuts` (sizes used in turn).
Verdict handshake(ByteView stream, const std::vector<std::size_t>& cuts)
{
    transport::ClientHandshake hs = fresh_handshake();
    Verdict v;
    std::size_t pos = 0;
    std::size_t turn = 0;
    while (pos < stream.size()) {
        std::size_t n = cuts.empty() ? stream.size() : cuts[turn++ % cuts.size()];
        n = std::min(n, stream.size() - pos);
        auto step = hs.feed(stream.subspan(pos, n));
        if (!step) break;
        if (step->consumed > n) std::abort();
        if (step->complete) {
            v.complete = true;
            v.consumed = pos + step->consumed;
            break;
        }
        pos += n;
    }
    v.failure = hs.failure();
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0) return 0;
    const std::size_t n = std::min<std::size_t>(data[0] % 16, size - 1);
    std::vector<std::size_t> cuts;
    for (std::size_t i = 0; i < n; i++) cuts.push_back(data[1 + i] == 0 ? 1 : data[1 + i]);
    const ByteView stream(data + 1 + n, size - 1 - n);

    const Verdict whole = handshake(stream, {});
    const Verdict cut = handshake(stream, cuts);
    if (whole.complete != cut.complete || whole.failure != cut.failure ||
        whole.consumed != cut.consumed)
        std::abort();  // the verdict must not depend on how bytes arrive

    // What follows a completed handshake (or the whole stream, so frames
    // get fuzzed even without a valid answer) goes to a client session.
    ByteView frames = whole.complete ? stream.subspan(whole.consumed) : stream;
    transport::WebSocketLimits limits;
    limits.max_message = 1 << 16;
    std::size_t delivered = 0;
    transport::WebSocketCallbacks cb;
    cb.on_binary = [&](ByteView m) { delivered += m.size(); };
    cb.on_text = [&](std::string_view m) { delivered += m.size(); };
    auto session = transport::WebSocketSession::client(
        crypto::seeded_random(ByteView(data, std::min<std::size_t>(size, 8))), cb, limits);
    if (!session) std::abort();
    std::size_t pos = 0;
    std::size_t turn = 0;
    bool failed = false;
    while (pos < frames.size()) {
        std::size_t k = cuts.empty() ? frames.size() : cuts[turn++ % cuts.size()];
        k = std::min(k, frames.size() - pos);
        auto st = session->receive(frames.subspan(pos, k));
        pos += k;
        if (!st) {
            failed = true;
            break;
        }
    }
    if (delivered > frames.size()) std::abort();
    if (failed) {
        // Our close frame ends the output (pongs queued before it may
        // precede it): 0x88, masked, without or with a 2-byte code.
        ByteView out = session->output();
        const std::size_t k = out.size();
        const bool ends_with_close = (k >= 6 && out[k - 6] == 0x88 && out[k - 5] == 0x80) ||
                                     (k >= 8 && out[k - 8] == 0x88 && out[k - 7] == 0x82);
        if (!session->close_sent() || !ends_with_close) std::abort();
        session->consume(out.size());
        if (!session->finished()) std::abort();
    }
    return 0;
}
