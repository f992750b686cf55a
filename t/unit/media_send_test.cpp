// The pure parts of sending agents' attachments as WhatsApp media (issue
// 11): which URLs may be fetched (bridge/attachment_url.hpp), what the
// webhook's attachments become (bridge/agent_reply.hpp), the media_host
// directive, and the media messages (wa/message/outgoing.hpp).
#include "bridge/agent_reply.hpp"
#include "bridge/attachment_url.hpp"
#include "config/inbox_config.hpp"
#include "wa/message/outgoing.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

using namespace chatwoot;
using bridge::AttachmentSource;
using bridge::UrlOrigin;

TEST(AttachmentUrl, OriginsOfUrls)
{
    auto o = bridge::url_origin("https://Chat.Example.com/rails/x?y#z");
    ASSERT_TRUE(o);
    EXPECT_EQ(*o, (UrlOrigin{"https", "chat.example.com", 443}));
    EXPECT_EQ(bridge::url_origin("http://127.0.0.1:3000/a")->port, 3000u);
    EXPECT_EQ(bridge::url_origin("HTTP://[::1]:8080")->host, "[::1]");
    for (const char* bad : {"ftp://chat.example.com/a", "//chat.example.com/a", "/rails/x",
                            "https://user@chat.example.com/", "https://chat.example.com:/",
                            "https://chat.example.com:99999/", "https:///x", "https://a b/",
                            "https://chat.example.com\\@evil.test/", "https://[::1/"}) {
        EXPECT_FALSE(bridge::url_origin(bad)) << bad;
    }
}

TEST(AttachmentUrl, OnlyChatwootAndNamedHosts)
{
    const UrlOrigin chatwoot{"https", "chat.example.com", 443};
    std::string why;
    const std::vector<UrlOrigin> hosts{*bridge::parse_media_host("s3.example.com", &why),
                                       *bridge::parse_media_host("http://minio.lan:9000", &why)};
    auto judge = [&](const char* url) { return bridge::judge_attachment_url(url, chatwoot, hosts); };
    EXPECT_EQ(judge("https://chat.example.com/rails/active_storage/blobs/redirect/x/a.jpg"),
              AttachmentSource::chatwoot);
    EXPECT_EQ(judge("https://CHAT.example.com:443/x"), AttachmentSource::chatwoot);
    EXPECT_EQ(judge("https://s3.example.com/bucket/a.jpg?X-Amz-Signature=1"),
              AttachmentSource::media_host);
    EXPECT_EQ(judge("http://minio.lan:9000/b/a.jpg"), AttachmentSource::media_host);
    // The same host on another scheme or port is another origin.
    EXPECT_EQ(judge("http://chat.example.com/x"), AttachmentSource::refused);
    EXPECT_EQ(judge("https://chat.example.com:8443/x"), AttachmentSource::refused);
    EXPECT_EQ(judge("http://s3.example.com/x"), AttachmentSource::refused)
        << "a media_host without http:// is https only";
    EXPECT_EQ(judge("https://minio.lan:9000/x"), AttachmentSource::refused);
    EXPECT_EQ(judge("https://evil.test/x"), AttachmentSource::refused);
    EXPECT_EQ(judge("https://chat.example.com.evil.test/x"), AttachmentSource::refused);
    EXPECT_EQ(judge("https://chat.example.com@evil.test/x"), AttachmentSource::refused);
    EXPECT_EQ(judge("http://169.254.169.254/latest/meta-data"), AttachmentSource::refused);
    EXPECT_EQ(judge("file:///etc/passwd"), AttachmentSource::refused);
}

