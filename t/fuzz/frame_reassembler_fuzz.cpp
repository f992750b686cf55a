// Fuzzes the Noise frame reassembler with a stream cut into chunks whose
// sizes the input chooses, and checks it against a one-pass reference
// reading of the same stream: same frames in the same order, the same
// oversize error at the same place, the same bytes left over.
//
// Input layout: byte 0 = n (mod 16), the next n bytes are chunk sizes used
// in turn (0 counts as 1), the rest is the stream.  With n = 0 the stream
// arrives in one piece.  The frame limit is small so oversize frames occur.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "wa/noise/frame_codec.hpp"

namespace {

using chatwoot::wa::Bytes;
using chatwoot::wa::ByteView;
using chatwoot::wa::Errc;
using chatwoot::wa::noise::FrameReassembler;

constexpr std::size_t limit = 4096;

struct Reading {
    std::vector<Bytes> frames;
    bool too_large = false;
    std::size_t leftover = 0;
};

// The stream read in one pass, the obvious way.
Reading reference(ByteView stream)
{
    Reading r;
    std::size_t pos = 0;
    while (stream.size() - pos >= 3) {
        const std::size_t n = (std::size_t{stream[pos]} << 16) |
                              (std::size_t{stream[pos + 1]} << 8) | stream[pos + 2];
        if (n > limit) {
            r.too_large = true;
            return r;
        }
        if (stream.size() - pos - 3 < n) break;
        r.frames.emplace_back(stream.begin() + pos + 3, stream.begin() + pos + 3 + n);
        pos += 3 + n;
    }
    r.leftover = stream.size() - pos;
    return r;
}

void check(bool ok)
{
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0) return 0;
    const std::size_t n_sizes = std::min<std::size_t>(data[0] % 16, size - 1);
    const ByteView sizes(data + 1, n_sizes);
    const ByteView stream(data + 1 + n_sizes, size - 1 - n_sizes);

    const Reading want = reference(stream);

    FrameReassembler reassembler(limit);
    Reading got;
    std::size_t pos = 0, turn = 0;
    while (pos < stream.size() && !got.too_large) {
        std::size_t take =
            sizes.empty() ? stream.size() : std::max<std::size_t>(sizes[turn++ % sizes.size()], 1);
        take = std::min(take, stream.size() - pos);
        reassembler.feed(stream.subspan(pos, take));
        pos += take;
        for (;;) {
            auto frame = reassembler.next();
            if (!frame) {
                check(frame.error().code == Errc::too_large);
                got.too_large = true;
                break;
            }
            if (!*frame) break;
            check((*frame)->size() <= limit);
            got.frames.emplace_back((*frame)->begin(), (*frame)->end());
        }
    }
    if (!got.too_large) got.leftover = reassembler.buffered();

    check(got.too_large == want.too_large);
    check(got.frames == want.frames);
    if (!want.too_large) {
        check(got.leftover == want.leftover);
        // Frames plus their length prefixes plus the unfinished tail are
        // exactly the stream.
        std::size_t total = got.leftover;
        for (const Bytes& f : got.frames) total += 3 + f.size();
        check(total == stream.size());
    }
    return 0;
}
