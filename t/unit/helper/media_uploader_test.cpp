// The media upload job (helper/media_uploader.hpp) on the fake nginx loop,
// with media hosts played by a fake transport that pulls the request body
// from its BodySource as curl would: the hashing pass takes one slice per
// turn of the loop and the request starts only after it, its URL naming
// the blob's enc SHA-256; the body is the one-shot blob and nothing is
// written beside the file; a file changed between the passes is a retry
// with the reason, not a move to the next host; an uploader dropped in
// the middle of the hashing pass runs nothing more.
#include "fake_nginx.hpp"

#include "helper/media_uploader.hpp"
#include "wa/media/media_cipher.hpp"
#include "wa/media/media_url.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::helper;
using namespace chatwoot::test;
namespace wm = chatwoot::wa::media;
namespace fs = std::filesystem;

namespace {

constexpr size_t kSlice = 64 * 1024;

// Media hosts: each request's body is pulled to its end (or its error) in
// curl's 64 KiB buffers when the test says, then answered.
class FakeHosts final : public HttpTransport {
public:
    struct Seen {
        std::string url;
        uint64_t content_length = 0;
        std::string body;
        bool body_failed = false;
    };
    void request(HttpRequest req, Done done) override
    {
        EXPECT_TRUE(req.body.empty());
        EXPECT_TRUE(req.body_source != nullptr);
        queued_.emplace_back(std::move(req), std::move(done));
    }
    void deliver()
    {
        while (!queued_.empty()) {
            auto [req, done] = std::move(queued_.front());
            queued_.pop_front();
            Seen s;
            s.url = req.url;
            TransferResult r;
            if (!req.body_source) {
                ADD_FAILURE() << "an upload without a produced body";
            } else {
                s.content_length = req.body_source->size();
                std::string buf(64 * 1024, '\0');
                for (;;) {
                    auto n = req.body_source->read(std::span<char>(buf));
                    if (!n) {
                        s.body_failed = true;
                        break;
                    }
                    if (*n == 0) break;
                    s.body.append(buf.data(), *n);
                }
            }
            if (s.body_failed) {
                r.code = CURLE_ABORTED_BY_CALLBACK;
                r.error = "Operation was aborted by an application callback";
            } else {
                r.http_status = status;
                r.body = R"({"url":"https://mmg.whatsapp.net/v/t62.7119-24/1_2_n.enc?ccb=11-4&oh=01_x&oe=1&mms3=true",)"
                         R"("direct_path":"/v/t62.7119-24/1_2_n.enc?ccb=11-4&oh=01_x&oe=1"})";
            }
            seen.push_back(std::move(s));
            done(r);
        }
    }
    size_t pending() const { return queued_.size(); }

