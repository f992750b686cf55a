// The send API's worker side (src/ipc/send_api.cpp): the token file, the
// bearer check, idempotency keys and their zone table, the POST body
// (malformed, oversize, unknown fields, wrong types, bad recipients), the
// table GET reads, and the answers.

#include "chatwoot_send.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace {

struct Parsed {
    bool ok = false;
    std::string to;
    std::string text;
    std::string reason;
};

Parsed parse(std::string_view body)
{
    Parsed p;
    char to[CW_COMMAND_TO_MAX + 1];
    std::string text(body.size() + 1, '\0');
    size_t text_len = 0;
    char reason[CW_COMMAND_REASON_SIZE] = "";
    p.ok = cw_send_parse(body.data(), body.size(), to, text.data(), text.size(), &text_len,
                         reason) != 0;
    if (p.ok) {
        p.to = to;
        p.text = text.substr(0, text_len);
    }
    p.reason = reason;
    return p;
}

std::string token_reason(std::string_view file)
{
    cw_str_t t{};
    char reason[CW_COMMAND_REASON_SIZE] = "";
    return cw_send_token_parse(file.data(), file.size(), &t, reason) ? "" : reason;
}

bool authorized(std::string_view header, std::string_view token)
{
    return cw_send_authorized(header.data(), header.size(), token.data(), token.size()) != 0;
}

std::unique_ptr<cw_send_table_t> table()
{
    auto t = std::make_unique<cw_send_table_t>();
    std::memset(t.get(), 0, sizeof *t);
    return t;
}

cw_send_slot_t slot(const char* id, uint64_t state, const char* wa_id, const char* reason)
{
    cw_send_slot_t s{};
    std::strncpy(s.id, id, sizeof s.id - 1);
    std::strncpy(s.wa_id, wa_id, sizeof s.wa_id - 1);
    std::strncpy(s.reason, reason, sizeof s.reason - 1);
    s.state = state;
    s.created_at = 100;
    s.updated_at = 101;
    return s;
}

constexpr const char* kId1 = "00000000000000070000000000000005";   // epoch 7, seq 5
constexpr const char* kId2 = "00000000000000070000000000000009";   // epoch 7, seq 9

}  // namespace

TEST(SendApiToken, OneLineWithOneTrailingNewlineAtMost)
{
    cw_str_t t{};
    char reason[CW_COMMAND_REASON_SIZE];
    const std::string file = "s3cr3t-token\r\n";
    ASSERT_TRUE(cw_send_token_parse(file.data(), file.size(), &t, reason));
    EXPECT_EQ(std::string_view(t.data, t.len), "s3cr3t-token");
    EXPECT_EQ(token_reason("abc\n"), "");
    EXPECT_EQ(token_reason(""), "the token file is empty");
    EXPECT_EQ(token_reason("\n"), "the token file is empty");
    EXPECT_NE(token_reason("two words"), "");
    EXPECT_NE(token_reason("two\nlines\n"), "");
    EXPECT_NE(token_reason("tab\there"), "");
    EXPECT_EQ(token_reason(std::string(CW_SEND_TOKEN_MAX + 1, 'x')),
              "the token is longer than 4096 bytes");
    // Never the token's content in the reason.
    EXPECT_EQ(token_reason("secret words").find("secret"), std::string::npos);
}

TEST(SendApiToken, OnlyTheBearerSchemeWithTheSameTokenIsAuthorized)
{
    EXPECT_TRUE(authorized("Bearer tok123", "tok123"));
    EXPECT_TRUE(authorized("bearer tok123", "tok123"));
    EXPECT_TRUE(authorized("BEARER  tok123 ", "tok123"));
    EXPECT_FALSE(authorized("Bearer tok12", "tok123"));
    EXPECT_FALSE(authorized("Bearer tok1234", "tok123"));
    EXPECT_FALSE(authorized("Bearer ", "tok123"));
    EXPECT_FALSE(authorized("Basic dG9rMTIz", "tok123"));
    EXPECT_FALSE(authorized("tok123", "tok123"));
    EXPECT_FALSE(authorized("", "tok123"));
    EXPECT_FALSE(cw_send_authorized(nullptr, 0, "tok123", 6));
}

