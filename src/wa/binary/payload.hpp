// The frame payload around a node: one flags byte, and zlib when the flags
// say so (waweb.md section 8, "frame flags").
#pragma once

#include <cstddef>

#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::binary {

// A zlib stream (RFC 1950) inflated, refusing to produce more than
// max_size bytes (too_large) so a small frame cannot become gigabytes.
// The stream must end, and nothing may follow it.
Result<Bytes> inflate_bounded(ByteView zlib_stream, std::size_t max_size);

// zlib-compresses a node body and puts the compressed flag in front, as a
// server does; for tests and the mock server, never needed to talk to one.
Result<Bytes> compress_payload(ByteView node_body);

}  // namespace chatwoot::wa::binary
