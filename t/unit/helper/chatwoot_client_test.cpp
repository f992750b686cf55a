// The REST client's live priority (helper/chatwoot_client.hpp): an import's
// bulk requests never hold every slot, and a live request waiting gets the
// next free one, so a live message waits for at most one import request.
// A fake transport holds each request until the test answers it.
#include "fake_nginx.hpp"

#include "helper/chatwoot_client.hpp"
#include "helper/import/import_runner.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <set>
#include <string>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::helper;
using namespace chatwoot::test;

namespace {

class HeldTransport final : public HttpTransport {
public:
    void request(HttpRequest req, Done done) override
    {
        started.push_back(req.url.substr(req.url.rfind('/') + 1));
        held_.emplace_back(std::move(req), std::move(done));
    }
    // Answers the oldest request in flight with 200.
    void answer_oldest()
    {
        ASSERT_FALSE(held_.empty());
        auto [req, done] = std::move(held_.front());
        held_.pop_front();
        TransferResult r;
        r.http_status = 200;
        r.body = "{}";
        done(r);
    }
    size_t in_flight() const { return held_.size(); }
    std::vector<std::string> started;   // each request's last path segment, in order

private:
    std::deque<std::pair<HttpRequest, Done>> held_;
};

rest::Request get(const std::string& name)
{
    rest::Request r;
    r.method = "GET";
    r.path = "/api/v1/" + name;
    return r;
}

// The loop's stand-in first: the client's timer takes its log.
struct FreshNginx {
    FreshNginx() { fake_nginx_reset(); }
};

struct Client : FreshNginx {
    explicit Client(unsigned concurrency) : client(http, "http://chatwoot", "t", concurrency, 0)
    {
    }
    void bulk(const std::string& key, const std::string& name)
    {
        client.submit(key, get(name), [this, name](const ChatwootClient::Reply&) {
            answered.push_back(name);
        }, ChatwootClient::Priority::bulk);
    }
    void live(const std::string& key, const std::string& name)
    {
        client.submit(key, get(name), [this, name](const ChatwootClient::Reply&) {
            answered.push_back(name);
        });
    }
    HeldTransport http;
    ChatwootClient client;
    std::vector<std::string> answered;
};

}  // namespace

TEST(ChatwootClientPriority, BulkRequestsLeaveOneSlotForTheLivePath)
{
    Client c(3);
    for (int i = 0; i < 6; i++) {
        c.bulk("import/chat" + std::to_string(i), "b" + std::to_string(i));
    }
    EXPECT_EQ(c.http.in_flight(), 2u) << "concurrency 3: bulk takes at most 2";
    EXPECT_EQ(c.client.bulk_running(), 2u);
    c.live("live/chat", "L1");
    ASSERT_EQ(c.http.in_flight(), 3u);
    EXPECT_EQ(c.http.started.back(), "L1") << "the live request went out at once";
}

TEST(ChatwootClientPriority, ALiveRequestWaitingGetsTheNextFreeSlotBeforeQueuedBulk)
{
    Client c(1);
    c.bulk("import/a", "b1");
    c.bulk("import/b", "b2");
    c.bulk("import/c", "b3");
    ASSERT_EQ(c.http.started, std::vector<std::string>{"b1"})
        << "with concurrency 1 bulk may use the one slot while no live work waits";
    c.live("live/x", "L1");
    c.live("live/y", "L2");
    EXPECT_EQ(c.http.in_flight(), 1u);
    c.http.answer_oldest();   // b1
    c.http.answer_oldest();   // L1
    c.http.answer_oldest();   // L2
    // (Lanes of different keys go in no particular order.)
    ASSERT_EQ(c.http.started.size(), 4u);
    EXPECT_EQ(std::set<std::string>(c.http.started.begin() + 1, c.http.started.begin() + 3),
              (std::set<std::string>{"L1", "L2"}))
        << "each live request waited for at most the one bulk request in flight";
    EXPECT_EQ(c.http.started[3][0], 'b');
}

TEST(ChatwootClientPriority, ABulkRequestAheadOfALiveOneInItsLaneGoesForIt)
{
    Client c(2);
    c.bulk("chat/a", "a1");     // the one bulk slot
    c.bulk("chat/b", "b1");     // waits: bulk holds its cap
    EXPECT_EQ(c.http.started, std::vector<std::string>{"a1"});
    c.live("chat/b", "L1");     // behind b1 in its chat's lane (order per chat)
    EXPECT_EQ(c.http.started, (std::vector<std::string>{"a1", "b1"}))
        << "the lane holds live work: its head goes on the free slot";
    EXPECT_EQ(c.client.bulk_running(), 1u) << "and takes no bulk slot";
    c.http.answer_oldest();   // a1
    c.http.answer_oldest();   // b1
    EXPECT_EQ(c.http.started, (std::vector<std::string>{"a1", "b1", "L1"}));
    EXPECT_EQ(c.answered, (std::vector<std::string>{"a1", "b1"}));
}

TEST(ChatwootClientPriority, BulkSlotsAreGivenBackAsAnswersCome)
{
    Client c(2);
    for (int i = 0; i < 3; i++) {
        c.bulk("import/" + std::to_string(i), "b" + std::to_string(i));
    }
    EXPECT_EQ(c.http.in_flight(), 1u);
    c.http.answer_oldest();
    EXPECT_EQ(c.http.in_flight(), 1u);
    c.http.answer_oldest();
    c.http.answer_oldest();
    EXPECT_EQ(std::set<std::string>(c.answered.begin(), c.answered.end()),
              (std::set<std::string>{"b0", "b1", "b2"}));
    EXPECT_EQ(c.client.bulk_running(), 0u);
}

// The time an imported message shows, as go-whatsapp-web-multidevice
// shows it, in UTC whatever the helper's time zone.
TEST(ImportTimePrefix, IsTheMinuteInUtc)
{
    EXPECT_EQ(import_time_prefix(1705329000), "[2024-01-15 14:30] ");
    EXPECT_EQ(import_time_prefix(1705329059), "[2024-01-15 14:30] ");
    EXPECT_EQ(import_time_prefix(0), "[1970-01-01 00:00] ");
}
