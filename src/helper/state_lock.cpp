#include "state_lock.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace chatwoot::helper {

StateLock::~StateLock()
{
    if (fd_ != -1) {
        ::close(fd_);
    }
}

StateLock::Result StateLock::try_acquire()
{
    if (held_) {
        return Result::acquired;
    }
    if (fd_ == -1) {
        fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ == -1) {
            return Result::error;
        }
    }
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(fd_, F_SETLK, &fl) == -1) {
        return (errno == EACCES || errno == EAGAIN) ? Result::busy
                                                    : Result::error;
    }
    held_ = true;
    return Result::acquired;
}

}  // namespace chatwoot::helper