TEST(SendApiKeys, AKeyIsPrintableAsciiUpTo128Bytes)
{
    char reason[CW_COMMAND_REASON_SIZE];
    const std::string longest(CW_SEND_KEY_MAX, 'k');
    EXPECT_TRUE(cw_send_key_valid("order-42/retry 1", 16, reason));
    EXPECT_TRUE(cw_send_key_valid(longest.data(), longest.size(), reason));
    const std::string over(CW_SEND_KEY_MAX + 1, 'k');
    EXPECT_FALSE(cw_send_key_valid(over.data(), over.size(), reason));
    EXPECT_STREQ(reason, "Idempotency-Key is longer than 128 bytes");
    EXPECT_FALSE(cw_send_key_valid("", 0, reason));
    EXPECT_STREQ(reason, "Idempotency-Key is empty");
    EXPECT_FALSE(cw_send_key_valid("a\tb", 3, reason));
    EXPECT_FALSE(cw_send_key_valid("caf\xc3\xa9", 5, reason));
    EXPECT_STREQ(reason, "Idempotency-Key holds a character that is not printable ASCII");
}

TEST(SendApiKeys, TheScopeIsAHashOfTheTokenThatDiffersPerToken)
{
    char a[CW_SEND_SCOPE_LEN + 1], b[CW_SEND_SCOPE_LEN + 1], c[CW_SEND_SCOPE_LEN + 1];
    cw_send_scope("token-a", 7, a);
    cw_send_scope("token-b", 7, b);
    cw_send_scope("token-a", 7, c);
    EXPECT_EQ(std::strlen(a), size_t{CW_SEND_SCOPE_LEN});
    EXPECT_STRNE(a, b);
    EXPECT_STREQ(a, c);
    EXPECT_EQ(std::string(a).find("token"), std::string::npos);
}

TEST(SendApiKeys, AKeyHoldsItsFirstIdForADayWithinItsScopeOnly)
{
    auto keys = std::make_unique<cw_send_keys_t>();
    std::memset(keys.get(), 0, sizeof *keys);
    char id[CW_COMMAND_ID_SIZE];
    const std::string k1 = "scopeA:order-1";
    EXPECT_FALSE(cw_send_keys_find(keys.get(), k1.data(), k1.size(), 1000, id));
    cw_send_keys_put(keys.get(), k1.data(), k1.size(), kId1, 1000);
    ASSERT_TRUE(cw_send_keys_find(keys.get(), k1.data(), k1.size(), 1000 + 3600, id));
    EXPECT_STREQ(id, kId1);
    // Another token's scope, the same key: not the same send.
    const std::string other = "scopeB:order-1";
    EXPECT_FALSE(cw_send_keys_find(keys.get(), other.data(), other.size(), 1001, id));
    // A key that is a prefix of another is not it.
    const std::string prefix = "scopeA:order-";
    EXPECT_FALSE(cw_send_keys_find(keys.get(), prefix.data(), prefix.size(), 1001, id));
    // A day later the key is free again.
    EXPECT_FALSE(cw_send_keys_find(keys.get(), k1.data(), k1.size(), 1000 + CW_SEND_KEY_TTL, id));
}

TEST(SendApiKeys, PastItsSlotsTheOldestKeyGoesFirst)
{
    auto keys = std::make_unique<cw_send_keys_t>();
    std::memset(keys.get(), 0, sizeof *keys);
    char id[CW_COMMAND_ID_SIZE];
    for (int i = 0; i <= CW_SEND_KEY_SLOTS; i++) {
        const std::string k = "s:" + std::to_string(i);
        cw_send_keys_put(keys.get(), k.data(), k.size(), kId1, 1000);
    }
    EXPECT_FALSE(cw_send_keys_find(keys.get(), "s:0", 3, 1000, id));
    EXPECT_TRUE(cw_send_keys_find(keys.get(), "s:1", 3, 1000, id));
    const std::string last = "s:" + std::to_string(CW_SEND_KEY_SLOTS);
    EXPECT_TRUE(cw_send_keys_find(keys.get(), last.data(), last.size(), 1000, id));
}

TEST(SendApiBody, APhoneNumberBecomesItsChatAndTheTextIsUnescaped)
{
    auto p = parse(R"({"to":"+5511987654321","text":"Ol\u00e1 \"Ana\"\nline 2"})");
    ASSERT_TRUE(p.ok) << p.reason;
    EXPECT_EQ(p.to, "5511987654321@s.whatsapp.net");
    EXPECT_EQ(p.text, "Olá \"Ana\"\nline 2");

    EXPECT_EQ(parse(R"({"to":"5511987654321@s.whatsapp.net","text":"x"})").to,
              "5511987654321@s.whatsapp.net");
    EXPECT_EQ(parse(R"({"to":"123456789012345@lid","text":"x"})").to, "123456789012345@lid");
    EXPECT_EQ(parse(R"({"to":"120363025246125486@g.us","text":"x"})").to,
              "120363025246125486@g.us");
    EXPECT_EQ(parse(R"({"to":"5511987654321-1600000000@g.us","text":"x"})").to,
              "5511987654321-1600000000@g.us");
    // Keys in any order, empty attachments, white space around.
    auto q = parse(" {\"text\":\"hi\",\"attachments\":[],\"to\":\"+4915100000001\"}\n");
    ASSERT_TRUE(q.ok) << q.reason;
    EXPECT_EQ(q.to, "4915100000001@s.whatsapp.net");
}

