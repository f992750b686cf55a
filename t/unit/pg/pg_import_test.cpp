// The PostgreSQL import against a real server with Chatwoot's tables
// (t/pg_import.t starts it with ChatwootTest::Postgres and runs this with):
//   CHATWOOT_PG_URL     the import role's URL (least privilege, password)
//   CHATWOOT_PG_ADMIN   the superuser's conninfo (set-up and read-back)
//   CHATWOOT_PG_STOP    a shell command that crashes the server
//   CHATWOOT_PG_START   a shell command that starts it again
// The writer runs on a poll() loop behind PgLoop, as it runs on nginx's.
#include "helper/import/pg_import_writer.hpp"

#include "pg_admin.hpp"
#include "poll_pg_loop.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ostream>
#include <optional>
#include <string>

using namespace chatwoot::helper::pg;
using chatwoot::bridge::ImportChat;
using chatwoot::bridge::ImportMessage;
using chatwoot::test::PgAdmin;
using chatwoot::test::PollPgLoop;

namespace chatwoot::helper::pg {
// What a failed expectation shows of a result.
void PrintTo(const PgWriteResult& r, std::ostream* os)
{
    *os << "{inserted " << r.inserted << ", skipped " << r.skipped << ", failed " << r.failed
        << ", failure \"" << r.failure << "\", error " << (r.error ? *r.error : "none") << "}";
}
}  // namespace chatwoot::helper::pg

namespace {

std::string env(const char* name)
{
    const char* v = std::getenv(name);
    return v ? v : "";
}

constexpr int64_t kNow = 1'800'000'000;

class PgImport : public ::testing::Test {
protected:
    void SetUp() override
    {
        url_ = env("CHATWOOT_PG_URL");
        if (url_.empty() || env("CHATWOOT_PG_ADMIN").empty()) {
            GTEST_SKIP() << "CHATWOOT_PG_URL and CHATWOOT_PG_ADMIN are set by t/pg_import.t";
        }
        admin_ = std::make_unique<PgAdmin>(env("CHATWOOT_PG_ADMIN"));
    }

    PgWriterOptions options(Target t = {1, 1})
    {
        PgWriterOptions o;
        o.conninfo = url_;
        o.target = t;
        o.now = [] { return kNow; };
        o.timeouts.connect_ms = 10'000;
        o.timeouts.batch_ms = 30'000;
        return o;
    }

    // Writes one chat and waits for its answer.
    PgWriteResult write(PgImportWriter& w, const ImportChat& chat)
    {
        std::optional<PgWriteResult> result;
        w.write(chat, [&](PgWriteResult r) { result = std::move(r); });
        EXPECT_TRUE(loop_.run_until([&] { return result.has_value(); }));
        return result.value_or(PgWriteResult{0, 0, 0, {}, "no answer"});
    }

    PgWriteResult write_once(const ImportChat& chat, PgWriterOptions o)
    {
        PgImportWriter w(loop_, std::move(o));
        return write(w, chat);
    }

    int64_t count(const std::string& sql) { return admin_->count(sql); }

    PollPgLoop loop_;
    std::string url_;
    std::unique_ptr<PgAdmin> admin_;
};

ImportChat person(const std::string& number, const std::string& name, int n, int64_t t0)
{
    ImportChat c;
    c.chat_jid = c.identifier = number + "@s.whatsapp.net";
    c.name = name;
    c.phone = "+" + number;
    for (int i = 0; i < n; i++) {
        ImportMessage m;
        m.wa_id = "3EB0" + number + "-" + std::to_string(i);
        m.timestamp = t0 + 60 * i;
        m.from_me = i % 3 == 2;
        m.text = "message " + std::to_string(i) + " of " + name;
        c.messages.push_back(m);
    }
    return c;
}

std::string q(const std::string& s)
{
    return "'" + s + "'";
}

}  // namespace