TEST(AttachmentUrl, MediaHostArguments)
{
    std::string why;
    EXPECT_EQ(bridge::parse_media_host("S3.example.com", &why)->to_string(),
              "https://s3.example.com:443");
    EXPECT_EQ(bridge::parse_media_host("https://s3.example.com:8443/", &why)->to_string(),
              "https://s3.example.com:8443");
    EXPECT_EQ(bridge::parse_media_host("http://localhost:9000", &why)->to_string(),
              "http://localhost:9000");
    for (const char* bad : {"", "ftp://x", "s3.example.com/bucket", "user@s3.example.com",
                            "s3.example.com:0", "s3.example.com:x", "https://"}) {
        why.clear();
        EXPECT_FALSE(bridge::parse_media_host(bad, &why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
}

TEST(AttachmentUrl, MediaHostDirective)
{
    config::InboxConfigParser p("w");
    auto add = [&](std::vector<std::string_view> args) {
        return p.add("media_host", config::InboxConfigParser::Args(args.data(), args.size()));
    };
    EXPECT_FALSE(add({"s3.example.com", "http://localhost:9000"}));
    EXPECT_FALSE(add({"cdn.example.com:8443"}));
    EXPECT_EQ(p.settings().media_hosts,
              (std::vector<std::string>{"https://s3.example.com:443", "http://localhost:9000",
                                        "https://cdn.example.com:8443"}));
    auto e = add({"s3.example.com/bucket"});
    ASSERT_TRUE(e);
    EXPECT_NE(e->find("invalid media_host \"s3.example.com/bucket\""), std::string::npos) << *e;
    EXPECT_EQ(p.settings().media_hosts.size(), 3u) << "a refused line adds nothing";
}

namespace {

std::string reply_record(const std::string& attachments, const std::string& content = "Look")
{
    return R"({"inbox":"support","event":{"type":"send","message_id":9,"conversation_id":1,)"
           R"("content":")" + content + R"(","source_id_of_contact":"5511987654321@s.whatsapp.net",)"
           R"("sender":{"id":3,"name":"Ana","type":"user"},"attachments":)" + attachments + "}}";
}

}  // namespace

TEST(AgentReplyAttachments, FilesAndCaption)
{
    std::string error;
    auto r = bridge::agent_reply(
        reply_record(R"([{"file_type":"image","content_type":"image/jpeg","file_size":1234,)"
                     R"("data_url":"https://chat.test/rails/active_storage/blobs/redirect/x/Relat%C3%B3rio%20final.jpg"},)"
                     R"({"file_type":"location","data_url":"https://maps.test/?q=1"},)"
                     R"({"file_type":"file","data_url":"https://chat.test/b/..%2F..%2Fetc?disposition=inline"}])"),
        bridge::SignatureOptions{}, &error);
    ASSERT_TRUE(r) << error;
    ASSERT_EQ(r->attachments.size(), 2u) << "the location has no file";
    EXPECT_EQ(r->attachments[0].file_name, "Relatório final.jpg");
    EXPECT_EQ(r->attachments[0].content_type, "image/jpeg");
    EXPECT_EQ(r->attachments[0].file_size, 1234);
    EXPECT_EQ(r->attachments[1].file_name, ".._.._etc") << "never a path";
    EXPECT_EQ(r->caption, "*Ana:*\n\nLook\nhttps://maps.test/?q=1")
        << "signed, with the links of what has no file";
    EXPECT_NE(r->text.find("Relat%C3%B3rio"), std::string::npos)
        << "a device without media still gets every link";

    auto alone = bridge::agent_reply(
        reply_record(R"([{"file_type":"image","data_url":"https://chat.test/x/a.jpg"}])", ""),
        bridge::SignatureOptions{}, &error);
    ASSERT_TRUE(alone);
    EXPECT_EQ(alone->caption, "*Ana:*") << "attachments alone still say who sent them";
}

namespace {

wa::message::MediaContent content(std::string kind)
{
    wa::message::MediaContent c;
    c.kind = std::move(kind);
    c.url = "https://mmg.test/v/x.enc";
    c.direct_path = "/v/x.enc?ccb=1";
    c.media_key = std::string(32, 'k');
    c.file_sha256 = std::string(32, 'a');
    c.file_enc_sha256 = std::string(32, 'b');
    c.file_length = 99;
    c.media_key_timestamp = 1700000000;
    c.mimetype = "application/pdf";
    c.file_name = "report.pdf";
    return c;
}

}  // namespace

TEST(MediaMessage, EachKind)
{
    namespace wm = wa::message;
    auto doc = wm::media_message(content("document"), "the report");
    ASSERT_TRUE(doc);
    ASSERT_TRUE(doc->has_documentwithcaptionmessage()) << "a document's caption goes inside the wrapper";
    const auto& d = doc->documentwithcaptionmessage().message().documentmessage();
    EXPECT_EQ(d.caption(), "the report");
    EXPECT_EQ(d.filename(), "report.pdf");
    EXPECT_EQ(d.title(), "report.pdf");
    EXPECT_EQ(d.directpath(), "/v/x.enc?ccb=1");
    EXPECT_EQ(d.filelength(), 99u);
    EXPECT_EQ(d.mediakeytimestamp(), 1700000000);

    auto plain = wm::media_message(content("document"), "");
    ASSERT_TRUE(plain);
    EXPECT_TRUE(plain->has_documentmessage()) << "without a caption, no wrapper";

    wm::Quote q{"3EB0QUOTED", "5511987654321@s.whatsapp.net", std::nullopt};
    auto img = wm::media_message(content("image"), "look", q);
    ASSERT_TRUE(img);
    EXPECT_EQ(img->imagemessage().caption(), "look");
    EXPECT_EQ(img->imagemessage().contextinfo().stanzaid(), "3EB0QUOTED");
    EXPECT_EQ(img->imagemessage().mediakey(), std::string(32, 'k'));

    auto ptt = content("ptt");
    ptt.waveform = std::string(64, '\x10');
    ptt.seconds = 7;
    auto voice = wm::media_message(ptt, "ignored");
    ASSERT_TRUE(voice);
    EXPECT_TRUE(voice->audiomessage().ptt());
    EXPECT_EQ(voice->audiomessage().seconds(), 7u);
    EXPECT_EQ(voice->audiomessage().waveform().size(), 64u);
    EXPECT_EQ(wm::media_enc_type(ptt), "ptt");

    auto gif = content("video");
    gif.gif_playback = true;
    auto v = wm::media_message(gif, "a gif");
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->videomessage().gifplayback());
    EXPECT_EQ(wm::media_enc_type(gif), "gif");

    auto sticker = wm::media_message(content("sticker"), "");
    ASSERT_TRUE(sticker);
    EXPECT_TRUE(sticker->has_stickermessage());

    EXPECT_FALSE(wm::media_message(content("hologram"), ""));

    // Read back from what was sent, for a resend.
    EXPECT_EQ(wm::sent_media_type(*doc), "document") << "inside the caption wrapper";
    EXPECT_EQ(wm::sent_media_type(*voice), "ptt");
    EXPECT_EQ(wm::sent_media_type(*v), "gif");
    EXPECT_EQ(wm::sent_media_type(*sticker), "sticker");
    EXPECT_EQ(wm::sent_media_type(wm::text_message("hi")), std::nullopt);
}
