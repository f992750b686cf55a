// The PostgreSQL import's SQL, without a server: the parameters each
// statement carries (binary arrays byte for byte, text that may hold a NUL
// sent with its length), the rows a chat becomes, and the verdicts of the
// checks.  t/pg_import.t runs the same statements against a real server.
#include "helper/import/pg_statements.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace chatwoot::helper::pg;
using chatwoot::bridge::ImportChat;
using chatwoot::bridge::ImportMessage;

namespace {

std::string bytes(std::initializer_list<int> v)
{
    std::string s;
    for (int b : v) {
        s += static_cast<char>(b);
    }
    return s;
}

ImportChat one_to_one()
{
    ImportChat c;
    c.chat_jid = "4915100000001@s.whatsapp.net";
    c.identifier = "4915100000001@s.whatsapp.net";
    c.name = "Ana";
    c.phone = "+4915100000001";
    c.messages = {
        {"A1", 1700000000, false, "", "", "hello"},
        {"A2", 1700000060, true, "", "", "hi Ana"},
    };
    return c;
}

Answer rows(std::vector<Row> r)
{
    Answer a;
    a.ok = true;
    a.rows = std::move(r);
    return a;
}

Answer failed(std::string why)
{
    Answer a;
    a.error = std::move(why);
    return a;
}

// The answers of a database that passes every check.
std::vector<Answer> good_checks()
{
    std::vector<Row> cols;
    for (const auto& [t, cs] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"schema_migrations", {"version"}},
             {"inboxes", {"id", "account_id", "channel_type"}},
             {"contacts",
              {"id", "name", "phone_number", "account_id", "identifier", "created_at",
               "updated_at", "last_activity_at"}},
             {"contact_inboxes",
              {"id", "contact_id", "inbox_id", "source_id", "created_at", "updated_at",
               "pubsub_token"}},
             {"conversations",
              {"id", "account_id", "inbox_id", "status", "contact_id", "contact_inbox_id",
               "display_id", "created_at", "updated_at", "last_activity_at"}},
             {"messages",
              {"id", "content", "account_id", "inbox_id", "conversation_id", "message_type",
               "created_at", "updated_at", "private", "status", "source_id", "content_type",
               "sender_type", "sender_id"}}}) {
        for (const auto& c : cs) {
            cols.push_back({t, c});
        }
    }
    return {rows(cols), rows({{"20250816044639"}}), rows({{"1", "Channel::Api"}}),
            rows({{"t", "t", "t", "t", "t", "t", "t", "t"}})};
}

const Target kTarget{1, 7};

}  // namespace

TEST(PgParams, TextGoesInBinaryWithItsLengthSoANulReachesTheServer)
{
    Param p = text_param(std::string("a\0b", 3));
    EXPECT_EQ(p.type, kOidText);
    EXPECT_TRUE(p.binary);
    EXPECT_EQ(*p.value, std::string("a\0b", 3));
}

TEST(PgParams, NumbersGoAsText)
{
    Param p = int8_param(-42);
    EXPECT_EQ(p.type, kOidInt8);
    EXPECT_FALSE(p.binary);
    EXPECT_EQ(*p.value, "-42");
}

TEST(PgParams, TextArrayInPostgresBinaryArrayFormat)
{
    Param p = text_array_param({"ab", ""});
    EXPECT_EQ(p.type, kOidTextArray);
    EXPECT_TRUE(p.binary);
    // 1 dimension, no nulls, element text (25), 2 elements from 1, then
    // each length and bytes.
    EXPECT_EQ(*p.value, bytes({0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1,
                               0, 0, 0, 2, 'a', 'b', 0, 0, 0, 0}));
}

TEST(PgParams, EmptyArrayHasNoDimensions)
{
    EXPECT_EQ(*text_array_param({}).value, bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25}));
}

