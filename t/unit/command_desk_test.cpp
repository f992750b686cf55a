// Operator commands carried out by the helper (helper/command_desk.hpp) and
// what the workers see of them and of the devices in the snapshot
// (helper/snapshot_builder.hpp).
#include "helper/command_desk.hpp"
#include "helper/snapshot_builder.hpp"
#include "ipc/command_record.hpp"
#include "store/command_repository.hpp"
#include "store/schema.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

using namespace chatwoot;
using namespace chatwoot::helper;

namespace {

// A device that takes pairing and refuses to log out.
class PairableDevice final : public Device {
public:
    void start(DeviceEvents&) override {}
    DeviceStatus status() const override { return DeviceStatus::of(DeviceState::unpaired); }
    std::string new_message_id() override { return "X"; }
    void send(const OutgoingMessage&, Done done) noexcept override
    {
        done(SendResult{SendResult::Kind::retry, "offline"});
    }
    void tick(int64_t) override {}
    std::optional<std::string> pair(const std::optional<std::string>& phone) override
    {
        asked.push_back(phone.value_or("qr"));
        return std::nullopt;
    }
    // Takes an assertion that says "good", refuses any other with a reason,
    // and takes a confirmation only after an assertion it took.
    std::optional<std::string> passkey_assertion(const std::string& json) override
    {
        asked.push_back("assertion " + json);
        if (json != "\"good\"") return "clientData challenge is not the one of the options";
        asserted = true;
        return std::nullopt;
    }
    std::optional<std::string> passkey_confirm() override
    {
        asked.push_back("confirm");
        if (!asserted) return "no passkey ceremony waits for a confirmation";
        return std::nullopt;
    }
    std::vector<std::string> asked;
    bool asserted = false;
};

struct Fixture {
    Fixture()
    {
        char tmpl[] = "/tmp/command-desk-test-XXXXXX";
        dir = mkdtemp(tmpl);
        db.emplace(store::Database::open(dir + "/chatwoot.db"));
        store::migrate(*db);
        repo.emplace(*db);
        desk.emplace(
            *repo,
            [this](std::string_view name) -> Device* {
                return name == "support" ? &device : nullptr;
            },
            [this] { return now; });
    }
    ~Fixture()
    {
        desk.reset();
        repo.reset();
        db.reset();
        std::filesystem::remove_all(dir);
    }
    // Files a command as the queue drain does, and returns its id.
    std::string file(const ipc::Command& c, uint64_t seq)
    {
        auto bytes = ipc::encode_command(c);
        EXPECT_TRUE(bytes);
        store::NewCommand n;
        n.id = ipc::command_id(1, seq);
        n.kind = cw_command_kind_name(static_cast<unsigned>(c.kind()));
        n.payload = *bytes;
        n.created_at = c.created_at;
        EXPECT_TRUE(repo->add(n));
        return n.id;
    }
    std::string dir;
    int64_t now = 5000;
    std::optional<store::Database> db;
    std::optional<store::CommandRepository> repo;
    PairableDevice device;
    std::optional<CommandDesk> desk;
};

ipc::Command pair(const std::string& device)
{
    return ipc::Command{4000, ipc::PairCommand{device}};
}

}  // namespace

TEST(CommandDesk, CommandsReachTheirDeviceAndAreSettledOnce)
{
    Fixture f;
    const std::string id = f.file(pair("support"), 1);
    f.desk->take(id, pair("support"));
    EXPECT_EQ(f.device.asked, (std::vector<std::string>{"qr"}));
    auto stored = f.repo->find(id);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->state, store::CommandState::done);
    EXPECT_EQ(stored->updated_at, 5000);

    f.desk->take(id, pair("support"));
    EXPECT_EQ(f.device.asked.size(), 2u);
    EXPECT_EQ(f.desk->recent().size(), 1u) << "a repeat never rewrites the outcome";
    EXPECT_EQ(f.desk->done(), 1u);
}

TEST(CommandDesk, WhatCannotBeDoneFailsWithTheReason)
{
    Fixture f;
    const ipc::Command unknown{4000, ipc::PairCommand{"sales"}};
    const ipc::Command logout{4000, ipc::LogoutCommand{"support"}};
    const ipc::Command import{4000, ipc::ImportCommand{"support", "messages", 7, true, true}};
    const std::string a = f.file(unknown, 1), b = f.file(logout, 2), c = f.file(import, 3);
    f.desk->take(a, unknown);
    f.desk->take(b, logout);
    f.desk->take(c, import);
    EXPECT_EQ(f.repo->find(a)->reason, "no device named \"sales\"");
    EXPECT_EQ(f.repo->find(b)->reason, "this device cannot log out");
    EXPECT_EQ(f.repo->find(c)->reason, "history import is not available in this build");
    EXPECT_EQ(f.repo->find(c)->state, store::CommandState::failed);
    EXPECT_EQ(f.desk->failed(), 3u);
    ASSERT_EQ(f.desk->recent().size(), 3u);
    EXPECT_EQ(f.desk->recent().front().id, c) << "newest first";
}

