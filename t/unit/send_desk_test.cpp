// The send API's flow in the helper (helper/send_api/send_desk.hpp) on a
// real store, with the inbox's runtime faked and the outbox sender real:
// the row and the WhatsApp id committed at take, the message filed for the
// forwarder as our own (from_me) under the person's chat, the outbox entry
// in flight under the same id once Chatwoot has the message, the outcome
// (sent, failed with a reason an application reads) published for GET;
// a repeated idempotency key sends nothing; a new desk after a crash
// repeats no step.
#include "helper/device.hpp"
#include "helper/outbox_sender.hpp"
#include "helper/send_api/send_desk.hpp"
#include "bridge/wa_message_json.hpp"

#include "temp_store.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::helper;

namespace {

class FakeInbox final : public SendInbox {
public:
    bool ready() override { return up; }
    bool has_device() override { return device; }
    std::string new_message_id() override { return "3EB0API" + std::to_string(++ids); }
    int64_t account_id() const override { return 1; }
    int64_t inbox_id() const override { return 7; }
    void check_number(const std::string& pn_jid, Device::NumberDone done) override
    {
        checks.push_back(pn_jid);
        if (hold) {
            held.push_back(std::move(done));
        } else {
            done(number);
        }
    }
    void forward(const std::string& chat) override { forwarded.push_back(chat); }
    void wake_outbox() override { wakes++; }

    bool up = true;
    bool device = true;
    int ids = 0;
    int wakes = 0;
    std::vector<std::string> forwarded;
    NumberCheck number = NumberCheck::on_whatsapp;
    bool hold = false;                          // answer later, by hand
    std::vector<Device::NumberDone> held;
    std::vector<std::string> checks;
};

class FakeDevice final : public Device {
public:
    void start(DeviceEvents&) override {}
    DeviceStatus status() const override { return DeviceStatus::of(DeviceState::connected); }
    std::string new_message_id() override { return "3EB0OUTBOX" + std::to_string(++ids); }
    void send(const OutgoingMessage& m, Done done) noexcept override
    {
        sent.push_back(m);
        if (answer) done(*answer);
    }
    void tick(int64_t) override {}
    std::vector<OutgoingMessage> sent;
    std::optional<SendResult> answer = SendResult{SendResult::Kind::sent, {}};
    int ids = 0;
};

class NoReporter final : public FailureReporter {
public:
    void report(int64_t, int64_t, const std::string& why, Done done) override
    {
        reported.push_back(why);
        done(Outcome::reported, {});
    }
    std::vector<std::string> reported;
};

struct Fixture : test::TempStore {
    Fixture() : TempStore("send-desk-test")
    {
        inbound.emplace(*db);
        outbox.emplace(*db);
        wa_inbound.emplace(*db);
        make_desk();
    }
    void make_desk()
    {
        desk.emplace(*db, *inbound, *outbox, *wa_inbound,
                     [this](std::string_view name) -> SendInbox* {
                         return name == "main" ? &inbox : nullptr;
                     },
                     [this] { return now; });
    }
    // What the forwarder does once Chatwoot took the message.
    void chatwoot_posts(const std::string& wa_id, int64_t message_id, int64_t conversation)
    {
        auto chat = rows("SELECT chat FROM wa_inbound WHERE wa_id = '" + wa_id + "'");
        ASSERT_EQ(chat.size(), 1u);
        wa_inbound->settle(scalar("SELECT id FROM wa_inbound WHERE wa_id = '" + wa_id + "'"),
                           true, message_id, "", "main", chat[0][0],
                           store::ChatRow{42, conversation});
    }
    std::string state(const std::string& id)
    {
        auto r = rows("SELECT state FROM api_sends WHERE id = '" + id + "'");
        return r.empty() ? "" : r[0][0];
    }
    cw_send_slot_t published(const char* id)
    {
        cw_send_slot_t out{};
        EXPECT_EQ(cw_send_lookup(table.get(), id, std::strlen(id), 1, 1000, &out), CW_SEND_FOUND)
            << id;
        return out;
    }
    std::optional<std::string> take(const std::string& id, const std::string& to,
                                    const std::string& key = {})
    {
        return desk->take(id, ipc::SendCommand{"main", to, "Your order shipped", key}, now);
    }

    int64_t now = 1700000000;
    std::optional<store::InboundEventRepository> inbound;
    std::optional<store::OutboxRepository> outbox;
    std::optional<store::WaInboundRepository> wa_inbound;
    FakeInbox inbox;
    std::optional<SendDesk> desk;
    std::unique_ptr<cw_send_table_t> table = [] {
        auto t = std::make_unique<cw_send_table_t>();
        std::memset(t.get(), 0, sizeof *t);
        return t;
    }();
};

const std::string kId1 = "00000000000000010000000000000003";
const std::string kId2 = "00000000000000010000000000000004";
const std::string kId3 = "00000000000000010000000000000005";

}  // namespace