TEST_F(PgImport, AOneToOneChatIsWrittenWithWhatsAppsTimestamps)
{
    ImportChat c = person("4915100000001", "Ana", 3, 1'700'000'000);
    PgWriteResult r = write_once(c, options());
    ASSERT_EQ(r.error, std::nullopt);
    EXPECT_EQ(r, (PgWriteResult{3, 0, 0, "", std::nullopt}));

    auto contact = admin_->query(
        "SELECT id, name, phone_number, account_id FROM contacts WHERE identifier = "
        + q(c.identifier));
    ASSERT_EQ(contact.size(), 1u);
    EXPECT_EQ(contact[0][1], "Ana");
    EXPECT_EQ(contact[0][2], "+4915100000001");
    EXPECT_EQ(contact[0][3], "1");
    const std::string contact_id = *contact[0][0];

    auto ci = admin_->query("SELECT id, contact_id, pubsub_token FROM contact_inboxes WHERE inbox_id"
                            " = 1 AND source_id = " + q(c.chat_jid));
    ASSERT_EQ(ci.size(), 1u);
    EXPECT_EQ(ci[0][1], contact_id);
    EXPECT_TRUE(ci[0][2] && ci[0][2]->size() == 24);

    auto conv = admin_->query(
        "SELECT id, display_id, status, contact_inbox_id, extract(epoch FROM created_at)::bigint,"
        " extract(epoch FROM last_activity_at)::bigint, uuid IS NOT NULL FROM conversations"
        " WHERE contact_id = " + contact_id);
    ASSERT_EQ(conv.size(), 1u);
    EXPECT_GT(std::stoll(*conv[0][1]), 0);             // Chatwoot's trigger numbered it
    EXPECT_EQ(conv[0][2], "0");                        // open
    EXPECT_EQ(conv[0][3], ci[0][0]);
    EXPECT_EQ(conv[0][4], "1700000000");               // the first message's time
    EXPECT_EQ(conv[0][5], "1700000120");               // the last one's
    EXPECT_EQ(conv[0][6], "t");

    auto msgs = admin_->query(
        "SELECT source_id, content, message_type, extract(epoch FROM created_at)::bigint,"
        " extract(epoch FROM updated_at)::bigint, sender_type, sender_id, inbox_id, account_id,"
        " content_type, private, status FROM messages WHERE conversation_id = " + *conv[0][0]
        + " ORDER BY created_at, id");
    ASSERT_EQ(msgs.size(), 3u);
    for (int i = 0; i < 3; i++) {
        const auto& m = msgs[static_cast<size_t>(i)];
        EXPECT_EQ(m[0], "WAID:" + c.messages[static_cast<size_t>(i)].wa_id);
        EXPECT_EQ(m[1], c.messages[static_cast<size_t>(i)].text);
        EXPECT_EQ(m[3], std::to_string(1'700'000'000 + 60 * i));
        EXPECT_EQ(m[4], m[3]);
        EXPECT_EQ(m[7], "1");
        EXPECT_EQ(m[8], "1");
        EXPECT_EQ(m[9], "0");
        EXPECT_EQ(m[10], "f");
        EXPECT_EQ(m[11], "0");
    }
    EXPECT_EQ(msgs[0][2], "0");                        // incoming, from the contact
    EXPECT_EQ(msgs[0][5], "Contact");
    EXPECT_EQ(msgs[0][6], contact_id);
    EXPECT_EQ(msgs[2][2], "1");                        // from_me: outgoing, no sender
    EXPECT_EQ(msgs[2][5], std::nullopt);
    EXPECT_EQ(msgs[2][6], std::nullopt);
    // The contact's last activity is its newest incoming message.
    EXPECT_EQ(admin_->value("SELECT extract(epoch FROM last_activity_at)::bigint FROM contacts"
                            " WHERE id = " + contact_id),
              "1700000060");
}

TEST_F(PgImport, AGroupChatNamesEachSender)
{
    ImportChat g;
    g.chat_jid = g.identifier = "120363000000000001@g.us";
    g.is_group = true;
    g.name = "Team";
    g.messages = {{"G-1", 1'700'100'000, false, "4915100000002@s.whatsapp.net", "Bea", "hi all"},
                  {"G-2", 1'700'100'030, false, "4915100000003@s.whatsapp.net", "", "who?"},
                  {"G-3", 1'700'100'090, true, "", "", "me"}};
    PgWriteResult r = write_once(g, options());
    EXPECT_EQ(r, (PgWriteResult{3, 0, 0, "", std::nullopt}));
    auto contact = admin_->query("SELECT name, phone_number FROM contacts WHERE identifier = "
                                 + q(g.identifier));
    ASSERT_EQ(contact.size(), 1u);
    EXPECT_EQ(contact[0][0], "Team");
    EXPECT_EQ(contact[0][1], std::nullopt);
    auto msgs = admin_->query("SELECT content, extract(epoch FROM created_at)::bigint, message_type"
                              " FROM messages WHERE source_id LIKE 'WAID:G-%' ORDER BY created_at");
    ASSERT_EQ(msgs.size(), 3u);
    EXPECT_EQ(msgs[0][0], "**Bea:** hi all");
    EXPECT_EQ(msgs[1][0], "**+4915100000003:** who?");
    EXPECT_EQ(msgs[2][0], "me");
    EXPECT_EQ(msgs[1][1], "1700100030");
    EXPECT_EQ(msgs[2][2], "1");
}

TEST_F(PgImport, WritingAChatAgainWritesNothingAndNewMessagesJoinTheSameConversation)
{
    ImportChat c = person("4915100000004", "Cid", 4, 1'700'200'000);
    PgImportWriter w(loop_, options());
    EXPECT_EQ(write(w, c), (PgWriteResult{4, 0, 0, "", std::nullopt}));
    const int64_t messages = count("SELECT count(*) FROM messages");
    const int64_t conversations = count("SELECT count(*) FROM conversations");
    const int64_t contacts = count("SELECT count(*) FROM contacts");

    EXPECT_EQ(write(w, c), (PgWriteResult{0, 4, 0, "", std::nullopt}));
    EXPECT_EQ(count("SELECT count(*) FROM messages"), messages);
    EXPECT_EQ(count("SELECT count(*) FROM conversations"), conversations);
    EXPECT_EQ(count("SELECT count(*) FROM contacts"), contacts);

    // Rerun by another writer (another connection), with one message more.
    ImportChat more = person("4915100000004", "Cid", 5, 1'700'200'000);
    EXPECT_EQ(write_once(more, options()), (PgWriteResult{1, 4, 0, "", std::nullopt}));
    EXPECT_EQ(count("SELECT count(*) FROM messages"), messages + 1);
    EXPECT_EQ(count("SELECT count(*) FROM conversations"), conversations);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE source_id LIKE 'WAID:3EB04915100000004-%'"),
              5);
}

TEST_F(PgImport, AContactMadeByTheLivePathOrByHandIsReused)
{
    // The live path's contact: identifier, contact inbox, an open conversation.
    admin_->exec("INSERT INTO contacts (name, phone_number, account_id, created_at, updated_at,"
                 " identifier) VALUES ('Live', '+4915100000005', 1, now(), now(),"
                 " '4915100000005@s.whatsapp.net')");
    // An agent's contact: a phone, no identifier.
    admin_->exec("INSERT INTO contacts (name, phone_number, account_id, created_at, updated_at)"
                 " VALUES ('By hand', '+4915100000006', 1, now(), now())");
    EXPECT_EQ(write_once(person("4915100000005", "Ignored", 1, 1'700'300'000), options()).inserted,
              1u);
    EXPECT_EQ(write_once(person("4915100000006", "Ignored", 1, 1'700'300'000), options()).inserted,
              1u);
    EXPECT_EQ(count("SELECT count(*) FROM contacts WHERE phone_number IN ('+4915100000005',"
                    " '+4915100000006')"),
              2);
    EXPECT_EQ(count("SELECT count(*) FROM contacts WHERE name = 'Ignored'"), 0);
    // The conversation the chat went into is the one the next chat reuses.
    EXPECT_EQ(write_once(person("4915100000005", "Live", 2, 1'700'300'000), options()).inserted,
              1u);
    EXPECT_EQ(count("SELECT count(*) FROM conversations c JOIN contacts p ON p.id = c.contact_id"
                    " WHERE p.phone_number = '+4915100000005'"),
              1);
}

TEST_F(PgImport, AMessageTheServerRefusesFailsAloneAndTheChatGoesOn)
{
    ImportChat c = person("4915100000007", "Dee", 4, 1'700'400'000);
    // PostgreSQL's text cannot hold a NUL: the server refuses this one.
    c.messages[1].text = std::string("bad\0byte", 8);
    PgWriteResult r = write_once(c, options());
    ASSERT_EQ(r.error, std::nullopt);
    EXPECT_EQ(r.inserted, 3u);
    EXPECT_EQ(r.failed, 1u);
    EXPECT_EQ(r.skipped, 0u);
    EXPECT_NE(r.failure.find("WAID:3EB04915100000007-1"), std::string::npos) << r.failure;
    EXPECT_NE(r.failure.find("0x00"), std::string::npos) << r.failure;
    auto ids = admin_->query("SELECT source_id FROM messages WHERE source_id LIKE"
                             " 'WAID:3EB04915100000007-%' ORDER BY created_at");
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[0][0], "WAID:3EB04915100000007-0");
    EXPECT_EQ(ids[1][0], "WAID:3EB04915100000007-2");
    EXPECT_EQ(ids[2][0], "WAID:3EB04915100000007-3");
    // Invalid UTF-8 as well, in a batch split over several statements.
    ImportChat d = person("4915100000008", "Eve", 5, 1'700'500'000);
    d.messages[3].text = "\xff\xfe";
    PgWriterOptions o = options();
    o.batch_max = 2;
    r = write_once(d, o);
    EXPECT_EQ(r.inserted, 4u);
    EXPECT_EQ(r.failed, 1u);
    EXPECT_NE(r.failure.find("WAID:3EB04915100000008-3"), std::string::npos) << r.failure;
}

TEST_F(PgImport, TheChecksRefuseAMissingTable)
{
    admin_->exec("ALTER TABLE messages RENAME TO messages_elsewhere");
    PgWriteResult r = write_once(person("4915100000009", "Fay", 1, 1'700'600'000), options());
    admin_->exec("ALTER TABLE messages_elsewhere RENAME TO messages");
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(*r.error, "Chatwoot's database has no table \"messages\" (or this role may not read"
                        " it): is this Chatwoot's database?");
    EXPECT_EQ(count("SELECT count(*) FROM contacts WHERE name = 'Fay'"), 0);
}

TEST_F(PgImport, TheChecksRefuseAForeignInbox)
{
    PgWriteResult r = write_once(person("4915100000010", "Gus", 1, 1), options(Target{1, 2}));
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(*r.error, "inbox 2 belongs to account 2, not to account 1");
    r = write_once(person("4915100000010", "Gus", 1, 1), options(Target{1, 99}));
    EXPECT_EQ(r.error, "inbox 99 does not exist in Chatwoot's database");
}

TEST_F(PgImport, TheChecksRefuseAnUnknownSchemaVersion)
{
    admin_->exec("INSERT INTO schema_migrations (version) VALUES ('20990101000000')");
    PgWriteResult r = write_once(person("4915100000011", "Hal", 1, 1), options());
    admin_->exec("DELETE FROM schema_migrations WHERE version = '20990101000000'");
    EXPECT_EQ(r.error, "Chatwoot's database schema is 20990101000000, this module knows up to "
                       "20250816044639");
}

TEST_F(PgImport, AFailedCheckIsMadeAgainForTheNextChat)
{
    admin_->exec("INSERT INTO schema_migrations (version) VALUES ('20990101000000')");
    PgImportWriter w(loop_, options());
    EXPECT_TRUE(write(w, person("4915100000012", "Ida", 1, 1)).error.has_value());
    admin_->exec("DELETE FROM schema_migrations WHERE version = '20990101000000'");
    EXPECT_EQ(write(w, person("4915100000012", "Ida", 1, 1)),
              (PgWriteResult{1, 0, 0, "", std::nullopt}));
}

TEST_F(PgImport, ABadPasswordOrAClosedPortSaysWhyWithoutThePassword)
{
    PgWriterOptions o = options();
    const std::string secret = "not-the-password-4711";
    o.conninfo = url_.substr(0, url_.find("://") + 3) + "chatwoot_import:" + secret
                 + url_.substr(url_.find('@'));
    PgWriteResult r = write_once(person("4915100000013", "Jo", 1, 1), o);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_NE(r.error->find("password authentication failed"), std::string::npos) << *r.error;
    EXPECT_EQ(r.error->find(secret), std::string::npos);

    o.conninfo = "postgresql://chatwoot_import:" + secret + "@127.0.0.1:1/chatwoot";
    r = write_once(person("4915100000013", "Jo", 1, 1), o);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_NE(r.error->find("cannot connect to PostgreSQL"), std::string::npos) << *r.error;
    EXPECT_EQ(r.error->find(secret), std::string::npos);
}

TEST_F(PgImport, ChatsQueuedOnOneWriterAreWrittenInOrder)
{
    PgImportWriter w(loop_, options());
    std::vector<std::string> order;
    for (int i = 0; i < 5; i++) {
        ImportChat c = person("49151000001" + std::to_string(20 + i), "Q", 2, 1'700'700'000);
        w.write(c, [&order, i](PgWriteResult r) {
            EXPECT_EQ(r, (PgWriteResult{2, 0, 0, "", std::nullopt}));
            order.push_back(std::to_string(i));
        });
    }
    EXPECT_EQ(w.pending(), 5u);
    ASSERT_TRUE(loop_.run_until([&] { return order.size() == 5; }));
    EXPECT_EQ(order, (std::vector<std::string>{"0", "1", "2", "3", "4"}));
    EXPECT_EQ(w.pending(), 0u);
}

// A statement the server refuses outside a message (here Chatwoot's
// conversations refuse a new row): the whole chat rolls back, the contact
// it had created in the same transaction included, and writing it again
// once the cause is gone completes it.
TEST_F(PgImport, AServerErrorMidChatRollsTheWholeChatBack)
{
    admin_->exec("ALTER TABLE conversations ADD CONSTRAINT import_test_refuses"
                 " CHECK (inbox_id <> 1) NOT VALID");
    ImportChat c = person("4915100000040", "Lou", 3, 1'700'900'000);
    PgImportWriter w(loop_, options());
    PgWriteResult r = write(w, c);
    admin_->exec("ALTER TABLE conversations DROP CONSTRAINT import_test_refuses");
    ASSERT_TRUE(r.error.has_value());
    EXPECT_NE(r.error->find("cannot find or create the conversation"), std::string::npos)
        << *r.error;
    EXPECT_NE(r.error->find("import_test_refuses"), std::string::npos) << *r.error;
    EXPECT_EQ(r.inserted, 0u);
    EXPECT_EQ(count("SELECT count(*) FROM contacts WHERE identifier = " + q(c.identifier)), 0);
    EXPECT_EQ(count("SELECT count(*) FROM contact_inboxes WHERE source_id = " + q(c.chat_jid)), 0);
    // The same connection goes on: the failed transaction was rolled back.
    EXPECT_EQ(write(w, c), (PgWriteResult{3, 0, 0, "", std::nullopt}));
    EXPECT_EQ(count("SELECT count(*) FROM contacts WHERE identifier = " + q(c.identifier)), 1);
}

// The server restarted between two chats: the writer notices its idle
// connection is gone and the next chat uses a new one.
TEST_F(PgImport, AServerRestartedBetweenChatsIsNoticedAndTheNextChatReconnects)
{
    if (env("CHATWOOT_PG_STOP").empty() || env("CHATWOOT_PG_START").empty()) {
        GTEST_SKIP() << "CHATWOOT_PG_STOP and CHATWOOT_PG_START are set by t/pg_import.t";
    }
    int connects = 0;
    PgWriterOptions o = options();
    o.on_step = [&](std::string_view s) { connects += s == "connect"; };
    PgImportWriter w(loop_, o);
    EXPECT_EQ(write(w, person("4915100000041", "Max", 2, 1'701'000'000)),
              (PgWriteResult{2, 0, 0, "", std::nullopt}));
    EXPECT_EQ(write(w, person("4915100000043", "Ole", 1, 1'701'000'000)),
              (PgWriteResult{1, 0, 0, "", std::nullopt}));
    EXPECT_EQ(connects, 1);   // one connection for both chats
    admin_.reset();
    ASSERT_EQ(std::system(env("CHATWOOT_PG_STOP").c_str()), 0);
    ASSERT_EQ(std::system(env("CHATWOOT_PG_START").c_str()), 0);
    admin_ = std::make_unique<PgAdmin>(env("CHATWOOT_PG_ADMIN"));
    EXPECT_EQ(write(w, person("4915100000042", "Ned", 2, 1'701'000'000)),
              (PgWriteResult{2, 0, 0, "", std::nullopt}));
    EXPECT_EQ(connects, 2);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE source_id LIKE 'WAID:3EB04915100000042-%'"),
              2);
}

// A server crash in the middle of a chat: the transaction rolls back (no
// contact, no conversation, no message of it), and writing the chat again
// once the server is back completes it with nothing twice.
TEST_F(PgImport, AServerKilledMidChatRollsTheChatBackAndARetryCompletesIt)
{
    if (env("CHATWOOT_PG_STOP").empty() || env("CHATWOOT_PG_START").empty()) {
        GTEST_SKIP() << "CHATWOOT_PG_STOP and CHATWOOT_PG_START are set by t/pg_import.t";
    }
    ImportChat c = person("4915100000030", "Kim", 50, 1'700'800'000);
    PgWriterOptions o = options();
    o.batch_max = 20;
    int batches = 0;
    bool killed = false;
    o.on_step = [&](std::string_view step) {
        // The second batch of messages: the first is in, uncommitted.
        if (step == "messages" && ++batches == 2 && !killed) {
            killed = true;
            ASSERT_EQ(std::system(env("CHATWOOT_PG_STOP").c_str()), 0);
        }
    };
    PgImportWriter w(loop_, o);
    PgWriteResult r = write(w, c);
    ASSERT_TRUE(killed);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_NE(r.error->find("rolled back"), std::string::npos) << *r.error;
    EXPECT_EQ(r.inserted, 0u);
    ASSERT_EQ(std::system(env("CHATWOOT_PG_START").c_str()), 0);

    admin_ = std::make_unique<PgAdmin>(env("CHATWOOT_PG_ADMIN"));
    EXPECT_EQ(count("SELECT count(*) FROM contacts WHERE identifier = " + q(c.identifier)), 0);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE source_id LIKE 'WAID:3EB04915100000030-%'"),
              0);

    // The same writer: it notices the connection is gone and makes a new one.
    r = write(w, c);
    EXPECT_EQ(r, (PgWriteResult{50, 0, 0, "", std::nullopt}));
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE source_id LIKE 'WAID:3EB04915100000030-%'"),
              50);
    EXPECT_EQ(count("SELECT count(DISTINCT source_id) FROM messages WHERE source_id LIKE"
                    " 'WAID:3EB04915100000030-%'"),
              50);
    EXPECT_EQ(count("SELECT count(*) FROM contacts WHERE identifier = " + q(c.identifier)), 1);
    EXPECT_EQ(count("SELECT count(*) FROM conversations c JOIN contacts p ON p.id = c.contact_id"
                    " WHERE p.identifier = " + q(c.identifier)),
              1);
    EXPECT_EQ(write(w, c), (PgWriteResult{0, 50, 0, "", std::nullopt}));
}
