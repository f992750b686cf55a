// The state path's secrets are private whatever the umask
// (store/private_paths.hpp): the database and its -wal and -shm 0600, its
// directory and the media directory 0700; what an earlier build left open
// is tightened when ours, refused (naming the path) when not.

#include "store/private_paths.hpp"
#include "store/schema.hpp"
#include "store/sqlite_handle.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace {

using chatwoot::store::Database;
using chatwoot::store::make_private_directory;
using chatwoot::store::make_private_file;
using chatwoot::store::StoreError;

unsigned mode_of(const std::string& path)
{
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

class PrivatePaths : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "cw_private_XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        root_ = tmpl;
        // A permissive umask, as a careless service manager may give.
        old_umask_ = ::umask(0);
    }

    void TearDown() override
    {
        ::umask(old_umask_);
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }

    std::string path(const std::string& name) const { return (root_ / name).string(); }

    std::filesystem::path root_;
    mode_t old_umask_ = 022;
};

TEST_F(PrivatePaths, TheDatabaseItsWalAndShmAndItsDirectoryArePrivateUnderUmaskZero)
{
    const std::string state = path("state");
    ASSERT_EQ(::mkdir(state.c_str(), 0777), 0);
    ASSERT_EQ(mode_of(state), 0777u);
    const std::string db_path = state + "/chatwoot.db";
    {
        Database db = Database::open(db_path);
        chatwoot::store::migrate(db);   // writes: the -wal and -shm exist now
        ASSERT_TRUE(std::filesystem::exists(db_path + "-wal"));
        ASSERT_TRUE(std::filesystem::exists(db_path + "-shm"));
        EXPECT_EQ(mode_of(state), 0700u);
        EXPECT_EQ(mode_of(db_path), 0600u);
        EXPECT_EQ(mode_of(db_path + "-wal"), 0600u);
        EXPECT_EQ(mode_of(db_path + "-shm"), 0600u);
    }
}

TEST_F(PrivatePaths, FilesAnEarlierBuildLeftOpenAreTightenedOnOpen)
{
    const std::string state = path("state");
    ASSERT_EQ(::mkdir(state.c_str(), 0755), 0);
    const std::string db_path = state + "/chatwoot.db";
    // An earlier build's store: SQLite's default mode (0644 in Debian's
    // build); the -wal and -shm are still there (a crash).
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "PRAGMA journal_mode=WAL; CREATE TABLE t (x);"
                                " INSERT INTO t VALUES (1);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    ASSERT_NE(mode_of(db_path) & 0077, 0u);
    ASSERT_EQ(::chmod((db_path + "-wal").c_str(), 0644), 0);
    ASSERT_EQ(::chmod((db_path + "-shm").c_str(), 0666), 0);
    {
        Database db = Database::open(db_path);
        EXPECT_EQ(mode_of(state), 0700u);
        EXPECT_EQ(mode_of(db_path), 0600u);
        EXPECT_EQ(mode_of(db_path + "-wal"), 0600u);
        EXPECT_EQ(mode_of(db_path + "-shm"), 0600u);
        auto st = db.prepare("SELECT x FROM t");
        EXPECT_EQ(st.scalar(), 1) << "the data is untouched";
    }
    sqlite3_close(raw);
}

TEST_F(PrivatePaths, ADirectoryIsCreatedPrivateWithItsParentsWhateverTheUmask)
{
    const std::string media = path("a/b/media");
    make_private_directory(media, true);
    EXPECT_EQ(mode_of(media), 0700u);
    // All bits masked: mkdir makes 0000, the owner's bits are put back.
    ::umask(0777);
    const std::string other = path("other");
    make_private_directory(other, true);
    EXPECT_EQ(mode_of(other), 0700u);
    // Again on an existing one: nothing changes, nothing throws.
    make_private_directory(other, true);
    EXPECT_EQ(mode_of(other), 0700u);
}

TEST_F(PrivatePaths, AnOpenDirectoryOfOursIsTightened)
{
    const std::string media = path("media");
    ASSERT_EQ(::mkdir(media.c_str(), 0777), 0);
    ASSERT_EQ(::chmod(media.c_str(), 02775), 0);
    make_private_directory(media, true);
    EXPECT_EQ(mode_of(media), 0700u);
}

TEST_F(PrivatePaths, ASharedDirectoryIsNeverChangedEvenWhenOurs)
{
    // A store opened straight in /tmp (or /, by a helper running as root)
    // must not take the directory from everyone else.
    const std::string shared = path("tmp");
    ASSERT_EQ(::mkdir(shared.c_str(), 0777), 0);
    ASSERT_EQ(::chmod(shared.c_str(), 01777), 0);
    try {
        Database::open(shared + "/chatwoot.db");
        FAIL() << "must refuse";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "the directory \"" + shared + "\" is a shared directory (mode 1777):"
                  " give the store a directory of its own");
    }
    EXPECT_EQ(mode_of(shared), 01777u);
    EXPECT_THROW(make_private_directory("/", false), StoreError);
    EXPECT_NE(mode_of("/") & 0005, 0u);
}

TEST_F(PrivatePaths, AMissingDirectoryWithoutCreateIsAnErrorNamingIt)
{
    const std::string missing = path("missing");
    try {
        make_private_directory(missing, false);
        FAIL() << "must throw";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "cannot open \"" + missing + "\": No such file or directory");
    }
    EXPECT_FALSE(make_private_file(missing + "/x", false));
    EXPECT_FALSE(make_private_file(missing + "/x", true)) << "left for SQLite to report";
}

TEST_F(PrivatePaths, AnOpenDirectoryOfAnotherUserIsRefusedNamingIt)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to give a directory to another user";
    }
    const std::string state = path("state");
    ASSERT_EQ(::mkdir(state.c_str(), 0755), 0);
    ASSERT_EQ(::chown(state.c_str(), 65534, 65534), 0);
    try {
        Database::open(state + "/chatwoot.db");
        FAIL() << "must refuse";
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "the directory \"" + state + "\" is open to group or others (mode 0755)"
                  " and belongs to uid 65534, not to this process (uid 0): make it private"
                  " (chmod 700) or give it to the user nginx's workers run as");
        EXPECT_EQ(e.code(), SQLITE_PERM);
    }
    EXPECT_EQ(mode_of(state), 0755u) << "not ours: left as it was";
    EXPECT_FALSE(std::filesystem::exists(state + "/chatwoot.db")) << "nothing written there";

    // Private to its owner: not ours to judge; used.
    ASSERT_EQ(::chmod(state.c_str(), 0700), 0);
    make_private_directory(state, false);
    EXPECT_EQ(mode_of(state), 0700u);
}

TEST_F(PrivatePaths, AnOpenFileOfAnotherUserIsRefusedNamingIt)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to give a file to another user";
    }
    const std::string file = path("chatwoot.db");
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
    ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
    ASSERT_EQ(::chown(file.c_str(), 65534, 65534), 0);
    try {
        make_private_file(file, true);
        FAIL() << "must refuse";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("the file \"" + file + "\" is open to group"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(mode_of(file), 0644u);
}

}  // namespace
