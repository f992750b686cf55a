#include "fake_nginx.hpp"

#include "helper/log.hpp"
#include "helper/ngx.hpp"

#include <cstdarg>
#include <cstdio>
#include <map>

// nginx's globals and functions, as declared by its headers.
extern "C" {

volatile ngx_msec_t ngx_current_msec;
volatile ngx_time_t* ngx_cached_time;
volatile ngx_cycle_t* ngx_cycle;
ngx_event_actions_t ngx_event_actions;
ngx_rbtree_t ngx_event_timer_rbtree;
ngx_queue_t ngx_posted_events;
ngx_queue_t ngx_posted_next_events;
ngx_pid_t ngx_pid = 4242;

}

namespace {

ngx_time_t the_time;
ngx_log_t the_log;
ngx_cycle_t the_cycle;
std::vector<std::string> the_lines;
// The timer tree as a sorted map: the inline ngx_add_timer() and
// ngx_del_timer() only insert and delete nodes keyed by their due time.
std::multimap<ngx_msec_t, ngx_rbtree_node_t*> the_timers;
int64_t start_sec = 0;
constexpr ngx_msec_t kStartMsec = 1'000'000;

void set_clock(ngx_msec_t msec)
{
    ngx_current_msec = msec;
    the_time.sec = static_cast<time_t>(start_sec + (msec - kStartMsec) / 1000);
}

const char* level_name(ngx_uint_t level)
{
    static const char* names[] = {"",     "emerg",  "alert", "crit", "error",
                                  "warn", "notice", "info",  "debug"};
    return level < sizeof names / sizeof names[0] ? names[level] : "debug";
}

// The conversions of nginx's own printf that the helper uses.
std::string format(const char* fmt, va_list ap)
{
    std::string out;
    char buf[64];
    for (const char* p = fmt; *p; p++) {
        if (*p != '%') {
            out += *p;
            continue;
        }
        p++;
        if (*p == '*' && p[1] == 's') {
            size_t n = va_arg(ap, size_t);
            const char* s = va_arg(ap, const char*);
            out.append(s, n);
            p++;
        } else if (*p == 's') {
            out += va_arg(ap, const char*);
        } else if (*p == 'V') {
            auto* v = va_arg(ap, ngx_str_t*);
            out.append(reinterpret_cast<const char*>(v->data), v->len);
        } else if (*p == 'd') {
            std::snprintf(buf, sizeof buf, "%d", va_arg(ap, int));
            out += buf;
        } else if (*p == 'i') {
            std::snprintf(buf, sizeof buf, "%ld", static_cast<long>(va_arg(ap, ngx_int_t)));
            out += buf;
        } else if (*p == 'L') {
            std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(va_arg(ap, int64_t)));
            out += buf;
        } else if (*p == 'M') {
            std::snprintf(buf, sizeof buf, "%lu", static_cast<unsigned long>(va_arg(ap, ngx_msec_t)));
            out += buf;
        } else if (*p == 'u' && (p[1] == 'L' || p[1] == 'z' || p[1] == 'i')) {
            unsigned long long v = p[1] == 'L'   ? va_arg(ap, uint64_t)
                                   : p[1] == 'z' ? va_arg(ap, size_t)
                                                 : va_arg(ap, ngx_uint_t);
            std::snprintf(buf, sizeof buf, "%llu", v);
            out += buf;
            p++;
        } else if (*p == '%') {
            out += '%';
        } else {
            out += "<?>";   // a conversion this stand-in does not know
        }
    }
    return out;
}

}  // namespace

extern "C" {

void ngx_log_error_core(ngx_uint_t level, ngx_log_t*, ngx_err_t err, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    std::string line = std::string("[") + level_name(level) + "] " + format(fmt, ap);
    va_end(ap);
    if (err != 0) {
        line += " (" + std::to_string(err) + ")";
    }
    the_lines.push_back(std::move(line));
}

void ngx_rbtree_insert(ngx_rbtree_t*, ngx_rbtree_node_t* node)
{
    the_timers.emplace(node->key, node);
}

void ngx_rbtree_delete(ngx_rbtree_t*, ngx_rbtree_node_t* node)
{
    for (auto it = the_timers.begin(); it != the_timers.end(); ++it) {
        if (it->second == node) {
            the_timers.erase(it);
            return;
        }
    }
}

void ngx_setproctitle(char*) {}
void ngx_shmtx_lock(ngx_shmtx_t*) {}
void ngx_shmtx_unlock(ngx_shmtx_t*) {}
ngx_connection_t* ngx_get_connection(ngx_socket_t, ngx_log_t*) { return nullptr; }
void ngx_free_connection(ngx_connection_t*) {}
void ngx_close_connection(ngx_connection_t*) {}

}

namespace chatwoot::test {

void fake_nginx_reset(int64_t unix_seconds)
{
    the_timers.clear();
    ngx_queue_init(&ngx_posted_events);
    ngx_queue_init(&ngx_posted_next_events);
    the_lines.clear();
    the_time = ngx_time_t{};
    ngx_cached_time = &the_time;
    start_sec = unix_seconds;
    set_clock(kStartMsec);
    the_log = ngx_log_t{};
    the_log.log_level = NGX_LOG_DEBUG;
    the_cycle = ngx_cycle_t{};
    the_cycle.log = &the_log;
    ngx_cycle = &the_cycle;
    chatwoot::helper::set_log_sink(&chatwoot::helper::log_to_nginx);
}

// Events posted for the end of this turn of the loop, as
// ngx_event_process_posted() runs them.
static void run_posted()
{
    while (!ngx_queue_empty(&ngx_posted_events)) {
        ngx_queue_t* q = ngx_queue_head(&ngx_posted_events);
        auto* ev = ngx_queue_data(q, ngx_event_t, queue);
        ngx_delete_posted_event(ev);
        ev->handler(ev);
    }
}

// A new turn of the loop: what was posted for it runs now, as
// ngx_process_events_and_timers() moves ngx_posted_next_events over.
static void start_turn()
{
    if (!ngx_queue_empty(&ngx_posted_next_events)) {
        ngx_queue_add(&ngx_posted_events, &ngx_posted_next_events);
        ngx_queue_init(&ngx_posted_next_events);
    }
}

void fake_nginx_advance(uint64_t msec)
{
    const ngx_msec_t end = ngx_current_msec + msec;
    start_turn();
    run_posted();
    while (!the_timers.empty() && the_timers.begin()->first <= end) {
        auto it = the_timers.begin();
        const ngx_msec_t due = it->first;
        ngx_rbtree_node_t* node = it->second;
        the_timers.erase(it);
        if (due > ngx_current_msec) {
            set_clock(due);
        }
        auto* ev = reinterpret_cast<ngx_event_t*>(reinterpret_cast<char*>(node)
                                                  - offsetof(ngx_event_t, timer));
        ev->timer_set = 0;
        ev->timedout = 1;
        ev->handler(ev);
        run_posted();
    }
    set_clock(end);
}

bool fake_nginx_posted_next()
{
    return !ngx_queue_empty(&ngx_posted_next_events);
}

size_t fake_nginx_timers()
{
    return the_timers.size();
}

const std::vector<std::string>& fake_nginx_log()
{
    return the_lines;
}

bool fake_nginx_logged(const std::string& needle)
{
    for (const auto& l : the_lines) {
        if (l.find(needle) != std::string::npos) {
            return true;
        }
    }
    return false;
}

}  // namespace chatwoot::test
