#include "wa/noise/frame_codec.hpp"

#include <algorithm>
#include <string>

namespace chatwoot::wa::noise {

FrameWriter::FrameWriter(ByteView header) : header_(header.begin(), header.end()) {}

Status FrameWriter::append_frame(ByteView body, Bytes& out)
{
    if (body.size() > max_frame_size)
        return make_error(Errc::too_large, "frame body of " + std::to_string(body.size()) +
                                               " bytes does not fit a 3-byte length");
    const bool with_header = !header_sent_;
    // No exact reserve: callers append many frames to one buffer, and
    // reserving the exact size each time would defeat geometric growth.
    if (with_header) out.insert(out.end(), header_.begin(), header_.end());
    const auto n = static_cast<std::uint32_t>(body.size());
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
    out.insert(out.end(), body.begin(), body.end());
    header_sent_ = true;
    return Done{};
}

FrameReassembler::FrameReassembler(std::size_t limit) : limit_(std::min(limit, max_frame_size)) {}

void FrameReassembler::feed(ByteView chunk)
{
    if (failure_) return;  // nothing after a bad length can be framed
    // Drop what has been handed out; usually nothing or a partial frame
    // remains, so the move is short and the capacity is kept.
    if (read_ > 0) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_));
        read_ = 0;
    }
    buffer_.insert(buffer_.end(), chunk.begin(), chunk.end());
}

Result<std::optional<ByteView>> FrameReassembler::next()
{
    if (failure_) return *failure_;
    const std::size_t available = buffer_.size() - read_;
    if (available < frame_length_size) return std::optional<ByteView>{};
    const std::uint8_t* p = buffer_.data() + read_;
    const std::size_t size = (std::size_t{p[0]} << 16) | (std::size_t{p[1]} << 8) | p[2];
    if (size > limit_) {
        failure_ = make_error(Errc::too_large, "incoming frame of " + std::to_string(size) +
                                                   " bytes, limit " + std::to_string(limit_));
        return *failure_;
    }
    if (available - frame_length_size < size) return std::optional<ByteView>{};
    read_ += frame_length_size + size;
    return std::optional<ByteView>{ByteView(p + frame_length_size, size)};
}

}  // namespace chatwoot::wa::noise
