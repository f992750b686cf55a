#include "private_paths.hpp"

#include "sqlite_handle.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace chatwoot::store {

namespace {

constexpr mode_t kOthers = S_IRWXG | S_IRWXO;

using Fd = UniqueFd;

std::string octal(mode_t mode)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

[[noreturn]] void refuse(std::string_view what, const std::string& path, std::string why)
{
    std::string msg(what);
    msg += " \"" + path + "\" ";
    msg += why;
    throw StoreError(msg, SQLITE_PERM);
}

[[noreturn]] void fail_errno(std::string_view doing, const std::string& path)
{
    const int err = errno;
    std::string msg(doing);
    msg += " \"" + path + "\": ";
    msg += std::strerror(err);
    throw StoreError(msg, SQLITE_PERM);
}

// Tightens an open file or directory to `mode`: only the owner may, and
// only the owner's bits are kept (a private file has no business being
// executable or set-id, a private directory needs its x bit).
void tighten(int fd, const struct stat& st, mode_t mode, std::string_view what,
             const std::string& path)
{
    if ((st.st_mode & kOthers) == 0 && (st.st_mode & 07777) == mode) {
        return;
    }
    if (st.st_uid != ::geteuid()) {
        if ((st.st_mode & kOthers) == 0) {
            return;   // private to its owner: not ours to judge further
        }
        refuse(what, path,
               "is open to group or others (mode " + octal(st.st_mode) + ") and belongs to uid "
                   + std::to_string(st.st_uid) + ", not to this process (uid "
                   + std::to_string(::geteuid())
                   + "): make it private (chmod " + octal(mode).substr(1)
                   + ") or give it to the user nginx's workers run as");
    }
    if (::fchmod(fd, mode) != 0) {
        fail_errno("cannot make private", path);
    }
}

}  // namespace

void make_private_directory(const std::string& dir, bool create)
{
    if (create && ::mkdir(dir.c_str(), kPrivateDirMode) != 0 && errno != EEXIST) {
        if (errno != ENOENT) {
            fail_errno("cannot create", dir);
        }
        // A parent is missing too: made the usual way, the leaf privately.
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
        if (ec || (::mkdir(dir.c_str(), kPrivateDirMode) != 0 && errno != EEXIST)) {
            fail_errno("cannot create", dir);
        }
    }
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) {
        fail_errno("cannot open", dir);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        fail_errno("cannot stat", dir);
    }
    // A directory shared by design (/tmp's sticky bit, the root) is never
    // changed, even when we own it (a helper running as root): others'
    // files live there, and anyone may put files next to ours.
    if ((st.st_mode & S_ISVTX) != 0 || std::filesystem::equivalent(dir, "/")) {
        refuse("the directory", dir,
               "is a shared directory (mode " + octal(st.st_mode)
                   + "): give the store a directory of its own");
    }
    // mkdir's mode went through the umask, which may have taken our own
    // bits: the owner needs all three.
    tighten(fd.get(), st, kPrivateDirMode, "the directory", dir);
}

bool make_private_file(const std::string& path, bool create)
{
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
    if (create) {
        flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY;
    }
    Fd fd(::open(path.c_str(), flags, kPrivateFileMode));
    if (fd.get() < 0) {
        return false;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        fail_errno("cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
        return true;   // not ours to change; SQLite reports what it is
    }
    tighten(fd.get(), st, kPrivateFileMode, "the file", path);
    return true;
}

}  // namespace chatwoot::store
