// The media download job (helper/media_fetcher.hpp) on the fake nginx
// loop, with media hosts played by a fake transport that streams bodies in
// chunks: a verified file lands at its destination with the plaintext's
// bytes, every refused body leaves nothing behind, hosts are tried in turn,
// network errors and 5xx are retried with backoff, 404/410 stop, and the
// media_conn answer is cached for its ttl and dropped on 401/403; a blob
// gone from every host is asked of the phone once (MediaRetryRequests on
// the same loop: the receipt, the answer, the bound), and its new path is
// fetched or the job ends gone.
#include "fake_nginx.hpp"

#include "helper/media_fetcher.hpp"
#include "helper/media_retry_requests.hpp"
#include "wa/crypto/aes.hpp"
#include "wa/media/media_encryptor.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/message.pb.h"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::helper;
using namespace chatwoot::test;
namespace wm = chatwoot::wa::media;
namespace fs = std::filesystem;

namespace {

// One host's answer to one request.
struct Answer {
    CURLcode code = CURLE_OK;
    long status = 200;
    std::string body;
};

// Media hosts: each request takes the next scripted answer (or the
// default), its body handed over in chunks of 1000 bytes, as curl would,
// and only for a 2xx (the driver's rule).  Answers are given when the test
// says, from "the loop".
class FakeHosts final : public HttpTransport {
public:
    void request(HttpRequest req, Done done) override
    {
        urls.push_back(req.url);
        headers = req.headers;
        queued_.emplace_back(std::move(req), std::move(done));
    }
    // Answers every request made so far (and those made while answering).
    void deliver()
    {
        while (!queued_.empty()) {
            auto [req, done] = std::move(queued_.front());
            queued_.pop_front();
            Answer a = script.empty() ? fallback : script.front();
            if (!script.empty()) script.pop_front();
            TransferResult r;
            r.code = a.code;
            r.http_status = a.status;
            if (a.code == CURLE_OK && a.status >= 200 && a.status <= 299) {
                for (size_t at = 0; at < a.body.size(); at += 1000) {
                    if (!req.on_body(std::string_view(a.body).substr(at, 1000))) {
                        r.code = CURLE_WRITE_ERROR;
                        break;
                    }
                }
            } else if (a.code != CURLE_OK) {
                r.error = "Connection reset by peer";
            }
            done(r);
        }
    }
    size_t pending() const { return queued_.size(); }

