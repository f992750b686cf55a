// ChildProcess (helper/media_prep/child_process.hpp) on a poll() loop:
// exit statuses, signals, timeouts that kill, stdout kept or streamed and
// bounded, a bounded stderr tail, exec failures reported from the loop,
// only the descriptors we give reaching the child, default signal
// dispositions and resource limits in the child, the destructor killing
// and reaping, and why the helper must take SIGCHLD back from nginx.
#include "poll_reactor.hpp"

#include "helper/media_prep/child_process.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fcntl.h>
#include <optional>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using namespace chatwoot;
using namespace chatwoot::helper::media_prep;
using chatwoot::test::PollReactor;
namespace fs = std::filesystem;

namespace {

using End = ChildResult::End;

ChildSpec sh(std::string script, uint64_t timeout_msec = 20'000)
{
    ChildSpec s;
    s.argv = {"/bin/sh", "-c", std::move(script)};
    s.timeout_msec = timeout_msec;
    return s;
}

// Runs one child to its end on a fresh loop.
ChildResult run(ChildSpec spec)
{
    PollReactor loop;
    std::optional<ChildResult> got;
    ChildProcess child(loop, std::move(spec), [&](ChildResult r) { got = std::move(r); });
    EXPECT_FALSE(got) << "done ran inside the constructor";
    EXPECT_TRUE(loop.run_until([&] { return got.has_value(); }));
    // Everything it registered is gone once it is done.
    EXPECT_EQ(loop.watches(), 0u);
    return got.value_or(ChildResult{});
}

bool process_gone(pid_t pid)
{
    // Reaped: no such process (a zombie would still answer kill(pid, 0)).
    return ::kill(pid, 0) == -1 && errno == ESRCH;
}

}  // namespace

TEST(ChildProcess, ExitStatusStdoutAndStderr)
{
    ChildResult r = run(sh("printf hello; printf oops >&2; exit 3"));
    EXPECT_EQ(r.end, End::exited);
    EXPECT_EQ(r.code, 3);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.out, "hello");
    EXPECT_EQ(r.err_tail, "oops");
    EXPECT_EQ(r.describe(), "exited with status 3");
}

TEST(ChildProcess, SuccessIsExitZero)
{
    ChildResult r = run(sh("exit 0"));
    EXPECT_TRUE(r.ok());
}

TEST(ChildProcess, StdinIsDevNull)
{
    // cat would wait for ever on an inherited terminal or pipe.
    ChildSpec s;
    s.argv = {"/bin/cat"};
    ChildResult r = run(std::move(s));
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.out, "");
}

TEST(ChildProcess, KilledBySignal)
{
    ChildResult r = run(sh("kill -SEGV $$"));
    EXPECT_EQ(r.end, End::signalled);
    EXPECT_EQ(r.code, SIGSEGV);
}

TEST(ChildProcess, TimeoutKillsTheChild)
{
    PollReactor loop;
    std::optional<ChildResult> got;
    ChildProcess child(loop, sh("exec sleep 30", 50), [&](ChildResult r) { got = std::move(r); });
    const pid_t pid = child.pid();
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(loop.run_until([&] { return got.has_value(); }, std::chrono::seconds(10)));
    EXPECT_EQ(got->end, End::timed_out);
    EXPECT_TRUE(process_gone(pid));
}

TEST(ChildProcess, StdoutPastItsLimitKillsTheChild)
{
    ChildSpec s = sh("exec head -c 10000000 /dev/zero");
    s.stdout_limit = 1000;
    ChildResult r = run(std::move(s));
    EXPECT_EQ(r.end, End::output_too_large);
    EXPECT_LE(r.out.size(), 1000u);
}

TEST(ChildProcess, StdoutStreamedToASinkBeyondThePipeBuffer)
{
    size_t bytes = 0;
    size_t chunks = 0;
    ChildSpec s = sh("exec head -c 3000000 /dev/zero");
    s.stdout_limit = 10;  // not used with a sink
    s.on_stdout = [&](std::string_view chunk) {
        bytes += chunk.size();
        chunks++;
    };
    ChildResult r = run(std::move(s));
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(bytes, 3000000u);
    EXPECT_GT(chunks, 1u);
    EXPECT_EQ(r.out, "");
}

TEST(ChildProcess, StderrKeepsOnlyItsTail)
{
    ChildResult r = run(sh("i=0; while [ $i -lt 2000 ]; do echo line-$i >&2; i=$((i+1)); done"));
    EXPECT_TRUE(r.ok());
    EXPECT_LE(r.err_tail.size(), kErrTail);
    EXPECT_GT(r.err_tail.size(), kErrTail / 2);
    EXPECT_NE(r.err_tail.find("line-1999\n"), std::string::npos);
    EXPECT_EQ(r.err_tail.find("line-0\n"), std::string::npos);
}

TEST(ChildProcess, ExecFailureIsReportedFromTheLoop)
{
    ChildSpec s;
    s.argv = {"/nonexistent/ffmpeg", "-version"};
    ChildResult r = run(std::move(s));
    EXPECT_EQ(r.end, End::not_started);
    EXPECT_NE(r.reason.find("/nonexistent/ffmpeg"), std::string::npos);
    EXPECT_NE(r.reason.find("No such file"), std::string::npos);
}

