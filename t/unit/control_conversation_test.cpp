// The control conversation's pure parts: the notice throttle (injected
// clock), the command parser, and its store rows (schema step 16).

#include "bridge/control_command.hpp"
#include "bridge/control_throttle.hpp"
#include "store/control_repository.hpp"
#include "temp_store.hpp"

#include <gtest/gtest.h>

using chatwoot::bridge::ControlCommand;
using chatwoot::bridge::NoticeThrottle;
using chatwoot::bridge::parse_control_command;
using Kind = ControlCommand::Kind;

TEST(NoticeThrottle, FirstOfAKindGoesAtOnce)
{
    NoticeThrottle t(60);
    EXPECT_TRUE(t.offer("connected", "connected", 1000));
    EXPECT_TRUE(t.offer("disconnected", "disconnected", 1001)) << "another kind: its own minute";
    EXPECT_FALSE(t.next_due());
    EXPECT_FALSE(t.summary(5000));
}

TEST(NoticeThrottle, FlapsWithinAMinuteBecomeOneSummaryAfterIt)
{
    NoticeThrottle t(60);
    EXPECT_TRUE(t.offer("disconnected", "disconnected at 10:00:00", 1000));
    EXPECT_TRUE(t.offer("connected", "connected at 10:00:01", 1001));
    EXPECT_FALSE(t.offer("disconnected", "disconnected at 10:00:02", 1002));
    EXPECT_FALSE(t.offer("connected", "connected at 10:00:03", 1003));
    EXPECT_FALSE(t.offer("disconnected", "disconnected at 10:00:04", 1004));
    EXPECT_EQ(t.held(), 3u);
    ASSERT_TRUE(t.next_due());
    EXPECT_EQ(*t.next_due(), 1060) << "the first held kind's minute is over then";
    EXPECT_FALSE(t.summary(1059)) << "not before the minute";
    auto s = t.summary(1060);
    ASSERT_TRUE(s);
    EXPECT_EQ(*s, "3 more changes: disconnected at 10:00:02, connected at 10:00:03, "
                  "disconnected at 10:00:04");
    EXPECT_EQ(t.held(), 0u);
    EXPECT_FALSE(t.summary(2000)) << "one summary, not one per kind";
    // The summary counts as the kinds' notice: another minute of quiet.
    EXPECT_FALSE(t.offer("connected", "connected again", 1070));
    EXPECT_TRUE(t.summary(1120));
    EXPECT_TRUE(t.offer("connected", "connected", 1200));
}

TEST(NoticeThrottle, AKindWithChangesHeldNeverOvertakesThem)
{
    NoticeThrottle t(60);
    EXPECT_TRUE(t.offer("restricted", "a", 0));
    EXPECT_FALSE(t.offer("restricted", "b", 10));
    // Its minute is over, but "b" waits for the summary: "c" joins it.
    EXPECT_FALSE(t.offer("restricted", "c", 70));
    EXPECT_EQ(*t.summary(70), "2 more changes: b, c");
}

TEST(NoticeThrottle, OneHeldChangeIsSaidInTheSingular)
{
    NoticeThrottle t(5);
    EXPECT_TRUE(t.offer("logged_out", "x", 0));
    EXPECT_FALSE(t.offer("logged_out", "logged out at 00:00:01", 1));
    EXPECT_EQ(*t.summary(5), "1 more change: logged out at 00:00:01");
}

TEST(ControlCommandParse, PlainCommandsIgnoreCaseAndSpaces)
{
    EXPECT_EQ(parse_control_command("status").kind, Kind::status);
    EXPECT_EQ(parse_control_command("  STATUS \n").kind, Kind::status);
    EXPECT_EQ(parse_control_command("Qr").kind, Kind::qr);
    EXPECT_EQ(parse_control_command("/logout").kind, Kind::logout);
    EXPECT_EQ(parse_control_command("reconnect\t").kind, Kind::reconnect);
    EXPECT_EQ(parse_control_command("\xC2\xA0help\xC2\xA0").kind, Kind::help)
        << "a no-break space is a space";
}

TEST(ControlCommandParse, AnythingElseIsUnknown)
{
    EXPECT_EQ(parse_control_command("").kind, Kind::unknown);
    EXPECT_EQ(parse_control_command("   ").kind, Kind::unknown);
    EXPECT_EQ(parse_control_command("hello there").kind, Kind::unknown);
    EXPECT_EQ(parse_control_command("status please").kind, Kind::unknown)
        << "a command takes no words it does not know";
    EXPECT_EQ(parse_control_command("statuses").kind, Kind::unknown);
    EXPECT_EQ(parse_control_command("/").kind, Kind::unknown);
}

