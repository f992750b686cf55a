// The helper's log, as its nginx-free parts see it: a level and a line.
// The process shell points it at nginx's error log; unit tests point it at
// a recorder.  Levels are nginx's numbers, so the sink passes them through.
#pragma once

#include <cstdarg>
#include <string_view>

namespace chatwoot::helper {

enum class LogLevel { alert = 2, crit = 3, error = 4, warn = 5, notice = 6, info = 7, debug = 8 };

using LogSink = void (*)(LogLevel level, std::string_view line) noexcept;

// Where lines go; nullptr drops them.  Set once, before anything logs.
void set_log_sink(LogSink sink) noexcept;

// The sink into nginx's error log (log_nginx.cpp, in the helper library).
void log_to_nginx(LogLevel level, std::string_view line) noexcept;

// printf-style; the line is prefixed "chatwoot helper: " by the caller's
// format, as every helper line is.  Never throws.
void log(LogLevel level, const char* format, ...) noexcept
    __attribute__((format(printf, 2, 3)));

}  // namespace chatwoot::helper
