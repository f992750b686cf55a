// PgLoop on nginx (helper/import/pg_loop_nginx.hpp), as far as the fake
// nginx reaches: its timers run when nginx's timer tree says so, once, and
// may destroy their own handle; a handle destroyed first takes its timer
// out of the tree; a socket nginx has no connection for is refused, and our
// duplicate of it closed (libpq's own descriptor is left alone).  The
// readiness path runs for real in t/pg_import.t on a poll() loop behind the
// same interface.
#include "fake_nginx.hpp"

#include "helper/import/pg_loop_nginx.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace chatwoot::helper::pg;
using namespace chatwoot::test;

TEST(PgLoopNginx, TimerRunsOnceWhenDue)
{
    fake_nginx_reset();
    int runs = 0;
    auto h = nginx_pg_loop().after(30, [&] { runs++; });
    EXPECT_EQ(fake_nginx_timers(), 1u);
    fake_nginx_advance(29);
    EXPECT_EQ(runs, 0);
    fake_nginx_advance(1);
    EXPECT_EQ(runs, 1);
    fake_nginx_advance(1000);
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(fake_nginx_timers(), 0u);
}

TEST(PgLoopNginx, DestroyedHandleTakesItsTimerAlong)
{
    fake_nginx_reset();
    int runs = 0;
    auto h = nginx_pg_loop().after(0, [&] { runs++; });
    h.reset();
    EXPECT_EQ(fake_nginx_timers(), 0u);
    fake_nginx_advance(10);
    EXPECT_EQ(runs, 0);
}

TEST(PgLoopNginx, ACallbackMayDestroyItsOwnHandle)
{
    fake_nginx_reset();
    std::unique_ptr<PgLoop::Handle> h;
    int runs = 0;
    h = nginx_pg_loop().after(0, [&] {
        runs++;
        h.reset();
    });
    fake_nginx_advance(1);
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(h, nullptr);
}

TEST(PgLoopNginx, ASocketNginxCannotTakeIsRefusedAndOurCopyClosed)
{
    fake_nginx_reset();
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    // The lowest free descriptor now: our duplicate would get it.
    const int probe = ::fcntl(0, F_DUPFD_CLOEXEC, 0);
    ASSERT_GE(probe, 0);
    ::close(probe);
    auto w = nginx_pg_loop().watch(sv[0], [] {});
    EXPECT_EQ(w, nullptr);   // the fake nginx has no connections to give
    EXPECT_EQ(::fcntl(probe, F_GETFD), -1);      // the duplicate is closed
    EXPECT_EQ(errno, EBADF);
    EXPECT_NE(::fcntl(sv[0], F_GETFD), -1);      // libpq's own is not
    ::close(sv[0]);
    ::close(sv[1]);
}
