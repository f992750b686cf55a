#include "wa/noise/transport.hpp"

#include <limits>
#include <string>

#include "wa/crypto/aes.hpp"
#include "wa/noise/symmetric_state.hpp"

namespace chatwoot::wa::noise {

NoiseTransport::NoiseTransport(const TransportKeys& keys)
    : write_key_(keys.write), read_key_(keys.read)
{
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
    auto ct =
        crypto::aes256_gcm_encrypt(write_key_, noise_nonce(write_counter_), plaintext, ByteView{});
    if (!ct) {
        dead_ = true;
        return make_error(ct.error().code, "noise transport: encrypt: " + ct.error().detail);
    }
    ++write_counter_;
    if (out.empty())
        out = std::move(*ct);
    else
        out.insert(out.end(), ct->begin(), ct->end());
    return Done{};
}

Status NoiseTransport::decrypt(ByteView frame_body, Bytes& out)
{
    if (Status s = usable(read_counter_); !s) return s;
    auto pt =
        crypto::aes256_gcm_decrypt(read_key_, noise_nonce(read_counter_), frame_body, ByteView{});
    if (!pt) {
        dead_ = true;
        return make_error(
            pt.error().code,
            "noise transport: frame " + std::to_string(read_counter_) + ": " + pt.error().detail);
    }
    ++read_counter_;
    out = std::move(*pt);
    return Done{};
}

}  // namespace chatwoot::wa::noise
