// The helper's reading of the records workers queue.
#include "chatwoot/webhook_record.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

using chatwoot::webhook::read_queued_webhook;

TEST(WebhookRecord, ReadsASend)
{
    auto q = read_queued_webhook(
        R"({"inbox":"support","delivery":"d-1","received_at":1,)"
        R"("event":{"type":"send","message_id":3022,"conversation_id":15,"inbox_id":7}})");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->inbox, "support");
    EXPECT_EQ(q->delivery, "d-1");
    EXPECT_EQ(q->action, "send");
    EXPECT_EQ(q->conversation_id, 15);
    ASSERT_TRUE(q->message_id);
    EXPECT_EQ(*q->message_id, 3022);
}

TEST(WebhookRecord, ReadsTheWorkersArrivalTimeWhenThere)
{
    auto q = read_queued_webhook(
        R"({"inbox":"support","delivery":"d-1","received_at":1796675864,)"
        R"("accepted_msec":1796675864123,)"
        R"("event":{"type":"send","message_id":3022,"conversation_id":15,"inbox_id":7,)"
        R"("accepted_msec":5}})");
    ASSERT_TRUE(q);
    ASSERT_TRUE(q->accepted_msec);
    EXPECT_EQ(*q->accepted_msec, 1796675864123) << "the envelope's, not a key of the event";
    auto old = read_queued_webhook(
        R"({"inbox":"a","delivery":null,"received_at":1,)"
        R"("event":{"type":"status","conversation_id":15,"status":"resolved"}})");
    ASSERT_TRUE(old);
    EXPECT_FALSE(old->accepted_msec) << "a record queued by an older module has none";
    EXPECT_FALSE(read_queued_webhook(
        R"({"inbox":"a","delivery":null,"received_at":1,"accepted_msec":"soon",)"
        R"("event":{"type":"status","conversation_id":15,"status":"resolved"}})"))
        << "of the wrong type: not a record the worker wrote";
}

TEST(WebhookRecord, TheHelpersOwnRecordsHaveTheWorkersEnvelope)
{
    const std::string event =
        R"({"type":"send","message_id":3022,"conversation_id":15,"inbox_id":7})";
    const std::string r = chatwoot::webhook::make_queued_webhook("support", "d-1", 1, event);
    EXPECT_EQ(r, R"({"inbox":"support","delivery":"d-1","received_at":1,"event":)" + event + "}");
    auto q = read_queued_webhook(r);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->delivery, "d-1");
    ASSERT_TRUE(q->message_id);
    EXPECT_EQ(*q->message_id, 3022);
    EXPECT_EQ(chatwoot::webhook::make_queued_webhook("s", "", 0, event),
              R"({"inbox":"s","delivery":null,"received_at":0,"event":)" + event + "}")
        << "no delivery id is null, as the worker writes it";
}

TEST(WebhookRecord, StatusHasNoMessageAndDeliveryMayBeNull)
{
    auto q = read_queued_webhook(
        R"({"inbox":"a","delivery":null,"received_at":1,)"
        R"("event":{"type":"status","conversation_id":15,"status":"resolved"}})");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->delivery, "");
    EXPECT_FALSE(q->message_id);
}

TEST(WebhookRecord, TypingSaysOnOrOff)
{
    const std::string head = R"({"inbox":"a","delivery":"d","received_at":1,)"
                             R"("event":{"type":"typing","conversation_id":15,"inbox_id":7,)"
                             R"("account_id":1,"on":)";
    auto on = read_queued_webhook(head + "true}}");
    ASSERT_TRUE(on);
    EXPECT_EQ(on->action, "typing");
    EXPECT_EQ(on->conversation_id, 15);
    EXPECT_TRUE(on->typing_on);
    auto off = read_queued_webhook(head + "false}}");
    ASSERT_TRUE(off);
    EXPECT_FALSE(off->typing_on);
    EXPECT_FALSE(read_queued_webhook(head + "1}}")) << "on must be a boolean";
    auto nested = read_queued_webhook(
        R"({"inbox":"a","delivery":"d","received_at":1,"on":true,)"
        R"("event":{"type":"typing","conversation_id":15,"x":{"on":true}}})");
    ASSERT_TRUE(nested);
    EXPECT_FALSE(nested->typing_on) << "only the event's own key counts";
}

TEST(WebhookRecord, RefusesWhatIsNoRecord)
{
    for (const char* bad : {
             "", "[]", "not json", R"({"inbox":"a"})",
             R"({"inbox":1,"delivery":null,"event":{"type":"send","conversation_id":1,"message_id":1}})",
             R"({"inbox":"a","delivery":null,"event":{"conversation_id":1}})",
             R"({"inbox":"a","delivery":null,"event":{"type":"send","conversation_id":1}})",
             R"({"inbox":"a","delivery":null,"event":{"type":"delete","conversation_id":"1","message_id":1}})",
             R"({"inbox":"a","delivery":null,"event":{"type":"send","conversation_id":1,"message_id":"1"}})",
         }) {
        EXPECT_FALSE(read_queued_webhook(bad)) << bad;
    }
}

