// Fuzzes what an operator pastes and what the server sends as JSON in the
// passkey ceremony (src/wa/pairing/passkey): the WebAuthn options, the
// pasted assertion, and base64url.  They must never read past the input
// (ASan), every refusal must say why, and what is accepted must be stable:
//   base64url    encode(decode(t)) is t without its padding
//   assertion    the plain form we send the server is itself accepted, as
//                the same credential and the same bytes
// The first byte picks the target; the rest is the text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "wa/pairing/passkey.hpp"

namespace {

using namespace chatwoot::wa;
using namespace chatwoot::wa::pairing;

// The options of t/unit/wa/passkey_vectors.json, whose assertions seed
// corpus/passkey_json/ (make-corpus.mjs): seeds made for them get through
// to the checks behind the JSON shape.
constexpr std::string_view server_options =
    R"({"challenge":"jszI7xPfUYIPDP1H_ELIg6Pc1e_LpPomc_NhzmSJ6o0","timeout":600000,"rpId":"whatsapp.com","allowCredentials":[{"type":"public-key","id":"qCijWxG3-S2-RosPiHLNFw"}],"userVerification":"required","extensions":{"uvm":true}})";

void check_refusal(const Error& e)
{
    if (e.detail.empty()) std::abort();  // every refusal says why
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size == 0) return 0;
    // A copy of exactly the text, so that a read past it is caught.
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
    case 0: {
        static const PasskeyOptions options = parse_passkey_options(server_options).value();
        auto a = check_passkey_assertion(text, options);
        if (!a.ok()) {
            check_refusal(a.error());
            break;
        }
        auto again = check_passkey_assertion(a->wire_json, options);
        if (!again.ok() || again->wire_json != a->wire_json ||
            again->credential_id != a->credential_id || again->signature != a->signature)
            std::abort();
        break;
    }
    case 1: {
        auto o = parse_passkey_options(text);
        if (!o.ok()) {
            check_refusal(o.error());
            break;
        }
        if (o->challenge.size() < 16 || o->rp_id.empty() || o->json != text) std::abort();
        break;
    }
    default: {
        auto bytes = base64url_decode(text);
        if (!bytes) break;
        std::string_view plain(text);
        while (!plain.empty() && plain.back() == '=') plain.remove_suffix(1);
        if (base64url_encode(*bytes) != plain) std::abort();
        break;
    }
    }
    return 0;
}
