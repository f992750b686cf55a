// An agent's attachment fetched from Chatwoot (helper/attachment_fetcher.hpp)
// against a scripted transport: every hop checked before it is asked, the
// token only to Chatwoot's origin, the size cap, 4xx refused and 5xx or the
// network retried, and the file whole at its destination or not there.
#include "helper/attachment_fetcher.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::helper;
namespace fs = std::filesystem;

namespace {

struct Scripted {
    long status = 200;
    std::string body;
    std::string location;   // for a 3xx
    CURLcode code = CURLE_OK;
    bool too_large = false;
};

class ScriptedHttp final : public HttpTransport {
public:
    void request(HttpRequest req, Done done) override
    {
        asked.push_back(req);
        Scripted s = script.empty() ? Scripted{} : script.front();
        if (!script.empty()) script.pop_front();
        TransferResult r;
        r.code = s.code;
        r.http_status = s.code == CURLE_OK ? s.status : 0;
        r.redirect_url = s.location;
        r.too_large = s.too_large;
        if (s.too_large) r.code = CURLE_WRITE_ERROR;
        if (s.code == CURLE_OK && s.status >= 200 && s.status <= 299 && req.on_body) {
            for (size_t at = 0; at < s.body.size(); at += 7) {
                if (!req.on_body(std::string_view(s.body).substr(at, 7))) {
                    r.code = CURLE_WRITE_ERROR;
                    break;
                }
            }
        }
        done(r);
    }
    std::deque<Scripted> script;
    std::vector<HttpRequest> asked;
};

bool has_token(const HttpRequest& r)
{
    for (const auto& h : r.headers) {
        if (h.rfind("api_access_token:", 0) == 0) return true;
    }
    return false;
}

class AttachmentFetcherTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir_ = fs::temp_directory_path() / ("attachment_fetcher_test_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::string why;
        options_.chatwoot = *bridge::url_origin("http://127.0.0.1:3000/");
        options_.media_hosts = {*bridge::parse_media_host("s3.example.com", &why)};
        options_.api_token = "secret-token";
        options_.max_file_size = 1000;
    }
    void TearDown() override { fs::remove_all(dir_); }

    AttachmentOutcome fetch(const std::string& url)
    {
        AttachmentFetcher f(http_, options_);
        std::optional<AttachmentOutcome> got;
        f.fetch(url, dest(), [&](const AttachmentOutcome& o) { got = o; });
        EXPECT_TRUE(got);
        EXPECT_FALSE(fs::exists(dest() + ".part")) << "no temporary file left";
        return got.value_or(AttachmentOutcome{});
    }
    std::string dest() const { return (dir_ / "att").string(); }

    fs::path dir_;
    AttachmentFetchOptions options_;
    ScriptedHttp http_;
};

const std::string kBlob = "http://127.0.0.1:3000/rails/active_storage/blobs/redirect/x/a.jpg";

}  // namespace

TEST_F(AttachmentFetcherTest, FollowsARedirectToANamedStorageHostWithoutTheToken)
{
    http_.script = {Scripted{302, "", "https://s3.example.com/b/a.jpg?X-Amz-Signature=s"},
                    Scripted{200, "the bytes of the file", ""}};
    auto o = fetch(kBlob);
    EXPECT_EQ(o.kind, AttachmentOutcome::Kind::fetched) << o.reason;
    ASSERT_EQ(http_.asked.size(), 2u);
    EXPECT_TRUE(has_token(http_.asked[0])) << "Chatwoot's origin gets the token";
    EXPECT_FALSE(has_token(http_.asked[1])) << "the storage host never does";
    EXPECT_EQ(http_.asked[1].max_stream, 1000u) << "the cap goes with every hop";
    std::ifstream in(dest(), std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "the bytes of the file");
}

TEST_F(AttachmentFetcherTest, RefusesHostsNotAllowedBeforeAskingThem)
{
    AttachmentFetcher f(http_, options_);
    EXPECT_EQ(f.refusal("http://127.0.0.2:3000/x"), kAttachmentNotOnChatwoot);
    EXPECT_EQ(f.refusal(kBlob), "");
    auto o = fetch("http://10.0.0.1/latest/meta-data");
    EXPECT_EQ(o.kind, AttachmentOutcome::Kind::refused);
    EXPECT_EQ(o.reason, kAttachmentNotOnChatwoot);
    EXPECT_TRUE(http_.asked.empty()) << "nothing asked of it";

    http_.script = {Scripted{302, "", "http://s3.example.com/plain-http"}};
    o = fetch(kBlob);
    EXPECT_EQ(o.kind, AttachmentOutcome::Kind::refused);
    EXPECT_NE(o.reason.find("redirected it to a host that is not allowed"), std::string::npos);
    EXPECT_EQ(http_.asked.size(), 1u) << "the redirect's target was never asked";
    EXPECT_FALSE(fs::exists(dest()));
}

TEST_F(AttachmentFetcherTest, AtMostFiveRedirects)
{
    for (int i = 0; i < 10; i++) http_.script.push_back(Scripted{302, "", kBlob});
    auto o = fetch(kBlob);
    EXPECT_EQ(o.kind, AttachmentOutcome::Kind::refused);
    EXPECT_EQ(o.reason, "attachment not sent: too many redirects");
    EXPECT_EQ(http_.asked.size(), 6u) << "the first request and five hops";
}

TEST_F(AttachmentFetcherTest, ClientErrorsAreRefusedServerErrorsRetried)
{
    http_.script = {Scripted{404}};
    auto o = fetch(kBlob);
    EXPECT_EQ(o.kind, AttachmentOutcome::Kind::refused);
    EXPECT_EQ(o.reason, "attachment not sent: Chatwoot answered HTTP 404 for it");

    http_.script = {Scripted{503}};
    EXPECT_EQ(fetch(kBlob).kind, AttachmentOutcome::Kind::retry);
    http_.script = {Scripted{429}};
    EXPECT_EQ(fetch(kBlob).kind, AttachmentOutcome::Kind::retry);
    http_.script = {Scripted{200, "", "", CURLE_COULDNT_CONNECT}};
    EXPECT_EQ(fetch(kBlob).kind, AttachmentOutcome::Kind::retry);
    EXPECT_FALSE(fs::exists(dest()));
}

TEST_F(AttachmentFetcherTest, OversizeIsRefused)
{
    http_.script = {Scripted{200, "", "", CURLE_OK, true}};
    auto o = fetch(kBlob);
    EXPECT_EQ(o.kind, AttachmentOutcome::Kind::refused);
    EXPECT_EQ(o.reason, "attachment not sent: over the 1000 bytes limit (whatsapp_media_max)");
    EXPECT_FALSE(fs::exists(dest()));
}
