#include "wa/noise/transport.hpp"

#include <limits>
#include <string>

#include "wa/crypto/aes.hpp"
#include "wa/noise/symmetric_state.hpp"

namespace chatwoot::wa::noise {

NoiseTransport::NoiseTransport(const TransportKeys& keys)
{
    auto w = crypto::GcmKey::create(keys.write);
    auto r = crypto::GcmKey::create(keys.read);
    if (w && r) {
        write_.emplace(std::move(*w));
        read_.emplace(std::move(*r));
    } else {
        dead_ = true;   // every call reports it
    }
}

Status NoiseTransport::usable(std::uint32_t counter) const
{
    if (dead_) return make_error(Errc::wrong_state, "noise transport: session is dead");
    // The nonce carries 32 bits; reusing one would break GCM, so the last
    // value is never used and the session must be renewed instead.
    if (counter == std::numeric_limits<std::uint32_t>::max())
        return make_error(Errc::wrong_state, "noise transport: nonce counter exhausted");
    return Done{};
}

Status NoiseTransport::encrypt(ByteView plaintext, Bytes& out)
{
    if (Status s = usable(write_counter_); !s) return s;
    const auto nonce = noise_nonce(write_counter_);
    if (Status s = write_->encrypt(nonce, plaintext, ByteView{}, out); !s) {
        dead_ = true;
        return make_error(s.error().code, "noise transport: encrypt: " + s.error().detail);
    }
    ++write_counter_;
    return Done{};
}

Status NoiseTransport::decrypt(ByteView frame_body, Bytes& out)
{
    if (Status s = usable(read_counter_); !s) return s;
    const auto nonce = noise_nonce(read_counter_);
    if (Status s = read_->decrypt(nonce, frame_body, ByteView{}, out); !s) {
        dead_ = true;
        return make_error(
            s.error().code,
            "noise transport: frame " + std::to_string(read_counter_) + ": " + s.error().detail);
    }
    ++read_counter_;
    return Done{};
}

}  // namespace chatwoot::wa::noise
