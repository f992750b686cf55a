// The media store (helper/media_store.hpp) on a real directory: opening it
// removes what a killed helper left half written (a download's ".part", a
// copy's ".tmp") and keeps every finished file, which rows may name.
#include "helper/media_store.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using chatwoot::helper::MediaStore;

namespace {

void write(const fs::path& p, const std::string& bytes)
{
    std::ofstream(p, std::ios::binary) << bytes;
}

TEST(MediaStore, OpeningRemovesUnfinishedFilesOnly)
{
    const fs::path dir = fs::temp_directory_path() / ("media_store_test_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    {
        MediaStore first(dir.string());
        const std::string done = first.path_for("main", "3EB0DONE", 0);
        write(done, "a whole, verified file");
        write(first.path_for("main", "3EB0CUT", 0) + ".part", "half a body");
        write(first.path_for("main", "3EB0COPY", 0) + ".tmp", "half a copy");
        write(dir / "notes.txt", "not ours to judge");
    }
    MediaStore again(dir.string());
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{"main-3EB0DONE-0", "notes.txt"}));
    fs::remove_all(dir);
}

}  // namespace
