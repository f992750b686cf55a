// The devices API's decisions (src/ipc/devices_api.cpp): which endpoint a
// path names, device JSON from the snapshot (never the QR text or the pair
// code), what a command id's poll answers (published outcome, pending,
// unknown, aged out), and the pair-code body's phone.

#include "chatwoot_devices.h"
#include "ipc/snapshot.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

cw_str_t s(std::string_view v)
{
    return cw_str_t{v.data(), v.size()};
}

cw_devices_route_t route(std::string_view path)
{
    cw_devices_route_t r;
    cw_devices_route(s(path), &r);
    return r;
}

std::string name_of(const cw_devices_route_t& r)
{
    return std::string(r.name.data == nullptr ? "" : std::string_view(r.name.data, r.name.len));
}

std::unique_ptr<cw_snapshot_t> blank()
{
    auto snap = std::make_unique<cw_snapshot_t>();
    std::memset(snap.get(), 0, sizeof *snap);
    return snap;
}

cw_snapshot_device_t& add_device(cw_snapshot_t& snap, std::string_view name, uint64_t state)
{
    cw_snapshot_device_t& d = snap.devices[snap.devices_n++];
    chatwoot::ipc::copy_text(d.name, name);
    chatwoot::ipc::copy_text(d.inbox, name);
    d.state = state;
    d.state_since = 1700000000;
    return d;
}

rapidjson::Document parse(const std::string& json)
{
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    EXPECT_FALSE(doc.HasParseError()) << json;
    return doc;
}

std::string render_device(const cw_snapshot_device_t& d)
{
    std::vector<char> buf(CW_DEVICES_JSON_MAX);
    const size_t n = cw_devices_render_device(&d, buf.data(), buf.size());
    EXPECT_GT(n, 0u);
    return std::string(buf.data(), n);
}

std::string id_of(uint64_t epoch, uint64_t seq)
{
    char id[CW_COMMAND_ID_SIZE];
    cw_command_id(epoch, seq, id);
    return id;
}

// The poll's answer, "" for a 404.
std::string poll(const cw_snapshot_t& snap, const std::string& id, uint64_t epoch,
                 uint64_t next_seq)
{
    std::vector<char> buf(CW_DEVICES_JSON_MAX);
    const size_t n = cw_devices_render_command(&snap, s(id), epoch, next_seq, buf.data(),
                                               buf.size());
    return std::string(buf.data(), n);
}

cw_snapshot_command_t& add_command(cw_snapshot_t& snap, const std::string& id, uint64_t state,
                                   std::string_view reason = "")
{
    cw_snapshot_command_t& c = snap.commands[snap.commands_n++];
    chatwoot::ipc::copy_text(c.id, id);
    c.kind = CW_COMMAND_PAIR;
    c.state = state;
    c.created_at = 1700000001;
    c.updated_at = 1700000002;
    chatwoot::ipc::copy_text(c.reason, reason);
    return c;
}

}  // namespace

