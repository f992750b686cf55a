// Upload and download URLs as whatsmeow builds them, and the refusals
// that keep a hostile direct path or message url from pointing the
// helper anywhere but WhatsApp's media hosts.
#include <gtest/gtest.h>

#include "wa/bytes.hpp"
#include "wa/media/media_url.hpp"

namespace chatwoot::wa::media {
namespace {

// 32 bytes whose base64 has '+', '/' and padding.
Bytes hash()
{
    Bytes h(32);
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<std::uint8_t>(0xf8 + i * 3);
    return h;
}

TEST(MediaToken, Base64UrlWithPadding)
{
    // Python: base64.urlsafe_b64encode(bytes((0xf8 + i*3) & 0xff for i in range(32)))
    EXPECT_EQ(media_token(hash()), "-Pv-AQQHCg0QExYZHB8iJSgrLjE0Nzo9QENGSUxPUlU=");
    EXPECT_EQ(media_token(Bytes{0xfb, 0xff}), "-_8=");
    EXPECT_EQ(media_token({}), "");
}

TEST(MediaUrl, Upload)
{
    auto url = upload_url("mmg.whatsapp.net", MediaType::ptt, hash(), "a+b/c=");
    ASSERT_TRUE(url.ok()) << url.error().detail;
    EXPECT_EQ(*url,
              "https://mmg.whatsapp.net/mms/audio/-Pv-AQQHCg0QExYZHB8iJSgrLjE0Nzo9QENGSUxPUlU="
              "?auth=a%2Bb%2Fc%3D&token=-Pv-AQQHCg0QExYZHB8iJSgrLjE0Nzo9QENGSUxPUlU%3D");
    auto sticker = upload_url("127.0.0.1:8443", MediaType::sticker, hash(), "t");
    ASSERT_TRUE(sticker.ok());
    EXPECT_TRUE(sticker->starts_with("https://127.0.0.1:8443/mms/image/"));

    EXPECT_EQ(upload_url("mmg.whatsapp.net/x", MediaType::image, hash(), "t").error().code,
              Errc::malformed);
    EXPECT_EQ(upload_url("mmg.whatsapp.net", MediaType::image, Bytes(31), "t").error().code,
              Errc::malformed);
    EXPECT_EQ(upload_url("mmg.whatsapp.net", MediaType::image, hash(), "").error().code,
              Errc::malformed);
    EXPECT_EQ(upload_url("mmg.whatsapp.net", MediaType::image_thumbnail, hash(), "t")
                  .error()
                  .code,
              Errc::malformed);
}

TEST(MediaUrl, Download)
{
    const std::string path =
        "/v/t62.7118-24/123_456_789_n.enc?ccb=11-4&oh=01_Q5&oe=68A1&_nc_sid=5e03e0";
    auto url = download_url("MMG.whatsapp.net", path, MediaType::image, hash());
    ASSERT_TRUE(url.ok()) << url.error().detail;
    EXPECT_EQ(*url, "https://mmg.whatsapp.net" + path +
                        "&hash=-Pv-AQQHCg0QExYZHB8iJSgrLjE0Nzo9QENGSUxPUlU%3D&mms-type=image"
                        "&__wa-mms=");
    auto no_query = download_url("mmg.whatsapp.net", "/d/f/abc.enc", MediaType::document, hash());
    ASSERT_TRUE(no_query.ok());
    EXPECT_TRUE(no_query->starts_with("https://mmg.whatsapp.net/d/f/abc.enc?hash="));
    EXPECT_TRUE(no_query->ends_with("&mms-type=document&__wa-mms="));
}

TEST(MediaUrl, DirectPathMustStayOnTheHost)
{
    for (std::string_view bad :
         {"", "v/t62/x.enc", "//evil.com/x", "/x//y", "/x?u=https://evil.com",
          "https://evil.com/x", "/x@evil.com", "/x y",
          "/x\r\nHost: evil.com", "/x\n", "/x\t", "/x#frag", "/x\\..\\y", "/\x7f",
          "/caf\xc3\xa9"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(check_direct_path(bad).error().code, Errc::malformed);
        EXPECT_FALSE(download_url("mmg.whatsapp.net", bad, MediaType::image, hash()).ok());
    }
    EXPECT_EQ(check_direct_path("/" + std::string(kMaxDirectPath, 'a')).error().code,
              Errc::too_large);
    EXPECT_TRUE(check_direct_path("/" + std::string(kMaxDirectPath - 1, 'a')).ok());
    EXPECT_TRUE(check_direct_path("/").ok());
}

TEST(MediaUrl, AllowedHosts)
{
    const std::vector<std::string> conn{"mmg.whatsapp.net", "127.0.0.1:8443"};
    EXPECT_TRUE(is_allowed_media_host("mmg.whatsapp.net", conn));
    EXPECT_TRUE(is_allowed_media_host("127.0.0.1:8443", conn));
    EXPECT_TRUE(is_allowed_media_host("media-fra5-1.cdn.whatsapp.net", conn));
    EXPECT_TRUE(is_allowed_media_host("Media.WhatsApp.Net", {}));
    EXPECT_TRUE(is_allowed_media_host("mmg.whatsapp.net:443", {}));
    EXPECT_FALSE(is_allowed_media_host("127.0.0.1:8444", conn));
    EXPECT_FALSE(is_allowed_media_host("127.0.0.1", conn));
    EXPECT_FALSE(is_allowed_media_host("whatsapp.net", {}));
    EXPECT_FALSE(is_allowed_media_host("evilwhatsapp.net", {}));
    EXPECT_FALSE(is_allowed_media_host("mmg.whatsapp.net.evil.com", {}));
    EXPECT_FALSE(is_allowed_media_host("mmg.whatsapp.net:8443", {}));
    EXPECT_FALSE(is_allowed_media_host("mmg.whatsapp.com", {}));
    EXPECT_FALSE(is_allowed_media_host("x@mmg.whatsapp.net", {}));
    EXPECT_FALSE(is_allowed_media_host("", {}));
}

TEST(MediaUrl, MessageUrl)
{
    const std::vector<std::string> conn{"127.0.0.1:8443"};
    auto ok = check_message_url(
        "https://mmg.whatsapp.net/v/t62.7118-24/1_2_n.enc?ccb=11-4&oh=x&oe=y&mms3=true", conn);
    ASSERT_TRUE(ok.ok()) << ok.error().detail;
    EXPECT_EQ(*ok, "https://mmg.whatsapp.net/v/t62.7118-24/1_2_n.enc?ccb=11-4&oh=x&oe=y&mms3=true");
    auto upper = check_message_url("HTTPS://MMG.WhatsApp.net/x", conn);
    ASSERT_TRUE(upper.ok());
    EXPECT_EQ(*upper, "https://mmg.whatsapp.net/x");
    EXPECT_TRUE(check_message_url("https://127.0.0.1:8443/m/1.enc?x=1", conn).ok());

    EXPECT_EQ(check_message_url("https://evil.com/x.enc", conn).error().code, Errc::untrusted);
    EXPECT_EQ(check_message_url("https://127.0.0.1:9/x", conn).error().code, Errc::untrusted);
    EXPECT_EQ(check_message_url("https://mmg.whatsapp.net.evil.com/x", conn).error().code,
              Errc::untrusted);
    for (std::string_view bad :
         {"http://mmg.whatsapp.net/x", "ftp://mmg.whatsapp.net/x", "https://mmg.whatsapp.net",
          "https://evil.com@mmg.whatsapp.net/x", "https://mmg.whatsapp.net@evil.com/x",
          "https://mmg.whatsapp.net//evil.com/x", "https://mmg.whatsapp.net/x y",
          "https://mmg.whatsapp.net/x#y", "https://[::1]/x", "https:/mmg.whatsapp.net/x",
          "mmg.whatsapp.net/x", "", "https://"}) {
        SCOPED_TRACE(bad);
        auto r = check_message_url(bad, conn);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::malformed);
    }
}

}  // namespace
}  // namespace chatwoot::wa::media
