// Start-up reconciliation: agent replies found in Chatwoot's REST answers
// (shapes of CONTRACT.md 4.4 and 5.8) come out as webhook bodies that the
// webhook parser itself queues as the same reply.
#include "bridge/outbox_reconciliation.hpp"
#include "chatwoot/webhook_event.hpp"

#include <gtest/gtest.h>

#include "chatwoot_answers.hpp"

#include <string>

using namespace chatwoot;
using test::answer;
using test::lost;
using bridge::OutboxReconciliation;

namespace {

const rest::Api kApi(1);
constexpr int64_t kSince = 1700000000;

std::string conversation(int id, int64_t last_activity, std::string_view source_id,
                         int inbox = 7)
{
    return "{\"id\":" + std::to_string(id) + ",\"inbox_id\":" + std::to_string(inbox)
           + ",\"status\":\"open\",\"last_activity_at\":" + std::to_string(last_activity)
           + ",\"meta\":{\"sender\":{\"id\":42}},\"messages\":[{\"id\":1,\"conversation\":"
             "{\"contact_inbox\":{\"source_id\":\"" + std::string(source_id) + "\"}}}]}";
}

std::string conversations(std::initializer_list<std::string> list)
{
    std::string out = R"({"data":{"meta":{"all_count":0},"payload":[)";
    bool first = true;
    for (const auto& c : list) {
        out += (first ? "" : ",") + c;
        first = false;
    }
    return out + "]}}";
}

struct Fields {
    bool is_private = false;
    std::string status = "sent";
    std::string source_id = "null";
    std::string attributes = "{}";
};

std::string message(int id, int type, int64_t created, Fields f = {})
{
    return "{\"id\":" + std::to_string(id) + ",\"content\":\"reply " + std::to_string(id)
           + "\",\"message_type\":" + std::to_string(type) + ",\"private\":"
           + (f.is_private ? "true" : "false") + ",\"status\":\"" + f.status
           + "\",\"source_id\":" + f.source_id + ",\"created_at\":" + std::to_string(created)
           + ",\"conversation_id\":15,\"content_attributes\":" + f.attributes
           + ",\"sender\":{\"id\":3,\"name\":\"Ana\",\"type\":\"user\"}}";
}

std::string messages(std::initializer_list<std::string> list)
{
    std::string out = R"({"meta":{"contact":{"id":42,"identifier":"5511987654321@s.whatsapp.net",)"
                      R"("phone_number":"+5511987654321"}},"payload":[)";
    bool first = true;
    for (const auto& m : list) {
        out += (first ? "" : ",") + m;
        first = false;
    }
    return out + "]}";
}

TEST(OutboxReconciliation, FindsRecentAgentRepliesAsTheWebhookWouldHaveQueuedThem)
{
    OutboxReconciliation r(1, 7, kSince, kApi, {});
    EXPECT_EQ(r.request().path,
              "/api/v1/accounts/1/conversations?inbox_id=7&status=all&assignee_type=all&page=1");
    r.on_answer(answer(200), conversations({conversation(15, kSince + 50, "5511987654321@s.whatsapp.net"),
                                            conversation(16, kSince - 1, "x@s.whatsapp.net")}));
    ASSERT_EQ(r.state(), OutboxReconciliation::State::request);
    EXPECT_EQ(r.request().path, "/api/v1/accounts/1/conversations/15/messages")
        << "only the conversation active since the watermark";
    r.on_answer(answer(200),
                messages({message(100, 1, kSince - 5),            // before the watermark
                          message(101, 0, kSince + 1),            // incoming
                          message(102, 1, kSince + 2),            // a reply
                          message(103, 1, kSince + 3, {.source_id = R"("WAID:ABC")"}),  // our post
                          message(104, 1, kSince + 4, {.is_private = true}),
                          message(105, 1, kSince + 5, {.status = "failed"}),
                          message(106, 1, kSince + 6, {.attributes = R"({"deleted":true})"}),
                          message(107, 3, kSince + 7),            // a template
                          message(108, 2, kSince + 8)}));         // activity
    ASSERT_EQ(r.state(), OutboxReconciliation::State::done) << r.failure();
    ASSERT_EQ(r.found().size(), 2u);
    EXPECT_EQ(r.conversations_seen(), 1);

    // The webhook parser queues them like the real thing.
    auto d = webhook::parse(r.found()[0]);
    ASSERT_EQ(d.verdict, webhook::Verdict::queue) << d.reason << "\n" << r.found()[0];
    EXPECT_NE(d.record.find(R"("message_id":102)"), std::string::npos) << d.record;
    EXPECT_NE(d.record.find(R"("conversation_id":15)"), std::string::npos) << d.record;
    EXPECT_NE(d.record.find(R"("inbox_id":7)"), std::string::npos) << d.record;
    EXPECT_NE(d.record.find(R"("source_id_of_contact":"5511987654321@s.whatsapp.net")"),
              std::string::npos) << d.record;
    EXPECT_NE(d.record.find(R"("content":"reply 102")"), std::string::npos) << d.record;
    auto t = webhook::parse(r.found()[1]);
    ASSERT_EQ(t.verdict, webhook::Verdict::queue) << t.reason;
    EXPECT_NE(t.record.find(R"("message_id":107)"), std::string::npos) << t.record;
}

TEST(OutboxReconciliation, PagesBackUntilTheWatermarkOldestFirst)
{
    OutboxReconciliation r(1, 7, kSince, kApi, {});
    r.on_answer(answer(200), conversations({conversation(15, kSince + 100, "c@s.whatsapp.net")}));
    r.on_answer(answer(200), messages({message(120, 1, kSince + 20), message(121, 1, kSince + 21)}));
    ASSERT_EQ(r.state(), OutboxReconciliation::State::request);
    EXPECT_EQ(r.request().path, "/api/v1/accounts/1/conversations/15/messages?before=120");
    r.on_answer(answer(200), messages({message(110, 1, kSince - 1), message(111, 1, kSince + 11)}));
    ASSERT_EQ(r.state(), OutboxReconciliation::State::done);
    ASSERT_EQ(r.found().size(), 3u);
    EXPECT_NE(r.found()[0].find(R"("id":111)"), std::string::npos);
    EXPECT_NE(r.found()[1].find(R"("id":120)"), std::string::npos);
    EXPECT_NE(r.found()[2].find(R"("id":121)"), std::string::npos);
}

TEST(OutboxReconciliation, ListsFurtherConversationPagesAndSkipsOtherInboxes)
{
    OutboxReconciliation r(1, 7, kSince, kApi, {});
    std::string page = R"({"data":{"meta":{},"payload":[)";
    for (int i = 0; i < 25; i++) {
        page += (i ? "," : "") + conversation(200 + i, kSince + 1000 - i, "c@s.whatsapp.net",
                                             i == 3 ? 8 : 7);
    }
    page += "]}}";
    r.on_answer(answer(200), page);
    EXPECT_EQ(r.request().path,
              "/api/v1/accounts/1/conversations?inbox_id=7&status=all&assignee_type=all&page=2");
    r.on_answer(answer(200), conversations({}));
    int seen = 0;
    while (r.state() == OutboxReconciliation::State::request && seen < 100) {
        EXPECT_EQ(r.request().path.find("/conversations/203/"), std::string::npos)
            << "a conversation of another inbox is not looked into";
        r.on_answer(seen % 2 ? answer(404) : answer(200), messages({}));
        seen++;
    }
    EXPECT_EQ(r.state(), OutboxReconciliation::State::done);
    EXPECT_EQ(r.conversations_seen(), 24) << "a deleted conversation (404) is skipped, not fatal";
}

TEST(OutboxReconciliation, FailuresAndGarbageEndItCleanly)
{
    OutboxReconciliation down(1, 7, kSince, kApi, {});
    down.on_answer(answer(503), "");
    EXPECT_EQ(down.state(), OutboxReconciliation::State::failed);
    EXPECT_NE(down.failure().find("listing conversations"), std::string::npos);

    OutboxReconciliation garbage(1, 7, kSince, kApi, {});
    garbage.on_answer(answer(200), R"({"payload":[]})");
    EXPECT_EQ(garbage.state(), OutboxReconciliation::State::failed);

    OutboxReconciliation bounded(1, 7, 0, kApi, {.max_conversation_pages = 20, .max_message_pages = 3});
    bounded.on_answer(answer(200), conversations({conversation(15, kSince, "c@s.whatsapp.net")}));
    int requests = 0;
    while (bounded.state() == OutboxReconciliation::State::request && requests < 50) {
        bounded.on_answer(answer(200), messages({message(500 - requests, 1, kSince)}));
        requests++;
    }
    EXPECT_EQ(requests, 3) << "message pages per conversation are bounded";
    EXPECT_EQ(bounded.found().size(), 3u);
}

}  // namespace
