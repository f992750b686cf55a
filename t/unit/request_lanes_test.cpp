// The REST client's lanes: one request per key in flight, a global cap, and
// a start that fails half-way gives its lane and slot back.
#include "chatwoot/request_lanes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using chatwoot::rest::RequestLanes;

namespace {

struct Job {
    std::string name;
};

std::vector<std::string> waiting(RequestLanes<Job>& lanes)
{
    std::vector<std::string> out;
    lanes.for_each_waiting([&](const std::string&, Job& j) {
        out.push_back(j.name);
        return true;
    });
    std::sort(out.begin(), out.end());
    return out;
}

// What ChatwootClient::start does: claim, then hand the request to the
// transport, which may throw; keep() only once it took the request.
void start(RequestLanes<Job>& lanes, const std::string& key, bool transport_throws)
{
    auto claim = lanes.claim(key);
    if (transport_throws) {
        throw std::runtime_error("curl_multi_add_handle failed");
    }
    claim.keep();
}

}  // namespace

TEST(RequestLanes, OneJobPerKeyRunsAndTheCapHolds)
{
    RequestLanes<Job> lanes(2);
    lanes.push("a", {"a1"});
    lanes.push("a", {"a2"});
    lanes.push("b", {"b1"});
    lanes.push("c", {"c1"});
    EXPECT_EQ(lanes.queued(), 4u);
    EXPECT_EQ(waiting(lanes), (std::vector<std::string>{"a1", "b1", "c1"}));

    start(lanes, "a", false);
    start(lanes, "b", false);
    EXPECT_EQ(lanes.running(), 2u);
    EXPECT_FALSE(lanes.slot_free());
    EXPECT_THROW(lanes.claim("c"), std::logic_error) << "no slot is free";
    EXPECT_EQ(waiting(lanes), (std::vector<std::string>{"c1"}))
        << "a2 waits behind a1, which is in flight";

    lanes.finished("a");
    EXPECT_EQ(lanes.first("a")->name, "a1") << "finished is not popped: it may be retried";
    EXPECT_EQ(lanes.pop("a").name, "a1");
    EXPECT_EQ(lanes.first("a")->name, "a2");
    EXPECT_EQ(lanes.running(), 1u);
    EXPECT_EQ(lanes.queued(), 3u);
    EXPECT_THROW(lanes.pop("b"), std::logic_error) << "a running job cannot be popped";
}

TEST(RequestLanes, AStartThatThrowsGivesItsLaneAndSlotBack)
{
    RequestLanes<Job> lanes(1);
    lanes.push("chat", {"m1"});
    lanes.push("other", {"o1"});

    EXPECT_THROW(start(lanes, "chat", true), std::runtime_error);
    EXPECT_EQ(lanes.running(), 0u) << "the slot is free again";
    EXPECT_TRUE(lanes.slot_free());
    EXPECT_FALSE(lanes.first_running("chat")) << "the conversation is not stuck";
    EXPECT_EQ(waiting(lanes), (std::vector<std::string>{"m1", "o1"}));
    EXPECT_EQ(lanes.first("chat")->name, "m1") << "the job stays first, to be retried";

    // And it can start again, the other lane after it.
    start(lanes, "chat", false);
    EXPECT_TRUE(lanes.first_running("chat"));
    lanes.finished("chat");
    lanes.pop("chat");
    EXPECT_EQ(lanes.first("chat"), nullptr);
    start(lanes, "other", false);
    EXPECT_EQ(lanes.running(), 1u);
}

TEST(RequestLanes, AMovedClaimReleasesOnce)
{
    RequestLanes<Job> lanes(3);
    lanes.push("a", {"a1"});
    {
        auto first = lanes.claim("a");
        auto second = std::move(first);
        EXPECT_EQ(second.job().name, "a1");
        EXPECT_EQ(lanes.running(), 1u);
    }
    EXPECT_EQ(lanes.running(), 0u);
    lanes.finished("a");  // nothing running: no effect
    EXPECT_EQ(lanes.running(), 0u);
}
