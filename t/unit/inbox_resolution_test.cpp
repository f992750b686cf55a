// Finding (or making) the Chatwoot inbox an nginx block names, with
// answers shaped as Chatwoot's (CONTRACT.md section 5.3).
#include "bridge/inbox_resolution.hpp"

#include <gtest/gtest.h>

#include "chatwoot_answers.hpp"

using namespace chatwoot;
using test::answer;
using test::lost;
using bridge::InboxResolution;

namespace {

const rest::Api kApi(3);

constexpr std::string_view kInboxes =
    R"({"payload":[{"id":1,"name":"Website","channel_type":"Channel::WebWidget"},)"
    R"({"id":4,"name":"WhatsApp","channel_type":"Channel::Api","secret":"s"},)"
    R"({"id":5,"name":"Email","channel_type":"Channel::Email"}]})";

TEST(InboxResolution, FindsTheApiInboxByItsExactName)
{
    InboxResolution r("WhatsApp", std::nullopt, kApi);
    EXPECT_EQ(r.request().method, "GET");
    EXPECT_EQ(r.request().path, "/api/v1/accounts/3/inboxes");
    r.on_answer(answer(200), kInboxes);
    ASSERT_EQ(r.state(), InboxResolution::State::done) << r.failure();
    EXPECT_EQ(r.inbox_id(), 4);
    EXPECT_FALSE(r.created());

    InboxResolution lower("whatsapp", std::nullopt, kApi);
    lower.on_answer(answer(200), kInboxes);
    EXPECT_EQ(lower.state(), InboxResolution::State::failed) << "names match exactly";
    EXPECT_NE(lower.failure().find("no inbox named \"whatsapp\""), std::string::npos)
        << lower.failure();
}

TEST(InboxResolution, CreatesAMissingInboxWhenAsked)
{
    InboxResolution r("Support", "https://bridge.example/chatwoot/webhook", kApi);
    r.on_answer(answer(200), kInboxes);
    ASSERT_EQ(r.state(), InboxResolution::State::request);
    EXPECT_EQ(r.request().method, "POST");
    EXPECT_EQ(r.request().path, "/api/v1/accounts/3/inboxes");
    EXPECT_EQ(r.request().body,
              R"({"name":"Support","channel":{"type":"api","webhook_url":"https://bridge.example/chatwoot/webhook"}})");
    r.on_answer(answer(200), R"({"id":9,"name":"Support","channel_type":"Channel::Api"})");
    ASSERT_EQ(r.state(), InboxResolution::State::done);
    EXPECT_EQ(r.inbox_id(), 9);
    EXPECT_TRUE(r.created());
}

TEST(InboxResolution, ALostCreateAnswerListsBeforeCreatingAgain)
{
    InboxResolution r("Support", "https://bridge.example/w", kApi);
    r.on_answer(answer(200), kInboxes);
    r.on_answer(lost(), "");
    ASSERT_EQ(r.state(), InboxResolution::State::request);
    EXPECT_EQ(r.request().method, "GET") << "it may have been made";
    r.on_answer(answer(200), R"({"payload":[{"id":9,"name":"Support","channel_type":"Channel::Api"}]})");
    ASSERT_EQ(r.state(), InboxResolution::State::done);
    EXPECT_EQ(r.inbox_id(), 9);

    InboxResolution endless("Support", "https://bridge.example/w", kApi);
    for (int i = 0; i < 20 && endless.state() == InboxResolution::State::request; i++) {
        endless.on_answer(endless.request().method == "GET" ? answer(200) : lost(),
                          R"({"payload":[]})");
    }
    EXPECT_EQ(endless.state(), InboxResolution::State::failed) << "bounded, never a loop";
}

TEST(InboxResolution, RefusesWhatCannotServe)
{
    InboxResolution widget("Website", "https://bridge.example/w", kApi);
    widget.on_answer(answer(200), kInboxes);
    ASSERT_EQ(widget.state(), InboxResolution::State::failed);
    EXPECT_NE(widget.failure().find("Channel::WebWidget inbox; the bridge needs an API inbox"),
              std::string::npos) << widget.failure();

    InboxResolution twice("WA", std::nullopt, kApi);
    twice.on_answer(answer(200), R"({"payload":[{"id":4,"name":"WA","channel_type":"Channel::Api"},)"
                                 R"({"id":8,"name":"WA","channel_type":"Channel::Api"}]})");
    ASSERT_EQ(twice.state(), InboxResolution::State::failed);
    EXPECT_NE(twice.failure().find("ids 4, 8"), std::string::npos) << twice.failure();

    InboxResolution agent("Support", "https://bridge.example/w", kApi);
    agent.on_answer(answer(200), R"({"payload":[]})");
    agent.on_answer(answer(401, R"({"error":"You are not authorized to do this action"})"), "");
    ASSERT_EQ(agent.state(), InboxResolution::State::failed);
    EXPECT_NE(agent.failure().find("creating the inbox"), std::string::npos) << agent.failure();

    InboxResolution garbage("WhatsApp", std::nullopt, kApi);
    garbage.on_answer(answer(200), R"({"payload":{}})");
    EXPECT_EQ(garbage.state(), InboxResolution::State::failed);
}

}  // namespace
