#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace chatwoot::helper::media_prep {

namespace {

// glibc 2.36's <sys/pidfd.h> declares pidfd_open without extern "C" (fixed
// in 2.37), so C++ cannot link against it: the system call, directly.
int open_pidfd(pid_t pid)
{
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

std::string errno_text(const char* what, int err)
{
    return std::string(what) + ": " + std::strerror(err);
}

// A pipe whose ends are both above 2 (so that the child's dup2 onto 0..2
// never clobbers one with another) and close-on-exec; the parent's end
// non-blocking, the child's blocking (ffmpeg does not expect EAGAIN).
struct Pipe {
    Fd read;
    Fd write;
};

Fd above_stdio(Fd fd)
{
    if (fd.get() > 2) {
        return fd;
    }
    Fd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
    if (!moved) {
        throw std::runtime_error(errno_text("fcntl", errno));
    }
    return moved;
}

Pipe make_pipe()
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(errno_text("pipe2", errno));
    }
    Pipe p{Fd(fds[0]), Fd(fds[1])};
    p.read = above_stdio(std::move(p.read));
    p.write = above_stdio(std::move(p.write));
    if (::fcntl(p.read.get(), F_SETFL, O_NONBLOCK) != 0) {
        throw std::runtime_error(errno_text("fcntl", errno));
    }
    return p;
}

// Everything the child does between fork and exec, prepared beforehand:
// after fork in a process with threads (curl's resolver) only
// async-signal-safe calls are allowed, so no allocation happens there.
struct ExecPlan {
    std::vector<std::string> strings;
    std::vector<char*> argv;
    std::vector<char*> envp;
    rlimit as{}, fsize{}, cpu{}, core{};
    int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1, error_fd = -1;
    pid_t parent = 0;

    [[noreturn]] void run_in_child() const noexcept
    {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        for (int s = 1; s < NSIG; s++) {
            if (s != SIGKILL && s != SIGSTOP) {
                sigaction(s, &dfl, nullptr);  // fails harmlessly for glibc's reserved ones
            }
        }
        // Dies with the helper (a respawned helper starts over anyway).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        setrlimit(RLIMIT_AS, &as);
        setrlimit(RLIMIT_FSIZE, &fsize);
        setrlimit(RLIMIT_CPU, &cpu);
        setrlimit(RLIMIT_CORE, &core);
        setpriority(PRIO_PROCESS, 0, 10);  // nginx's workers come first
        if (dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) {
            report(errno);
        }
        // Only 0, 1, 2 and the exec-error pipe (close-on-exec) survive:
        // nginx's listening sockets, epoll, the database, the WhatsApp
        // sockets must not leak into a program that reads hostile input.
        if (error_fd > 3) {
            close_range(3, static_cast<unsigned>(error_fd) - 1, 0);
        }
        close_range(static_cast<unsigned>(error_fd) + 1, ~0U, 0);
        execve(argv[0], argv.data(), envp.data());
        report(errno);
    }

    [[noreturn]] void report(int err) const noexcept
    {
        ssize_t n = write(error_fd, &err, sizeof err);
        (void) n;
        _exit(127);
    }
};

}  // namespace

std::string ChildResult::describe() const
{
    switch (end) {
    case End::exited:
        return "exited with status " + std::to_string(code);
    case End::signalled:
        return "killed by signal " + std::to_string(code) + " (" + strsignal(code) + ")";
    case End::timed_out:
        return "timed out";
    case End::output_too_large:
        return "wrote more output than allowed";
    case End::not_started:
        return "could not start: " + reason;
    case End::status_lost:
        return "ended with its status lost: " + reason;
    }
    return "?";
}

ChildProcess::ChildProcess(Reactor& reactor, ChildSpec spec, std::function<void(ChildResult)> done)
    : reactor_(reactor), spec_(std::move(spec)), done_(std::move(done))
{
    try {
        spawn();
    } catch (const std::exception& e) {
        fail_to_start(e.what());
    }
}

ChildProcess::~ChildProcess()
{
    if (pid_ > 0 && !reaped_) {
        // SIGKILL cannot be caught: the wait is short (the kernel tears
        // the process down), and the pid must not be left a zombie.
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
}

void ChildProcess::spawn()
{
    if (spec_.argv.empty()) {
        throw std::runtime_error("no program");
    }
    ExecPlan plan;
    plan.strings = spec_.argv;
    for (auto& s : plan.strings) {
        plan.argv.push_back(s.data());
    }
    plan.argv.push_back(nullptr);
    // A clean environment: the child needs no variable of nginx's.  Two
    // malloc arenas: RLIMIT_AS counts address space reserved, and glibc
    // reserves 64 MB per arena, up to 8 per core, for a threaded decoder.
    static char c_locale[] = "LC_ALL=C";
    static char arenas[] = "MALLOC_ARENA_MAX=2";
    plan.envp = {c_locale, arenas, nullptr};

    const auto lim = [](uint64_t v) { return rlimit{v, v}; };
    plan.as = lim(spec_.limits.address_space);
    plan.fsize = lim(spec_.limits.file_size);
    plan.cpu = lim(spec_.limits.cpu_seconds != 0 ? spec_.limits.cpu_seconds
                                                 : spec_.timeout_msec / 1000 + 1);
    plan.core = lim(0);  // no core files of a crash on hostile input

    Fd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!dev_null) {
        throw std::runtime_error(errno_text("/dev/null", errno));
    }
    dev_null = above_stdio(std::move(dev_null));
    Pipe out = make_pipe();
    Pipe err = make_pipe();
    Pipe exec_error = make_pipe();
    plan.stdin_fd = dev_null.get();
    plan.stdout_fd = out.write.get();
    plan.stderr_fd = err.write.get();
    plan.error_fd = exec_error.write.get();
    plan.parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error(errno_text("fork", errno));
    }
    if (pid == 0) {
        plan.run_in_child();
    }
    pid_ = pid;
    // The child's ends close here (ours stay); the pid is ours until we
    // wait for it (SIGCHLD is SIG_DFL), so the pidfd names our child.
    exec_error_ = std::move(exec_error.read);
    Fd pidfd(open_pidfd(pid));
    if (!pidfd) {
        throw std::runtime_error(errno_text("pidfd_open", errno));
    }
    pidfd_ = reactor_.watch_readable(std::move(pidfd), [this] { on_exit(); });
    out_ = reactor_.watch_readable(std::move(out.read), [this] { on_stdout(); });
    err_ = reactor_.watch_readable(std::move(err.read), [this] { on_stderr(); });
    if (!pidfd_ || !out_ || !err_) {
        throw std::runtime_error("the event loop refused a descriptor");
    }
    timeout_ = reactor_.after(spec_.timeout_msec, [this] {
        if (!exited_) {
            killed_for_time_ = true;
            kill_child();
        }
    });
}

