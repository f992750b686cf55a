#include "media_store.hpp"

#include "../store/private_paths.hpp"
#include "../store/unique_fd.hpp"

#include "log.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace chatwoot::helper {

namespace {

using Fd = store::UniqueFd;

[[noreturn]] void fail(const std::string& what, const std::string& path)
{
    throw std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

// Names come from WhatsApp and from the operator's files: keep what is
// safe in a file name, so no id can climb out of the directory.
std::string file_safe(std::string_view s)
{
    std::string out;
    for (char c : s.substr(0, 96)) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                        || (c >= '0' && c <= '9') || c == '-' || c == '_';
        out.push_back(ok ? c : '_');
    }
    return out;
}

void copy_all(int from, int to, const std::string& path)
{
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = ::read(from, buf, sizeof buf);
        if (n == 0) {
            return;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail("cannot read", path);
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
            if (w < 0) {
                if (errno == EINTR) {
                    continue;
                }
                fail("cannot write", path);
            }
            off += w;
        }
    }
}

}  // namespace

MediaStore::MediaStore(std::string dir) : dir_(std::move(dir))
{
    // Media are message contents: private whatever the umask, and a
    // directory left open by an earlier build is tightened (or refused,
    // naming it, when another user owns it).
    store::make_private_directory(dir_, true);
    sweep_unfinished();
}

// Only the helper that holds the state lock opens the store, before any
// download starts: every temporary file here is one a killed helper left
// half written (a download's ".part", a copy's ".tmp"; an upload writes
// nothing, it encrypts the file as it sends it).  A finished file never
// has those names (it was renamed), so nothing a row names goes.
void MediaStore::sweep_unfinished() noexcept
{
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir_.c_str()), &::closedir);
    if (!d) return;
    size_t removed = 0;
    while (const dirent* e = ::readdir(d.get())) {
        const std::string_view name(e->d_name);
        if (!name.ends_with(".part") && !name.ends_with(".tmp")) continue;
        if (::unlinkat(::dirfd(d.get()), e->d_name, 0) == 0) removed++;
    }
    if (removed != 0) {
        log(LogLevel::info, "chatwoot helper: removed %zu unfinished media file(s) from %s",
            removed, dir_.c_str());
    }
}

std::string MediaStore::keep(std::string_view inbox, std::string_view wa_id, size_t index,
                             const std::string& source)
{
    // Again: an operator may have removed it since.
    store::make_private_directory(dir_, true);
    const std::string path = path_for(inbox, wa_id, index);
    const std::string tmp = path + ".tmp";

    Fd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) {
        fail("cannot open", source);
    }
    {
        Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (out.get() < 0) {
            fail("cannot create", tmp);
        }
        copy_all(in.get(), out.get(), tmp);
        if (::fsync(out.get()) != 0) {
            fail("cannot sync", tmp);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        fail("cannot rename", tmp);
    }
    Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0 || ::fsync(dir.get()) != 0) {
        fail("cannot sync", dir_);
    }
    return path;
}

std::string MediaStore::path_for(std::string_view inbox, std::string_view wa_id,
                                 size_t index) const
{
    return dir_ + "/" + file_safe(inbox) + "-" + file_safe(wa_id) + "-" + std::to_string(index);
}

void MediaStore::release(const std::string& path) noexcept
{
    if (path.size() > dir_.size() && path.compare(0, dir_.size(), dir_) == 0
        && path[dir_.size()] == '/')
    {
        ::unlink(path.c_str());
    }
}

}  // namespace chatwoot::helper
