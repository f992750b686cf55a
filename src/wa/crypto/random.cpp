#include "wa/crypto/random.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <memory>

#include "wa/crypto/hash.hpp"
#include "wa/crypto/openssl_util.hpp"

namespace chatwoot::wa::crypto {

RandomSource system_random()
{
    return [](std::span<std::uint8_t> out) -> Status {
        // RAND_bytes takes an int length; feed big requests in pieces.
        while (!out.empty()) {
            std::size_t n = std::min<std::size_t>(out.size(), INT_MAX);
            if (RAND_bytes(out.data(), static_cast<int>(n)) != 1)
                return detail::openssl_error("RAND_bytes");
            out = out.subspan(n);
        }
        return Done{};
    };
}

RandomSource replay_random(Bytes script)
{
    struct State {
        Bytes script;
        std::size_t pos = 0;
    };
    auto state = std::make_shared<State>(State{std::move(script), 0});
    return [state](std::span<std::uint8_t> out) -> Status {
        std::size_t left = state->script.size() - state->pos;
        if (out.size() > left)
            return make_error(Errc::crypto_failure, "replayed randomness exhausted: asked " +
                                                        std::to_string(out.size()) + ", " +
                                                        std::to_string(left) + " left");
        std::copy_n(state->script.begin() + static_cast<std::ptrdiff_t>(state->pos), out.size(),
                    out.begin());
        state->pos += out.size();
        return Done{};
    };
}

RandomSource seeded_random(ByteView seed)
{
    struct State {
        Bytes seed;
        std::uint64_t block = 0;
        Digest32 buffer{};
        std::size_t used = sizeof(Digest32);
    };
    auto state = std::make_shared<State>();
    state->seed.assign(seed.begin(), seed.end());
    return [state](std::span<std::uint8_t> out) -> Status {
        for (std::uint8_t& b : out) {
            if (state->used == state->buffer.size()) {
                Sha256 h;
                h.update(state->seed);
                std::uint8_t counter[8];
                for (int i = 0; i < 8; ++i)
                    counter[i] = static_cast<std::uint8_t>(state->block >> (56 - 8 * i));
                h.update(counter);
                state->buffer = h.finish();
                ++state->block;
                state->used = 0;
            }
            b = state->buffer[state->used++];
        }
        return Done{};
    };
}

Result<Bytes> random_bytes(const RandomSource& random, std::size_t n)
{
    Bytes out(n);
    if (!random) return make_error(Errc::wrong_state, "no random source");
    Status s = random(out);
    if (!s) return s.error();
    return out;
}

}  // namespace chatwoot::wa::crypto