TEST(CommandDesk, PasskeyStepsReachTheDeviceAndItsRefusalIsTheOutcome)
{
    Fixture f;
    const ipc::Command confirm_early{4000, ipc::PasskeyConfirmCommand{"support"}};
    const ipc::Command bad{4000, ipc::PasskeyCommand{"support", "\"stale\""}};
    const ipc::Command good{4000, ipc::PasskeyCommand{"support", "\"good\""}};
    const ipc::Command confirm{4000, ipc::PasskeyConfirmCommand{"support"}};
    const ipc::Command elsewhere{4000, ipc::PasskeyCommand{"sales", "\"good\""}};
    const std::string a = f.file(confirm_early, 1), b = f.file(bad, 2), c = f.file(good, 3),
                      d = f.file(confirm, 4), e = f.file(elsewhere, 5);
    f.desk->take(a, confirm_early);
    f.desk->take(b, bad);
    f.desk->take(c, good);
    f.desk->take(d, confirm);
    f.desk->take(e, elsewhere);
    EXPECT_EQ(f.device.asked, (std::vector<std::string>{"confirm", "assertion \"stale\"",
                                                        "assertion \"good\"", "confirm"}));
    EXPECT_EQ(f.repo->find(a)->reason, "no passkey ceremony waits for a confirmation");
    EXPECT_EQ(f.repo->find(b)->state, store::CommandState::failed);
    EXPECT_EQ(f.repo->find(b)->reason, "clientData challenge is not the one of the options");
    EXPECT_EQ(f.repo->find(c)->state, store::CommandState::done);
    EXPECT_EQ(f.repo->find(d)->state, store::CommandState::done);
    EXPECT_EQ(f.repo->find(e)->reason, "no device named \"sales\"");
    ASSERT_EQ(f.desk->recent().size(), 5u);
    EXPECT_EQ(f.desk->recent()[1].kind, uint64_t{CW_COMMAND_PASSKEY_CONFIRM});
    EXPECT_EQ(f.desk->recent()[2].kind, uint64_t{CW_COMMAND_PASSKEY});

    // A device without a ceremony (the synthetic one, an absent one) says so.
    AbsentDevice absent;
    EXPECT_EQ(absent.passkey_assertion("{}"),
              std::optional<std::string>("this device has no passkey ceremony"));
    EXPECT_EQ(absent.passkey_confirm(),
              std::optional<std::string>("this device has no passkey ceremony"));
}

TEST(CommandDesk, WhatAnEarlierHelperLeftPendingIsTakenUp)
{
    Fixture f;
    const std::string id = f.file(ipc::Command{4000, ipc::PairCodeCommand{"support", "5511987654321"}}, 9);
    f.desk->take_pending();
    EXPECT_EQ(f.device.asked, (std::vector<std::string>{"5511987654321"}));
    EXPECT_EQ(f.repo->find(id)->state, store::CommandState::done);
    f.desk->take_pending();
    EXPECT_EQ(f.device.asked.size(), 1u) << "settled: not again";
}

TEST(SnapshotBuilder, DevicesAndCommandOutcomesAsWorkersReadThem)
{
    DeviceView d;
    d.name = "support";
    d.inbox = "support";
    d.status = DeviceStatus::of(DeviceState::pairing_qr);
    d.status.qr = "2@abc,def,ghi";
    d.state_since = 1234;
    d.qr_serial = 5;
    DeviceView e;
    e.name = "sales";
    e.inbox = "sales";
    e.status = DeviceStatus::of(DeviceState::connected);
    e.status.push_name = std::string(300, 'x');   // cut to its array
    std::vector<DeviceView> devices{d, e};
    std::deque<CommandOutcome> outcomes{
        CommandOutcome{"00000001", CW_COMMAND_PAIR, store::CommandState::failed, "why", 1, 2}};
    SnapshotFacts facts;
    facts.devices = devices;
    facts.commands = &outcomes;
    facts.now = 99;
    facts.pid = 7;
    facts.counters.outbox_pending = 3;
    auto snap = std::make_unique<cw_snapshot_t>();
    build_snapshot(facts, *snap);
    EXPECT_EQ(snap->published_at, 99u);
    EXPECT_EQ(snap->devices_n, 2u);
    EXPECT_EQ(snap->devices[0].state, static_cast<uint64_t>(CW_DEVICE_PAIRING_QR));
    EXPECT_STREQ(snap->devices[0].qr, "2@abc,def,ghi");
    EXPECT_EQ(snap->devices[0].state_since, 1234u);
    EXPECT_EQ(snap->devices[0].qr_serial, 5u);
    EXPECT_EQ(snap->devices[1].qr_serial, 0u);
    EXPECT_EQ(std::strlen(snap->devices[1].push_name), CW_SNAPSHOT_PUSH_NAME_SIZE - 1);
    EXPECT_EQ(snap->counters.devices_connected, 1u);
    EXPECT_EQ(snap->counters.outbox_pending, 3u);
    ASSERT_EQ(snap->commands_n, 1u);
    EXPECT_EQ(snap->commands[0].state, static_cast<uint64_t>(CW_COMMAND_FAILED));
    EXPECT_STREQ(snap->commands[0].reason, "why");
    EXPECT_EQ(to_string(DeviceState::pairing_qr), "pairing_qr");
}