TEST(SendDesk, ASendGoesToChatwootAsOursThenToWhatsAppUnderTheIdChosenFirst)
{
    Fixture f;
    ASSERT_EQ(f.take(kId1, "5511987654321@s.whatsapp.net"), std::nullopt);

    // Committed at take: the row with its WhatsApp id, and the message
    // filed for the forwarder as one of ours, which it is told of.
    EXPECT_EQ(f.state(kId1), "posting");
    const std::string wa_id = f.rows("SELECT wa_id FROM api_sends")[0][0];
    EXPECT_EQ(wa_id, "3EB0API1");
    auto filed = f.rows("SELECT chat, record FROM wa_inbound WHERE wa_id = '" + wa_id + "'");
    ASSERT_EQ(filed.size(), 1u);
    EXPECT_EQ(filed[0][0], "5511987654321@s.whatsapp.net");
    std::string error;
    auto m = bridge::parse_wa_message(filed[0][1], &error);
    ASSERT_TRUE(m) << error;
    EXPECT_TRUE(m->from_me);
    EXPECT_EQ(m->text, "Your order shipped");
    EXPECT_EQ(f.inbox.forwarded, std::vector<std::string>{"5511987654321@s.whatsapp.net"});

    f.desk->publish(f.table.get());
    EXPECT_EQ(f.published(kId1.c_str()).state, uint64_t{CW_SEND_QUEUED});

    // Chatwoot has not answered yet: nothing moves.
    EXPECT_FALSE(f.desk->advance());
    EXPECT_EQ(f.scalar("SELECT count(*) FROM outbox"), 0);

    // Posted: the outbox entry is in flight under the same id, at once.
    f.chatwoot_posts(wa_id, 901, 15);
    EXPECT_TRUE(f.desk->advance());
    EXPECT_EQ(f.state(kId1), "sending");
    auto entry = f.rows("SELECT state, wa_id, conversation_id, chatwoot_message_id FROM outbox");
    ASSERT_EQ(entry.size(), 1u);
    EXPECT_EQ(entry[0], (std::vector<std::string>{"in_flight", wa_id, "15", "901"}));
    EXPECT_EQ(f.inbox.wakes, 1);

    // The outbox sender sends it under that id (not one of its own), once,
    // without an agent's signature.
    FakeDevice device;
    NoReporter reporter;
    OutboxSender sender("main", *f.outbox, device, reporter, bridge::SignatureOptions{}, 300,
                        [&] { return f.now; });
    sender.tick();
    ASSERT_EQ(device.sent.size(), 1u);
    EXPECT_EQ(device.sent[0].id, wa_id);
    EXPECT_EQ(device.sent[0].chat, "5511987654321@s.whatsapp.net");
    EXPECT_EQ(device.sent[0].text, "Your order shipped");
    sender.tick();
    EXPECT_EQ(device.sent.size(), 1u);

    EXPECT_TRUE(f.desk->advance());
    EXPECT_EQ(f.state(kId1), "sent");
    f.desk->publish(f.table.get());
    const cw_send_slot_t s = f.published(kId1.c_str());
    EXPECT_EQ(s.state, uint64_t{CW_SEND_SENT});
    EXPECT_STREQ(s.wa_id, wa_id.c_str());
    EXPECT_EQ(s.chatwoot_message_id, 901u);
    // Sent: nothing more to do.
    EXPECT_FALSE(f.desk->advance());
}

TEST(SendDesk, ANumberNotOnWhatsAppFailsBeforeAnythingIsMadeInChatwoot)
{
    Fixture f;
    f.inbox.number = NumberCheck::not_on_whatsapp;
    f.take(kId1, "4915199999999@s.whatsapp.net");
    EXPECT_EQ(f.inbox.checks, std::vector<std::string>{"4915199999999@s.whatsapp.net"});
    EXPECT_EQ(f.state(kId1), "failed");
    EXPECT_EQ(f.rows("SELECT reason FROM api_sends")[0][0], "this number is not on WhatsApp");
    EXPECT_EQ(f.scalar("SELECT count(*) FROM wa_inbound"), 0);
    EXPECT_TRUE(f.inbox.forwarded.empty());
    // A group or a LID is not looked up: the send path knows those.
    f.take(kId2, "120363025246125486@g.us");
    EXPECT_EQ(f.inbox.checks.size(), 1u);
    EXPECT_EQ(f.state(kId2), "posting");
}

