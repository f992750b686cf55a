#include "wa/pairing/qr_code.hpp"

#include <cstdint>
#include <string>
#include <utility>

namespace chatwoot::wa::pairing {

namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

Status check_key(std::string_view name, ByteView key)
{
    if (key.size() != 32) {
        return make_error(Errc::malformed,
                          "qr: " + std::string(name) + " is " + std::to_string(key.size()) +
                              " bytes, not 32");
    }
    return Done{};
}

}  // namespace

std::string_view platform_id(CompanionPlatform platform)
{
    switch (platform) {
    case CompanionPlatform::chrome:
        return "1";
    case CompanionPlatform::edge:
        return "2";
    case CompanionPlatform::firefox:
        return "3";
    case CompanionPlatform::ie:
        return "4";
    case CompanionPlatform::opera:
        return "5";
    case CompanionPlatform::safari:
        return "6";
    case CompanionPlatform::electron:
        return "7";
    case CompanionPlatform::uwp:
        return "8";
    case CompanionPlatform::other_web:
        return "9";
    case CompanionPlatform::macos:
        return "c";
    case CompanionPlatform::android:
        return "e";
    }
    return "9";
}

std::string base64_encode(ByteView bytes)
{
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    // Three bytes make four characters of six bits each.
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) |
                                (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        out += kBase64Alphabet[(v >> 18) & 63];
        out += kBase64Alphabet[(v >> 12) & 63];
        out += kBase64Alphabet[(v >> 6) & 63];
        out += kBase64Alphabet[v & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{bytes[i]} << 16;
        out += kBase64Alphabet[(v >> 18) & 63];
        out += kBase64Alphabet[(v >> 12) & 63];
        out += "==";
    } else if (rest == 2) {
        const std::uint32_t v =
            (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
        out += kBase64Alphabet[(v >> 18) & 63];
        out += kBase64Alphabet[(v >> 12) & 63];
        out += kBase64Alphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

Result<std::string> qr_text(const QrFields& fields)
{
    if (fields.ref.empty()) {
        return make_error(Errc::malformed, "qr: empty ref");
    }
    if (fields.ref.find(',') != std::string_view::npos) {
        return make_error(Errc::malformed, "qr: ref holds a ','");
    }
    for (auto [name, key] : {std::pair{"noise public key", fields.noise_public},
                             std::pair{"identity public key", fields.identity_public},
                             std::pair{"adv secret", fields.adv_secret}}) {
        Status st = check_key(name, key);
        if (!st) {
            return st.error();
        }
    }

    std::string out(qr_prefix);
    out += fields.ref;
    out += ',';
    out += base64_encode(fields.noise_public);
    out += ',';
    out += base64_encode(fields.identity_public);
    out += ',';
    out += base64_encode(fields.adv_secret);
    out += ',';
    out += platform_id(fields.platform);
    return out;
}

}  // namespace chatwoot::wa::pairing