    std::deque<Answer> script;
    Answer fallback;
    std::vector<std::string> urls;
    std::vector<std::string> headers;

private:
    std::deque<std::pair<HttpRequest, Done>> queued_;
};

wa::Bytes bytes_of(std::string_view s)
{
    return wa::Bytes(s.begin(), s.end());
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

class MediaFetcherTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        fake_nginx_reset();
        dir_ = fs::temp_directory_path() / ("media_fetcher_test_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        for (size_t i = 0; i < 70'000; i++) plain_.push_back(static_cast<char>((i * 131) >> 3));
        key_ = wa::Bytes(32, 0x42);
        auto enc = wm::MediaEncryptor::create(key_, wm::MediaType::image);
        EXPECT_TRUE(enc.ok());
        wa::Bytes out;
        EXPECT_TRUE(enc->update(bytes_of(plain_), out).ok());
        auto d = enc->finish(out);
        EXPECT_TRUE(d.ok());
        digests_ = *d;
        blob_.assign(out.begin(), out.end());
        hosts_.fallback = Answer{CURLE_OK, 200, blob_};
    }
    void TearDown() override { fs::remove_all(dir_); }

    // The session's side: counts the questions, answers when told.
    MediaFetcher::AskMediaConn asker()
    {
        return [this](MediaFetcher::MediaConnAnswer answer) {
            asks_++;
            answers_.push_back(std::move(answer));
        };
    }
    void answer_media_conn(std::vector<std::string> hosts, std::uint32_t ttl = 300)
    {
        while (!answers_.empty()) {
            auto a = std::move(answers_.front());
            answers_.pop_front();
            wm::MediaConn c;
            c.auth = "auth";
            c.ttl = ttl;
            c.hosts = hosts;
            a(c);
        }
    }

    MediaJob job(std::string name = "m1")
    {
        MediaJob j;
        j.type = wm::MediaType::image;
        j.media_key = key_;
        j.file_enc_sha256 = wa::Bytes(digests_.file_enc_sha256.begin(), digests_.file_enc_sha256.end());
        j.file_sha256 = wa::Bytes(digests_.file_sha256.begin(), digests_.file_sha256.end());
        j.file_length = plain_.size();
        j.direct_path = "/v/t62.7118-24/abc.enc?ccb=11-4&oh=x&oe=y";
        j.destination = (dir_ / name).string();
        return j;
    }

    // Runs the loop until the job settles or nothing more would happen.
    void run(std::vector<std::string> hosts = {"mmg.whatsapp.net", "media-b.whatsapp.net"})
    {
        for (int i = 0; i < 50 && outcomes_.empty(); i++) {
            fake_nginx_advance(0);
            answer_media_conn(hosts);
            hosts_.deliver();
            if (outcomes_.empty()) fake_nginx_advance(60'000);
        }
    }

    MediaFetcher::Done keep() { return [this](const MediaOutcome& o) { outcomes_.push_back(o); }; }

    bool dir_is_empty() const { return fs::is_empty(dir_); }

    fs::path dir_;
    std::string plain_;
    std::string blob_;
    wa::Bytes key_;
    wm::MediaDigests digests_;
    FakeHosts hosts_;
    int asks_ = 0;
    std::deque<MediaFetcher::MediaConnAnswer> answers_;
    std::vector<MediaOutcome> outcomes_;
};

TEST_F(MediaFetcherTest, AVerifiedFileLandsAtItsDestinationWithThePlaintext)
{
    MediaFetcher f(hosts_, asker(), {});
    auto j = job();
    f.fetch(j, keep());
    EXPECT_TRUE(outcomes_.empty()) << "done runs from the loop, not from fetch()";
    run();
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::fetched) << outcomes_[0].reason;
    EXPECT_EQ(read_file(j.destination), plain_);
    EXPECT_EQ(outcomes_[0].digests->file_sha256, digests_.file_sha256);
    EXPECT_FALSE(fs::exists(j.destination + ".part"));
    EXPECT_EQ((fs::status(j.destination).permissions() & fs::perms::all), fs::perms::owner_read | fs::perms::owner_write);
    ASSERT_EQ(hosts_.urls.size(), 1u);
    EXPECT_EQ(hosts_.urls[0].rfind("https://mmg.whatsapp.net/v/t62.7118-24/abc.enc?ccb=11-4&oh=x&oe=y&hash=", 0), 0u)
        << hosts_.urls[0];
    EXPECT_NE(hosts_.urls[0].find("&mms-type=image"), std::string::npos);
    EXPECT_EQ(f.jobs(), 0u);
}

TEST_F(MediaFetcherTest, MediaConnIsAskedOnceAndKeptForItsTtl)
{
    MediaFetcher f(hosts_, asker(), {});
    f.fetch(job("a"), keep());
    f.fetch(job("b"), keep());
    fake_nginx_advance(0);
    EXPECT_EQ(asks_, 1) << "two jobs waiting share one question";
    answer_media_conn({"mmg.whatsapp.net"}, 300);
    hosts_.deliver();
    ASSERT_EQ(outcomes_.size(), 2u);
    f.fetch(job("c"), keep());
    fake_nginx_advance(0);
    hosts_.deliver();
    EXPECT_EQ(asks_, 1) << "a fresh answer is reused";
    EXPECT_EQ(outcomes_.size(), 3u);
    fake_nginx_advance(301'000);
    f.fetch(job("d"), keep());
    fake_nginx_advance(0);
    EXPECT_EQ(asks_, 2) << "past its ttl it is asked again";
}

TEST_F(MediaFetcherTest, ForgedMacCorruptAndTruncatedBodiesLeaveNothing)
{
    std::string forged = blob_;
    forged.back() ^= 1;
    std::string corrupt = blob_;
    corrupt[5000] ^= 0x40;
    std::string truncated = blob_.substr(0, blob_.size() - 3000);
    for (const auto& body : {forged, corrupt, truncated}) {
        outcomes_.clear();
        hosts_.script = {Answer{CURLE_OK, 200, body}};
        MediaFetcher f(hosts_, asker(), {});
        f.fetch(job(), keep());
        run();
        ASSERT_EQ(outcomes_.size(), 1u);
        EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::damaged);
        EXPECT_TRUE(dir_is_empty()) << "no file and no temporary file";
        EXPECT_EQ(hosts_.urls.size(), 1u) << "a refused body is not fetched again";
        hosts_.urls.clear();
    }
}

TEST_F(MediaFetcherTest, TheFaultNamesWhichCheckFailed)
{
    std::string forged = blob_;
    forged.back() ^= 1;
    hosts_.script = {Answer{CURLE_OK, 200, forged}};
    auto j = job();
    // No fileEncSha256 (so the MAC itself is what fails), hence no direct
    // path URL either: the message's own url on a WhatsApp host.
    j.file_enc_sha256.reset();
    j.direct_path.clear();
    j.url = "https://mmg.whatsapp.net/v/t62/abc.enc?x=1";
    MediaFetcher f(hosts_, asker(), {});
    f.fetch(j, keep());
    run();
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].fault, wm::MediaFault::mac);
    EXPECT_NE(media_failure_note(outcomes_[0], 1 << 20).find("damaged or forged (mac)"), std::string::npos);
}