void ChildProcess::fail_to_start(std::string reason)
{
    // A half-started child must not outlive the failure.
    if (pid_ > 0 && !reaped_) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        reaped_ = true;
    }
    pidfd_.reset();
    out_.reset();
    err_.reset();
    timeout_.reset();
    result_ = ChildResult{};
    result_.end = ChildResult::End::not_started;
    result_.reason = std::move(reason);
    exited_ = true;
    defer([this] { finish(); });
}

void ChildProcess::kill_child()
{
    if (pid_ > 0 && !reaped_) {
        ::kill(pid_, SIGKILL);
    }
}

void ChildProcess::defer(std::function<void()> f)
{
    deferred_.push_back(reactor_.after(0, std::move(f)));
}

void ChildProcess::on_exit()
{
    if (exited_) {
        return;  // level-triggered: heard again until finish() drops the watch
    }
    exited_ = true;
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == pid_) {
        reaped_ = true;
        if (WIFEXITED(status)) {
            result_.end = ChildResult::End::exited;
            result_.code = WEXITSTATUS(status);
        } else {
            result_.end = ChildResult::End::signalled;
            result_.code = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        }
    } else {
        // ECHILD: reaped by someone else.  The pidfd said it ended.
        reaped_ = true;
        result_.end = ChildResult::End::status_lost;
        result_.reason = r < 0 ? errno_text("waitpid", errno) : "waitpid found nothing";
    }
    if (killed_for_time_) {
        result_.end = ChildResult::End::timed_out;
    } else if (killed_for_output_) {
        result_.end = ChildResult::End::output_too_large;
    }
    // An exec that failed wrote its errno before _exit(127).
    int err = 0;
    if (::read(exec_error_.get(), &err, sizeof err) == sizeof err) {
        result_.end = ChildResult::End::not_started;
        result_.reason = errno_text(spec_.argv[0].c_str(), err);
    }
    // Not here: this runs inside the pidfd watch's callback, which must
    // not destroy its watch; finish() does, on the loop's next turn.
    defer([this] { finish(); });
}

// Reads what the pipe has; true at its end.
bool ChildProcess::drain(int fd, bool is_stdout)
{
    char buf[16384];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            const std::string_view chunk(buf, static_cast<size_t>(n));
            if (!is_stdout) {
                result_.err_tail.append(chunk);
                if (result_.err_tail.size() > 2 * kErrTail) {
                    result_.err_tail.erase(0, result_.err_tail.size() - kErrTail);
                }
            } else if (killed_for_output_) {
                // already over: read and drop, so the child is not stuck
            } else if (spec_.on_stdout) {
                spec_.on_stdout(chunk);
            } else if (result_.out.size() + chunk.size() > spec_.stdout_limit) {
                killed_for_output_ = true;
                kill_child();
            } else {
                result_.out.append(chunk);
            }
            continue;
        }
        if (n == 0) {
            return true;
        }
        if (errno == EINTR) {
            continue;
        }
        // EAGAIN: all read for now; anything else ends the pipe for us.
        return errno != EAGAIN && errno != EWOULDBLOCK;
    }
}

void ChildProcess::on_stdout()
{
    if (!out_eof_ && drain(out_->fd(), true)) {
        out_eof_ = true;
        // At its end a pipe stays readable: stop watching, next turn.
        defer([this] { out_.reset(); });
    }
}

void ChildProcess::on_stderr()
{
    if (!err_eof_ && drain(err_->fd(), false)) {
        err_eof_ = true;
        defer([this] { err_.reset(); });
    }
}

void ChildProcess::finish()
{
    // The child is gone: what it wrote is in the pipes, whole.
    if (out_ && !out_eof_) {
        drain(out_->fd(), true);
    }
    if (err_ && !err_eof_) {
        drain(err_->fd(), false);
    }
    if (result_.err_tail.size() > kErrTail) {
        result_.err_tail.erase(0, result_.err_tail.size() - kErrTail);
    }
    if (killed_for_output_ && result_.end != ChildResult::End::not_started) {
        result_.end = ChildResult::End::output_too_large;
    }
    pidfd_.reset();
    out_.reset();
    err_.reset();
    timeout_.reset();
    exec_error_.reset();
    // Moved out: `done` may destroy this object.
    auto done = std::move(done_);
    ChildResult result = std::move(result_);
    if (done) {
        done(std::move(result));
    }
}

void own_child_processes() noexcept
{
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGCHLD, &dfl, nullptr);
}

}  // namespace chatwoot::helper::media_prep