TEST(SendApiBody, EachBadBodyIsRefusedNamingTheFieldNeverItsContent)
{
    const std::string long_text(CW_COMMAND_TEXT_MAX + 1, 'x');
    struct Case {
        std::string body;
        const char* reason;   // a prefix of the reason
    };
    const Case cases[] = {
        {"", "empty body"},
        {"{", "malformed JSON at offset 1"},
        {R"({"to":"+5511987654321","text":"hi"} x)", "malformed JSON at offset"},
        {R"({"to":"+5511987654321","text":"hi"}{})", "malformed JSON at offset"},
        {"[1,2]", "the body must be a JSON object"},
        {"\"text\"", "the body must be a JSON object"},
        {R"({"text":"hi"})", "missing field \"to\""},
        {R"({"to":"+5511987654321"})", "missing field \"text\""},
        {R"({"to":5511987654321,"text":"hi"})", "field \"to\" is not a string"},
        {R"({"to":"+5511987654321","text":42})", "field \"text\" is not a string"},
        {R"({"to":"+5511987654321","text":null})", "field \"text\" is not a string"},
        {R"({"to":"+5511987654321","text":""})", "field \"text\" is empty"},
        {R"({"to":"+5511987654321","text":"  \n "})", "field \"text\" is empty"},
        {R"({"to":"+5511987654321","text":"a\u0000b"})", "field \"text\" holds a NUL"},
        {R"({"to":"+5511987654321","text":")" + long_text + "\"}",
         "field \"text\" is longer than 65536 bytes"},
        {R"({"to":"5511987654321","text":"hi"})", "field \"to\" is neither"},
        {R"({"to":"+55 11 98765","text":"hi"})", "field \"to\" is neither"},
        {R"({"to":"+123","text":"hi"})", "field \"to\" is neither"},
        {R"({"to":"+1234567890123456","text":"hi"})", "field \"to\" is neither"},
        {R"({"to":"5511987654321:3@s.whatsapp.net","text":"hi"})", "field \"to\" is neither"},
        {R"({"to":"someone@example.com","text":"hi"})", "field \"to\" is neither"},
        {R"({"to":"@lid","text":"hi"})", "field \"to\" is neither"},
        {R"({"to":"","text":"hi"})", "field \"to\" is neither"},
        {R"({"to":"+5511987654321","text":"hi","cc":"x"})", "unknown field \"cc\""},
        {R"({"to":"+5511987654321","text":"hi","a very long field name that goes on":1})",
         "unknown field"},
        {R"({"to":"+5511987654321","text":"hi","to":"+5511987654322"})",
         "field \"to\" appears twice"},
        {R"({"to":"+5511987654321","text":"hi","attachments":{}})",
         "field \"attachments\" is not an array"},
        {R"({"to":"+5511987654321","text":"hi","attachments":[{"url":"x"}]})",
         "field \"attachments\": attachments are not supported"},
        {"{\"to\":\"+5511987654321\",\"text\":\"\xff\"}", "malformed JSON at offset"},
    };
    for (const auto& c : cases) {
        const Parsed p = parse(c.body);
        EXPECT_FALSE(p.ok) << c.body.substr(0, 80);
        EXPECT_EQ(p.reason.rfind(c.reason, 0), 0u)
            << c.body.substr(0, 80) << " -> " << p.reason;
        EXPECT_EQ(p.reason.find("98765"), std::string::npos) << p.reason;
        EXPECT_LT(p.reason.size(), size_t{CW_COMMAND_REASON_SIZE});
    }
}

TEST(SendApiBody, DeepNestingIsRefusedWithoutRunningDownTheStack)
{
    const std::string deep = "{\"to\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
    const Parsed p = parse(deep);
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.reason, "field \"to\" is not a string");
    EXPECT_FALSE(parse(std::string(300000, '[')).ok);
}

TEST(SendApiBody, TheLongestTextFits)
{
    const std::string text(CW_COMMAND_TEXT_MAX, 'y');
    const Parsed p = parse(R"({"to":"+5511987654321","text":")" + text + "\"}");
    ASSERT_TRUE(p.ok) << p.reason;
    EXPECT_EQ(p.text.size(), size_t{CW_COMMAND_TEXT_MAX});
}

