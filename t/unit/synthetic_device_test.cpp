// The synthetic device (helper/synthetic_device.hpp): messages from files,
// pushed to the runtime after they are committed; attachments confined to
// its directory; sends written to sent/ under the id the outbox chose.
#include "helper/device.hpp"
#include "helper/log.hpp"
#include "helper/media_store.hpp"
#include "helper/synthetic_device.hpp"
#include "store/outbox_repository.hpp"
#include "store/schema.hpp"
#include "store/wa_inbound_repository.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::helper;
namespace fs = std::filesystem;

namespace {

struct Events final : DeviceEvents {
    void inbound(std::string_view chat) override { chats.emplace_back(chat); }
    void state_changed(const DeviceStatus&) override {}
    std::vector<std::string> chats;
};

struct Fixture {
    Fixture()
    {
        char tmpl[] = "/tmp/synthetic-device-test-XXXXXX";
        root = mkdtemp(tmpl);
        fs::create_directories(root / "device");
        fs::create_directories(root / "state");
        db.emplace(store::Database::open((root / "state" / "chatwoot.db").string()));
        store::migrate(*db);
        inbound.emplace(*db);
        outbox.emplace(*db);
        media.emplace((root / "state" / "media").string());
        device.emplace("support", (root / "device").string(), *db, *inbound, *outbox,
                       bridge::IntakeFilter{}, *media);
        device->start(events);
    }
    ~Fixture()
    {
        device.reset();
        db.reset();
        fs::remove_all(root);
    }
    void write(const fs::path& name, const std::string& text)
    {
        std::ofstream(root / "device" / name) << text;
    }
    int64_t rows()
    {
        auto st = db->prepare("SELECT count(*) FROM wa_inbound");
        return st.scalar();
    }
    fs::path root;
    std::optional<store::Database> db;
    std::optional<store::WaInboundRepository> inbound;
    std::optional<store::OutboxRepository> outbox;
    std::optional<MediaStore> media;
    Events events;
    std::optional<SyntheticDevice> device;
};

std::string read(const fs::path& p)
{
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST(SyntheticDevice, PushesTheChatsOfCommittedMessages)
{
    Fixture f;
    f.write("0001.json", R"({"id":"A1","chat":"5511987654321@s.whatsapp.net","text":"oi"})");
    f.write("0002.json", R"({"id":"A2","chat":"5511987654321@s.whatsapp.net","text":"2"})");
    f.write("0003.json", R"({"id":"B1","chat":"5511900000000@s.whatsapp.net","text":"3"})");
    EXPECT_EQ(f.device->poll(1000), 3u);
    EXPECT_EQ(f.rows(), 3);
    EXPECT_EQ(f.events.chats, (std::vector<std::string>{"5511900000000@s.whatsapp.net",
                                                        "5511987654321@s.whatsapp.net"}));
    EXPECT_FALSE(fs::exists(f.root / "device" / "0001.json")) << "taken";
    EXPECT_EQ(f.device->status().state, DeviceState::connected);
}

TEST(SyntheticDevice, AttachmentsMustStayInsideItsDirectory)
{
    Fixture f;
    std::ofstream(f.root / "secret.txt") << "not for Chatwoot";
    fs::create_symlink(f.root / "secret.txt", f.root / "device" / "link.txt");
    f.write("ok.png", "png bytes");
    const std::string chat = R"("chat":"5511987654321@s.whatsapp.net","text":"")";
    f.write("0001.json", R"({"id":"A1",)" + chat + R"(,"attachments":[{"file":")"
                             + (f.root / "secret.txt").string() + R"(","mime":"text/plain"}]})");
    f.write("0002.json", R"({"id":"A2",)" + chat
                             + R"(,"attachments":[{"file":"../secret.txt","mime":"text/plain"}]})");
    f.write("0003.json", R"({"id":"A3",)" + chat
                             + R"(,"attachments":[{"file":"link.txt","mime":"text/plain"}]})");
    f.write("0004.json", R"({"id":"A4",)" + chat
                             + R"(,"attachments":[{"file":"ok.png","mime":"image/png"}]})");
    EXPECT_EQ(f.device->poll(1000), 1u) << "only the message whose file is inside";
    EXPECT_EQ(f.rows(), 1);
    for (const char* bad : {"0001.bad", "0002.bad", "0003.bad"}) {
        EXPECT_TRUE(fs::exists(f.root / "device" / bad)) << bad << " set aside";
    }
    EXPECT_EQ(read(f.root / "secret.txt"), "not for Chatwoot");
    size_t kept = 0;
    for (const auto& e : fs::recursive_directory_iterator(f.root / "state" / "media")) {
        if (e.is_regular_file()) {
            kept++;
            EXPECT_EQ(read(e.path()), "png bytes");
        }
    }
    EXPECT_EQ(kept, 1u) << "the secret never reached the media store";
}

