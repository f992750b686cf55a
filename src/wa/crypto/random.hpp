// Where randomness comes from: injected, never global.
//
// A RandomSource fills a buffer or fails.  The library never calls RAND_bytes
// on its own; the caller hands in system_random() in production and a
// replayed or seeded source in tests, so every key, nonce and signature can
// be reproduced byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::crypto {

using RandomSource = std::function<Status(std::span<std::uint8_t> out)>;

// OpenSSL's RAND_bytes (the system DRBG).
RandomSource system_random();

// Hands out `script` in order, then fails with Errc::crypto_failure: a test
// states exactly which random bytes an operation consumes.  Copies share the
// read position.
RandomSource replay_random(Bytes script);

// An endless deterministic stream, SHA-256(seed || u64be(block)); for tests
// that need many random bytes but do not care which.
RandomSource seeded_random(ByteView seed);

// n bytes from `random`.
Result<Bytes> random_bytes(const RandomSource& random, std::size_t n);

}  // namespace chatwoot::wa::crypto