TEST_F(MediaFetcherTest, OverTheCapStopsAndSaysSo)
{
    // Said by the message: not even downloaded.
    {
        MediaFetchOptions o;
        o.max_file_size = 1024 * 1024;
        auto j = job();
        j.file_length = 2 * 1024 * 1024;
        MediaFetcher f(hosts_, asker(), o);
        f.fetch(j, keep());
        run();
        ASSERT_EQ(outcomes_.size(), 1u);
        EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::too_large);
        EXPECT_TRUE(hosts_.urls.empty());
        EXPECT_EQ(media_failure_note(outcomes_[0], o.max_file_size),
                  "media too large: over the 1m limit (whatsapp_media_max), not downloaded");
    }
    // Seen in the body, with no length promised: stopped as it streams.
    {
        outcomes_.clear();
        MediaFetchOptions o;
        o.max_file_size = 10'000;
        auto j = job();
        j.file_length.reset();
        MediaFetcher f(hosts_, asker(), o);
        f.fetch(j, keep());
        run();
        ASSERT_EQ(outcomes_.size(), 1u);
        EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::too_large);
        EXPECT_TRUE(dir_is_empty());
    }
}

TEST_F(MediaFetcherTest, NetworkErrorsAnd5xxMoveToTheNextHostThenBackOff)
{
    hosts_.script = {Answer{CURLE_RECV_ERROR, 0, {}}, Answer{CURLE_OK, 503, {}},
                     Answer{CURLE_OK, 502, {}}};
    MediaFetcher f(hosts_, asker(), {});
    auto j = job();
    f.fetch(j, keep());
    fake_nginx_advance(0);
    answer_media_conn({"mmg.whatsapp.net", "media-b.whatsapp.net"});
    hosts_.deliver();
    EXPECT_EQ(hosts_.urls.size(), 2u) << "both hosts tried in the first round";
    EXPECT_TRUE(outcomes_.empty());
    EXPECT_EQ(hosts_.urls[1].rfind("https://media-b.whatsapp.net/", 0), 0u);
    fake_nginx_advance(999);
    hosts_.deliver();
    EXPECT_EQ(hosts_.urls.size(), 2u) << "the second round waits its backoff";
    fake_nginx_advance(1);
    hosts_.deliver();  // 502 on the first host, then the blob on the second
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::fetched) << outcomes_[0].reason;
    EXPECT_EQ(hosts_.urls.size(), 4u);
    EXPECT_EQ(read_file(j.destination), plain_);
}

