// Agent replies on their way to WhatsApp.
#include "bridge/agent_reply.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::bridge;

namespace {

std::string record(std::string_view event)
{
    return std::string(R"({"inbox":"main","delivery":"d","received_at":1,"event":)") +
           std::string(event) + "}";
}

}  // namespace

TEST(AgentReply, SignedAndConvertedForTheChat)
{
    std::string error;
    auto r = agent_reply(record(R"({"type":"send","message_id":1,"conversation_id":15,)"
                                R"("content":"**Olá** Maria","source_id_of_contact":"5511987654321@s.whatsapp.net",)"
                                R"("sender":{"id":3,"name":"Ana","type":"user"},)"
                                R"("reply_to":{"id":9,"external_id":"WAID:3EB0A1"}})"),
                         SignatureOptions{}, &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->chat, "5511987654321@s.whatsapp.net");
    EXPECT_EQ(r->text, "*Ana:*\n\n*Olá* Maria");
    EXPECT_EQ(r->quoted, std::optional<std::string>("3EB0A1"));

    auto plain = agent_reply(record(R"({"type":"send","content":"hi","source_id_of_contact":"120363000000000000@g.us",)"
                                    R"("sender":{"name":"Ana"}})"),
                             SignatureOptions{false, ""}, &error);
    ASSERT_TRUE(plain) << error;
    EXPECT_EQ(plain->text, "hi") << "no signature when it is off";
    EXPECT_FALSE(plain->quoted);
}

TEST(AgentReply, AttachmentsGoAsLinksAndEmptyRepliesAreRefused)
{
    std::string error;
    auto r = agent_reply(record(R"({"type":"send","source_id_of_contact":"5511987654321@s.whatsapp.net",)"
                                R"("attachments":[{"id":55,"file_type":"image","data_url":"https://c/x.jpg"}]})"),
                         SignatureOptions{false, ""}, &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->text, "https://c/x.jpg");
    EXPECT_FALSE(agent_reply(record(R"({"type":"send","source_id_of_contact":"5511987654321@s.whatsapp.net"})"),
                             SignatureOptions{}, &error));
    EXPECT_EQ(error, "the reply has neither text nor attachments");
}

TEST(AgentReply, AContactMadeByHandIsNoChat)
{
    std::string error;
    EXPECT_FALSE(agent_reply(record(R"({"type":"send","content":"hi","source_id_of_contact":"b3f6c0de-1d2e-4f5a-9b8c-7d6e5f4a3b2c"})"),
                             SignatureOptions{}, &error));
    EXPECT_EQ(error, "the conversation's contact is no WhatsApp chat");
    EXPECT_FALSE(agent_reply("junk", SignatureOptions{}, &error));
}
