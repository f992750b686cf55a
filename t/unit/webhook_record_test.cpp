// The helper's reading of the records workers queue.
#include "chatwoot/webhook_record.hpp"

#include <gtest/gtest.h>

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

TEST(WebhookRecord, StatusHasNoMessageAndDeliveryMayBeNull)
{
    auto q = read_queued_webhook(
        R"({"inbox":"a","delivery":null,"received_at":1,)"
        R"("event":{"type":"status","conversation_id":15,"status":"resolved"}})");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->delivery, "");
    EXPECT_FALSE(q->message_id);
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
