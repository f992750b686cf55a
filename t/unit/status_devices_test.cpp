// The status document's "devices" list, from the helper's snapshot
// (cw_status_render_with_snapshot in src/ipc/status_json.cpp): states and
// errors are shown, secrets and personal data never, and whatever the
// snapshot's strings hold the document stays valid JSON within its bound.

#include "chatwoot_shared.h"
#include "chatwoot_snapshot.h"
#include "ipc/snapshot.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace {

std::unique_ptr<cw_snapshot_t> blank()
{
    auto s = std::make_unique<cw_snapshot_t>();
    std::memset(s.get(), 0, sizeof *s);
    return s;
}

cw_status_t status()
{
    cw_status_t s;
    std::memset(&s, 0, sizeof s);
    s.helper.state = CW_HELPER_RUNNING;
    s.now = 1700000099;
    return s;
}

std::string render(const cw_status_t& s, const cw_snapshot_t* snap)
{
    std::vector<char> buf(CW_STATUS_SNAPSHOT_MAX);
    const size_t n = cw_status_render_with_snapshot(&s, snap, buf.data(), buf.size());
    EXPECT_GT(n, 0u);
    return std::string(buf.data(), n);
}

rapidjson::Document parse(const std::string& body)
{
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(body.c_str(), body.size());
    EXPECT_FALSE(d.HasParseError())
        << rapidjson::GetParseError_En(d.GetParseError()) << " at " << d.GetErrorOffset()
        << "\n" << body;
    return d;
}

// Two devices: one pairing (with a QR on screen), one connected.
std::unique_ptr<cw_snapshot_t> two_devices()
{
    auto snap = blank();
    snap->devices_n = 2;
    cw_snapshot_device_t& a = snap->devices[0];
    a.state = CW_DEVICE_PAIRING_QR;
    a.state_since = 1700000010;
    chatwoot::ipc::copy_text(a.name, "shop");
    chatwoot::ipc::copy_text(a.inbox, "support");
    chatwoot::ipc::copy_text(a.qr, "2@SECRETQRREF,noisekey,identitykey,advsecret");
    chatwoot::ipc::copy_text(a.pair_code, "SECR-CODE");
    cw_snapshot_device_t& b = snap->devices[1];
    b.state = CW_DEVICE_CONNECTED;
    b.state_since = 1700000020;
    b.connected_since = 1700000020;
    b.reconnects = 3;
    chatwoot::ipc::copy_text(b.name, "sales");
    chatwoot::ipc::copy_text(b.inbox, "sales-inbox");
    chatwoot::ipc::copy_text(b.pn_jid, "5511999990000:12@s.whatsapp.net");
    chatwoot::ipc::copy_text(b.lid, "123456789012345:12@lid");
    chatwoot::ipc::copy_text(b.push_name, "Maria Private");
    return snap;
}

}  // namespace

TEST(StatusDevices, WithoutASnapshotTheDocumentIsTheUsualOne)
{
    const cw_status_t s = status();
    char plain[CW_STATUS_MAX];
    const size_t n = cw_status_render(&s, plain, sizeof plain);
    ASSERT_GT(n, 0u);
    EXPECT_EQ(render(s, nullptr), std::string(plain, n));
    EXPECT_EQ(std::string(plain, n).find("devices"), std::string::npos);
}

TEST(StatusDevices, EachDeviceShowsItsNameInboxStateAndError)
{
    auto snap = two_devices();
    chatwoot::ipc::copy_text(snap->devices[0].error, "");
    const auto d = parse(render(status(), snap.get()));
    ASSERT_TRUE(d.HasMember("devices"));
    const auto& devices = d["devices"];
    ASSERT_TRUE(devices.IsArray());
    ASSERT_EQ(devices.Size(), 2u);
    EXPECT_STREQ(devices[0]["name"].GetString(), "shop");
    EXPECT_STREQ(devices[0]["inbox"].GetString(), "support");
    EXPECT_STREQ(devices[0]["state"].GetString(), "pairing_qr");
    EXPECT_EQ(devices[0]["state_since"].GetUint64(), 1700000010u);
    EXPECT_EQ(devices[0]["connected_since"].GetUint64(), 0u);
    EXPECT_STREQ(devices[0]["error"].GetString(), "");
    EXPECT_STREQ(devices[1]["state"].GetString(), "connected");
    EXPECT_EQ(devices[1]["reconnects"].GetUint64(), 3u);
    EXPECT_EQ(devices[1]["connected_since"].GetUint64(), 1700000020u);
    // The rest of the document is still there.
    EXPECT_STREQ(d["helper"]["state"].GetString(), "running");
    EXPECT_EQ(d["time"].GetUint64(), 1700000099u);
}