TEST(PgParams, IntegerArraysBigEndian)
{
    EXPECT_EQ(*int8_array_param({-2}).value,
              bytes({0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 8,
                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}));
    EXPECT_EQ(*int4_array_param({1}).value,
              bytes({0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4,
                     0, 0, 0, 1}));
    EXPECT_EQ(int8_array_param({}).type, kOidInt8Array);
    EXPECT_EQ(int4_array_param({}).type, kOidInt4Array);
}

TEST(PgChatRows, SourceIdsTypesAndOrderAsWhatsAppGaveThem)
{
    ChatRows r = chat_rows(one_to_one());
    EXPECT_EQ(r.source_ids, (std::vector<std::string>{"WAID:A1", "WAID:A2"}));
    EXPECT_EQ(r.contents, (std::vector<std::string>{"hello", "hi Ana"}));
    EXPECT_EQ(r.timestamps, (std::vector<int64_t>{1700000000, 1700000060}));
    EXPECT_EQ(r.message_types, (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(r.repeated, 0u);
}

TEST(PgChatRows, AMessageRepeatedInTheBatchIsWrittenOnce)
{
    ImportChat c = one_to_one();
    c.messages.push_back(c.messages[0]);
    ChatRows r = chat_rows(c);
    EXPECT_EQ(r.source_ids.size(), 2u);
    EXPECT_EQ(r.repeated, 1u);
}

TEST(PgChatRows, GroupMessagesNameTheirSenderOwnOnesDoNot)
{
    ImportChat g;
    g.chat_jid = g.identifier = "120363000000000001@g.us";
    g.is_group = true;
    g.messages = {{"G1", 1, false, "4915100000002@s.whatsapp.net", "Bea", "hi all"},
                  {"G2", 2, false, "4915100000003@s.whatsapp.net", "", "no name"},
                  {"G3", 3, true, "", "", "mine"}};
    ChatRows r = chat_rows(g);
    EXPECT_EQ(r.contents, (std::vector<std::string>{"**Bea:** hi all", "**+4915100000003:** no name",
                                                    "mine"}));
}

TEST(PgChatRows, MissingRowsLeaveOutWhatTheInboxHas)
{
    ChatRows all = chat_rows(one_to_one());
    ChatRows left = missing_rows(all, rows({{"WAID:A1"}}));
    EXPECT_EQ(left.source_ids, (std::vector<std::string>{"WAID:A2"}));
    EXPECT_EQ(left.timestamps, (std::vector<int64_t>{1700000060}));
    EXPECT_EQ(left.message_types, (std::vector<int32_t>{1}));
}

TEST(PgChatStatements, BeginLocksTheChatAndLooksUpItsIds)
{
    ImportChat c = one_to_one();
    auto s = begin_statements(kTarget, c, chat_rows(c));
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0].sql, "BEGIN");
    EXPECT_NE(s[1].sql.find("pg_advisory_xact_lock"), std::string::npos);
    EXPECT_EQ(*s[1].params[0].value, "chatwoot-import:1:7:4915100000001@s.whatsapp.net");
    EXPECT_EQ(s[2].params[0], int8_param(7));
    EXPECT_EQ(s[2].params[1], text_array_param({"WAID:A1", "WAID:A2"}));
}

TEST(PgChatStatements, ContactKeyedAsTheLivePathKeysIt)
{
    ImportChat c = one_to_one();
    Statement s = contact_statement(kTarget, c, 1800000000);
    ASSERT_EQ(s.params.size(), 7u);
    EXPECT_EQ(s.params[0], int8_param(1));
    EXPECT_EQ(s.params[1], int8_param(7));
    EXPECT_EQ(s.params[2], text_param("4915100000001@s.whatsapp.net"));   // source_id
    EXPECT_EQ(s.params[3], text_param("4915100000001@s.whatsapp.net"));   // identifier
    EXPECT_EQ(s.params[4], text_param("+4915100000001"));
    EXPECT_EQ(s.params[5], text_param("Ana"));
    EXPECT_EQ(s.params[6], int8_param(1800000000));
    EXPECT_NE(s.sql.find("ON CONFLICT (identifier, account_id) DO NOTHING"), std::string::npos);
    EXPECT_NE(s.sql.find("ON CONFLICT (inbox_id, source_id) DO NOTHING"), std::string::npos);
}

