// Node -> bytes, exactly as the reference encoders write them (Baileys and
// the whatsapp-rust bridge agree byte for byte; t/unit/wa/vectors.json).
//
// Strings: a token if one matches, else NIBBLE_8 for up to 127 characters
// of [0-9-.], else HEX_8 for up to 127 of [0-9A-F], else raw BINARY_8/20/32.
// Lists: LIST_EMPTY, LIST_8, LIST_16.  The empty string is written as
// BINARY_8 0 (not skipped), so it decodes back to an empty attribute.
#pragma once

#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::binary {

// Appends the encoded node (no flags byte) to `out`.  Fails, leaving `out`
// with a partial node, on what the format cannot carry: an empty tag, a
// list over 65535 items, a JID text its form cannot hold (an AD_JID server
// without a domain byte, a device over 255), a string of 4 GiB or more.
Status encode_node(const Node& node, Bytes& out);

// A frame payload: the 0x00 flags byte (uncompressed), then the node.
Result<Bytes> encode(const Node& node);

}  // namespace chatwoot::wa::binary