TEST(SyntheticDevice, SendsUnderTheGivenIdIntoSent)
{
    Fixture f;
    const std::string id = f.device->new_message_id();
    EXPECT_EQ(id.size(), 22u);
    EXPECT_EQ(id.substr(0, 4), "3EB0");
    EXPECT_NE(f.device->new_message_id(), id);

    OutgoingMessage m;
    m.id = id;
    m.chat = "5511987654321@s.whatsapp.net";
    m.text = "*Ana:*\n\noi";
    m.quoted = "A1";
    m.outbox_id = 7;
    std::optional<SendResult> result;
    f.device->send(m, [&](const SendResult& r) { result = r; });
    ASSERT_TRUE(result);
    EXPECT_EQ(result->kind, SendResult::Kind::sent);
    const std::string sent = read(f.root / "device" / "sent" / "0000000007.json");
    EXPECT_NE(sent.find("\"id\":\"" + id + "\""), std::string::npos) << sent;
    EXPECT_NE(sent.find("\"reply_to\":\"A1\""), std::string::npos) << sent;

    OutgoingMessage r;
    r.kind = OutgoingMessage::Kind::revoke;
    r.id = f.device->new_message_id();
    r.revoked_id = id;
    r.chat = m.chat;
    r.outbox_id = 8;
    f.device->send(r, [&](const SendResult& x) { result = x; });
    EXPECT_EQ(result->kind, SendResult::Kind::sent);
    EXPECT_EQ(read(f.root / "device" / "sent" / "0000000008-revoke.json"),
              "{\"revoke\":\"" + id + "\",\"chat\":\"5511987654321@s.whatsapp.net\"}");
}

TEST(SyntheticDevice, TypingAndReadReceiptsBecomeFilesInSent)
{
    Fixture f;
    std::vector<SendResult> results;
    auto done = [&](const SendResult& r) { results.push_back(r); };

    OutgoingMessage on;
    on.kind = OutgoingMessage::Kind::typing;
    on.chat = "5511987654321@s.whatsapp.net";
    on.typing_on = true;
    OutgoingMessage off = on;
    off.typing_on = false;
    f.device->send(on, done);
    f.device->send(off, done);   // within the same clock tick, maybe: still its own file

    OutgoingMessage receipt;
    receipt.kind = OutgoingMessage::Kind::read;
    receipt.chat = "120363000000000000@g.us";
    receipt.read_ids = {"A1", "A\"2"};
    receipt.read_sender = "5511987654321@s.whatsapp.net";
    receipt.outbox_id = 9;
    f.device->send(receipt, done);

    ASSERT_EQ(results.size(), 3u);
    for (const auto& r : results) {
        EXPECT_EQ(r.kind, SendResult::Kind::sent);
    }
    std::vector<std::string> typing;
    for (const auto& e : fs::directory_iterator(f.root / "device" / "sent")) {
        const std::string name = e.path().filename().string();
        if (name.starts_with("typing-")) {
            typing.push_back(name);
        }
    }
    std::sort(typing.begin(), typing.end());
    ASSERT_EQ(typing.size(), 2u) << "each typing is a file of its own";
    EXPECT_EQ(read(f.root / "device" / "sent" / typing[0]),
              R"({"typing":true,"chat":"5511987654321@s.whatsapp.net"})")
        << "named in the order they went";
    EXPECT_EQ(read(f.root / "device" / "sent" / typing[1]),
              R"({"typing":false,"chat":"5511987654321@s.whatsapp.net"})");
    EXPECT_EQ(read(f.root / "device" / "sent" / "0000000009-read.json"),
              R"({"read":["A1","A\"2"],"sender":"5511987654321@s.whatsapp.net",)"
              R"("chat":"120363000000000000@g.us"})")
        << "named for the reply it goes before, ids escaped";
}

