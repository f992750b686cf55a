#include <gtest/gtest.h>

#include <set>
#include <string>

#include "wa/binary/node.hpp"
#include "wa/crypto/random.hpp"
#include "wa/session/iq_engine.hpp"

namespace chatwoot::wa::session {
namespace {

using binary::Node;

Node ping_iq()
{
    Node iq("iq");
    iq.set_attr("to", binary::server_jid());
    iq.set_attr("type", "get");
    iq.set_attr("xmlns", "w:p");
    iq.content = binary::Children{Node("ping")};
    return iq;
}

Node answer(std::string_view id, std::string_view type)
{
    Node iq("iq");
    iq.set_attr("from", binary::server_jid());
    iq.set_attr("type", type);
    iq.set_attr("id", id);
    return iq;
}

Node error_answer(std::string_view id, std::string_view code, std::string_view text)
{
    Node iq = answer(id, "error");
    Node error("error");
    error.set_attr("code", code);
    error.set_attr("text", text);
    iq.content = binary::Children{error};
    return iq;
}

IqEngine engine(std::uint8_t a = 0x12, std::uint8_t b = 0x34)
{
    return IqEngine(crypto::replay_random(Bytes{a, b, 0x56, 0x78}));
}

TEST(SessionIqEngine, IdsHaveTheRandomPrefixAndCountUp)
{
    IqEngine iq = engine();
    EXPECT_EQ(iq.prefix(), "4660.22136-");
    Node a = ping_iq(), b = ping_iq();
    auto id_a = iq.prepare(a, 0, seconds(10));
    auto id_b = iq.prepare(b, 0, seconds(10));
    ASSERT_TRUE(id_a.ok() && id_b.ok());
    EXPECT_EQ(*id_a, "4660.22136-1");
    EXPECT_EQ(*id_b, "4660.22136-2");
    // The id is written into the stanza that goes out.
    EXPECT_EQ(a.attr("id"), "4660.22136-1");
    EXPECT_EQ(b.attr("id"), "4660.22136-2");
    EXPECT_EQ(iq.pending(), 2u);
}

TEST(SessionIqEngine, IdsAreUniqueOnAConnection)
{
    IqEngine iq = engine();
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) {
        Node n = ping_iq();
        ids.insert(*iq.prepare(n, 0, seconds(1)));
    }
    EXPECT_EQ(ids.size(), 1000u);
}

TEST(SessionIqEngine, ResultMatchesItsRequestOnce)
{
    IqEngine iq = engine();
    Node n = ping_iq();
    std::string id = *iq.prepare(n, 0, seconds(10), 42);

    auto out = iq.match(answer(id, "result"));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->kind, IqOutcome::Kind::result);
    EXPECT_EQ(out->id, id);
    EXPECT_EQ(out->cookie, 42u);
    EXPECT_EQ(out->response.attr("type"), "result");
    EXPECT_EQ(iq.pending(), 0u);
    // A duplicate answer is not ours any more.
    EXPECT_FALSE(iq.match(answer(id, "result")).has_value());
}

TEST(SessionIqEngine, ErrorCarriesCodeAndText)
{
    IqEngine iq = engine();
    Node n = ping_iq();
    std::string id = *iq.prepare(n, 0, seconds(10));
    auto out = iq.match(error_answer(id, "401", "not-authorized"));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->kind, IqOutcome::Kind::error);
    EXPECT_EQ(out->error, (IqError{401, "not-authorized"}));
}

TEST(SessionIqEngine, ErrorWithoutAUsableCodeIsStillAnError)
{
    IqEngine iq = engine();
    Node a = ping_iq(), b = ping_iq();
    std::string id_a = *iq.prepare(a, 0, seconds(10));
    std::string id_b = *iq.prepare(b, 0, seconds(10));

    auto bare = iq.match(answer(id_a, "error"));
    ASSERT_TRUE(bare.has_value());
    EXPECT_EQ(bare->kind, IqOutcome::Kind::error);
    EXPECT_EQ(bare->error.code, 0);
    EXPECT_NE(bare->error.text.find("no <error>"), std::string::npos);

    auto junk = iq.match(error_answer(id_b, "40x", "bad"));
    ASSERT_TRUE(junk.has_value());
    EXPECT_EQ(junk->error.code, 0);
    EXPECT_NE(junk->error.text.find("not a number"), std::string::npos);
}

