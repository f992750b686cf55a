// Bytes -> Node, for bytes from the network: every length is checked
// against what is left, nesting and inflation are bounded, and every
// failure is an Error naming what was wrong and at which offset (counted
// in the node bytes, after the flags byte and after inflation).
//
// The decoder accepts what the reference encoders write, and refuses what
// no encoder writes and could not be encoded back to the same node:
// nested JIDs, a JID user holding '@' (or ':' in an AD_JID), AD_JID domain
// bytes outside 0/1/128/129, packed strings that are empty or longer than
// 127 characters, NIBBLE_8 values 12-15 before the pad, duplicate
// attribute keys, an empty tag, trailing bytes.  It is lenient where
// readers agree to be: the pad nibble of an odd packed string and the top
// nibble of a BINARY_20 length are ignored.  FB_JID and INTEROP_JID (Messenger and interop users)
// are reported as unsupported: the bridge has no use for them (waweb.md
// section 1.7).
#pragma once

#include <cstddef>

#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::binary {

struct DecodeLimits {
    // Real stanzas nest 5 or 6 deep.
    std::size_t max_depth = 64;
    // Real nodes carry a dozen attributes at most.
    std::size_t max_attributes = 256;
    // A compressed payload may inflate to at most this many bytes.  A frame
    // is under 16 MiB on the wire; zlib could make that 16 GiB.
    std::size_t max_inflated_size = 16u << 20;
};

// One node from the bytes after the flags byte; all of `body` must be the
// node.
Result<Node> decode_node(ByteView body, const DecodeLimits& limits = {});

// A frame payload: the flags byte, zlib-inflated when it has 0x02, then
// the node.
Result<Node> decode(ByteView payload, const DecodeLimits& limits = {});

// The same into a node the caller keeps (a session's read loop): the
// strings and vectors `out` holds from the node before are reused, which
// saves most of decoding's allocations.  On failure `out` holds a partial
// node and must not be used.
Status decode_into(ByteView payload, Node& out, const DecodeLimits& limits = {});
Status decode_node_into(ByteView body, Node& out, const DecodeLimits& limits = {});

}  // namespace chatwoot::wa::binary
