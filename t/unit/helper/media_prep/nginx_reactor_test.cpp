// The Reactor on nginx (helper/media_prep/nginx_reactor.hpp), as far as
// the fake nginx reaches: its timers run when nginx's timer tree says so,
// once, and may destroy their own handle; a handle destroyed first takes
// its timer out of the tree; a descriptor nginx has no connection for is
// refused and closed, not leaked.  (Readiness on the real loop is the
// lead's black-box test; ChildProcess's own tests run it on poll().)
#include "../fake_nginx.hpp"

#include "helper/media_prep/nginx_reactor.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

using namespace chatwoot::helper::media_prep;
using namespace chatwoot::test;

TEST(NginxReactor, TimerRunsOnceWhenDue)
{
    fake_nginx_reset();
    int runs = 0;
    auto h = nginx_reactor().after(50, [&] { runs++; });
    EXPECT_EQ(fake_nginx_timers(), 1u);
    fake_nginx_advance(49);
    EXPECT_EQ(runs, 0);
    fake_nginx_advance(1);
    EXPECT_EQ(runs, 1);
    fake_nginx_advance(1000);
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(fake_nginx_timers(), 0u);
}

TEST(NginxReactor, DestroyedHandleTakesItsTimerAlong)
{
    fake_nginx_reset();
    int runs = 0;
    auto h = nginx_reactor().after(10, [&] { runs++; });
    h.reset();
    EXPECT_EQ(fake_nginx_timers(), 0u);
    fake_nginx_advance(100);
    EXPECT_EQ(runs, 0);
}

TEST(NginxReactor, TimerMayDestroyItsOwnHandle)
{
    fake_nginx_reset();
    std::unique_ptr<Reactor::Handle> h;
    auto alive = std::make_shared<int>(1);
    int seen = 0;
    h = nginx_reactor().after(0, [&, alive] {
        h.reset();     // destroys the handle that is running us
        seen = *alive; // our captures are still ours: moved out first
    });
    fake_nginx_advance(1);
    EXPECT_EQ(h, nullptr);
    EXPECT_EQ(seen, 1);
}

TEST(NginxReactor, ExceptionsStopAtTheCallback)
{
    fake_nginx_reset();
    auto h = nginx_reactor().after(0, [] { throw std::runtime_error("boom"); });
    fake_nginx_advance(1);
    EXPECT_TRUE(fake_nginx_logged("media preparation: boom"));
}

TEST(NginxReactor, RefusedDescriptorIsClosed)
{
    fake_nginx_reset();
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    // The fake nginx has no connections to give.
    auto w = nginx_reactor().watch_readable(Fd(fds[0]), [] {});
    EXPECT_EQ(w, nullptr);
    EXPECT_EQ(::fcntl(fds[0], F_GETFD), -1);
    EXPECT_EQ(errno, EBADF);
    ::close(fds[1]);
}
