// The random padding around a v=2 message plaintext (waweb.md section 1.14).
//
// The sender appends N bytes of value N to the Message protobuf before
// encrypting.  We send N = 1..16 from one random byte (its low nibble plus
// one), as Baileys does; whatsmeow sends 1..15.
//
// Unpadding is strict about form and loose about length: the last byte N
// must be at least 1 and at most the whole plaintext, and all N bytes must
// be N.  N is not capped at 16: the padding sits inside the authenticated
// ciphertext, so a cap protects nothing and would only drop messages from
// a client that pads more than the ones we know.
#pragma once

#include "wa/bytes.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::signal {

inline constexpr std::size_t kMaxSentPadding = 16;

// `message` with 1..16 padding bytes; fails only when `random` does.
Result<Bytes> pad_message(ByteView message, const crypto::RandomSource& random);

// The message inside `padded` (a view into it).  Errc::truncated for an
// empty input, Errc::malformed for a pad length of 0, longer than the
// input, or pad bytes that differ from it.
Result<ByteView> unpad_message(ByteView padded);

}  // namespace chatwoot::wa::signal
