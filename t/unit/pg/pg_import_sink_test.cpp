// PgImportSink, the import job's way into PostgreSQL: what it tells the
// job of each message (written, there already, refused), its backoff and
// its bound on a server that is gone, and giving up at once when the
// database's checks refuse the inbox.  With t/pg_import.t's server where a
// case needs one (CHATWOOT_PG_URL, CHATWOOT_PG_ADMIN).
#include "helper/import/pg_import_sink.hpp"

#include "pg_admin.hpp"
#include "poll_pg_loop.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

using chatwoot::bridge::ImportChat;
using chatwoot::bridge::ImportMessage;
using chatwoot::helper::ImportSinkResult;
using chatwoot::helper::PgImportSink;
using chatwoot::helper::PgImportSinkOptions;
using chatwoot::helper::to_sink_result;
using chatwoot::helper::pg::PgWriteResult;
using chatwoot::test::PollPgLoop;

namespace {

std::string env(const char* name)
{
    const char* v = std::getenv(name);
    return v ? v : "";
}

ImportChat chat(const std::string& number, int n, int64_t t0)
{
    ImportChat c;
    c.chat_jid = c.identifier = number + "@s.whatsapp.net";
    c.name = "Sink " + number;
    c.phone = "+" + number;
    for (int i = 0; i < n; i++) {
        ImportMessage m;
        m.wa_id = "SINK" + number + "-" + std::to_string(i);
        m.timestamp = t0 + i;
        m.text = "sink message " + std::to_string(i);
        c.messages.push_back(m);
    }
    return c;
}

ImportSinkResult import(PollPgLoop& loop, PgImportSink& sink, const ImportChat& c)
{
    std::optional<ImportSinkResult> result;
    bool inside = true;
    bool answered_inside = false;
    sink.import_chat(c, [&](const ImportSinkResult& r) {
        answered_inside = inside;
        result = r;
    });
    inside = false;
    EXPECT_TRUE(loop.run_until([&] { return result.has_value(); }));
    EXPECT_FALSE(answered_inside) << "done ran from inside import_chat";
    ImportSinkResult none;
    none.error = "no answer";
    return result.value_or(none);
}

TEST(PgImportSinkResult, IdsWithoutTheirPrefixAndErrorsNamed)
{
    PgWriteResult w{2, 1, 1, "WAID:c: refused", std::nullopt};
    w.inserted_ids = {"WAID:a", "WAID:b"};
    w.failed_ids = {"WAID:c"};
    ImportSinkResult r = to_sink_result(w);
    ASSERT_EQ(r.posted.size(), 2u);
    EXPECT_EQ(r.posted[0].wa_id, "a");
    EXPECT_EQ(r.posted[1].wa_id, "b");
    EXPECT_EQ(r.failed, std::vector<std::string>{"c"});
    EXPECT_TRUE(r.skipped.empty());   // the job records the rest as skipped
    EXPECT_TRUE(r.error.empty());

    PgWriteResult lost;
    lost.error = "server closed the connection";
    r = to_sink_result(lost);
    EXPECT_EQ(r.error, "PostgreSQL: server closed the connection");
    EXPECT_FALSE(r.give_up);
    lost.refused = true;
    EXPECT_TRUE(to_sink_result(lost).give_up);
}

TEST(PgImportSinkBackoff, DoublesUpToItsCap)
{
    PollPgLoop loop;
    PgImportSinkOptions o;
    o.retry_first_ms = 100;
    o.retry_max_ms = 1000;
    PgImportSink sink(loop, o);
    EXPECT_EQ(sink.retry_delay(1), 100u);
    EXPECT_EQ(sink.retry_delay(2), 200u);
    EXPECT_EQ(sink.retry_delay(4), 800u);
    EXPECT_EQ(sink.retry_delay(5), 1000u);
    EXPECT_EQ(sink.retry_delay(60), 1000u);
}

// Nothing listens: each attempt fails; the second and later ones wait for
// their backoff; the bound's attempt tells the job to give up.
TEST(PgImportSinkBackoff, ServerGoneRetriedThenGivenUp)
{
    PollPgLoop loop;
    PgImportSinkOptions o;
    o.conninfo = "host=127.0.0.1 port=1 dbname=none user=none connect_timeout=5";
    o.account_id = 1;
    o.retry_first_ms = 50;
    o.retry_max_ms = 50;
    o.retry_bound = 3;
    PgImportSink sink(loop, o);
    sink.set_inbox_id(1);
    const ImportChat c = chat("4915100000091", 2, 1'700'000'000);
    auto t0 = std::chrono::steady_clock::now();
    ImportSinkResult r = import(loop, sink, c);
    EXPECT_NE(r.error, "");
    EXPECT_FALSE(r.give_up);
    r = import(loop, sink, c);
    EXPECT_FALSE(r.give_up);
    // The retry waited for its backoff (a timer, not a sleep of ours).
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
    r = import(loop, sink, c);
    EXPECT_TRUE(r.give_up);
    EXPECT_NE(r.error.find("3 attempts in a row failed"), std::string::npos) << r.error;
    // Another chat starts afresh.
    r = import(loop, sink, chat("4915100000092", 1, 1'700'000'000));
    EXPECT_FALSE(r.give_up);
}

class PgImportSinkServer : public ::testing::Test {
protected:
    void SetUp() override
    {
        url_ = env("CHATWOOT_PG_URL");
        if (url_.empty() || env("CHATWOOT_PG_ADMIN").empty()) {
            GTEST_SKIP() << "CHATWOOT_PG_URL and CHATWOOT_PG_ADMIN are set by t/pg_import.t";
        }
    }
    PgImportSinkOptions options(int64_t account)
    {
        PgImportSinkOptions o;
        o.conninfo = url_;
        o.account_id = account;
        o.writers = 2;
        o.now = [] { return int64_t{1'800'000'000}; };
        return o;
    }
    PollPgLoop loop_;
    std::string url_;
};

TEST_F(PgImportSinkServer, WrittenThenSkipped)
{
    PgImportSink sink(loop_, options(1));
    sink.set_inbox_id(1);
    const ImportChat c = chat("4915100000093", 3, 1'700'100'000);
    ImportSinkResult r = import(loop_, sink, c);
    EXPECT_EQ(r.error, "");
    ASSERT_EQ(r.posted.size(), 3u);
    EXPECT_EQ(r.posted[0].wa_id, "SINK4915100000093-0");
    r = import(loop_, sink, c);
    EXPECT_EQ(r.error, "");
    EXPECT_TRUE(r.posted.empty());   // all there already: skipped
    EXPECT_TRUE(r.failed.empty());
}

TEST_F(PgImportSinkServer, ForeignInboxGivenUpAtOnce)
{
    PgImportSink sink(loop_, options(1));
    sink.set_inbox_id(2);   // account 2's inbox (t/data/chatwoot_schema.sql)
    ImportSinkResult r = import(loop_, sink, chat("4915100000094", 1, 1'700'200'000));
    EXPECT_TRUE(r.give_up);
    EXPECT_NE(r.error.find("account"), std::string::npos) << r.error;
}

}  // namespace
