#include "wa/binary/payload.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <string>

#include "wa/binary/tags.hpp"

namespace chatwoot::wa::binary {

namespace {

// zlib streams own internal buffers until their End call: tie that to scope.
class Inflater {
public:
    Inflater() { ok_ = inflateInit(&z_) == Z_OK; }
    ~Inflater()
    {
        if (ok_) {
            inflateEnd(&z_);
        }
    }
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;

    bool ok() const { return ok_; }
    z_stream* operator->() { return &z_; }
    z_stream* get() { return &z_; }

private:
    z_stream z_{};
    bool ok_ = false;
};

class Deflater {
public:
    Deflater() { ok_ = deflateInit(&z_, Z_DEFAULT_COMPRESSION) == Z_OK; }
    ~Deflater()
    {
        if (ok_) {
            deflateEnd(&z_);
        }
    }
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;

    bool ok() const { return ok_; }
    z_stream* operator->() { return &z_; }
    z_stream* get() { return &z_; }

private:
    z_stream z_{};
    bool ok_ = false;
};

// zlib counts in uInt; frames are far below that, but a caller could pass
// a larger span, so feed it in pieces.
constexpr std::size_t kMaxChunk = UINT_MAX;

}  // namespace

Result<Bytes> inflate_bounded(ByteView in, std::size_t max_size)
{
    Inflater z;
    if (!z.ok()) {
        return make_error(Errc::crypto_failure, "zlib: inflateInit failed");
    }

    Bytes out;
    // Start near a typical ratio and grow by doubling, never past the bound
    // (plus one byte, to tell "exactly max_size" from "more").
    out.resize(std::min<std::size_t>(max_size + 1, std::max<std::size_t>(256, in.size() * 4)));
    std::size_t in_done = 0;
    std::size_t out_done = 0;
    for (;;) {
        if (out_done == out.size()) {
            if (out.size() > max_size) {
                return make_error(Errc::too_large,
                                  "zlib: inflates past " + std::to_string(max_size) + " bytes");
            }
            out.resize(std::min(max_size + 1, out.size() * 2));
        }
        const std::size_t in_chunk = std::min(in.size() - in_done, kMaxChunk);
        const std::size_t out_chunk = std::min(out.size() - out_done, kMaxChunk);
        z->next_in = const_cast<Bytef*>(in.data() + in_done);
        z->avail_in = static_cast<uInt>(in_chunk);
        z->next_out = out.data() + out_done;
        z->avail_out = static_cast<uInt>(out_chunk);
        const int rc = inflate(z.get(), Z_NO_FLUSH);
        in_done += in_chunk - z->avail_in;
        out_done += out_chunk - z->avail_out;
        if (out_done > max_size) {
            return make_error(Errc::too_large,
                              "zlib: inflates past " + std::to_string(max_size) + " bytes");
        }
        if (rc == Z_STREAM_END) {
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return make_error(Errc::malformed, std::string("zlib: ") + (z->msg ? z->msg : "bad stream") +
                                                   " near input offset " + std::to_string(in_done));
        }
        if (in_done == in.size() && z->avail_out != 0) {
            // Everything consumed, room left, yet no end: the stream is cut.
            return make_error(Errc::truncated,
                              "zlib: stream ends early after " + std::to_string(in_done) + " bytes");
        }
    }
    if (in_done != in.size()) {
        return make_error(Errc::malformed, "zlib: " + std::to_string(in.size() - in_done) +
                                               " bytes after the stream");
    }
    out.resize(out_done);
    return out;
}

Result<Bytes> compress_payload(ByteView node_body)
{
    Deflater z;
    if (!z.ok()) {
        return make_error(Errc::crypto_failure, "zlib: deflateInit failed");
    }
    if (node_body.size() > kMaxChunk) {
        return make_error(Errc::too_large, "zlib: body over 4 GiB");
    }
    Bytes out(1 + deflateBound(z.get(), static_cast<uLong>(node_body.size())));
    out[0] = tag::kFlagCompressed;
    z->next_in = const_cast<Bytef*>(node_body.data());
    z->avail_in = static_cast<uInt>(node_body.size());
    z->next_out = out.data() + 1;
    z->avail_out = static_cast<uInt>(out.size() - 1);
    if (deflate(z.get(), Z_FINISH) != Z_STREAM_END) {
        return make_error(Errc::crypto_failure, "zlib: deflate did not finish");
    }
    out.resize(out.size() - z->avail_out);
    return out;
}

}  // namespace chatwoot::wa::binary
