// Our pre-keys as the records the ProtocolStore keeps.
//
// libsignal reads pre-keys back from the store in its own serialized form
// (a PreKeyRecordStructure / SignedPreKeyRecordStructure protobuf), so that
// is what we write.  Parsing them back gives the public halves for a new
// upload after a restart.
#pragma once

#include <span>

#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/protocol_store.hpp"

namespace chatwoot::wa::signal {

Result<Bytes> serialize_pre_key(const PreKey& key);
Result<Bytes> serialize_signed_pre_key(const SignedPreKey& key);

// Records from the store (or anywhere): Errc::malformed for bytes that are
// not one, or whose keys are not 32 bytes.
Result<PreKey> parse_pre_key(ByteView record);
Result<SignedPreKey> parse_signed_pre_key(ByteView record);

// Serialize and store, stopping at the first failure.
Status store_pre_keys(ProtocolStore& store, std::span<const PreKey> keys);
Status store_signed_pre_key(ProtocolStore& store, const SignedPreKey& key);

}  // namespace chatwoot::wa::signal
