// What the PostgreSQL import's connection needs from an event loop: to
// hear when libpq's socket can be read or written, and to be called back
// after a delay.  In the helper this is nginx's own loop (pg_loop_nginx);
// the tests drive the same connection with a small poll() loop.
//
// The socket is libpq's: it may close it and open another while it
// connects (another host, another address), and the kernel may hand the
// same number to the new one.  So a watch holds a dup() of the descriptor
// (closing our copy is always safe, and epoll's registration follows our
// copy), and remembers the socket's inode: PgConnection makes a new watch
// when PQsocket() names another socket, even under the same number.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace chatwoot::helper::pg {

class PgLoop {
public:
    // A registration: destroying it stops its callbacks.
    class Handle {
    public:
        virtual ~Handle() = default;
    };

    class Watch : public Handle {
    public:
        // Whether `ready` runs for writability too (reading is always
        // watched: the server may close the connection at any time).
        virtual bool want_write(bool on) = 0;
    };

    virtual ~PgLoop() = default;

    // Watches a duplicate of `fd` (the caller keeps its own): `ready` runs
    // from the loop, level-triggered, while the socket is readable (or
    // writable, when asked).  `ready` must not destroy its own watch.
    // Null if the descriptor cannot be watched.
    virtual std::unique_ptr<Watch> watch(int fd, std::function<void()> ready) = 0;

    // Calls `due` once, from the loop, after `msec` (0: on a later turn,
    // never from inside this call).  The callback is moved out of the
    // handle before it runs, so `due` may destroy the handle.
    virtual std::unique_ptr<Handle> after(uint64_t msec, std::function<void()> due) = 0;
};

}  // namespace chatwoot::helper::pg
