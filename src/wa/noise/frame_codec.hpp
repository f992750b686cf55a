// The frames WhatsApp's Noise socket exchanges over a WebSocket (waweb.md
// 1.2): a 3-byte big-endian length, then the body.  The very first frame
// the client sends is preceded, once, by the 4-byte header "WA" 6 3.
//
// WebSocket messages and frames do not line up: one message may carry
// several frames or a part of one, so incoming bytes go through a
// reassembler that yields whole frames however the stream was cut.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::noise {

// 'W', 'A', the magic value 6, the token dictionary version 3.  It is also
// the Noise prologue.
inline constexpr std::array<std::uint8_t, 4> wa_header{'W', 'A', 6, 3};

inline constexpr std::size_t frame_length_size = 3;

// The largest body a 3-byte length can describe.
inline constexpr std::size_t max_frame_size = (std::size_t{1} << 24) - 1;

// Frames we send.
class FrameWriter {
public:
    // `header` is written before the first frame only (an empty header sends
    // none, e.g. for a server-side writer in tests).
    explicit FrameWriter(ByteView header = wa_header);

    // Appends [header] || u24be(size) || body to `out`.  A body over
    // max_frame_size is Errc::too_large and writes nothing.
    Status append_frame(ByteView body, Bytes& out);

    bool header_sent() const { return header_sent_; }

private:
    Bytes header_;
    bool header_sent_ = false;
};

// Frames we receive, reassembled from WebSocket messages cut anywhere.
//
//     reassembler.feed(message);
//     for (;;) {
//         auto frame = reassembler.next();
//         if (!frame) return fail(frame.error());
//         if (!*frame) break;          // needs more bytes
//         handle(**frame);
//     }
class FrameReassembler {
public:
    // Frames announcing more than `limit` bytes are refused (at most
    // max_frame_size, which a 3-byte length cannot exceed anyway).
    explicit FrameReassembler(std::size_t limit = max_frame_size);

    // Takes the next bytes of the stream.  Views returned by next() before
    // this call are invalidated.
    void feed(ByteView chunk);

    // The next whole frame body, or nullopt when the buffered bytes end
    // inside a frame.  The view stays valid until the next feed().  A length
    // over the limit is Errc::too_large, and every later call repeats it:
    // the stream cannot be resynchronised.
    Result<std::optional<ByteView>> next();

    // Bytes received but not yet returned as frames.
    std::size_t buffered() const { return buffer_.size() - read_; }

    std::size_t limit() const { return limit_; }

private:
    Bytes buffer_;
    std::size_t read_ = 0;  // start of the first unreturned byte
    std::size_t limit_;
    std::optional<Error> failure_;
};

}  // namespace chatwoot::wa::noise
