#include "wa/error.hpp"

namespace chatwoot::wa {

const char* errc_name(Errc code)
{
    switch (code) {
    case Errc::truncated: return "truncated";
    case Errc::too_large: return "too_large";
    case Errc::too_deep: return "too_deep";
    case Errc::malformed: return "malformed";
    case Errc::unsupported: return "unsupported";
    case Errc::bad_mac: return "bad_mac";
    case Errc::bad_signature: return "bad_signature";
    case Errc::untrusted: return "untrusted";
    case Errc::expired: return "expired";
    case Errc::wrong_state: return "wrong_state";
    case Errc::crypto_failure: return "crypto_failure";
    case Errc::not_found: return "not_found";
    case Errc::store_failure: return "store_failure";
    }
    return "unknown";
}

}  // namespace chatwoot::wa
