// libsignal's SG_ERR_* codes as our Errc.
#pragma once

#include <string_view>

#include "wa/error.hpp"

namespace chatwoot::wa::signal {

// SG_ERR_INVALID_MAC -> bad_mac, NO_SESSION and INVALID_KEY_ID ->
// not_found, INVALID_PROTO_BUF, INVALID_MESSAGE, INVALID_KEY and INVAL ->
// malformed, LEGACY_MESSAGE and INVALID_VERSION -> unsupported,
// UNTRUSTED_IDENTITY -> untrusted, VRF_SIG_VERIF_FAILED -> bad_signature,
// DUPLICATE_MESSAGE and STALE_KEY_EXCHANGE -> wrong_state (a message seen
// before: Errc has no "duplicate" of its own), anything else
// (NOMEM, UNKNOWN) -> crypto_failure.
Errc errc_of_signal(int rc);

// Its SG_ERR_* name, for details ("SG_ERR_NO_SESSION").
std::string_view signal_error_name(int rc);

}  // namespace chatwoot::wa::signal
