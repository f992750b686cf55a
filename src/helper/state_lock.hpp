// The fcntl lock that makes one helper, across reloads and binary upgrades,
// the only writer of a state path.  The kernel drops it when the process
// dies, whatever the way.
#pragma once

#include <string>

namespace chatwoot::helper {

class StateLock {
public:
    explicit StateLock(std::string path) : path_(std::move(path)) {}
    ~StateLock();
    StateLock(const StateLock&) = delete;
    StateLock& operator=(const StateLock&) = delete;

    enum class Result { acquired, busy, error };

    // Never blocks.  On error, errno tells why.
    Result try_acquire();
    bool held() const { return held_; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    int fd_ = -1;
    bool held_ = false;
};

}  // namespace chatwoot::helper