    long status = 200;
    std::vector<Seen> seen;

private:
    std::deque<std::pair<HttpRequest, Done>> queued_;
};

std::string plain_of(size_t n)
{
    std::string s(n, '\0');
    uint32_t x = 99;
    for (auto& c : s) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

class MediaUploaderTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        fake_nginx_reset();
        dir_ = fs::temp_directory_path() / ("media_uploader_test_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        path_ = (dir_ / "report.pdf").string();
        key_ = std::string(32, '\x21');
        MediaUploadOptions o;
        o.slice_bytes = kSlice;
        uploader_.emplace(hosts_, [this](MediaFetcher::MediaConnAnswer a) {
            wm::MediaConn c;
            c.auth = "auth";
            c.ttl = 300;
            c.hosts = {"mmg.whatsapp.net", "media-b.whatsapp.net"};
            a(c);
        }, o);
    }
    void TearDown() override
    {
        uploader_.reset();
        fs::remove_all(dir_);
    }

    void write(const std::string& bytes) { std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes; }

    void start()
    {
        MediaUpload u;
        u.path = path_;
        u.kind = "document";
        u.media_key = key_;
        uploader_->upload(u, [this](const UploadResult& r) { results_.push_back(r); });
    }

    // Turns of the loop until the request is made (or 10000 turns).
    int turns_until_request()
    {
        int turns = 0;
        while (hosts_.pending() == 0 && results_.empty() && turns < 10000) {
            fake_nginx_advance(0);
            turns++;
        }
        return turns;
    }

    fs::path dir_;
    std::string path_;
    std::string key_;
    FakeHosts hosts_;
    std::optional<MediaUploader> uploader_;
    std::vector<UploadResult> results_;
};

TEST_F(MediaUploaderTest, HashedASlicePerTurnThenStreamedAsTheOneShotBlob)
{
    const std::string plain = plain_of(20 * kSlice + 333);
    write(plain);
    const auto ref = wm::encrypt_media(wa::as_bytes(key_), wm::MediaType::document, wa::as_bytes(plain));
    ASSERT_TRUE(ref.ok());

    start();
    EXPECT_TRUE(results_.empty());
    EXPECT_EQ(hosts_.pending(), 0u) << "nothing is sent before the blob's hash is known";
    EXPECT_TRUE(fake_nginx_posted_next()) << "the first slice waits for the next turn";
    // One slice per turn: 21 slices, the last one short.
    EXPECT_EQ(turns_until_request(), 21);
    ASSERT_EQ(hosts_.pending(), 1u);
    hosts_.deliver();

    ASSERT_EQ(hosts_.seen.size(), 1u);
    const auto& s = hosts_.seen[0];
    EXPECT_FALSE(s.body_failed);
    EXPECT_EQ(s.content_length, ref->enc_blob.size());
    EXPECT_EQ(s.body, std::string(wa::as_chars(ref->enc_blob)));
    auto url = wm::upload_url("mmg.whatsapp.net", wm::MediaType::document, ref->file_enc_sha256, "auth");
    ASSERT_TRUE(url.ok());
    EXPECT_EQ(s.url, *url);

    ASSERT_EQ(results_.size(), 1u);
    const UploadResult& r = results_[0];
    EXPECT_EQ(r.kind, SendResult::Kind::sent) << r.reason;
    EXPECT_EQ(r.direct_path, "/v/t62.7119-24/1_2_n.enc?ccb=11-4&oh=01_x&oe=1");
    EXPECT_EQ(r.file_length, plain.size());
    EXPECT_EQ(r.file_enc_sha256, std::string(wa::as_chars(ref->file_enc_sha256)));
    EXPECT_EQ(r.file_sha256, std::string(wa::as_chars(ref->file_sha256)));
    // Nothing was written beside the file (no ".enc").
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    EXPECT_EQ(names, std::vector<std::string>{"report.pdf"});
    EXPECT_EQ(uploader_->jobs(), 0u);
}

TEST_F(MediaUploaderTest, ASmallFileTakesOneTurn)
{
    write("tiny");
    start();
    EXPECT_EQ(turns_until_request(), 1);
    hosts_.deliver();
    ASSERT_EQ(results_.size(), 1u);
    EXPECT_EQ(results_[0].kind, SendResult::Kind::sent);
    EXPECT_EQ(hosts_.seen[0].body.size(), wm::enc_blob_size(4));
}

TEST_F(MediaUploaderTest, AFileChangedBetweenThePassesIsARetryNotAnotherHost)
{
    std::string plain = plain_of(3 * kSlice);
    write(plain);
    start();
    turns_until_request();
    ASSERT_EQ(hosts_.pending(), 1u);
    plain[kSlice] ^= 0x40;
    write(plain);
    hosts_.deliver();

    ASSERT_EQ(hosts_.seen.size(), 1u) << "the second host is not tried with a file that changed";
    EXPECT_TRUE(hosts_.seen[0].body_failed);
    EXPECT_LE(hosts_.seen[0].body.size() + 16 + wm::media_mac_size, hosts_.seen[0].content_length)
        << "the last block and the MAC never went";
    ASSERT_EQ(results_.size(), 1u);
    EXPECT_EQ(results_[0].kind, SendResult::Kind::retry);
    EXPECT_NE(results_[0].reason.find("changed since it was hashed"), std::string::npos) << results_[0].reason;

    // The next attempt hashes the file as it is now and goes through.
    results_.clear();
    start();
    turns_until_request();
    hosts_.deliver();
    ASSERT_EQ(results_.size(), 1u);
    EXPECT_EQ(results_[0].kind, SendResult::Kind::sent) << results_[0].reason;
    const auto ref = wm::encrypt_media(wa::as_bytes(key_), wm::MediaType::document, wa::as_bytes(plain));
    EXPECT_EQ(hosts_.seen.back().body, std::string(wa::as_chars(ref->enc_blob)));
}

TEST_F(MediaUploaderTest, AFileTruncatedDuringTheHashingPassIsARetry)
{
    const std::string plain = plain_of(8 * kSlice);
    write(plain);
    start();
    fake_nginx_advance(0);
    fake_nginx_advance(0);
    // Cut below what pass 1 has read: it ends with two slices, which are
    // no whole file of either length, and pass 2 finds the file shorter.
    write(plain.substr(0, kSlice / 2));
    turns_until_request();
    hosts_.deliver();
    ASSERT_EQ(results_.size(), 1u);
    EXPECT_EQ(results_[0].kind, SendResult::Kind::retry);
    EXPECT_NE(results_[0].reason.find("shorter"), std::string::npos) << results_[0].reason;
}

TEST_F(MediaUploaderTest, AnUnreadableFileIsARetryAtOnce)
{
    start();   // no file
    ASSERT_EQ(results_.size(), 1u);
    EXPECT_EQ(results_[0].kind, SendResult::Kind::retry);
    EXPECT_NE(results_[0].reason.find("cannot open"), std::string::npos) << results_[0].reason;
    EXPECT_FALSE(fake_nginx_posted_next());
}

TEST_F(MediaUploaderTest, AnUploaderDroppedMidPassRunsNothingMore)
{
    write(plain_of(10 * kSlice));
    start();
    fake_nginx_advance(0);
    fake_nginx_advance(0);
    EXPECT_TRUE(fake_nginx_posted_next());
    uploader_.reset();
    EXPECT_FALSE(fake_nginx_posted_next()) << "the job's posted slice went with it";
    for (int i = 0; i < 20; i++) fake_nginx_advance(0);
    EXPECT_TRUE(results_.empty());
    EXPECT_EQ(hosts_.pending(), 0u);
}

TEST_F(MediaUploaderTest, TwoUploadsHashSideBySide)
{
    write(plain_of(4 * kSlice));
    start();
    start();
    // Each job has its own slice per turn: both are done after 5 turns.
    EXPECT_EQ(turns_until_request(), 5);
    fake_nginx_advance(0);
    EXPECT_EQ(hosts_.pending(), 2u);
    hosts_.deliver();
    ASSERT_EQ(results_.size(), 2u);
    EXPECT_EQ(hosts_.seen[0].body, hosts_.seen[1].body);
}

}  // namespace