TEST(SendDesk, AnAnswerThatTakesItsTimeHoldsTheSendQueuedThenLetsItGo)
{
    Fixture f;
    f.inbox.hold = true;
    f.take(kId1, "5511987654321@s.whatsapp.net");
    EXPECT_EQ(f.state(kId1), "queued");
    // One look-up at a time for a send.
    EXPECT_FALSE(f.desk->advance());
    EXPECT_EQ(f.inbox.checks.size(), 1u);
    ASSERT_EQ(f.inbox.held.size(), 1u);
    f.inbox.held[0](NumberCheck::on_whatsapp);
    EXPECT_EQ(f.state(kId1), "posting");

    // No answer within kCheckWait: the send goes on (the send path asks
    // WhatsApp again before it sends), and a late answer changes nothing.
    f.take(kId2, "5511987654322@s.whatsapp.net");
    EXPECT_EQ(f.state(kId2), "queued");
    f.now += SendDesk::kCheckWait;
    EXPECT_TRUE(f.desk->advance());
    EXPECT_EQ(f.state(kId2), "posting");
    f.inbox.held[1](NumberCheck::not_on_whatsapp);
    EXPECT_EQ(f.state(kId2), "posting");

    // Cannot tell (offline): it goes on at once.
    f.inbox.hold = false;
    f.inbox.number = NumberCheck::unknown;
    f.take(kId3, "5511987654323@s.whatsapp.net");
    EXPECT_EQ(f.state(kId3), "posting");
}

TEST(SendDesk, AFailureOnWhatsAppIsTheSendsWithItsReason)
{
    Fixture f;
    f.take(kId1, "4915100000099@s.whatsapp.net");
    const std::string wa_id = f.rows("SELECT wa_id FROM api_sends")[0][0];
    f.chatwoot_posts(wa_id, 902, 16);
    f.desk->advance();
    FakeDevice device;
    device.answer = SendResult{SendResult::Kind::failed, "this number is not on WhatsApp"};
    NoReporter reporter;
    OutboxSender sender("main", *f.outbox, device, reporter, bridge::SignatureOptions{}, 300,
                        [&] { return f.now; });
    sender.tick();
    sender.tick();
    // Agents see it failed in Chatwoot too.
    EXPECT_EQ(reporter.reported, std::vector<std::string>{"this number is not on WhatsApp"});
    f.desk->advance();
    EXPECT_EQ(f.state(kId1), "failed");
    f.desk->publish(f.table.get());
    const cw_send_slot_t s = f.published(kId1.c_str());
    EXPECT_EQ(s.state, uint64_t{CW_SEND_FAILED});
    EXPECT_STREQ(s.reason, "this number is not on WhatsApp");
}

TEST(SendDesk, ChatwootRefusingTheMessageFailsTheSendBeforeWhatsApp)
{
    Fixture f;
    f.take(kId1, "4915100000099@s.whatsapp.net");
    const int64_t row = f.scalar("SELECT id FROM wa_inbound");
    f.wa_inbound->settle(row, false, 0, "422 contact invalid", "main",
                         "4915100000099@s.whatsapp.net", store::ChatRow{});
    f.desk->advance();
    EXPECT_EQ(f.state(kId1), "failed");
    EXPECT_EQ(f.rows("SELECT reason FROM api_sends")[0][0],
              "Chatwoot did not take the message: 422 contact invalid");
    EXPECT_EQ(f.scalar("SELECT count(*) FROM outbox"), 0);
}

TEST(SendDesk, ARepeatedKeySendsNothingAndShowsTheFirstsOutcome)
{
    Fixture f;
    f.take(kId1, "5511987654321@s.whatsapp.net", "scope:order-7");
    f.now += 3600;
    ASSERT_EQ(f.take(kId2, "5511987654321@s.whatsapp.net", "scope:order-7"), std::nullopt);
    EXPECT_EQ(f.scalar("SELECT count(*) FROM wa_inbound"), 1);
    EXPECT_EQ(f.rows("SELECT duplicate_of FROM api_sends WHERE id = '" + kId2 + "'")[0][0], kId1);
    // Another token's scope with the same key is a send of its own.
    f.take(kId3, "5511987654321@s.whatsapp.net", "other:order-7");
    EXPECT_EQ(f.scalar("SELECT count(*) FROM wa_inbound"), 2);

    const std::string wa_id = f.rows("SELECT wa_id FROM api_sends WHERE id = '" + kId1 + "'")[0][0];
    f.chatwoot_posts(wa_id, 903, 17);
    f.desk->advance();
    f.db->exec("UPDATE outbox SET state = 'sent'");
    f.desk->advance();
    f.desk->publish(f.table.get());
    const cw_send_slot_t first = f.published(kId1.c_str());
    const cw_send_slot_t second = f.published(kId2.c_str());
    EXPECT_EQ(first.state, uint64_t{CW_SEND_SENT});
    EXPECT_EQ(second.state, uint64_t{CW_SEND_SENT});
    EXPECT_STREQ(second.wa_id, wa_id.c_str());
    EXPECT_EQ(second.chatwoot_message_id, 903u);
    // Only one outbox entry: one message on WhatsApp.
    EXPECT_EQ(f.scalar("SELECT count(*) FROM outbox"), 1);
}

