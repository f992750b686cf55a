#include "wa/signal/padding.hpp"

#include <string>

namespace chatwoot::wa::signal {

Result<Bytes> pad_message(ByteView message, const crypto::RandomSource& random)
{
    Result<Bytes> r = crypto::random_bytes(random, 1);
    if (!r) return r.error();
    const std::uint8_t n = static_cast<std::uint8_t>(((*r)[0] & 0x0f) + 1);
    Bytes out;
    out.reserve(message.size() + n);
    out.assign(message.begin(), message.end());
    out.insert(out.end(), n, n);
    return out;
}

Result<ByteView> unpad_message(ByteView padded)
{
    if (padded.empty()) return make_error(Errc::truncated, "padded message is empty");
    const std::uint8_t n = padded.back();
    if (n == 0) return make_error(Errc::malformed, "pad length 0");
    if (n > padded.size())
        return make_error(Errc::malformed, "pad length " + std::to_string(n) + " over " +
                                               std::to_string(padded.size()) + " bytes");
    const std::size_t start = padded.size() - n;
    for (std::size_t i = start; i < padded.size(); ++i) {
        if (padded[i] != n)
            return make_error(Errc::malformed, "pad byte at offset " + std::to_string(i) +
                                                   " is not " + std::to_string(n));
    }
    return padded.first(padded.size() - n);
}

}  // namespace chatwoot::wa::signal
