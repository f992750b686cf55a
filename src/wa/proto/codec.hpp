// Parsing network bytes into our generated messages, and back, with the
// layers' Result values instead of protobuf's bools.
//
// Every message of the subset comes from a peer, so parsing is hostile
// input: protobuf bounds nesting (100 levels) and rejects malformed wire
// data; we add the size check and a detail that names the message type.
#pragma once

#include <google/protobuf/message_lite.h>

#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::proto {

// Replaces `out` with the message in `bytes`.  Errc::malformed when the
// bytes are not a valid encoding, Errc::too_large above 2 GiB.
Status parse_into(google::protobuf::MessageLite& out, ByteView bytes);

template <class M>
Result<M> parse(ByteView bytes)
{
    M message;
    Status status = parse_into(message, bytes);
    if (!status) return status.error();
    return message;
}

// The encoding of `message`; fields in field-number order, as protobufjs
// and Go write them, so equal messages give equal bytes.
Bytes serialize(const google::protobuf::MessageLite& message);

// Appends the encoding to `out`, reusing its capacity.
void serialize_append(const google::protobuf::MessageLite& message, Bytes& out);

}  // namespace chatwoot::wa::proto