TEST(PgChatStatements, AContactWithoutANameIsNamedByItsPhoneElseItsId)
{
    ImportChat c = one_to_one();
    c.name.clear();
    EXPECT_EQ(contact_statement(kTarget, c, 0).params[5], text_param("+4915100000001"));
    c.phone.clear();
    EXPECT_EQ(contact_statement(kTarget, c, 0).params[5], text_param("4915100000001@s.whatsapp.net"));
}

TEST(PgChatStatements, NulInANameIsDroppedNotSent)
{
    ImportChat c = one_to_one();
    c.name = std::string("A\0na", 4);
    EXPECT_EQ(contact_statement(kTarget, c, 0).params[5], text_param("Ana"));
}

TEST(PgChatStatements, ConversationReusesOpenOrPendingElseCreatesOpen)
{
    Statement s = conversation_statement(kTarget, 11, 12, 1700000000);
    EXPECT_NE(s.sql.find("status IN (0, 2)"), std::string::npos);
    // display_id is left to Chatwoot's trigger.
    EXPECT_EQ(s.sql.find("INSERT INTO conversations (account_id, inbox_id, status, created_at,"
                         " updated_at, contact_id, contact_inbox_id, last_activity_at)"),
              s.sql.find("INSERT INTO conversations"));
    EXPECT_EQ(s.params, (std::vector<Param>{int8_param(1), int8_param(7), int8_param(11),
                                            int8_param(12), int8_param(1700000000)}));
}

TEST(PgChatStatements, InsertCarriesASliceUnderASavepoint)
{
    ImportChat c = one_to_one();
    ChatRows r = chat_rows(c);
    auto s = insert_statements(kTarget, 21, 11, r, 1, 2);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0].sql, "SAVEPOINT chatwoot_import");
    EXPECT_EQ(s[2].sql, "RELEASE SAVEPOINT chatwoot_import");
    ASSERT_EQ(s[1].params.size(), 8u);
    EXPECT_EQ(s[1].params[2], int8_param(21));
    EXPECT_EQ(s[1].params[3], int8_param(11));
    EXPECT_EQ(s[1].params[4], text_array_param({"WAID:A2"}));
    EXPECT_EQ(s[1].params[5], text_array_param({"hi Ana"}));
    EXPECT_EQ(s[1].params[6], int8_array_param({1700000060}));
    EXPECT_EQ(s[1].params[7], int4_array_param({1}));
    EXPECT_NE(s[1].sql.find("AT TIME ZONE 'UTC'"), std::string::npos);
    EXPECT_NE(s[1].sql.find("RETURNING source_id"), std::string::npos);
}

TEST(PgChatStatements, FinishUpdatesActivityOnlyWhenSomethingWasWritten)
{
    auto s = finish_statements(21, 11, std::nullopt, std::nullopt);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].sql, "COMMIT");
    s = finish_statements(21, 11, 1700000060, 1700000000);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0].params, (std::vector<Param>{int8_param(21), int8_param(1700000060)}));
    EXPECT_EQ(s[1].params, (std::vector<Param>{int8_param(11), int8_param(1700000000)}));
    EXPECT_EQ(s[2].sql, "COMMIT");
}

TEST(PgChecks, AGoodDatabasePasses)
{
    EXPECT_EQ(check_statements(kTarget).size(), 4u);
    EXPECT_EQ(check_verdict(Target{1, 1}, good_checks()), std::nullopt);
}

TEST(PgChecks, AMissingTableIsNamed)
{
    auto a = good_checks();
    std::erase_if(a[0].rows, [](const Row& r) { return *r[0] == "messages"; });
    EXPECT_EQ(check_verdict(Target{1, 1}, a),
              "Chatwoot's database has no table \"messages\" (or this role may not read it):"
              " is this Chatwoot's database?");
}