TEST(ControlCommandParse, CodeTakesAPhoneNumberAsPeopleWriteIt)
{
    auto c = parse_control_command("code +5511999999999");
    EXPECT_EQ(c.kind, Kind::code);
    EXPECT_EQ(c.phone, "5511999999999");
    c = parse_control_command("CODE +55 (11) 99999-9999");
    EXPECT_EQ(c.kind, Kind::code);
    EXPECT_EQ(c.phone, "5511999999999");
    c = parse_control_command("code 1.415.555.0100");
    EXPECT_EQ(c.kind, Kind::code);
    EXPECT_EQ(c.phone, "14155550100");
}

TEST(ControlCommandParse, CodeWithSomethingElseSaysWhy)
{
    auto c = parse_control_command("code");
    EXPECT_EQ(c.kind, Kind::invalid);
    EXPECT_NE(c.error.find("needs the phone number"), std::string::npos) << c.error;
    c = parse_control_command("code +55abc");
    EXPECT_EQ(c.kind, Kind::invalid);
    EXPECT_NE(c.error.find("\"+55abc\" is not a phone number"), std::string::npos) << c.error;
    c = parse_control_command("code 12345");
    EXPECT_EQ(c.kind, Kind::invalid) << "too short for a number with its country code";
    c = parse_control_command("code 1234567890123456");
    EXPECT_EQ(c.kind, Kind::invalid) << "longer than E.164 allows";
    c = parse_control_command("code 011999999999");
    EXPECT_EQ(c.kind, Kind::invalid) << "a trunk prefix is no country code";
    c = parse_control_command("code 55+11999999999");
    EXPECT_EQ(c.kind, Kind::invalid) << "a plus only in front";
}

TEST(ControlRepositoryRows, NoticesCommandsAndThePlace)
{
    chatwoot::test::TempStore s("control-repo-test");
    chatwoot::store::ControlRepository r(*s.db);

    EXPECT_FALSE(r.place("a").conversation_id);
    r.save_place("a", {7, 42});
    EXPECT_EQ(*r.place("a").contact_id, 7);
    EXPECT_EQ(*r.place("a").conversation_id, 42);
    EXPECT_EQ(*r.inbox_of_conversation(42), "a");
    EXPECT_FALSE(r.inbox_of_conversation(43));

    const int64_t n1 = r.add_notice("a", "connected", "Connected", false, 100);
    const int64_t q1 = r.add_notice("a", "qr", "Scan", true, 101);
    r.add_notice("b", "connected", "other inbox", false, 100);
    auto next = r.next_pending("a");
    ASSERT_TRUE(next);
    EXPECT_EQ(next->id, n1) << "oldest first";
    r.settle_notice(n1, "posted", 900);
    EXPECT_EQ(r.next_pending("a")->id, q1);
    r.settle_notice(q1, "posted", 901);
    const int64_t q2 = r.add_notice("a", "qr", "Scan", true, 102);
    const int64_t q3 = r.add_notice("a", "qr", "Scan", true, 103);
    r.drop_pending_qr("a");
    EXPECT_FALSE(r.next_pending("a")) << "superseded QR notices never go";
    EXPECT_EQ(r.count_notices("a", "dropped"), 2u);
    (void) q2;
    (void) q3;
    auto del = r.qr_to_delete("a", 0);
    ASSERT_EQ(del.size(), 1u);
    EXPECT_EQ(*del[0].chatwoot_message_id, 901);
    EXPECT_TRUE(r.qr_to_delete("a", q1).empty()) << "the one kept is not deleted";
    r.mark_deleted(q1);
    EXPECT_TRUE(r.qr_to_delete("a", 0).empty());

    chatwoot::store::ControlCommandRow c{555, 42, "status", 100};
    EXPECT_TRUE(r.add_command("a", c));
    EXPECT_FALSE(r.add_command("a", c)) << "a redelivered webhook files nothing new";
    EXPECT_TRUE(r.add_command("b", c)) << "keyed per inbox";
    auto pending = r.pending_commands("a", 10);
    ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(pending[0].content, "status");
    r.command_handled("a", 555, 101);
    EXPECT_TRUE(r.pending_commands("a", 10).empty());
    EXPECT_EQ(r.pending_commands("b", 10).size(), 1u);
}