TEST_F(MediaFetcherTest, ABodyCutOffOnOneHostStartsAnewOnTheNext)
{
    // The fake hands over what it has, then reports the reset.
    struct CutOnce final : public HttpTransport {
        explicit CutOnce(std::string blob) : blob(std::move(blob)) {}
        void request(HttpRequest req, Done done) override { queued.emplace_back(std::move(req), std::move(done)); }
        void deliver()
        {
            while (!queued.empty()) {
                auto [req, done] = std::move(queued.front());
                queued.pop_front();
                TransferResult r;
                r.http_status = 200;
                const size_t n = calls++ == 0 ? 20'000 : blob.size();
                if (!req.on_body(std::string_view(blob).substr(0, n))) r.code = CURLE_WRITE_ERROR;
                if (n < blob.size()) r.code = CURLE_RECV_ERROR;
                done(r);
            }
        }
        std::string blob;
        int calls = 0;
        std::deque<std::pair<HttpRequest, Done>> queued;
    } cut(blob_);
    MediaFetcher f(cut, asker(), {});
    auto j = job();
    f.fetch(j, keep());
    fake_nginx_advance(0);
    answer_media_conn({"mmg.whatsapp.net", "media-b.whatsapp.net"});
    cut.deliver();
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::fetched) << outcomes_[0].reason;
    EXPECT_EQ(read_file(j.destination), plain_) << "not the first host's 20 kB and then the whole";
}

TEST_F(MediaFetcherTest, GoneOnEveryHostStopsWithoutRetrying)
{
    hosts_.script = {Answer{CURLE_OK, 404, {}}, Answer{CURLE_OK, 410, {}}};
    MediaFetcher f(hosts_, asker(), {});
    f.fetch(job(), keep());
    run();
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::gone);
    EXPECT_EQ(hosts_.urls.size(), 2u);
    EXPECT_EQ(media_failure_note(outcomes_[0], 0), "media no longer available on WhatsApp");
    EXPECT_TRUE(dir_is_empty());
}

TEST_F(MediaFetcherTest, A403DropsTheCachedMediaConn)
{
    hosts_.script = {Answer{CURLE_OK, 403, {}}};
    MediaFetcher f(hosts_, asker(), {});
    f.fetch(job(), keep());
    run({"mmg.whatsapp.net"});
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::gone);
    EXPECT_EQ(f.cache().get(ngx_time()), nullptr);
    f.fetch(job("b"), keep());
    fake_nginx_advance(0);
    EXPECT_EQ(asks_, 2);
}

TEST_F(MediaFetcherTest, PersistentFailureEndsAfterTheLastRound)
{
    hosts_.fallback = Answer{CURLE_OK, 500, {}};
    MediaFetcher f(hosts_, asker(), {});
    f.fetch(job(), keep());
    run({"mmg.whatsapp.net"});
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::failed);
    EXPECT_EQ(hosts_.urls.size(), static_cast<size_t>(MediaFetcher::kMaxRounds));
    EXPECT_EQ(media_failure_note(outcomes_[0], 0), "media could not be downloaded (HTTP 500)");
    EXPECT_TRUE(dir_is_empty());
}

TEST_F(MediaFetcherTest, AMessageUrlIsUsedOnlyOnWhatsAppsHosts)
{
    auto j = job();
    j.direct_path.clear();
    j.url = "https://evil.example.com/v/t62/abc.enc?x=1";
    MediaFetcher f(hosts_, asker(), {});
    f.fetch(j, keep());
    run({"mmg.whatsapp.net"});
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::damaged);
    EXPECT_TRUE(hosts_.urls.empty()) << "nothing fetched from another host";

    outcomes_.clear();
    j.url = "https://mmg.whatsapp.net/v/t62/abc.enc?x=1";
    f.fetch(j, keep());
    run({"mmg.whatsapp.net"});
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::fetched) << outcomes_[0].reason;
    ASSERT_EQ(hosts_.urls.size(), 1u);
    EXPECT_EQ(hosts_.urls[0], j.url);
}