TEST(SendApiTable, AnIdIsFoundInItsSlotQueuedBeforeTheHelperTookItAndUnknownAfter)
{
    auto t = table();
    cw_send_slot_t out{};
    // Nothing published: an id of the ring's epoch before its next seq is
    // on its way; one past it, or of another epoch, was never given out.
    EXPECT_EQ(cw_send_lookup(t.get(), kId1, 32, 7, 10, &out), CW_SEND_NOT_TAKEN);
    EXPECT_EQ(cw_send_lookup(t.get(), kId1, 32, 7, 5, &out), CW_SEND_UNKNOWN);
    EXPECT_EQ(cw_send_lookup(t.get(), kId1, 32, 8, 10, &out), CW_SEND_UNKNOWN);
    EXPECT_EQ(cw_send_lookup(t.get(), "xyz", 3, 7, 10, &out), CW_SEND_UNKNOWN);
    EXPECT_EQ(cw_send_lookup(t.get(), "0000000000000007000000000000000G", 32, 7, 10, &out),
              CW_SEND_UNKNOWN);

    const cw_send_slot_t s = slot(kId1, CW_SEND_SENT, "3EB0ABCDEF", "");
    cw_send_publish(t.get(), 3, &s);
    cw_send_taken(t.get(), 7, 5);
    ASSERT_EQ(cw_send_lookup(t.get(), kId1, 32, 7, 10, &out), CW_SEND_FOUND);
    EXPECT_STREQ(out.wa_id, "3EB0ABCDEF");
    EXPECT_EQ(out.state, uint64_t{CW_SEND_SENT});
    EXPECT_EQ(out.version % 2, 0u);
    // seq 9 is past the newest taken: still on its way.
    EXPECT_EQ(cw_send_lookup(t.get(), kId2, 32, 7, 10, &out), CW_SEND_NOT_TAKEN);
    // Taken and then overwritten by a newer send in its slot: aged out.
    cw_send_taken(t.get(), 7, 9);
    const cw_send_slot_t newer = slot("00000000000000070000000000000405", CW_SEND_QUEUED, "", "");
    cw_send_publish(t.get(), 3, &newer);
    EXPECT_EQ(cw_send_lookup(t.get(), kId1, 32, 7, 1100, &out), CW_SEND_UNKNOWN);
    // The marker never moves back within an epoch.
    cw_send_taken(t.get(), 7, 2);
    EXPECT_EQ(t->taken_seq, 9u);
}

TEST(SendApiTable, ASlotLeftHalfWrittenIsNeverReadAsWhole)
{
    auto t = table();
    const cw_send_slot_t s = slot(kId1, CW_SEND_FAILED, "", "this number is not on WhatsApp");
    cw_send_publish(t.get(), 0, &s);
    t->slot[0].version++;   // a writer killed mid-write leaves it odd
    cw_send_slot_t out{};
    EXPECT_NE(cw_send_lookup(t.get(), kId1, 32, 7, 10, &out), CW_SEND_FOUND);
    cw_send_publish(t.get(), 0, &s);   // the next helper writes it again
    EXPECT_EQ(cw_send_lookup(t.get(), kId1, 32, 7, 10, &out), CW_SEND_FOUND);
    EXPECT_STREQ(out.reason, "this number is not on WhatsApp");
}

TEST(SendApiAnswers, TheJsonSaysWhatTheStateHas)
{
    char buf[CW_SEND_JSON_MAX];
    rapidjson::Document d;

    size_t n = cw_send_render_accepted(kId1, buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n), std::string("{\"id\":\"") + kId1 + "\"}");

    cw_send_slot_t s = slot(kId1, CW_SEND_SENT, "3EB0AA", "");
    s.chatwoot_message_id = 4711;
    n = cw_send_render_slot(&s, buf, sizeof buf);
    d.Parse(buf, n);
    ASSERT_FALSE(d.HasParseError());
    EXPECT_STREQ(d["state"].GetString(), "sent");
    EXPECT_STREQ(d["wa_id"].GetString(), "3EB0AA");
    EXPECT_EQ(d["chatwoot_message_id"].GetInt64(), 4711);
    EXPECT_FALSE(d.HasMember("reason"));

    s = slot(kId1, CW_SEND_FAILED, "", "this number is \"not\" on WhatsApp");
    n = cw_send_render_slot(&s, buf, sizeof buf);
    d.Parse(buf, n);
    ASSERT_FALSE(d.HasParseError());
    EXPECT_STREQ(d["state"].GetString(), "failed");
    EXPECT_STREQ(d["reason"].GetString(), "this number is \"not\" on WhatsApp");
    EXPECT_FALSE(d.HasMember("wa_id"));
    EXPECT_FALSE(d.HasMember("chatwoot_message_id"));

    n = cw_send_render_queued(kId2, 32, buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n), std::string("{\"id\":\"") + kId2 + "\",\"state\":\"queued\"}");
    EXPECT_EQ(cw_send_render_slot(&s, buf, 10), 0u);
}