// A "pairing-qr" file stands in for a session waiting for a scan: the
// devices API's QR endpoint can be tried end to end without WhatsApp.
TEST(SyntheticDevice, PairingQrFileShowsAQrToScan)
{
    struct Seen final : DeviceEvents {
        void inbound(std::string_view) override {}
        void state_changed(const DeviceStatus& s) override { states.push_back(s.state); }
        std::vector<DeviceState> states;
    } seen;
    Fixture f;
    f.device->start(seen);

    f.write("pairing-qr", "");
    f.device->poll(1000);
    EXPECT_EQ(f.device->status().state, DeviceState::pairing_qr);
    EXPECT_EQ(f.device->status().qr, "") << "no QR yet";

    f.write("pairing-qr", "2@ref,key,key,adv\n");
    f.device->poll(1001);
    EXPECT_EQ(f.device->status().state, DeviceState::pairing_qr);
    EXPECT_EQ(f.device->status().qr, "2@ref,key,key,adv") << "the editor's line break dropped";
    EXPECT_TRUE(fs::exists(f.root / "device" / "pairing-qr")) << "not taken as a message";

    f.write("pairing-qr", std::string(2000, 'q'));
    f.device->poll(1002);
    EXPECT_EQ(f.device->status().qr.size(), CW_SNAPSHOT_QR_SIZE - 1u) << "what the snapshot holds";

    fs::remove(f.root / "device" / "pairing-qr");
    f.device->poll(1003);
    EXPECT_EQ(f.device->status().state, DeviceState::connected);
    EXPECT_EQ(f.device->status().qr, "");
    EXPECT_EQ(seen.states, (std::vector<DeviceState>{DeviceState::pairing_qr,
                                                     DeviceState::connected}))
        << "told once per change";
}

// The files that stand in for WhatsApp's side of linking by code: the code
// shown while "pairing-code" is there (before a "pairing-qr"), the account
// shown once linked, and the pair commands written down for a test to see.
TEST(SyntheticDevice, PairingCodeAccountAndPairRequestFiles)
{
    struct Seen final : DeviceEvents {
        void inbound(std::string_view) override {}
        void state_changed(const DeviceStatus& s) override { states.push_back(s.state); }
        std::vector<DeviceState> states;
    } seen;
    Fixture f;
    f.device->start(seen);

    EXPECT_EQ(f.device->pair(std::string("5511999999999")), std::nullopt) << "taken";
    EXPECT_EQ(read(f.root / "device" / "pair-request"), "5511999999999");
    EXPECT_EQ(f.device->pair(std::nullopt), std::nullopt);
    EXPECT_EQ(read(f.root / "device" / "pair-request"), "") << "a QR was asked for";

    f.write("pairing-code", "");
    f.write("pairing-qr", "2@ref,key,key,adv");
    f.device->poll(1000);
    EXPECT_EQ(f.device->status().state, DeviceState::pairing_code) << "the code comes first";
    EXPECT_EQ(f.device->status().pair_code, "") << "no code yet";
    EXPECT_EQ(f.device->status().qr, "");

    f.write("pairing-code", "ABCD-EFGH\n");
    f.device->poll(1001);
    EXPECT_EQ(f.device->status().pair_code, "ABCD-EFGH");
    f.write("pairing-code", std::string(100, 'C'));
    f.device->poll(1002);
    EXPECT_EQ(f.device->status().pair_code.size(), CW_SNAPSHOT_CODE_SIZE - 1u)
        << "what the snapshot holds";

    fs::remove(f.root / "device" / "pairing-code");
    f.device->poll(1003);
    EXPECT_EQ(f.device->status().state, DeviceState::pairing_qr);
    EXPECT_EQ(f.device->status().pair_code, "");

    fs::remove(f.root / "device" / "pairing-qr");
    f.write("account", "5511999999999:12@s.whatsapp.net\nLoja Centro\n");
    f.device->poll(1004);
    EXPECT_EQ(f.device->status().state, DeviceState::connected);
    EXPECT_EQ(f.device->status().pn_jid, "5511999999999:12@s.whatsapp.net");
    EXPECT_EQ(f.device->status().push_name, "Loja Centro");
    EXPECT_EQ(seen.states, (std::vector<DeviceState>{DeviceState::pairing_code,
                                                     DeviceState::pairing_qr,
                                                     DeviceState::connected}))
        << "told once per change of state, not per new code";

    fs::remove(f.root / "device" / "account");
    f.device->poll(1005);
    EXPECT_EQ(f.device->status().pn_jid, "");
    EXPECT_EQ(f.device->status().push_name, "");
}
