// The transport phase after the handshake (waweb.md 1.5): every frame body
// is AES-256-GCM with an empty AAD, under the write key going out and the
// read key coming in, each direction with its own message counter in the
// nonce (8 zero bytes || u32be(counter)).
//
// A frame that fails to authenticate ends the session: the counters can no
// longer be trusted to agree, so every later call is Errc::wrong_state and
// the caller must reconnect.  (whatsmeow drops such a frame and carries on;
// we prefer a clean reconnect to guessing.)
#pragma once

#include <cstdint>
#include <optional>

#include "wa/bytes.hpp"
#include "wa/crypto/gcm_key.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/error.hpp"
#include "wa/noise/handshake.hpp"

namespace chatwoot::wa::noise {

class NoiseTransport {
public:
    explicit NoiseTransport(const TransportKeys& keys);

    // Appends ciphertext || tag of one frame body to `out` (unframed: pass
    // the result to FrameWriter).  The plaintext is flags(1) || node.
    Status encrypt(ByteView plaintext, Bytes& out);

    // Replaces `out` with the plaintext of one received frame body.  A body
    // shorter than the tag is Errc::truncated, a tag that does not verify
    // Errc::bad_mac; both kill the session.
    Status decrypt(ByteView frame_body, Bytes& out);

    bool dead() const { return dead_; }
    std::uint32_t sent() const { return write_counter_; }
    std::uint32_t received() const { return read_counter_; }

private:
    Status usable(std::uint32_t counter) const;

    // Set up once per session: a key schedule per frame would cost more
    // than the frame.  Empty only if OpenSSL could not set them up.
    std::optional<crypto::GcmKey> write_;
    std::optional<crypto::GcmKey> read_;
    std::uint32_t write_counter_ = 0;
    std::uint32_t read_counter_ = 0;
    bool dead_ = false;
};

}  // namespace chatwoot::wa::noise
