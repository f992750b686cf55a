// The WhatsApp message record a device hands over and the store keeps.
#include "bridge/wa_message_json.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::bridge;

namespace {

std::optional<WaMessage> parse(std::string_view json, std::string* error = nullptr)
{
    std::string ignored;
    return parse_wa_message(json, error != nullptr ? error : &ignored);
}

TEST(WaMessageJson, AttachmentsRoundTripAndMakeTheTextOptional)
{
    auto m = parse(R"({"id":"P1","chat":"5511987654321@s.whatsapp.net",)"
                   R"("attachments":[{"file":"/s/media/a","mime":"image/png","name":"a.png"},)"
                   R"({"file":"/s/media/b","mime":"application/pdf"}]})");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->text, "");
    ASSERT_EQ(m->attachments.size(), 2u);
    EXPECT_EQ(m->attachments[0].file_name, "a.png");
    EXPECT_EQ(m->attachments[1].file_name, "b") << "the name defaults to the file's";
    auto again = parse(to_json(*m));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->attachments.size(), 2u);
    EXPECT_EQ(again->attachments[1].path, "/s/media/b");
    EXPECT_EQ(again->attachments[1].mime, "application/pdf");
}

TEST(WaMessageJson, BadAttachmentsAreRefusedWithAReason)
{
    std::string error;
    const std::string head = R"({"id":"P1","chat":"5511987654321@s.whatsapp.net","attachments":)";
    for (const char* bad : {R"("x")", R"([1])", R"([{"mime":"image/png"}])",
                            R"([{"file":"a","mime":"png"}])",
                            R"([{"file":"a","mime":"image/png\r\nX: y"}])",
                            R"([{"file":"a","mime":"image/png","name":"../../etc/passwd"}])",
                            R"([{"file":"a","mime":"image/png","name":"a\"b"}])"})
    {
        EXPECT_FALSE(parse(head + bad + "}", &error)) << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
    std::string many = "[";
    for (int i = 0; i < 17; i++) many += std::string(i ? "," : "") + R"({"file":"a","mime":"a/b"})";
    EXPECT_FALSE(parse(head + many + "]}", &error)) << "at most 16 attachments";
    EXPECT_FALSE(parse(R"({"id":"P1","chat":"5511987654321@s.whatsapp.net"})", &error))
        << "without attachments the text is required";
    EXPECT_EQ(error, "missing field text");
}

}  // namespace