TEST(DevicesApi, Routes)
{
    EXPECT_EQ(route("").endpoint, CW_DEVICES_LIST);
    EXPECT_EQ(route("").post, 0);

    auto one = route("main");
    EXPECT_EQ(one.endpoint, CW_DEVICES_ONE);
    EXPECT_EQ(name_of(one), "main");
    EXPECT_STREQ(one.allow, "GET, HEAD");

    auto qr = route("sales-2/qr");
    EXPECT_EQ(qr.endpoint, CW_DEVICES_QR);
    EXPECT_EQ(name_of(qr), "sales-2");
    EXPECT_EQ(qr.post, 0);

    for (auto [path, endpoint] : {std::pair{"main/pair", CW_DEVICES_PAIR},
                                  std::pair{"main/pair-code", CW_DEVICES_PAIR_CODE},
                                  std::pair{"main/logout", CW_DEVICES_LOGOUT}}) {
        auto r = route(path);
        EXPECT_EQ(r.endpoint, endpoint) << path;
        EXPECT_EQ(name_of(r), "main") << path;
        EXPECT_EQ(r.post, 1) << path;
        EXPECT_STREQ(r.allow, "POST") << path;
    }

    auto cmd = route("commands/00000000000000aa0000000000000001");
    EXPECT_EQ(cmd.endpoint, CW_DEVICES_COMMAND);
    EXPECT_EQ(name_of(cmd), "00000000000000aa0000000000000001");
    EXPECT_EQ(cmd.post, 0);

    // a device may be called "commands": its own endpoints still route
    EXPECT_EQ(route("commands").endpoint, CW_DEVICES_ONE);
    EXPECT_EQ(route("commands/qr").endpoint, CW_DEVICES_QR);
    EXPECT_EQ(route("commands/logout").endpoint, CW_DEVICES_LOGOUT);

    for (std::string_view bad : {"main/", "main/qr/", "main/unknown", "/main", "a b",
                                 "main/qr/x", "commands/", "commands/a/b", "../etc",
                                 "m%41in"}) {
        EXPECT_EQ(route(bad).endpoint, CW_DEVICES_NOT_FOUND) << bad;
    }
    EXPECT_EQ(route(std::string(64, 'n')).endpoint, CW_DEVICES_ONE);
    EXPECT_EQ(route(std::string(65, 'n')).endpoint, CW_DEVICES_NOT_FOUND)
        << "longer than any device name a command carries";
}

TEST(DevicesApi, DeviceJsonShowsTheStateAndNeverTheSecrets)
{
    auto snap = blank();
    auto& d = add_device(*snap, "main", CW_DEVICE_CONNECTED);
    chatwoot::ipc::copy_text(d.pn_jid, "5511999999999:12@s.whatsapp.net");
    chatwoot::ipc::copy_text(d.lid, "123456789012345:12@lid");
    chatwoot::ipc::copy_text(d.push_name, "Loja \"Centro\"");
    chatwoot::ipc::copy_text(d.qr, "2@secret-ref,key,key,adv");
    chatwoot::ipc::copy_text(d.pair_code, "ABCD-EFGH");
    d.connected_since = 1700000050;
    d.reconnects = 3;

    const std::string json = render_device(d);
    EXPECT_EQ(json.find("secret-ref"), std::string::npos);
    EXPECT_EQ(json.find("ABCD-EFGH"), std::string::npos);
    auto doc = parse(json);
    EXPECT_STREQ(doc["name"].GetString(), "main");
    EXPECT_STREQ(doc["inbox"].GetString(), "main");
    EXPECT_STREQ(doc["state"].GetString(), "connected");
    EXPECT_EQ(doc["state_since"].GetUint64(), 1700000000u);
    EXPECT_STREQ(doc["pn_jid"].GetString(), "5511999999999:12@s.whatsapp.net");
    EXPECT_STREQ(doc["lid"].GetString(), "123456789012345:12@lid");
    EXPECT_STREQ(doc["push_name"].GetString(), "Loja \"Centro\"");
    EXPECT_EQ(doc["connected_since"].GetUint64(), 1700000050u);
    EXPECT_EQ(doc["reconnects"].GetUint64(), 3u);
    EXPECT_TRUE(doc["error"].IsNull());
    EXPECT_FALSE(doc["qr_pending"].GetBool()) << "a QR left over is not one to scan";
}

TEST(DevicesApi, QrPendingOnlyWhilePairingWithAQr)
{
    auto snap = blank();
    auto& d = add_device(*snap, "main", CW_DEVICE_PAIRING_QR);
    EXPECT_EQ(cw_devices_qr_pending(&d), 0) << "no ref yet";
    EXPECT_FALSE(parse(render_device(d))["qr_pending"].GetBool());
    chatwoot::ipc::copy_text(d.qr, "2@ref");
    EXPECT_EQ(cw_devices_qr_pending(&d), 1);
    auto doc = parse(render_device(d));
    EXPECT_TRUE(doc["qr_pending"].GetBool());
    EXPECT_STREQ(doc["state"].GetString(), "pairing_qr");
    EXPECT_TRUE(doc["pn_jid"].IsNull());
    EXPECT_TRUE(doc["connected_since"].IsNull());
}

