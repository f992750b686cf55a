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

TEST(WaMessageJson, TheFormsWhatsAppAddressedAreKeptWhenTheyDiffer)
{
    WaMessage m;
    m.id = "A1";
    m.chat = "5511987654321@s.whatsapp.net";
    m.sender = m.chat;
    m.wa_chat = "123456789012345@lid";
    m.wa_sender = "123456789012345@lid";
    m.text = "oi";
    const std::string json = to_json(m);
    auto again = parse(json);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->wa_chat, "123456789012345@lid") << json;
    EXPECT_EQ(again->wa_sender, "123456789012345@lid");

    m.wa_chat = m.chat;   // the same form: not written twice
    m.wa_sender.clear();
    EXPECT_EQ(to_json(m).find("wa_chat"), std::string::npos);
    EXPECT_EQ(to_json(m).find("wa_sender"), std::string::npos);
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

TEST(WaMessageJson, KindsRoundTripWithTheirTargetsAndTime)
{
    const std::string chat = R"("chat":"5511987654321@s.whatsapp.net")";
    auto r = parse(R"({"kind":"reaction","id":"R1",)" + chat + R"(,"target":"A1","text":"👍","t":1781950562})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, WaMessage::Kind::reaction);
    EXPECT_EQ(r->target, "A1");
    EXPECT_EQ(r->text, "👍");
    EXPECT_EQ(r->timestamp, 1781950562);
    auto again = parse(to_json(*r));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->kind, WaMessage::Kind::reaction);
    EXPECT_EQ(again->target, "A1");
    EXPECT_EQ(again->timestamp, 1781950562);

    auto removed = parse(R"({"kind":"reaction","id":"R2",)" + chat + R"(,"target":"A1"})");
    ASSERT_TRUE(removed) << "a reaction taken back has no text";
    EXPECT_EQ(removed->text, "");

    auto revoke = parse(R"({"kind":"revoke","id":"V1",)" + chat + R"(,"target":"A2"})");
    ASSERT_TRUE(revoke);
    EXPECT_EQ(revoke->kind, WaMessage::Kind::revoke);
    EXPECT_EQ(parse(to_json(*revoke))->target, "A2");

    auto edit = parse(R"({"kind":"edit","id":"E1",)" + chat + R"(,"target":"A2","text":"new"})");
    ASSERT_TRUE(edit);
    EXPECT_EQ(edit->kind, WaMessage::Kind::edit);
    EXPECT_EQ(edit->text, "new");

    auto read = parse(R"({"kind":"read","id":"D1",)" + chat + R"(,"targets":["X1","X2"]})");
    ASSERT_TRUE(read);
    EXPECT_EQ(read->kind, WaMessage::Kind::read);
    EXPECT_EQ(read->targets, (std::vector<std::string>{"X1", "X2"}));
    auto read_again = parse(to_json(*read));
    ASSERT_TRUE(read_again);
    EXPECT_EQ(read_again->targets, read->targets);

    auto plain = parse(R"({"kind":"message","id":"M1",)" + chat + R"(,"text":"oi"})");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->kind, WaMessage::Kind::message);
    EXPECT_EQ(to_json(*plain).find("kind"), std::string::npos)
        << "a plain message is written as before, without a kind";
    EXPECT_EQ(to_json(*plain).find("\"t\""), std::string::npos) << "nor an unknown time";
}

TEST(WaMessageJson, BadKindsAndTargetsAreRefusedWithAReason)
{
    const std::string head = R"({"id":"K1","chat":"5511987654321@s.whatsapp.net",)";
    const std::pair<std::string, std::string> cases[] = {
        {R"("kind":"poll","text":"x"})", "field kind is not a known kind"},
        {R"("kind":7,"text":"x"})", "field kind is not a string"},
        {R"("kind":"reaction","text":"x"})", "missing field target"},
        {R"("kind":"revoke"})", "missing field target"},
        {R"("kind":"edit","target":5,"text":"x"})", "field target is not a string"},
        {R"("kind":"read"})", "field targets is not an array of 1 to 256 ids"},
        {R"("kind":"read","targets":[]})", "field targets is not an array of 1 to 256 ids"},
        {R"("kind":"read","targets":"X1"})", "field targets is not an array of 1 to 256 ids"},
        {R"("kind":"read","targets":["X1",2]})", "field targets holds something other than an id"},
        {R"("kind":"read","targets":[""]})", "field targets holds something other than an id"},
        {R"("text":"x","t":-1})", "field t is not a timestamp"},
        {R"("text":"x","t":"1781950562"})", "field t is not a timestamp"},
        {R"("text":"x","t":1.5})", "field t is not a timestamp"},
    };
    for (const auto& [tail, reason] : cases) {
        std::string error;
        EXPECT_FALSE(parse(head + tail, &error)) << tail;
        EXPECT_EQ(error, reason) << tail;
    }
    std::string many = R"("kind":"read","targets":[)";
    for (int i = 0; i < 257; i++) many += std::string(i ? "," : "") + "\"X\"";
    std::string error;
    EXPECT_FALSE(parse(head + many + "]}", &error)) << "at most 256 targets";
    std::string long_target = R"("kind":"revoke","target":")" + std::string(129, 'A') + "\"}";
    EXPECT_FALSE(parse(head + long_target, &error));
    EXPECT_EQ(error, "field target is too long");
}

TEST(WaMessageJson, MediaToFetchSurvivesTheRow)
{
    WaMessage m;
    m.id = "M1";
    m.chat = "5511987654321@s.whatsapp.net";
    m.sender = m.chat;
    m.text = "the caption";
    m.media = WaMedia{"document", std::string(32, '\x01'), std::string(32, '\xfe'), "", 70000,
                      "/v/t62.7119-24/x.enc?ccb=11-4", "", "application/pdf", "report.pdf", "the caption"};
    const std::string json = to_json(m);
    EXPECT_NE(json.find(R"("key":"0101)"), std::string::npos) << json;
    EXPECT_EQ(json.find("enc_sha256"), std::string::npos) << "an absent hash is left out";
    auto back = parse(json);
    ASSERT_TRUE(back);
    ASSERT_TRUE(back->media);
    EXPECT_EQ(*back->media, *m.media);
    EXPECT_EQ(back->text, "the caption");

    const std::string head = R"({"id":"M1","chat":"5511987654321@s.whatsapp.net","text":"x",)";
    const std::pair<std::string, std::string> cases[] = {
        {R"("media":5})", "field media is not an object"},
        {R"("media":{"key":"00"}})", "missing field type"},
        {R"("media":{"type":"image","key":"0011"}})",
         "field media holds a key or hash that is not 32 bytes of hex"},
        {R"("media":{"type":"image","key":")" + std::string(64, 'g') + R"("}})",
         "field media holds a key or hash that is not 32 bytes of hex"},
        {R"("media":{"type":"image","key":")" + std::string(64, 'a') + R"(","length":-1}})",
         "field media.length is not a size"},
    };
    for (const auto& [tail, reason] : cases) {
        std::string error;
        EXPECT_FALSE(parse(head + tail, &error)) << tail;
        EXPECT_EQ(error, reason) << tail;
    }
}

}  // namespace
