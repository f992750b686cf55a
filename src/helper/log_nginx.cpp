// The nginx-free parts of the helper log through log.hpp; in the helper
// process their lines go to nginx's error log, with nginx's level filter.
#include "log.hpp"
#include "ngx.hpp"

namespace chatwoot::helper {

void log_to_nginx(LogLevel level, std::string_view line) noexcept
{
    const auto l = static_cast<ngx_uint_t>(level);
    if (ngx_cycle->log->log_level >= l) {
        ngx_log_error_core(l, ngx_cycle->log, 0, "%*s", line.size(), line.data());
    }
}

}  // namespace chatwoot::helper
