#include "synthetic_device.hpp"

#include "ngx.hpp"

#include "../bridge/wa_message_json.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
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
    auto list = [&] {
        std::vector<fs::path> found;
        for (const auto& entry : fs::directory_iterator(dir_, ec)) {
            if (entry.is_regular_file(ec) && entry.path().extension() == ".json") {
                found.push_back(entry.path());
            }
        }
        std::sort(found.begin(), found.end());
        return found;
    };
    // A directory read while files are renamed into it can miss a file
    // that was there before one it returns (readdir walks in hash order).
    // Files arrive in name order, so a second read returns every file up
    // to the first read's last name: those are taken, and never a later
    // message before an earlier one of the same chat.
    const std::vector<fs::path> first = list();
    if (ec || first.empty()) {
        return 0;
    }
    std::vector<fs::path> files = list();
    if (ec) {
        return 0;
    }
    files.erase(std::upper_bound(files.begin(), files.end(), first.back()), files.end());
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
            if (m->from_me && outbox_.is_our_send(inbox_, m->id)) {
                // The device's echo of an agent reply we sent: already in
                // Chatwoot, as the agent's message.
            } else if (!filter_.accepts(*m)) {
                ngx_log_debug2(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                               "chatwoot helper: inbox \"%s\" ignores chat %s",
                               inbox_.c_str(), m->chat.c_str());
            } else {
                // The copies are durable before the row that names them.
                std::vector<fs::path> sources;
                try {
                    for (size_t i = 0; i < m->attachments.size(); i++) {
                        auto& a = m->attachments[i];
                        sources.push_back(fs::path(dir_) / a.path);
                        a.path = media_.keep(inbox_, m->id, i, sources.back().string());
                    }
                } catch (const std::exception& e) {
                    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                                  "chatwoot helper: synthetic device of inbox \"%s\": "
                                  "\"%s\": %s; renamed to .bad",
                                  inbox_.c_str(), path.c_str(), e.what());
                    fs::rename(path, fs::path(path).replace_extension(".bad"), ec);
                    continue;
                }
                if (inbound_.add(inbox_, m->id, m->chat, bridge::to_json(*m), now)) {
                    added++;
                }
                done.insert(done.end(), sources.begin(), sources.end());
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

void SyntheticDevice::write_sent(const std::string& name, const std::string& json)
{
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(dir_) / "sent";
    fs::create_directories(dir);
    const fs::path tmp = dir / (name + ".tmp");
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << json;
        if (!out.flush()) {
            throw std::runtime_error("cannot write " + tmp.string());
        }
    }
    fs::rename(tmp, dir / name);  // whole or not at all, for whoever reads
}

std::string SyntheticDevice::send(const bridge::AgentReply& reply, int64_t outbox_id)
{
    bridge::WaMessage m;
    m.id = "SYN" + std::to_string(outbox_id);
    m.chat = reply.chat;
    m.from_me = true;
    m.text = reply.text;
    m.reply_to = reply.quoted;
    char name[32];
    std::snprintf(name, sizeof name, "%010lld.json", static_cast<long long>(outbox_id));
    write_sent(name, bridge::to_json(m));
    return m.id;
}

void SyntheticDevice::revoke(const std::string& chat, const std::string& wa_id,
                             int64_t outbox_id)
{
    char name[40];
    std::snprintf(name, sizeof name, "%010lld-revoke.json", static_cast<long long>(outbox_id));
    write_sent(name, "{\"revoke\":\"" + wa_id + "\",\"chat\":\"" + chat + "\"}");
}

}  // namespace chatwoot::helper
