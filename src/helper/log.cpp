#include "log.hpp"

#include <cstdio>

namespace chatwoot::helper {

namespace {

LogSink the_sink = nullptr;

}  // namespace

void set_log_sink(LogSink sink) noexcept
{
    the_sink = sink;
}

void log(LogLevel level, const char* format, ...) noexcept
{
    if (the_sink == nullptr) {
        return;
    }
    // nginx cuts an error-log line at 2048 bytes anyway.
    char line[2048];
    va_list ap;
    va_start(ap, format);
    int n = std::vsnprintf(line, sizeof line, format, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    const size_t len = static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n)
                                                            : sizeof line - 1;
    the_sink(level, std::string_view(line, len));
}

}  // namespace chatwoot::helper