TEST(SendDesk, AKeyOlderThanADayIsFreeAgain)
{
    Fixture f;
    f.take(kId1, "5511987654321@s.whatsapp.net", "scope:k");
    f.now += SendDesk::kKeyTtl + 1;
    f.take(kId2, "5511987654321@s.whatsapp.net", "scope:k");
    EXPECT_EQ(f.scalar("SELECT count(*) FROM wa_inbound"), 2);
    EXPECT_EQ(f.rows("SELECT coalesce(duplicate_of, '') FROM api_sends"
                     " WHERE id = '" + kId2 + "'")[0][0],
              "");
}

TEST(SendDesk, AnInboxNotRunningLeavesTheSendQueuedUntilItIs)
{
    Fixture f;
    f.inbox.up = false;
    f.take(kId1, "5511987654321@s.whatsapp.net");
    EXPECT_EQ(f.state(kId1), "queued");
    EXPECT_EQ(f.scalar("SELECT count(*) FROM wa_inbound"), 0);
    EXPECT_FALSE(f.desk->advance());
    f.inbox.up = true;
    EXPECT_TRUE(f.desk->advance());
    EXPECT_EQ(f.state(kId1), "posting");
    // An inbox with no WhatsApp device (whatsapp off): failed at once.
    f.inbox.device = false;
    f.take(kId3, "5511987654321@s.whatsapp.net");
    EXPECT_EQ(f.state(kId3), "failed");
    EXPECT_EQ(f.rows("SELECT reason FROM api_sends WHERE id = '" + kId3 + "'")[0][0],
              "the inbox \"main\" has no WhatsApp device");
    f.inbox.device = true;
    // An inbox nobody configured: failed, never hanging.
    f.desk->take(kId2, ipc::SendCommand{"gone", "5511987654321@s.whatsapp.net", "x", ""}, f.now);
    EXPECT_EQ(f.state(kId2), "failed");
}

TEST(SendDesk, ANewDeskAfterACrashRepeatsNoStep)
{
    Fixture f;
    f.take(kId1, "5511987654321@s.whatsapp.net");
    // The command taken again (killed before the command was settled).
    f.make_desk();
    f.take(kId1, "5511987654321@s.whatsapp.net");
    EXPECT_EQ(f.scalar("SELECT count(*) FROM api_sends"), 1);
    EXPECT_EQ(f.scalar("SELECT count(*) FROM wa_inbound"), 1);
    const std::string wa_id = f.rows("SELECT wa_id FROM api_sends")[0][0];
    f.chatwoot_posts(wa_id, 904, 18);
    f.desk->advance();
    f.make_desk();
    EXPECT_FALSE(f.desk->advance());
    EXPECT_EQ(f.scalar("SELECT count(*) FROM outbox"), 1);
    EXPECT_EQ(f.rows("SELECT wa_id FROM outbox")[0][0], wa_id);
}

TEST(SendDesk, APersonKnownByTheirLidKeepsThatChat)
{
    Fixture f;
    f.db->exec("INSERT INTO wa_lid_map (device, pn, lid) VALUES ('main', '5511987654321',"
               " '123456789')");
    f.db->exec("INSERT INTO chats (inbox, chat, contact_id, conversation_id) VALUES"
               " ('main', '123456789@lid', 5, 6)");
    f.take(kId1, "5511987654321@s.whatsapp.net");
    EXPECT_EQ(f.rows("SELECT chat FROM wa_inbound")[0][0], "123456789@lid");
    EXPECT_EQ(f.rows("SELECT chat FROM api_sends")[0][0], "123456789@lid");
}

TEST(SendDesk, TheDevicesWordsBecomeAnApplicationsReason)
{
    EXPECT_EQ(SendDesk::readable("DEVICE_NOT_AVAILABLE"),
              "the WhatsApp device was not connected in time (device_timeout)");
    EXPECT_EQ(SendDesk::readable("this number is not on WhatsApp"),
              "this number is not on WhatsApp");
}
