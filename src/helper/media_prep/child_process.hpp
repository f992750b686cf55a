// One program run as a child of the helper, watched from the event loop:
// spawned with only the descriptors we give it (stdin /dev/null, stdout and
// stderr pipes; everything else closed), its exit heard through a pidfd
// (Linux >= 5.3) instead of a blocking waitpid, killed with SIGKILL when
// its time is up, stdout kept (bounded) or streamed to a sink, and the
// last bytes of stderr kept for the log line that explains a failure.
//
// The child gets limits of its own (address space, largest file, CPU time,
// no core dumps), a lower priority, SIGKILL when the helper dies, and the
// default disposition of every signal (nginx ignores SIGPIPE; ffmpeg must
// not).  fork+exec rather than posix_spawn for that: the limits have to be
// set between the two, and only async-signal-safe calls run there, on
// buffers built before the fork.
//
// Reaping: the helper process puts SIGCHLD back to SIG_DFL
// (own_child_processes(), called when the helper starts), because nginx's
// handler reaps every child with waitpid(-1) in every process type and
// would take our exit statuses.  SIG_DFL does not auto-reap, so a pid
// stays ours (a zombie) until we wait for it: the pidfd opened right after
// the fork can never name a recycled pid.
#pragma once

#include "reactor.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace chatwoot::helper::media_prep {

// Resource limits of the child (setrlimit between fork and exec).
struct ChildLimits {
    uint64_t address_space = uint64_t{1} << 30;  // RLIMIT_AS: a hostile file cannot eat the host
    uint64_t file_size = uint64_t{512} << 20;    // RLIMIT_FSIZE: SIGXFSZ past it
    uint64_t cpu_seconds = 0;                    // RLIMIT_CPU; 0: the timeout's, rounded up
};

struct ChildSpec {
    std::vector<std::string> argv;  // argv[0]: the program's path
    uint64_t timeout_msec = 60'000;
    // stdout is kept in ChildResult::out up to this many bytes; more kills
    // the child (output_too_large).  Ignored when on_stdout is set.
    size_t stdout_limit = 64 * 1024;
    // When set, stdout is handed over in chunks as it comes and not kept.
    std::function<void(std::string_view)> on_stdout;
    ChildLimits limits;
};

struct ChildResult {
    enum class End {
        exited,             // code: its exit status
        signalled,          // code: the signal (SIGXFSZ, SIGSEGV, ...)
        timed_out,          // killed by us after timeout_msec
        output_too_large,   // killed by us past stdout_limit
        not_started,        // reason says why (fork, exec, pidfd_open)
        status_lost,        // someone else reaped it (SIGCHLD ignored?)
    };
    End end = End::not_started;
    int code = 0;
    std::string out;       // stdout, when kept
    std::string err_tail;  // the last kErrTail bytes of stderr
    std::string reason;

    bool ok() const { return end == End::exited && code == 0; }
    // One line for the log: "exited with status 1", "timed out after 50 ms".
    std::string describe() const;
};

inline constexpr size_t kErrTail = 1024;

class ChildProcess {
public:
    // Starts the child now.  `done` runs exactly once, from the loop (never
    // from inside this constructor), after the child has ended and its
    // output was read, unless the ChildProcess is destroyed first.  `done`
    // may destroy the ChildProcess.
    ChildProcess(Reactor& reactor, ChildSpec spec, std::function<void(ChildResult)> done);
    // A child still running is killed (SIGKILL) and reaped here; `done` is
    // not called.
    ~ChildProcess();

    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }

private:
    void spawn();
    void on_exit();
    void on_stdout();
    void on_stderr();
    bool drain(int fd, bool is_stdout);
    void kill_child();
    void finish();
    void fail_to_start(std::string reason);
    void defer(std::function<void()> f);

    Reactor& reactor_;
    ChildSpec spec_;
    std::function<void(ChildResult)> done_;
    ChildResult result_;

    pid_t pid_ = -1;
    bool reaped_ = false;
    bool exited_ = false;
    bool killed_for_time_ = false;
    bool killed_for_output_ = false;
    bool out_eof_ = false;
    bool err_eof_ = false;
    Fd exec_error_;  // read end: errno from a failed exec, else EOF
    std::unique_ptr<Reactor::Watch> pidfd_;
    std::unique_ptr<Reactor::Watch> out_;
    std::unique_ptr<Reactor::Watch> err_;
    std::unique_ptr<Reactor::Handle> timeout_;
    std::vector<std::unique_ptr<Reactor::Handle>> deferred_;
};

// Puts SIGCHLD back to SIG_DFL in this process, so that the exit statuses
// of our children are ours to collect (see above).  Called once by the
// helper process when it starts; nothing else in the helper has children
// (curl's resolver uses threads).
void own_child_processes() noexcept;

}  // namespace chatwoot::helper::media_prep
