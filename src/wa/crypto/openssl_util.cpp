#include "wa/crypto/openssl_util.hpp"

#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>

namespace chatwoot::wa::crypto::detail {

void openssl_fatal(const char* call)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "no reason queued";
    if (e != 0) ERR_error_string_n(e, reason, sizeof reason);
    std::fprintf(stderr, "wa_crypto: %s failed: %s\n", call, reason);
    std::abort();
}

Error openssl_error(const char* call)
{
    unsigned long e = ERR_get_error();
    std::string detail(call);
    if (e != 0) {
        char reason[256];
        ERR_error_string_n(e, reason, sizeof reason);
        detail += ": ";
        detail += reason;
    }
    ERR_clear_error();
    return make_error(Errc::crypto_failure, std::move(detail));
}

}  // namespace chatwoot::wa::crypto::detail