TEST_F(MediaFetcherTest, AFetcherGoneMidTransferTouchesNothingAndLeavesNoTemporaryFile)
{
    {
        MediaFetcher f(hosts_, asker(), {});
        f.fetch(job(), keep());
        fake_nginx_advance(0);
        answer_media_conn({"mmg.whatsapp.net"});
        EXPECT_EQ(hosts_.pending(), 1u);
    }
    hosts_.deliver();  // the body arrives after the fetcher is gone
    EXPECT_TRUE(outcomes_.empty());
    EXPECT_TRUE(dir_is_empty());
    EXPECT_EQ(fake_nginx_timers(), 0u);
}

// --- media retry -----------------------------------------------------------

MediaRetryAsk retry_ask(std::string id = "3EB0AAA")
{
    return MediaRetryAsk{std::move(id), "15552223333@s.whatsapp.net", "", false};
}

// The phone's side as a test plays it: each ask kept with its answer.
struct Phone {
    struct Asked {
        MediaRetryAsk ask;
        wa::Bytes key;
        MediaFetcher::RetryAnswer answer;
    };
    std::vector<Asked> asked;
    MediaFetcher::AskRetry asker()
    {
        return [this](const MediaRetryAsk& a, wa::ByteView key, MediaFetcher::RetryAnswer answer) {
            asked.push_back({a, wa::Bytes(key.begin(), key.end()), std::move(answer)});
        };
    }
    void answer(wa::Result<wm::MediaRetryOutcome> r)
    {
        auto a = std::move(asked.back().answer);
        a(std::move(r));
    }
};

TEST_F(MediaFetcherTest, GoneEverywhereAsksThePhoneOnceAndFetchesTheNewPath)
{
    hosts_.script = {Answer{CURLE_OK, 404, {}}, Answer{CURLE_OK, 410, {}}};
    Phone phone;
    MediaFetcher f(hosts_, asker(), {});
    f.use_media_retry(phone.asker());
    auto j = job();
    j.retry = retry_ask("3EB0AAA");
    j.url = "https://mmg.whatsapp.net/v/t62.7118-24/abc.enc?old=1";
    f.fetch(j, keep());
    run();
    ASSERT_EQ(phone.asked.size(), 1u) << "every host said gone: the phone is asked";
    EXPECT_TRUE(outcomes_.empty()) << "the job waits for the phone's answer";
    EXPECT_EQ(phone.asked[0].ask.message_id, "3EB0AAA");
    EXPECT_EQ(phone.asked[0].key, key_);
    EXPECT_TRUE(fake_nginx_logged("asking the phone to upload it again"));
    hosts_.urls.clear();
    phone.answer(wm::MediaRetryOutcome{wm::MediaRetryResult::success, "/v/t62.7118-24/new.enc?oh=n"});
    run();
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::fetched) << outcomes_[0].reason;
    EXPECT_TRUE(read_file(j.destination) == plain_) << "the plaintext, byte for byte";
    ASSERT_EQ(hosts_.urls.size(), 1u);
    EXPECT_EQ(hosts_.urls[0].rfind("https://mmg.whatsapp.net/v/t62.7118-24/new.enc?oh=n&hash=", 0), 0u)
        << "the new path, on a media_conn host: " << hosts_.urls[0];
    EXPECT_EQ(phone.asked.size(), 1u);
}