TEST(WebhookRecord, OnlyTheFirstOfARepeatedKeyCounts)
{
    // As with a DOM look-up of the key: the first occurrence is the one
    // read, and a later one of another type does not matter.
    auto q = read_queued_webhook(
        R"({"inbox":"a","inbox":7,"delivery":"d-1","delivery":[],"received_at":1,)"
        R"("event":{"type":"send","type":1,"message_id":5,"message_id":"x",)"
        R"("conversation_id":15,"conversation_id":null},"event":3})");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->inbox, "a");
    EXPECT_EQ(q->delivery, "d-1");
    EXPECT_EQ(q->action, "send");
    EXPECT_EQ(q->conversation_id, 15);
    EXPECT_EQ(q->message_id, 5);
    // The first of a key decides even when it is the wrong type.
    EXPECT_FALSE(read_queued_webhook(
        R"({"inbox":1,"inbox":"a","delivery":null,)"
        R"("event":{"type":"status","conversation_id":1}})"));
    EXPECT_FALSE(read_queued_webhook(
        R"({"inbox":"a","delivery":null,)"
        R"("event":{"type":"status","conversation_id":"1","conversation_id":1}})"));
}

TEST(WebhookRecord, KeysAreReadAtTheirOwnLevelOnly)
{
    // A nested "type" or "conversation_id" (the sender's type, a reply's
    // id) is not the event's; a top-level one is not either.
    auto q = read_queued_webhook(
        R"({"type":"x","conversation_id":99,"inbox":"a","delivery":null,)"
        R"("event":{"sender":{"type":"user","conversation_id":7},"type":"status",)"
        R"("attachments":[{"type":"image","message_id":1}],"conversation_id":15}})");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->action, "status");
    EXPECT_EQ(q->conversation_id, 15);
    EXPECT_FALSE(q->message_id);
    // An "event" key inside the event is not the event.
    EXPECT_FALSE(read_queued_webhook(
        R"({"inbox":"a","delivery":null,"event":{"event":{"type":"status","conversation_id":1}}})"));
}

TEST(WebhookRecord, NumbersMustBe64BitIntegers)
{
    const std::string head = R"({"inbox":"a","delivery":null,"event":{"type":"status","conversation_id":)";
    EXPECT_EQ(read_queued_webhook(head + "9223372036854775807}}")->conversation_id,
              9223372036854775807);
    EXPECT_EQ(read_queued_webhook(head + "-9223372036854775808}}")->conversation_id,
              std::numeric_limits<int64_t>::min());
    for (const char* bad : {"9223372036854775808", "18446744073709551615", "1.0", "1e3", "true"}) {
        EXPECT_FALSE(read_queued_webhook(head + bad + "}}")) << bad;
    }
}

TEST(WebhookRecord, RefusesDamagedRecords)
{
    const std::string good =
        R"({"inbox":"a","delivery":"d","received_at":1,"event":{"type":"status","conversation_id":1}})";
    ASSERT_TRUE(read_queued_webhook(good));
    // Every truncation, and the record followed by anything.
    for (size_t n = 0; n < good.size(); n++) {
        EXPECT_FALSE(read_queued_webhook(good.substr(0, n))) << n;
    }
    EXPECT_FALSE(read_queued_webhook(good + "x"));
    EXPECT_FALSE(read_queued_webhook(good + std::string("\0", 1)));
    EXPECT_FALSE(read_queued_webhook(good + std::string("\0junk", 5)));
    std::string nul = good;
    nul[good.find("status") + 2] = '\0';
    EXPECT_FALSE(read_queued_webhook(nul));
    // A scalar or an array at the top, and nesting no record has.
    EXPECT_FALSE(read_queued_webhook("7"));
    EXPECT_FALSE(read_queued_webhook(R"("x")"));
    const std::string deep = std::string(100, '[') + std::string(100, ']');
    EXPECT_FALSE(read_queued_webhook(
        R"({"x":)" + deep + R"(,"inbox":"a","delivery":null,"event":{"type":"status","conversation_id":1}})"));
    // The view's bytes only: what follows in memory is not read.
    const std::string longer = good + R"(, "trailing")";
    EXPECT_TRUE(read_queued_webhook(std::string_view(longer).substr(0, good.size())));
}

TEST(WebhookRecord, EscapedStringsAreDecoded)
{
    auto q = read_queued_webhook(
        R"({"inbox":"in\"b\\ox\u00e9","delivery":"d\u0001","received_at":1,)"
        R"("event":{"type":"st\u0061tus","conversation_id":1}})");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->inbox, "in\"b\\oxé");
    EXPECT_EQ(q->delivery, "d\x01");
    EXPECT_EQ(q->action, "status");
}

TEST(WebhookRecord, ReadsTheContactsSourceIdOfASend)
{
    auto q = read_queued_webhook(
        R"({"inbox":"support","delivery":"d-1","received_at":1,)"
        R"("event":{"type":"send","message_id":3,"conversation_id":15,)"
        R"("source_id_of_contact":"bridge:support","content":"status"}})");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->contact_source_id, "bridge:support") << "the control conversation's contact";
    q = read_queued_webhook(
        R"({"inbox":"support","delivery":"d-1","received_at":1,)"
        R"("event":{"type":"send","message_id":3,"conversation_id":15,)"
        R"("source_id_of_contact":null}})");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->contact_source_id, "");
    EXPECT_FALSE(read_queued_webhook(
        R"({"inbox":"support","delivery":"d-1","received_at":1,)"
        R"("event":{"type":"send","message_id":3,"conversation_id":15,)"
        R"("source_id_of_contact":7}})"))
        << "a source id that is no string";
}
