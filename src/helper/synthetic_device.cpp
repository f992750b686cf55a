#include "synthetic_device.hpp"

#include "log.hpp"

#include "../bridge/wa_message_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
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

// An attachment named by a message file must be a file inside the device's
// directory: a message cannot make the helper read (and post to Chatwoot)
// any file the worker user can read.
std::filesystem::path confined(const std::filesystem::path& dir, const std::string& name)
{
    namespace fs = std::filesystem;
    const fs::path rel(name);
    if (name.empty() || rel.is_absolute() || rel.has_root_name()) {
        throw std::runtime_error("attachment \"" + name + "\" is not a relative path");
    }
    for (const auto& part : rel) {
        if (part == "..") {
            throw std::runtime_error("attachment \"" + name + "\" leaves the directory");
        }
    }
    std::error_code ec;
    const fs::path base = fs::canonical(dir, ec);
    const fs::path real = ec ? fs::path() : fs::canonical(dir / rel, ec);
    if (ec) {
        throw std::runtime_error("attachment \"" + name + "\" is missing");
    }
    auto [b, r] = std::mismatch(base.begin(), base.end(), real.begin(), real.end());
    if (b != base.end() || !fs::is_regular_file(real, ec)) {
        throw std::runtime_error("attachment \"" + name + "\" is no file inside the directory");
    }
    return real;
}

}  // namespace

SyntheticDevice::SyntheticDevice(std::string inbox, std::string dir, store::Database& db,
                                 store::WaInboundRepository& inbound,
                                 store::OutboxRepository& outbox, bridge::IntakeFilter filter,
                                 MediaStore& media)
    : inbox_(std::move(inbox)),
      dir_(std::move(dir)),
      db_(db),
      media_(media),
      inbound_(inbound),
      outbox_(outbox),
      filter_(std::move(filter)),
      ids_(std::random_device{}())
{
}

// WhatsApp Web's own ids look like 3EB0 and 18 more upper-case hex digits.
std::string SyntheticDevice::new_message_id()
{
    char id[32];
    std::snprintf(id, sizeof id, "3EB0%016llX%02X",
                  static_cast<unsigned long long>(ids_()),
                  static_cast<unsigned>(ids_() & 0xff));
    return id;
}

DeviceStatus SyntheticDevice::status() const
{
    if (pairing_code_) {
        DeviceStatus s = DeviceStatus::of(DeviceState::pairing_code);
        s.pair_code = *pairing_code_;
        return s;
    }
    if (pairing_qr_) {
        DeviceStatus s = DeviceStatus::of(DeviceState::pairing_qr);
        s.qr = *pairing_qr_;
        return s;
    }
    DeviceStatus s = DeviceStatus::of(DeviceState::connected);
    s.pn_jid = pn_jid_;
    s.push_name = push_name_;
    return s;
}

namespace {

// The text of a small file in dir, at most `max` bytes of it, without the
// line break an editor leaves at the end; nullopt when there is none.
std::optional<std::string> read_small(const std::string& path, size_t max)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::string text(max, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.pop_back();
    }
    return text;
}

}  // namespace

void SyntheticDevice::look_at_pairing_files()
{
    const DeviceState before = status().state;
    // as much as the snapshot holds
    pairing_qr_ = read_small(dir_ + "/pairing-qr", CW_SNAPSHOT_QR_SIZE - 1);
    pairing_code_ = read_small(dir_ + "/pairing-code", CW_SNAPSHOT_CODE_SIZE - 1);
    const std::string account =
        read_small(dir_ + "/account", CW_SNAPSHOT_JID_SIZE + CW_SNAPSHOT_PUSH_NAME_SIZE)
            .value_or("");
    const size_t eol = account.find('\n');
    pn_jid_ = account.substr(0, eol);
    push_name_ = eol == std::string::npos ? std::string() : account.substr(eol + 1);
    if (status().state != before && events_ != nullptr) {
        events_->state_changed(status());
    }
}

std::optional<std::string> SyntheticDevice::pair(const std::optional<std::string>& phone)
{
    try {
        write_file("pair-request", phone.value_or(""));
        return std::nullopt;
    } catch (const std::exception& e) {
        return std::string("cannot write the pair request: ") + e.what();
    }
}

void SyntheticDevice::write_file(const std::string& name, const std::string& text)
{
    namespace fs = std::filesystem;
    const fs::path tmp = fs::path(dir_) / (name + ".tmp");
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out.flush()) {
            throw std::runtime_error("cannot write " + tmp.string());
        }
    }
    fs::rename(tmp, fs::path(dir_) / name);  // whole or not at all, for whoever reads
}

