// How the sans-I/O jobs' tests play Chatwoot's side: an answer with a
// status (classified as the REST client would), or an answer lost on the
// way (the request may have taken effect).
#pragma once

#include "chatwoot/retry_policy.hpp"

#include <string_view>

namespace chatwoot::test {

inline rest::Classification answer(int status, std::string_view body = "{}")
{
    rest::Response r;
    r.http_status = status;
    r.body = body;
    return rest::classify(r);
}

inline rest::Classification lost(rest::TransportError how = rest::TransportError::reset)
{
    rest::Response r;
    r.transport_error = how;
    return rest::classify(r);
}

}  // namespace chatwoot::test
