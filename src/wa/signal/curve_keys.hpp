// Our raw 32-byte key pairs as libsignal's ec_* objects, and back.
// (Internal to the signal/ layer.)
#pragma once

#include <curve.h>

#include "wa/crypto/x25519.hpp"
#include "wa/error.hpp"
#include "wa/signal/signal_ref.hpp"

namespace chatwoot::wa::signal {

// libsignal's public key from a raw one (0x05 prepended).
Result<SignalRef<ec_public_key>> ec_public_of(const crypto::Key32& public_key);

// libsignal's pair from ours; the halves are taken as given (not
// re-derived), so a record stores exactly the keys we hold.
Result<SignalRef<ec_key_pair>> ec_pair_of(const crypto::KeyPair& pair);

// The raw public key of libsignal's (which is 0x05 + 32 bytes).
Result<crypto::Key32> raw_public_of(const ec_public_key* key);

// Our pair from libsignal's.
Result<crypto::KeyPair> key_pair_of(const ec_key_pair* pair);

}  // namespace chatwoot::wa::signal
