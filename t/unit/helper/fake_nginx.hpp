// A stand-in for the parts of nginx the helper's code calls, so that its
// runtime pieces run in a unit test: timers on a fake clock (a test moves
// time and the due handlers run, as nginx's timer tree would run them), the
// error log kept as lines, and no sockets (a test gives HTTP answers
// through a fake transport instead).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chatwoot::test {

// Starts the clock at `unix_seconds` with no timers and an empty log.
void fake_nginx_reset(int64_t unix_seconds = 1'700'000'000);

// One turn of the loop: runs the events posted for it (ngx_posted_next_events)
// and those posted now, then moves the clock forward and runs every timer
// that falls due, in order.
void fake_nginx_advance(uint64_t msec);

// Whether an event waits for the next turn of the loop.
bool fake_nginx_posted_next();

// How many timers are set.
size_t fake_nginx_timers();

// The error log's lines, "[level] text", oldest first.
const std::vector<std::string>& fake_nginx_log();
bool fake_nginx_logged(const std::string& needle);

}  // namespace chatwoot::test