TEST(ChildProcess, EmptyArgvIsReportedFromTheLoop)
{
    ChildResult r = run(ChildSpec{});
    EXPECT_EQ(r.end, End::not_started);
}

TEST(ChildProcess, OnlyTheDescriptorsWeGiveReachTheChild)
{
    // A descriptor the parent opened without close-on-exec (as some of
    // nginx's are) must not reach a program that reads hostile files.
    int fd = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::dup2(fd, 57), 57);
    ::close(fd);
    ChildResult r = run(sh("ls /proc/$$/fd | sort -n | tr '\\n' ' '"));
    ::close(57);
    EXPECT_TRUE(r.ok());
    // sh's own 0, 1, 2 (and maybe one it opened for the pipeline's sake,
    // but never 57).
    EXPECT_EQ(r.out.rfind("0 1 2 ", 0), 0u) << r.out;
    EXPECT_EQ(r.out.find("57"), std::string::npos) << r.out;
}

TEST(ChildProcess, SignalsAreBackToDefaultInTheChild)
{
    // nginx ignores SIGPIPE; an ignored disposition survives exec, and an
    // ffmpeg writing into a closed pipe must die of it, not spin.
    struct sigaction ign {}, old {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old);
    ChildSpec s;
    s.argv = {"/bin/grep", "^SigIgn", "/proc/self/status"};
    ChildResult r = run(std::move(s));
    ::sigaction(SIGPIPE, &old, nullptr);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.out, "SigIgn:\t0000000000000000\n");
}

TEST(ChildProcess, FileSizeLimitStopsARunawayWriter)
{
    const fs::path out = fs::temp_directory_path() / ("cp_fsize_" + std::to_string(::getpid()));
    ChildSpec s = sh("exec head -c 4000000 /dev/zero > " + out.string());
    s.limits.file_size = 1 << 20;
    ChildResult r = run(std::move(s));
    EXPECT_EQ(r.end, End::signalled);
    EXPECT_EQ(r.code, SIGXFSZ);
    EXPECT_LE(fs::file_size(out), 1u << 20);
    fs::remove(out);
}

TEST(ChildProcess, NoCoreFiles)
{
    ChildResult r = run(sh("ulimit -c"));
    EXPECT_EQ(r.out, "0\n");
}

TEST(ChildProcess, DestructorKillsAndReapsARunningChild)
{
    PollReactor loop;
    bool called = false;
    pid_t pid;
    {
        ChildProcess child(loop, sh("exec sleep 30"), [&](ChildResult) { called = true; });
        pid = child.pid();
        ASSERT_GT(pid, 0);
        ASSERT_EQ(::kill(pid, 0), 0);
    }
    EXPECT_TRUE(process_gone(pid));
    EXPECT_EQ(loop.watches(), 0u);
    EXPECT_EQ(loop.timers(), 0u);
    loop.run_until([] { return true; });
    EXPECT_FALSE(called);
}

TEST(ChildProcess, DoneMayDestroyTheChildProcess)
{
    PollReactor loop;
    std::unique_ptr<ChildProcess> child;
    std::optional<ChildResult> got;
    child = std::make_unique<ChildProcess>(loop, sh("printf x"), [&](ChildResult r) {
        got = std::move(r);
        child.reset();
    });
    ASSERT_TRUE(loop.run_until([&] { return got.has_value(); }));
    EXPECT_EQ(child, nullptr);
    EXPECT_EQ(got->out, "x");
}

namespace {

// nginx's SIGCHLD handler, in substance: reap whatever ended.
void reap_everything(int)
{
    const int saved = errno;
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    errno = saved;
}

}  // namespace

TEST(ChildProcess, NginxStyleReapingStealsTheStatusUntilWeTakeSigchldBack)
{
    struct sigaction reaper {}, old {};
    reaper.sa_handler = &reap_everything;
    sigemptyset(&reaper.sa_mask);
    ::sigaction(SIGCHLD, &reaper, &old);

    // With the handler in place our status is gone by the time we look.
    ChildResult stolen = run(sh("exit 7"));
    EXPECT_EQ(stolen.end, End::status_lost);

    own_child_processes();
    ChildResult kept = run(sh("exit 7"));
    EXPECT_EQ(kept.end, End::exited);
    EXPECT_EQ(kept.code, 7);

    ::sigaction(SIGCHLD, &old, nullptr);
}

TEST(ChildProcess, CleanEnvironment)
{
    // Nothing of the helper's environment (tokens, paths) reaches the child.
    ::setenv("CHATWOOT_TEST_SECRET", "do-not-pass", 1);
    ChildSpec s;
    s.argv = {"/usr/bin/env"};
    ChildResult r = run(std::move(s));
    ::unsetenv("CHATWOOT_TEST_SECRET");
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.out, "LC_ALL=C\nMALLOC_ARENA_MAX=2\n");
}