TEST(PgChecks, AMissingColumnIsNamed)
{
    auto a = good_checks();
    std::erase_if(a[0].rows, [](const Row& r) { return *r[1] == "source_id" && *r[0] == "messages"; });
    EXPECT_EQ(check_verdict(Target{1, 1}, a),
              "Chatwoot's table \"messages\" has no column \"source_id\"");
}

TEST(PgChecks, ANewerSchemaIsRefusedWithBothVersions)
{
    auto a = good_checks();
    a[1] = rows({{"20260101000000"}});
    EXPECT_EQ(check_verdict(Target{1, 1}, a),
              "Chatwoot's database schema is 20260101000000, this module knows up to "
              "20250816044639");
    a[1] = rows({{"20200101000000"}});
    EXPECT_EQ(check_verdict(Target{1, 1}, a),
              "Chatwoot's database schema is 20200101000000, this module knows 20240923215335 and"
              " later");
    a[1] = rows({{"2025x"}});
    EXPECT_NE(check_verdict(Target{1, 1}, a), std::nullopt);
    a[1] = rows({{std::nullopt}});
    EXPECT_EQ(check_verdict(Target{1, 1}, a),
              "Chatwoot's database has no schema version (schema_migrations is empty)");
}

TEST(PgChecks, AForeignOrMissingOrNonApiInboxIsRefused)
{
    auto a = good_checks();
    a[2] = rows({{"2", "Channel::Api"}});
    EXPECT_EQ(check_verdict(Target{1, 1}, a), "inbox 1 belongs to account 2, not to account 1");
    a[2] = rows({});
    EXPECT_EQ(check_verdict(Target{1, 1}, a), "inbox 1 does not exist in Chatwoot's database");
    a[2] = rows({{"1", "Channel::Email"}});
    EXPECT_EQ(check_verdict(Target{1, 1}, a),
              "inbox 1 is not an API channel inbox (its channel is \"Channel::Email\")");
}

TEST(PgChecks, TriggerSequenceAndPrivileges)
{
    auto a = good_checks();
    a[3] = rows({{"f", "t", "t", "t", "t", "t", "t", "t"}});
    EXPECT_NE(check_verdict(Target{1, 1}, a)->find("no BEFORE INSERT trigger"), std::string::npos);
    a[3] = rows({{"t", "f", "f", "t", "t", "t", "t", "t"}});
    EXPECT_EQ(check_verdict(Target{1, 1}, a),
              "Chatwoot's database has no sequence conv_dpid_seq_1 for account 1's conversation"
              " numbers");
    a[3] = rows({{"t", "t", "f", "t", "t", "t", "t", "t"}});
    EXPECT_NE(check_verdict(Target{1, 1}, a)->find("GRANT USAGE ON SEQUENCE conv_dpid_seq_1"),
              std::string::npos);
    a[3] = rows({{"t", "t", "t", "t", "t", "t", "f", "t"}});
    EXPECT_EQ(check_verdict(Target{1, 1}, a),
              "this role lacks privileges on messages (SELECT, INSERT)");
}

TEST(PgChecks, AFailedCheckStatementSaysWhy)
{
    auto a = good_checks();
    a[1] = failed("permission denied for table schema_migrations");
    EXPECT_EQ(check_verdict(Target{1, 1}, a),
              "cannot read Chatwoot's schema version: permission denied for table schema_migrations");
    EXPECT_NE(check_verdict(Target{1, 1}, {}), std::nullopt);
}

TEST(PgAnswers, IntAtReadsTheFirstRow)
{
    EXPECT_EQ(int_at(rows({{"12", "x"}}), 0), 12);
    EXPECT_EQ(int_at(rows({{"12", "x"}}), 1), std::nullopt);
    EXPECT_EQ(int_at(rows({}), 0), std::nullopt);
    EXPECT_EQ(int_at(failed("no"), 0), std::nullopt);
}