TEST_F(MediaFetcherTest, ThePhonesFailureOrSilenceEndsGoneWithTheNote)
{
    const std::vector<wa::Result<wm::MediaRetryOutcome>> answers = {
        wm::MediaRetryOutcome{wm::MediaRetryResult::not_found, ""},
        wm::MediaRetryOutcome{wm::MediaRetryResult::decryption_error, ""},
        wm::MediaRetryOutcome{wm::MediaRetryResult::general_error, ""},
        wa::make_error(wa::Errc::bad_mac, "the phone's answer does not open"),
        wa::make_error(wa::Errc::wrong_state, "no answer from the phone within 120 s"),
    };
    for (const auto& a : answers) {
        outcomes_.clear();
        hosts_.script = {Answer{CURLE_OK, 410, {}}};
        Phone phone;
        MediaFetcher f(hosts_, asker(), {});
        f.use_media_retry(phone.asker());
        auto j = job();
        j.retry = retry_ask();
        f.fetch(j, keep());
        run({"mmg.whatsapp.net"});
        ASSERT_EQ(phone.asked.size(), 1u);
        phone.answer(a);
        ASSERT_EQ(outcomes_.size(), 1u);
        EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::gone);
        EXPECT_EQ(media_failure_note(outcomes_[0], 0), "media no longer available on WhatsApp");
        EXPECT_NE(outcomes_[0].reason.find(a ? std::string(wm::media_retry_result_name(a->result))
                                              : a.error().detail),
                  std::string::npos)
            << outcomes_[0].reason;
        EXPECT_TRUE(dir_is_empty());
        EXPECT_EQ(f.jobs(), 0u);
    }
}

TEST_F(MediaFetcherTest, TheNewPathGoneTooIsNotAskedAgain)
{
    hosts_.fallback = Answer{CURLE_OK, 404, {}};
    Phone phone;
    MediaFetcher f(hosts_, asker(), {});
    f.use_media_retry(phone.asker());
    auto j = job();
    j.retry = retry_ask();
    f.fetch(j, keep());
    run({"mmg.whatsapp.net"});
    ASSERT_EQ(phone.asked.size(), 1u);
    phone.answer(wm::MediaRetryOutcome{wm::MediaRetryResult::success, "/v/t62.7118-24/new.enc?oh=n"});
    run({"mmg.whatsapp.net"});
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::gone);
    EXPECT_EQ(phone.asked.size(), 1u) << "once per job, never in a loop";
    EXPECT_EQ(hosts_.urls.size(), 2u);
}

TEST_F(MediaFetcherTest, NoRetryWithoutItsMessageAndNoneForOtherFailures)
{
    // A job that does not name its message.
    {
        hosts_.script = {Answer{CURLE_OK, 410, {}}};
        Phone phone;
        MediaFetcher f(hosts_, asker(), {});
        f.use_media_retry(phone.asker());
        f.fetch(job(), keep());
        run({"mmg.whatsapp.net"});
        EXPECT_TRUE(phone.asked.empty());
        ASSERT_EQ(outcomes_.size(), 1u);
        EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::gone);
    }
    // 5xx every round: not gone, so not the phone's business.
    {
        outcomes_.clear();
        hosts_.fallback = Answer{CURLE_OK, 503, {}};
        Phone phone;
        MediaFetcher f(hosts_, asker(), {});
        f.use_media_retry(phone.asker());
        auto j = job();
        j.retry = retry_ask();
        f.fetch(j, keep());
        run({"mmg.whatsapp.net"});
        EXPECT_TRUE(phone.asked.empty());
        ASSERT_EQ(outcomes_.size(), 1u);
        EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::failed);
    }
}

TEST_F(MediaFetcherTest, AFetcherGoneWhileThePhoneIsAskedIgnoresTheAnswer)
{
    hosts_.script = {Answer{CURLE_OK, 410, {}}};
    Phone phone;
    {
        MediaFetcher f(hosts_, asker(), {});
        f.use_media_retry(phone.asker());
        auto j = job();
        j.retry = retry_ask();
        f.fetch(j, keep());
        run({"mmg.whatsapp.net"});
        ASSERT_EQ(phone.asked.size(), 1u);
    }
    phone.answer(wm::MediaRetryOutcome{wm::MediaRetryResult::success, "/v/x.enc?oh=1"});
    EXPECT_TRUE(outcomes_.empty());
    EXPECT_TRUE(hosts_.urls.size() == 1u);
}

// MediaRetryRequests: the device's side, on the same fake loop.