TEST(DevicesApi, ListAndFind)
{
    auto snap = blank();
    std::vector<char> buf(CW_DEVICES_JSON_MAX);
    size_t n = cw_devices_render_list(snap.get(), buf.data(), buf.size());
    EXPECT_EQ(std::string(buf.data(), n), "{\"devices\":[]}");

    add_device(*snap, "main", CW_DEVICE_UNPAIRED);
    auto& e = add_device(*snap, "sales", CW_DEVICE_ERROR);
    chatwoot::ipc::copy_text(e.error, "no WhatsApp device configured");
    n = cw_devices_render_list(snap.get(), buf.data(), buf.size());
    auto doc = parse(std::string(buf.data(), n));
    ASSERT_EQ(doc["devices"].Size(), 2u);
    EXPECT_STREQ(doc["devices"][0]["state"].GetString(), "unpaired");
    EXPECT_STREQ(doc["devices"][1]["error"].GetString(), "no WhatsApp device configured");

    EXPECT_EQ(cw_devices_find(snap.get(), s("sales")), &snap->devices[1]);
    EXPECT_EQ(cw_devices_find(snap.get(), s("sale")), nullptr);
    EXPECT_EQ(cw_devices_find(snap.get(), s("")), nullptr);
    EXPECT_EQ(cw_devices_render_list(snap.get(), buf.data(), 10), 0u) << "does not fit";
}

TEST(DevicesApi, TheWorstSnapshotFitsAndStaysJson)
{
    auto snap = blank();
    snap->devices_n = CW_SNAPSHOT_DEVICES + 5;   // scribbled over: capped
    for (auto& d : snap->devices) {
        // no NULs anywhere, every byte escaped at its longest
        std::memset(&d, 0x01, sizeof d);
    }
    std::vector<char> buf(CW_DEVICES_JSON_MAX);
    const size_t n = cw_devices_render_list(snap.get(), buf.data(), buf.size());
    ASSERT_GT(n, 0u);
    auto doc = parse(std::string(buf.data(), n));
    EXPECT_EQ(doc["devices"].Size(), static_cast<unsigned>(CW_SNAPSHOT_DEVICES));
    EXPECT_STREQ(doc["devices"][0]["state"].GetString(), "unknown");

    for (auto& d : snap->devices) {
        std::memset(&d, 0xff, sizeof d);   // not UTF-8
    }
    const size_t m = cw_devices_render_list(snap.get(), buf.data(), buf.size());
    ASSERT_GT(m, 0u);
    parse(std::string(buf.data(), m));
}

TEST(DevicesApi, CommandOutcomeFromTheSnapshot)
{
    const uint64_t epoch = 0x1234;
    auto snap = blank();
    const std::string failed = id_of(epoch, 5);
    add_command(*snap, id_of(epoch, 6), CW_COMMAND_DONE);
    add_command(*snap, failed, CW_COMMAND_FAILED, "this device cannot be paired");

    auto doc = parse(poll(*snap, failed, epoch, 7));
    EXPECT_STREQ(doc["id"].GetString(), failed.c_str());
    EXPECT_STREQ(doc["kind"].GetString(), "pair");
    EXPECT_STREQ(doc["state"].GetString(), "failed");
    EXPECT_STREQ(doc["reason"].GetString(), "this device cannot be paired");
    EXPECT_EQ(doc["created_at"].GetUint64(), 1700000001u);
    EXPECT_EQ(doc["updated_at"].GetUint64(), 1700000002u);

    auto done = parse(poll(*snap, id_of(epoch, 6), epoch, 7));
    EXPECT_STREQ(done["state"].GetString(), "done");
    EXPECT_FALSE(done.HasMember("reason"));
}

TEST(DevicesApi, CommandNotPublishedYetIsPendingIfThisRingIssuedIt)
{
    const uint64_t epoch = 0x1234;
    auto snap = blank();
    auto doc = parse(poll(*snap, id_of(epoch, 3), epoch, 4));
    EXPECT_STREQ(doc["state"].GetString(), "pending");
    EXPECT_EQ(poll(*snap, id_of(epoch, 4), epoch, 4), "") << "not handed out yet";
    EXPECT_EQ(poll(*snap, id_of(epoch, 0), epoch, 4), "");
    EXPECT_EQ(poll(*snap, id_of(epoch + 1, 3), epoch, 4), "") << "another ring's";
    for (std::string bad : {std::string("nope"), id_of(epoch, 3).substr(1),
                            std::string(32, 'G'), std::string(32, 'A')}) {
        EXPECT_EQ(poll(*snap, bad, epoch, 4), "") << bad;
    }
}

