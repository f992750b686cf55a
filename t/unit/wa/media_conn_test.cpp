// The media_conn IQ: the query's shape, the answer parsed into auth, ttls
// and hosts (Baileys' encodings from media_vectors.json among them), and
// each way a hostile answer could put something other than a bare host
// name into the URLs the helper fetches.
#include <gtest/gtest.h>

#include "media_vectors.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/media/media_conn.hpp"

namespace chatwoot::wa::media {
namespace {

using binary::Attr;
using binary::Children;
using binary::Node;
using binary::Value;

Node host(std::string_view name)
{
    Node h("host");
    h.set_attr("hostname", name);
    return h;
}

Node answer(std::vector<Attr> attrs, Children hosts)
{
    Node mc("media_conn", std::move(attrs), std::move(hosts));
    Node iq("iq");
    iq.set_attr("from", binary::server_jid());
    iq.set_attr("id", "1.2-3");
    iq.set_attr("type", "result");
    iq.content = Children{std::move(mc)};
    return iq;
}

Attr a(std::string key, std::string value)
{
    return Attr{std::move(key), Value{std::move(value)}};
}

Node typical()
{
    return answer({a("auth", "AbC-123_x=="), a("ttl", "300"), a("auth_ttl", "21600"),
                   a("max_buckets", "12")},
                  {host("mmg.whatsapp.net"), host("media-fra5-1.cdn.whatsapp.net")});
}

TEST(MediaConnQuery, IsTheSetIqToTheServer)
{
    Node q = media_conn_query();
    EXPECT_EQ(q.tag, "iq");
    EXPECT_EQ(q.attr("xmlns"), "w:m");
    EXPECT_EQ(q.attr("type"), "set");
    ASSERT_NE(q.find_attr("to"), nullptr);
    EXPECT_EQ(q.find_attr("to")->value, binary::server_jid());
    ASSERT_NE(q.children(), nullptr);
    ASSERT_EQ(q.children()->size(), 1u);
    EXPECT_EQ(q.children()->front().tag, "media_conn");
    EXPECT_TRUE(q.children()->front().attrs.empty());
    EXPECT_TRUE(binary::encode(q).ok());
}

TEST(MediaConnParse, TypicalAnswer)
{
    auto mc = parse_media_conn(typical());
    ASSERT_TRUE(mc.ok()) << mc.error().detail;
    EXPECT_EQ(mc->auth, "AbC-123_x==");
    EXPECT_EQ(mc->ttl, 300u);
    EXPECT_EQ(mc->auth_ttl, 21600u);
    EXPECT_EQ(mc->max_buckets, 12u);
    EXPECT_EQ(mc->hosts,
              (std::vector<std::string>{"mmg.whatsapp.net", "media-fra5-1.cdn.whatsapp.net"}));
}

TEST(MediaConnParse, BaileysEncodedAnswers)
{
    const auto& doc = test::media_vectors();
    ASSERT_TRUE(doc.HasMember("media_conn")) << "cannot read " MEDIA_VECTORS_FILE;
    ASSERT_EQ(doc["media_conn"].Size(), 2u);
    for (const auto& v : doc["media_conn"].GetArray()) {
        auto node = binary::decode(test::media_hex(v, "encoded"));
        ASSERT_TRUE(node.ok()) << node.error().detail;
        auto mc = parse_media_conn(*node);
        ASSERT_TRUE(mc.ok()) << mc.error().detail;
        EXPECT_EQ(mc->auth, test::media_str(v, "auth"));
        EXPECT_EQ(mc->ttl, v["ttl"].GetUint());
        EXPECT_EQ(mc->auth_ttl, v["auth_ttl"].GetUint());
        EXPECT_EQ(mc->max_buckets, v["max_buckets"].GetUint());
        std::vector<std::string> hosts;
        for (const auto& h : v["hosts"].GetArray()) hosts.emplace_back(h.GetString());
        EXPECT_EQ(mc->hosts, hosts);
    }
}

TEST(MediaConnParse, OptionalsPortsCaseRepeatsAndOtherChildren)
{
    Node other("download_buckets");
    auto mc = parse_media_conn(answer({a("auth", "t"), a("ttl", "0")},
                                      {host("127.0.0.1:8443"), other, host("MMG.WhatsApp.net"),
                                       host("mmg.whatsapp.net"), host("localhost")}));
    ASSERT_TRUE(mc.ok()) << mc.error().detail;
    EXPECT_EQ(mc->auth_ttl, 0u);
    EXPECT_EQ(mc->max_buckets, 0u);
    EXPECT_EQ(mc->hosts,
              (std::vector<std::string>{"127.0.0.1:8443", "mmg.whatsapp.net", "localhost"}));
}

TEST(MediaConnParse, RefusesBadHostNames)
{
    const std::string long_label(64, 'a');
    std::string long_name;
    while (long_name.size() < 254) long_name += "abcdefg.";
    long_name += "net";
    for (std::string bad : std::vector<std::string>{
             "", "https://mmg.whatsapp.net", "mmg.whatsapp.net/path", "user@mmg.whatsapp.net",
          "evil.com@mmg.whatsapp.net", "mmg.whatsapp.net.", ".mmg.whatsapp.net",
          "mmg..whatsapp.net", "-mmg.whatsapp.net", "mmg-.whatsapp.net", "mmg.whatsapp.net:",
          "mmg.whatsapp.net:0", "mmg.whatsapp.net:65536", "mmg.whatsapp.net:0443",
          "mmg.whatsapp.net:44x", "mmg.whatsapp.net:443:1", "[::1]:443", "mmg whatsapp.net",
          "mmg.whatsapp.net\r\n", "mmg%2ewhatsapp.net", "mmg.whatsapp.net?x", "mmg_x.net",
          long_label, long_name}) {
        SCOPED_TRACE(bad);
        auto r = parse_media_conn(answer({a("auth", "t"), a("ttl", "60")}, {host(bad)}));
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::malformed);
        EXPECT_FALSE(check_media_host(bad).ok());
    }
    // 63-byte labels and a 253-byte name are fine.
    EXPECT_TRUE(check_media_host(std::string(63, 'a') + ".net").ok());
    EXPECT_TRUE(check_media_host("a.b:65535").ok());
}

TEST(MediaConnParse, RefusesBadAttributes)
{
    const Children one{host("mmg.whatsapp.net")};
    auto code = [&](std::vector<Attr> attrs) {
        auto r = parse_media_conn(answer(std::move(attrs), one));
        return r.ok() ? std::optional<Errc>{} : std::optional<Errc>(r.error().code);
    };
    EXPECT_EQ(code({a("ttl", "60")}), Errc::malformed);                    // no auth
    EXPECT_EQ(code({a("auth", ""), a("ttl", "60")}), Errc::malformed);     // empty auth
    EXPECT_EQ(code({a("auth", "a b"), a("ttl", "60")}), Errc::malformed);  // space
    EXPECT_EQ(code({a("auth", "a\nb"), a("ttl", "60")}), Errc::malformed);
    EXPECT_EQ(code({a("auth", "\xc3\xa9"), a("ttl", "60")}), Errc::malformed);
    EXPECT_EQ(code({a("auth", std::string(1025, 'x')), a("ttl", "60")}), Errc::too_large);
    EXPECT_FALSE(code({a("auth", std::string(1024, 'x')), a("ttl", "60")}).has_value());
    EXPECT_EQ(code({a("auth", "t")}), Errc::malformed);  // no ttl
    for (std::string bad : {"", "-1", "+5", "05", "1e3", "4294967296", "12 ", "0x10"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(code({a("auth", "t"), a("ttl", bad)}), Errc::malformed);
        EXPECT_EQ(code({a("auth", "t"), a("ttl", "1"), a("auth_ttl", bad)}), Errc::malformed);
        EXPECT_EQ(code({a("auth", "t"), a("ttl", "1"), a("max_buckets", bad)}), Errc::malformed);
    }
    EXPECT_FALSE(code({a("auth", "t"), a("ttl", "4294967295")}).has_value());
}

TEST(MediaConnParse, RefusesBadShapes)
{
    EXPECT_EQ(parse_media_conn(Node("iq")).error().code, Errc::malformed);
    EXPECT_EQ(parse_media_conn(Node("media_conn")).error().code, Errc::malformed);
    Node error = typical();
    error.set_attr("type", "error");
    EXPECT_EQ(parse_media_conn(error).error().code, Errc::malformed);
    // No host at all, or a host without its name.
    EXPECT_EQ(parse_media_conn(answer({a("auth", "t"), a("ttl", "1")}, {})).error().code,
              Errc::malformed);
    EXPECT_EQ(parse_media_conn(answer({a("auth", "t"), a("ttl", "1")}, {Node("host")}))
                  .error()
                  .code,
              Errc::malformed);
    // A host given as a JID (an '@' makes the encoder write one).
    Node jid_host("host");
    jid_host.set_attr("hostname", Value{"x@s.whatsapp.net", binary::Form::jid_pair});
    EXPECT_EQ(parse_media_conn(answer({a("auth", "t"), a("ttl", "1")}, {jid_host})).error().code,
              Errc::malformed);
    // Too many hosts.
    Children many;
    for (int i = 0; i <= 32; ++i) many.push_back(host("h" + std::to_string(i) + ".whatsapp.net"));
    EXPECT_EQ(parse_media_conn(answer({a("auth", "t"), a("ttl", "1")}, many)).error().code,
              Errc::too_large);
    many.pop_back();
    EXPECT_TRUE(parse_media_conn(answer({a("auth", "t"), a("ttl", "1")}, many)).ok());
}

}  // namespace
}  // namespace chatwoot::wa::media