wm::MediaRetryTarget target_of(std::string id)
{
    return wm::MediaRetryTarget{.own = *wa::binary::Jid::parse("15550001111:3@s.whatsapp.net"),
                                .message_id = std::move(id),
                                .chat = *wa::binary::Jid::parse("15552223333@s.whatsapp.net")};
}

// The phone's sealed answer to a receipt.
wa::binary::Node phone_answer(const wa::binary::Node& receipt, wa::ByteView media_key,
                              std::string direct_path)
{
    const std::string id(receipt.attr("id").value_or(""));
    wa::proto::MediaRetryNotification m;
    m.set_stanzaid(id);
    m.set_result(wa::proto::MediaRetryNotification::SUCCESS);
    m.set_directpath(direct_path);
    const wa::Bytes iv(12, 3);
    auto key = wm::media_retry_key(media_key);
    auto ct = wa::crypto::aes256_gcm_encrypt(*key, iv, wa::proto::serialize(m), wa::as_bytes(id));
    wa::binary::Node n("notification");
    n.set_attr("type", "mediaretry");
    n.set_attr("id", id);
    wa::binary::Node rmr = *receipt.child("rmr");
    wa::binary::Node enc("encrypt");
    enc.content = wa::binary::Children{wa::binary::Node("enc_p", {}, *ct), wa::binary::Node("enc_iv", {}, iv)};
    n.content = wa::binary::Children{std::move(rmr), std::move(enc)};
    return n;
}

class MediaRetryRequestsTest : public MediaFetcherTest {
protected:
    // The wire: what send() took (or refused, while offline).
    MediaRetryRequests::Send wire()
    {
        return [this](const wa::binary::Node& n) {
            if (!online_) return false;
            sent_.push_back(n);
            return true;
        };
    }
    bool online_ = true;
    std::vector<wa::binary::Node> sent_;
};

TEST_F(MediaRetryRequestsTest, TheFetcherAndTheDeviceEndToEnd)
{
    hosts_.script = {Answer{CURLE_OK, 410, {}}};
    MediaRetryRequests requests("main", wa::crypto::seeded_random(wa::as_bytes("rr")));
    MediaFetcher f(hosts_, asker(), {});
    f.use_media_retry([&](const MediaRetryAsk& a, wa::ByteView key, MediaFetcher::RetryAnswer answer) {
        requests.ask(target_of(a.message_id), key, std::move(answer), wire());
    });
    auto j = job();
    j.retry = retry_ask("3EB0E2E");
    f.fetch(j, keep());
    // Not run(): its minutes would pass the bound.
    fake_nginx_advance(0);
    answer_media_conn({"mmg.whatsapp.net"});
    hosts_.deliver();
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].attr("type"), std::optional<std::string_view>("server-error"));
    EXPECT_TRUE(outcomes_.empty());
    requests.on_notification(phone_answer(sent_[0], key_, "/v/t62.7118-24/again.enc?oh=2"));
    run({"mmg.whatsapp.net"});
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::fetched) << outcomes_[0].reason;
    EXPECT_TRUE(read_file(j.destination) == plain_) << "the plaintext, byte for byte";
    EXPECT_EQ(requests.waiting(), 0u);
    EXPECT_EQ(fake_nginx_timers(), 0u) << "no bound left armed";
}