TEST(DevicesApi, CommandOlderThanAFullWindowAgedOut)
{
    const uint64_t epoch = 7;
    auto snap = blank();
    for (uint64_t seq = 100; seq > 100 - CW_SNAPSHOT_COMMANDS; seq--) {   // newest first
        add_command(*snap, id_of(epoch, seq), CW_COMMAND_DONE);
    }
    const uint64_t oldest = 100 - CW_SNAPSHOT_COMMANDS + 1;
    EXPECT_EQ(poll(*snap, id_of(epoch, oldest - 1), epoch, 200), "") << "aged out";
    EXPECT_NE(poll(*snap, id_of(epoch, oldest), epoch, 200), "");
    auto newer = parse(poll(*snap, id_of(epoch, 150), epoch, 200));
    EXPECT_STREQ(newer["state"].GetString(), "pending") << "newer than the window";
}

TEST(DevicesApi, Accepted)
{
    char buf[64];
    const std::string id = id_of(1, 2);
    const size_t n = cw_devices_render_accepted(id.c_str(), buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n), "{\"id\":\"" + id + "\"}");
}

TEST(DevicesApi, PairCodeBody)
{
    char digits[CW_COMMAND_PHONE_MAX + 1];
    const char* reason = nullptr;
    auto ok = [&](std::string_view body) {
        reason = nullptr;
        return cw_devices_parse_pair_code(body.data(), body.size(), digits, &reason) == 0;
    };
    ASSERT_TRUE(ok(R"({"phone":"+5511999999999"})"));
    EXPECT_STREQ(digits, "5511999999999");
    ASSERT_TRUE(ok(R"( {"phone": "+12025550123", "other": 1} )"));
    EXPECT_STREQ(digits, "12025550123");
    EXPECT_TRUE(ok(R"({"phone":"+12345678"})")) << "8 digits";
    EXPECT_TRUE(ok(R"({"phone":"+123456789012345"})")) << "15 digits";

    EXPECT_FALSE(ok("{\"phone\":"));
    EXPECT_STREQ(reason, "body is not JSON");
    EXPECT_FALSE(ok(R"({"phone":"+5511999999999"} trailing)"));
    EXPECT_STREQ(reason, "body is not JSON");
    EXPECT_FALSE(ok(""));
    EXPECT_STREQ(reason, "body is not JSON");
    EXPECT_FALSE(ok(R"(["+5511999999999"])"));
    EXPECT_STREQ(reason, "body must be a JSON object with \"phone\"");
    EXPECT_FALSE(ok(R"({"number":"+5511999999999"})"));
    EXPECT_STREQ(reason, "\"phone\" must be a string, e.g. \"+5511999999999\"");
    EXPECT_FALSE(ok(R"({"phone":5511999999999})"));
    EXPECT_STREQ(reason, "\"phone\" must be a string, e.g. \"+5511999999999\"");
    for (std::string_view bad :
         {R"({"phone":"5511999999999"})", R"({"phone":"+1234567"})",
          R"({"phone":"+1234567890123456"})", R"({"phone":"+55 11 99999 9999"})",
          R"({"phone":"+55-11-999999999"})", R"({"phone":"+0511999999999"})",
          R"({"phone":""})", R"({"phone":"+"})"}) {
        EXPECT_FALSE(ok(bad)) << bad;
        EXPECT_STREQ(reason, "\"phone\" must be \"+\" and 8 to 15 digits, e.g. \"+5511999999999\"")
            << bad;
    }
    const std::string big = "{\"phone\":\"+5511999999999\",\"pad\":\"" + std::string(5000, 'x')
                            + "\"}";
    EXPECT_FALSE(ok(big));
    EXPECT_STREQ(reason, "body too large");
}