TEST(SessionIqEngine, OtherStanzasDoNotMatch)
{
    IqEngine iq = engine();
    Node n = ping_iq();
    std::string id = *iq.prepare(n, 0, seconds(10));

    Node request = answer(id, "get");  // the server asking us, same id
    EXPECT_FALSE(iq.match(request).has_value());
    Node message("message");
    message.set_attr("id", id);
    EXPECT_FALSE(iq.match(message).has_value());
    EXPECT_FALSE(iq.match(answer("other-1", "result")).has_value());
    Node no_id("iq");
    no_id.set_attr("type", "result");
    EXPECT_FALSE(iq.match(no_id).has_value());
    EXPECT_EQ(iq.pending(), 1u);
}

TEST(SessionIqEngine, DeadlinesExpireInOrderSent)
{
    IqEngine iq = engine();
    Node a = ping_iq(), b = ping_iq(), c = ping_iq();
    std::string id_a = *iq.prepare(a, 1000, 5000, 1);  // due 6000
    std::string id_b = *iq.prepare(b, 2000, 1000, 2);  // due 3000
    std::string id_c = *iq.prepare(c, 3000, 9000, 3);  // due 12000
    EXPECT_EQ(iq.next_deadline(), 3000);

    EXPECT_TRUE(iq.expire(2999).empty());
    auto first = iq.expire(3000);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].id, id_b);
    EXPECT_EQ(first[0].kind, IqOutcome::Kind::timeout);
    EXPECT_EQ(first[0].cookie, 2u);
    EXPECT_EQ(iq.next_deadline(), 6000);

    // A late answer to a timed-out request is not matched.
    EXPECT_FALSE(iq.match(answer(id_b, "result")).has_value());

    auto rest = iq.expire(20000);
    ASSERT_EQ(rest.size(), 2u);
    EXPECT_EQ(rest[0].id, id_a);
    EXPECT_EQ(rest[1].id, id_c);
    EXPECT_FALSE(iq.next_deadline().has_value());
}

TEST(SessionIqEngine, CancelAllDropsEverythingPending)
{
    IqEngine iq = engine();
    Node a = ping_iq(), b = ping_iq();
    std::string id_a = *iq.prepare(a, 0, 5000, 7);
    std::string id_b = *iq.prepare(b, 0, 5000, 8);
    auto dropped = iq.cancel_all();
    ASSERT_EQ(dropped.size(), 2u);
    EXPECT_EQ(dropped[0].id, id_a);
    EXPECT_EQ(dropped[0].kind, IqOutcome::Kind::dropped);
    EXPECT_EQ(dropped[1].cookie, 8u);
    EXPECT_EQ(iq.pending(), 0u);
    EXPECT_FALSE(iq.next_deadline().has_value());
}

TEST(SessionIqEngine, RefusesWhatIsNotARequest)
{
    IqEngine iq = engine();
    Node message("message");
    auto r1 = iq.prepare(message, 0, 1000);
    ASSERT_FALSE(r1.ok());
    EXPECT_EQ(r1.error().code, Errc::malformed);
    Node result = answer("x", "result");
    auto r2 = iq.prepare(result, 0, 1000);
    ASSERT_FALSE(r2.ok());
    EXPECT_EQ(r2.error().code, Errc::malformed);
    EXPECT_EQ(iq.pending(), 0u);
}

TEST(SessionIqEngine, AFailedRandomSourceIsReportedNotHidden)
{
    IqEngine iq(crypto::replay_random(Bytes{1, 2}));  // two bytes short
    Node n = ping_iq();
    auto id = iq.prepare(n, 0, 1000);
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.error().code, Errc::crypto_failure);
}

TEST(SessionIqEngine, EachConnectionHasItsOwnPrefix)
{
    IqEngine first = engine(0x00, 0x01);
    IqEngine second = engine(0x00, 0x02);
    Node n = ping_iq();
    std::string id = *first.prepare(n, 0, 1000);
    EXPECT_NE(first.prefix(), second.prefix());
    // An answer meant for the old connection's request is not the new one's.
    EXPECT_FALSE(second.match(answer(id, "result")).has_value());
}

}  // namespace
}  // namespace chatwoot::wa::session