TEST_F(MediaRetryRequestsTest, APhoneThatNeverAnswersIsGivenUpOnAfterTheBound)
{
    hosts_.script = {Answer{CURLE_OK, 410, {}}};
    MediaRetryRequests requests("main", wa::crypto::seeded_random(wa::as_bytes("rr")));
    MediaFetcher f(hosts_, asker(), {});
    f.use_media_retry([&](const MediaRetryAsk& a, wa::ByteView key, MediaFetcher::RetryAnswer answer) {
        requests.ask(target_of(a.message_id), key, std::move(answer), wire());
    });
    auto j = job();
    j.retry = retry_ask("3EB0SILENT");
    f.fetch(j, keep());
    fake_nginx_advance(0);
    answer_media_conn({"mmg.whatsapp.net"});
    hosts_.deliver();
    ASSERT_EQ(sent_.size(), 1u);
    fake_nginx_advance(wm::MediaRetryDesk::kAnswerWait - 1);
    EXPECT_TRUE(outcomes_.empty()) << "still waiting just before the bound";
    fake_nginx_advance(1);
    ASSERT_EQ(outcomes_.size(), 1u) << "given up at the bound: the chat moves on";
    EXPECT_EQ(outcomes_[0].kind, MediaOutcome::Kind::gone);
    EXPECT_NE(outcomes_[0].reason.find("no answer from the phone within 120 s"), std::string::npos)
        << outcomes_[0].reason;
    EXPECT_TRUE(fake_nginx_logged("no answer from the phone to the media retry for WhatsApp message 3EB0SILENT"));
    // The answer coming after all is one nothing waits for.
    requests.on_notification(phone_answer(sent_[0], key_, "/v/late.enc?oh=1"));
    EXPECT_TRUE(fake_nginx_logged("media retry answer for message 3EB0SILENT ignored"));
    EXPECT_EQ(outcomes_.size(), 1u);
}

TEST_F(MediaRetryRequestsTest, OfflineReceiptsGoWithTheNextLoginWithinTheSameBound)
{
    MediaRetryRequests requests("main", wa::crypto::seeded_random(wa::as_bytes("rr")));
    std::vector<wa::Result<wm::MediaRetryOutcome>> got;
    auto keep_answer = [&](wa::Result<wm::MediaRetryOutcome> r) { got.push_back(std::move(r)); };
    online_ = false;
    requests.ask(target_of("M1"), key_, keep_answer, wire());
    EXPECT_TRUE(sent_.empty());
    fake_nginx_advance(1000);
    online_ = true;
    requests.send_unsent(wire());
    ASSERT_EQ(sent_.size(), 1u);
    requests.send_unsent(wire());
    EXPECT_EQ(sent_.size(), 1u) << "a receipt goes once";
    fake_nginx_advance(wm::MediaRetryDesk::kAnswerWait - 1000);
    ASSERT_EQ(got.size(), 1u) << "the bound counts from the ask, not from the login";
    EXPECT_FALSE(got[0].ok());
}

TEST_F(MediaRetryRequestsTest, RefusalsAnswerAtOnceAndStrangeAnswersAreIgnored)
{
    MediaRetryRequests requests("main", wa::crypto::seeded_random(wa::as_bytes("rr")));
    std::vector<wa::Result<wm::MediaRetryOutcome>> got;
    auto keep_answer = [&](wa::Result<wm::MediaRetryOutcome> r) { got.push_back(std::move(r)); };
    requests.ask(target_of("M1"), key_, keep_answer, wire());
    requests.ask(target_of("M1"), key_, keep_answer, wire());
    ASSERT_EQ(got.size(), 1u) << "the second ask for one message is refused, inside the call";
    EXPECT_EQ(got[0].error().code, wa::Errc::wrong_state);
    EXPECT_EQ(sent_.size(), 1u);
    // An answer for a message never asked about, and one that is no answer.
    auto stray = phone_answer(sent_[0], key_, "/v/x.enc?oh=1");
    stray.set_attr("id", "NEVER-ASKED");
    requests.on_notification(stray);
    EXPECT_TRUE(fake_nginx_logged("media retry answer for message NEVER-ASKED ignored"));
    wa::binary::Node junk("notification");
    junk.set_attr("type", "mediaretry");
    junk.set_attr("id", "M1");
    requests.on_notification(junk);
    EXPECT_EQ(got.size(), 1u);
    EXPECT_EQ(requests.waiting(), 1u);
    // Sealed under another key: settles M1, as a failure that says so.
    wa::Bytes other(32, 0x77);
    requests.on_notification(phone_answer(sent_[0], other, "/v/x.enc?oh=1"));
    ASSERT_EQ(got.size(), 2u);
    ASSERT_FALSE(got[1].ok());
    EXPECT_NE(got[1].error().detail.find("does not open"), std::string::npos);
    EXPECT_EQ(requests.waiting(), 0u);
}

}  // namespace
