#include "synthetic_device.hpp"

#include "ngx.hpp"

#include "../bridge/wa_message_json.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

namespace chatwoot::helper {

namespace {

constexpr size_t kFilesPerPoll = 500;
constexpr uintmax_t kMaxFile = 256 * 1024;

}  // namespace

size_t SyntheticDevice::poll(int64_t now)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        if (entry.is_regular_file(ec) && entry.path().extension() == ".json") {
            files.push_back(entry.path());
        }
    }
    if (ec || files.empty()) {
        return 0;
    }
    std::sort(files.begin(), files.end());
    if (files.size() > kFilesPerPoll) {
        files.resize(kFilesPerPoll);
    }

    size_t added = 0;
    std::vector<fs::path> done;
    {
        store::Transaction tx(db_);
        for (const auto& path : files) {
            std::string error;
            std::optional<bridge::WaMessage> m;
            if (fs::file_size(path, ec) <= kMaxFile && !ec) {
                std::ifstream in(path, std::ios::binary);
                std::stringstream text;
                text << in.rdbuf();
                m = bridge::parse_wa_message(text.str(), &error);
            } else {
                error = "unreadable or over 256 KiB";
            }
            if (!m) {
                // Kept for the operator to look at, out of the way.
                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "chatwoot helper: synthetic device of inbox \"%s\": "
                              "\"%s\" is no message (%s); renamed to .bad",
                              inbox_.c_str(), path.c_str(), error.c_str());
                fs::rename(path, fs::path(path).replace_extension(".bad"), ec);
                continue;
            }
            if (!filter_.accepts(*m)) {
                ngx_log_debug2(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                               "chatwoot helper: inbox \"%s\" ignores chat %s",
                               inbox_.c_str(), m->chat.c_str());
            } else if (inbound_.add(inbox_, m->id, m->chat, bridge::to_json(*m), now)) {
                added++;
            }
            done.push_back(path);
        }
        tx.commit();
    }
    for (const auto& path : done) {
        fs::remove(path, ec);
    }
    return added;
}

}  // namespace chatwoot::helper