// The device's own JIDs are the business's number, which monitoring may
// show (issue 9); the QR, the pair code and names never.
TEST(StatusDevices, SecretsAndNamesNeverAppearOwnJidsDo)
{
    auto snap = two_devices();
    const std::string body = render(status(), snap.get());
    for (const char* never : {"SECRETQRREF", "SECR-CODE", "noisekey", "Maria", "\"qr\"",
                              "\"pair_code\"", "\"push_name\""}) {
        EXPECT_EQ(body.find(never), std::string::npos) << never << " in " << body;
    }
    const auto d = parse(body);
    const auto& devices = d["devices"];
    EXPECT_STREQ(devices[1]["pn_jid"].GetString(), "5511999990000:12@s.whatsapp.net");
    EXPECT_STREQ(devices[1]["lid"].GetString(), "123456789012345:12@lid");
    EXPECT_FALSE(devices[1]["qr_pending"].GetBool());
    EXPECT_TRUE(devices[0]["qr_pending"].GetBool());
}

// What WhatsApp restricts on the account (a reach-out time lock) is shown
// with the device, "" when nothing.
TEST(StatusDevices, RestrictionIsShown)
{
    auto snap = two_devices();
    chatwoot::ipc::copy_text(snap->devices[1].restriction,
                             "WhatsApp restricts messages to new contacts until 2026-07-06 13:08 UTC");
    const auto d = parse(render(status(), snap.get()));
    EXPECT_STREQ(d["devices"][0]["restriction"].GetString(), "");
    EXPECT_STREQ(d["devices"][1]["restriction"].GetString(),
                 "WhatsApp restricts messages to new contacts until 2026-07-06 13:08 UTC");
}

TEST(StatusDevices, StringsAreEscapedAndBrokenUtf8BecomesReplacementCharacters)
{
    auto snap = blank();
    snap->devices_n = 2;
    chatwoot::ipc::copy_text(snap->devices[0].name, "a\"b\\c\nd\x01");
    chatwoot::ipc::copy_text(snap->devices[0].error, "caf\xC3\xA9 closed");
    chatwoot::ipc::copy_text(snap->devices[1].name, "bad\xC3(");
    // No NUL in the whole array: cut at its end, never past it.
    std::memset(snap->devices[1].error, 'e', sizeof snap->devices[1].error);
    snap->devices[1].state = 99;
    const auto d = parse(render(status(), snap.get()));
    const auto& devices = d["devices"];
    EXPECT_STREQ(devices[0]["name"].GetString(), "a\"b\\c\nd\x01");
    EXPECT_STREQ(devices[0]["error"].GetString(), "caf\xC3\xA9 closed");
    EXPECT_STREQ(devices[1]["name"].GetString(), "bad\xEF\xBF\xBD(");
    EXPECT_EQ(std::string(devices[1]["error"].GetString()),
              std::string(sizeof snap->devices[1].error, 'e'));
    EXPECT_STREQ(devices[1]["state"].GetString(), "unknown");
}

TEST(StatusDevices, TheWorstSnapshotFitsItsBoundAndASmallerBufferIsRefused)
{
    auto snap = blank();
    std::memset(snap.get(), 0xFF, sizeof *snap);   // every number at 20 digits
    snap->devices_n = 1000;                         // clamped to the table
    for (auto& dev : snap->devices) {
        // Control characters cost six bytes each, the most any byte costs.
        std::memset(dev.name, 0x01, sizeof dev.name);
        std::memset(dev.inbox, 0x1F, sizeof dev.inbox);
        std::memset(dev.error, 0x7F, sizeof dev.error);
        std::memset(dev.restriction, 0x7F, sizeof dev.restriction);
    }
    cw_status_t s;
    std::memset(&s, 0xFF, sizeof s);
    s.helper.state = CW_HELPER_WAITING_LOCK;
    s.queue.rejected_full = std::numeric_limits<uint64_t>::max() - 1;
    s.queue.rejected_large = 1;
    s.queue.rejected_closed = 0;
    s.chatwoot_configured = 0;

    std::vector<char> buf(CW_STATUS_SNAPSHOT_MAX + 64, '#');
    const size_t n =
        cw_status_render_with_snapshot(&s, snap.get(), buf.data(), CW_STATUS_SNAPSHOT_MAX);
    ASSERT_GT(n, 0u);
    const auto d = parse(std::string(buf.data(), n));
    EXPECT_EQ(d["devices"].Size(), size_t{CW_SNAPSHOT_DEVICES});

    for (size_t size : {size_t{0}, size_t{100}, n / 2, n - 1, n}) {
        std::vector<char> small(n + 64, '#');
        EXPECT_EQ(cw_status_render_with_snapshot(&s, snap.get(), small.data(), size), 0u)
            << size;
        for (size_t i = size; i < small.size(); i++) {
            ASSERT_EQ(small[i], '#') << "size " << size << ": byte " << i << " written";
        }
    }
    std::vector<char> exact(n + 1);
    EXPECT_EQ(cw_status_render_with_snapshot(&s, snap.get(), exact.data(), n + 1), n);
}
