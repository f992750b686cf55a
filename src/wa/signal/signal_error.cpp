#include "wa/signal/signal_error.hpp"

#include <signal_protocol.h>

namespace chatwoot::wa::signal {

Errc errc_of_signal(int rc)
{
    switch (rc) {
    case SG_ERR_INVALID_MAC: return Errc::bad_mac;
    case SG_ERR_NO_SESSION:
    case SG_ERR_INVALID_KEY_ID: return Errc::not_found;
    case SG_ERR_INVAL:
    case SG_ERR_INVALID_KEY:
    case SG_ERR_INVALID_MESSAGE:
    case SG_ERR_INVALID_PROTO_BUF: return Errc::malformed;
    case SG_ERR_LEGACY_MESSAGE:
    case SG_ERR_INVALID_VERSION: return Errc::unsupported;
    case SG_ERR_UNTRUSTED_IDENTITY: return Errc::untrusted;
    case SG_ERR_VRF_SIG_VERIF_FAILED: return Errc::bad_signature;
    case SG_ERR_DUPLICATE_MESSAGE:
    case SG_ERR_STALE_KEY_EXCHANGE: return Errc::wrong_state;
    default: return Errc::crypto_failure;
    }
}

std::string_view signal_error_name(int rc)
{
    switch (rc) {
    case SG_ERR_NOMEM: return "SG_ERR_NOMEM";
    case SG_ERR_INVAL: return "SG_ERR_INVAL";
    case SG_ERR_UNKNOWN: return "SG_ERR_UNKNOWN";
    case SG_ERR_DUPLICATE_MESSAGE: return "SG_ERR_DUPLICATE_MESSAGE";
    case SG_ERR_INVALID_KEY: return "SG_ERR_INVALID_KEY";
    case SG_ERR_INVALID_KEY_ID: return "SG_ERR_INVALID_KEY_ID";
    case SG_ERR_INVALID_MAC: return "SG_ERR_INVALID_MAC";
    case SG_ERR_INVALID_MESSAGE: return "SG_ERR_INVALID_MESSAGE";
    case SG_ERR_INVALID_VERSION: return "SG_ERR_INVALID_VERSION";
    case SG_ERR_LEGACY_MESSAGE: return "SG_ERR_LEGACY_MESSAGE";
    case SG_ERR_NO_SESSION: return "SG_ERR_NO_SESSION";
    case SG_ERR_STALE_KEY_EXCHANGE: return "SG_ERR_STALE_KEY_EXCHANGE";
    case SG_ERR_UNTRUSTED_IDENTITY: return "SG_ERR_UNTRUSTED_IDENTITY";
    case SG_ERR_VRF_SIG_VERIF_FAILED: return "SG_ERR_VRF_SIG_VERIF_FAILED";
    case SG_ERR_INVALID_PROTO_BUF: return "SG_ERR_INVALID_PROTO_BUF";
    default: return "SG_ERR (unlisted)";
    }
}

}  // namespace chatwoot::wa::signal