size_t SyntheticDevice::poll(int64_t now)
{
    namespace fs = std::filesystem;
    look_at_pairing_files();
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
    std::set<std::string> chats;
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
                log(LogLevel::warn,
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
                log(LogLevel::debug, "chatwoot helper: inbox \"%s\" ignores chat %s",
                    inbox_.c_str(), m->chat.c_str());
            } else {
                // The copies are durable before the row that names them.
                std::vector<fs::path> sources;
                try {
                    for (size_t i = 0; i < m->attachments.size(); i++) {
                        auto& a = m->attachments[i];
                        sources.push_back(confined(dir_, a.path));
                        a.path = media_.keep(inbox_, m->id, i, sources.back().string());
                    }
                } catch (const std::exception& e) {
                    log(LogLevel::warn,
                        "chatwoot helper: synthetic device of inbox \"%s\": "
                        "\"%s\": %s; renamed to .bad",
                        inbox_.c_str(), path.c_str(), e.what());
                    fs::rename(path, fs::path(path).replace_extension(".bad"), ec);
                    continue;
                }
                if (inbound_.add(inbox_, m->id, m->chat, bridge::to_json(*m), now)) {
                    added++;
                    chats.insert(m->chat);
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
    // Committed: now the runtime may forward them.
    if (events_ != nullptr) {
        for (const auto& chat : chats) {
            events_->inbound(chat);
        }
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

// Typing and read receipts have no id of their own: a typing file is named
// by the time it went (each one a new file, in order), a read by the
// outbox entry of the reply it went before (so the same again after a
// crash writes the same file, and it sorts just before that reply's file).
void SyntheticDevice::write_presence(const OutgoingMessage& message)
{
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&](const std::string& v) {
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    char name[64];
    w.StartObject();
    if (message.kind == OutgoingMessage::Kind::typing) {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        // Two in the same nanosecond still get two names.
        typing_seq_ = std::max<int64_t>(typing_seq_ + 1, static_cast<int64_t>(ns));
        std::snprintf(name, sizeof name, "typing-%020lld.json",
                      static_cast<long long>(typing_seq_));
        w.Key("typing");
        w.Bool(message.typing_on);
    } else {
        std::snprintf(name, sizeof name, "%010lld-read.json",
                      static_cast<long long>(message.outbox_id));
        w.Key("read");
        w.StartArray();
        for (const auto& id : message.read_ids) {
            str(id);
        }
        w.EndArray();
        if (!message.read_sender.empty()) {
            w.Key("sender");
            str(message.read_sender);
        }
    }
    w.Key("chat");
    str(message.chat);
    w.EndObject();
    write_sent(name, std::string(buf.GetString(), buf.GetSize()));
}

void SyntheticDevice::send(const OutgoingMessage& message, Done done) noexcept
{
    SendResult result;
    try {
        char name[40];
        if (message.kind == OutgoingMessage::Kind::history_request) {
            // A directory of files has no phone to ask.
            result = SendResult{SendResult::Kind::failed,
                                "a synthetic device has no phone to ask for history"};
        } else if (message.kind == OutgoingMessage::Kind::typing
            || message.kind == OutgoingMessage::Kind::read)
        {
            write_presence(message);
        } else if (message.kind == OutgoingMessage::Kind::revoke) {
            std::snprintf(name, sizeof name, "%010lld-revoke.json",
                          static_cast<long long>(message.outbox_id));
            // The ids are WhatsApp's form ([0-9A-F]) and the chat a parsed
            // JID: nothing here needs escaping.
            write_sent(name, "{\"revoke\":\"" + message.revoked_id + "\",\"chat\":\""
                                 + message.chat + "\"}");
        } else {
            bridge::WaMessage m;
            m.id = message.id;
            m.chat = message.chat;
            m.from_me = true;
            m.text = message.text;
            m.reply_to = message.quoted;
            std::snprintf(name, sizeof name, "%010lld.json",
                          static_cast<long long>(message.outbox_id));
            write_sent(name, bridge::to_json(m));
        }
        if (message.kind != OutgoingMessage::Kind::history_request) result.kind = SendResult::Kind::sent;
    } catch (const std::exception& e) {
        result.kind = SendResult::Kind::retry;
        result.reason = e.what();
    } catch (...) {
        result.kind = SendResult::Kind::retry;
        result.reason = "unknown error";
    }
    done(result);
}

}  // namespace chatwoot::helper
