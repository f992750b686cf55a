// Chatwoot API requests and answers, against the shapes of Chatwoot 4.15
// (CONTRACT.md section 5).
#include "chatwoot/api_requests.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::rest;

namespace {

const Api api(3);

}  // namespace

TEST(ApiRequests, SearchEscapesTheQueryAndAsksForContactInboxes)
{
    Request r = api.search_contacts("+55 11&x=1@s.whatsapp.net");
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.path,
              "/api/v1/accounts/3/contacts/search?q=%2B55%2011%26x%3D1%40s.whatsapp.net"
              "&page=1&include_contact_inboxes=true");
    EXPECT_EQ(r.body, "");
}

TEST(ApiRequests, FilterByOneAttribute)
{
    Request r = api.filter_contacts("phone_number", "+5511987654321");
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/api/v1/accounts/3/contacts/filter?page=1");
    EXPECT_EQ(r.body,
              R"({"payload":[{"attribute_key":"phone_number","filter_operator":"equal_to",)"
              R"("values":["+5511987654321"],"query_operator":null}]})");
}

TEST(ApiRequests, CreateContactWithInboxAndSourceId)
{
    Request r = api.create_contact(NewContact{"Maria \"M\" Silva",
                                              "5511987654321@s.whatsapp.net",
                                              "+5511987654321", 7,
                                              "5511987654321@s.whatsapp.net"});
    EXPECT_EQ(r.path, "/api/v1/accounts/3/contacts");
    EXPECT_EQ(r.body,
              R"({"inbox_id":7,"source_id":"5511987654321@s.whatsapp.net",)"
              R"("name":"Maria \"M\" Silva","identifier":"5511987654321@s.whatsapp.net",)"
              R"("phone_number":"+5511987654321"})");
    // Groups and LIDs have no phone number.
    Request g = api.create_contact(NewContact{"Team", "120363000000000000@g.us",
                                              std::nullopt, 7, "120363000000000000@g.us"});
    EXPECT_EQ(g.body.find("phone_number"), std::string::npos);
}

TEST(ApiRequests, ContactUpdate)
{
    Request r = api.update_contact(42, "Bo \"B\"", std::string_view("+4915100000002"));
    EXPECT_EQ(r.method, "PATCH");
    EXPECT_EQ(r.path, "/api/v1/accounts/3/contacts/42");
    EXPECT_EQ(r.body, R"({"name":"Bo \"B\"","phone_number":"+4915100000002"})");
    EXPECT_EQ(api.update_contact(42, "Bo", std::nullopt).body, R"({"name":"Bo"})");
}

TEST(ApiRequests, ConversationRequests)
{
    EXPECT_EQ(api.contact_conversations(42).path,
              "/api/v1/accounts/3/contacts/42/conversations");
    Request c = api.create_conversation(7, 42, "5511@s.whatsapp.net", "pending");
    EXPECT_EQ(c.path, "/api/v1/accounts/3/conversations");
    EXPECT_EQ(c.body,
              R"({"inbox_id":7,"contact_id":42,"source_id":"5511@s.whatsapp.net","status":"pending"})");
    EXPECT_EQ(api.create_conversation(7, 42, "s").body,
              R"({"inbox_id":7,"contact_id":42,"source_id":"s"})");
    Request t = api.toggle_status(15, "open");
    EXPECT_EQ(t.path, "/api/v1/accounts/3/conversations/15/toggle_status");
    EXPECT_EQ(t.body, R"({"status":"open"})");
}

TEST(ApiRequests, MessageRequests)
{
    NewMessage m;
    m.content = "Olá *mundo*\nnova linha";
    m.source_id = "WAID:3EB0C431C2B1F4D3A3E2";
    m.in_reply_to_external_id = "WAID:3EB0AA";
    Request r = api.create_message(15, m);
    EXPECT_EQ(r.path, "/api/v1/accounts/3/conversations/15/messages");
    EXPECT_EQ(r.body,
              "{\"content\":\"Olá *mundo*\\nnova linha\",\"message_type\":\"incoming\","
              "\"private\":false,\"source_id\":\"WAID:3EB0C431C2B1F4D3A3E2\","
              "\"content_attributes\":{\"in_reply_to_external_id\":\"WAID:3EB0AA\"}}");
    EXPECT_TRUE(r.form.empty() && r.files.empty());

    // With attachments: multipart, content_attributes as a JSON string.
    m.attachments.push_back({"/s/media/a", "audio/ogg", "voice.ogg"});
    Request mp = api.create_message(15, m);
    EXPECT_EQ(mp.method, "POST");
    EXPECT_EQ(mp.path, r.path);
    EXPECT_TRUE(mp.body.empty());
    std::vector<std::pair<std::string, std::string>> form;
    for (const auto& f : mp.form) form.emplace_back(f.name, f.value);
    EXPECT_EQ(form, (std::vector<std::pair<std::string, std::string>>{
                        {"content", "Olá *mundo*\nnova linha"},
                        {"message_type", "incoming"},
                        {"private", "false"},
                        {"source_id", "WAID:3EB0C431C2B1F4D3A3E2"},
                        {"content_attributes", R"({"in_reply_to_external_id":"WAID:3EB0AA"})"}}));
    ASSERT_EQ(mp.files.size(), 1u);
    EXPECT_EQ(mp.files[0].field, "attachments[]");
    EXPECT_EQ(mp.files[0].mime, "audio/ogg");
    EXPECT_EQ(api.list_messages(15).path, "/api/v1/accounts/3/conversations/15/messages");
    EXPECT_EQ(api.list_messages(15, 900).path,
              "/api/v1/accounts/3/conversations/15/messages?before=900");
    Request s = api.update_message_status(15, 3022, "failed", "DEVICE_NOT_AVAILABLE");
    EXPECT_EQ(s.method, "PATCH");
    EXPECT_EQ(s.path, "/api/v1/accounts/3/conversations/15/messages/3022");
    EXPECT_EQ(s.body, R"({"status":"failed","external_error":"DEVICE_NOT_AVAILABLE"})");
    EXPECT_EQ(api.update_message_status(15, 3022, "read").body, R"({"status":"read"})");

    Request d = api.delete_message(15, 3022);
    EXPECT_EQ(d.method, "DELETE");
    EXPECT_EQ(d.path, "/api/v1/accounts/3/conversations/15/messages/3022");
    EXPECT_TRUE(d.body.empty());
}

TEST(ApiRequests, AReplyByChatwootIdForMessagesWithoutSourceId)
{
    NewMessage m;
    m.content = "👍";
    m.source_id = "WAID:R1";
    m.in_reply_to = 3100;
    EXPECT_EQ(api.create_message(15, m).body,
              R"({"content":"👍","message_type":"incoming","private":false,"source_id":"WAID:R1",)"
              R"("content_attributes":{"in_reply_to":3100}})");
    m.in_reply_to_external_id = "WAID:A1";
    EXPECT_EQ(api.create_message(15, m).body,
              R"({"content":"👍","message_type":"incoming","private":false,"source_id":"WAID:R1",)"
              R"("content_attributes":{"in_reply_to":3100,"in_reply_to_external_id":"WAID:A1"}})")
        << "both may go; Chatwoot looks by id first";
}

TEST(ApiAnswers, CreatedContact)
{
    auto c = parse_created_contact(
        R"({"payload":{"contact":{"additional_attributes":{},"availability_status":"offline",)"
        R"("email":null,"id":42,"name":"Maria Silva","phone_number":"+5511987654321",)"
        R"("blocked":false,"identifier":"5511987654321@s.whatsapp.net","thumbnail":"",)"
        R"("custom_attributes":{},"created_at":1781950500,"contact_inboxes":[{"source_id":)"
        R"("5511987654321@s.whatsapp.net","inbox":{"id":7,"avatar_url":"","channel_id":2,)"
        R"("name":"WhatsApp","channel_type":"Channel::Api","provider":null}}]},)"
        R"("contact_inbox":{"inbox":null,"source_id":"5511987654321@s.whatsapp.net"}}})");
    ASSERT_TRUE(c) << c.error;
    EXPECT_EQ(c.value->id, 42);
    EXPECT_EQ(c.value->phone_number, "+5511987654321");
    EXPECT_EQ(c.value->identifier, "5511987654321@s.whatsapp.net");
    ASSERT_EQ(c.value->inboxes.size(), 1u);
    EXPECT_EQ(c.value->inboxes[0].first, 7);
    EXPECT_EQ(c.value->inboxes[0].second, "5511987654321@s.whatsapp.net");
}

TEST(ApiAnswers, ContactSearchWithNullsAndNoInboxes)
{
    auto l = parse_contact_list(
        R"({"meta":{"count":2,"current_page":"1","has_more":false},"payload":[)"
        R"({"id":1,"name":"A","phone_number":null,"identifier":null,"email":null},)"
        R"({"id":2,"name":"B","phone_number":"+1555","identifier":"x@lid","contact_inboxes":[]}]})");
    ASSERT_TRUE(l) << l.error;
    ASSERT_EQ(l.value->size(), 2u);
    EXPECT_EQ((*l.value)[0].identifier, "");
    EXPECT_EQ((*l.value)[1].identifier, "x@lid");
    EXPECT_TRUE((*l.value)[1].inboxes.empty());
}

TEST(ApiAnswers, Conversations)
{
    auto c = parse_conversation(
        R"({"meta":{"sender":{"id":42,"name":"Maria"},"channel":"Channel::Api","hmac_verified":false},)"
        R"("id":15,"messages":[],"account_id":1,"uuid":"u","inbox_id":7,"status":"pending",)"
        R"("updated_at":1781950530.412,"unread_count":0})");
    ASSERT_TRUE(c) << c.error;
    EXPECT_EQ(c.value->id, 15);
    EXPECT_EQ(c.value->inbox_id, 7);
    EXPECT_EQ(c.value->status, "pending");
    EXPECT_EQ(c.value->contact_id, 42);

    auto l = parse_conversation_list(
        R"({"payload":[{"id":15,"inbox_id":7,"status":"resolved"},{"id":16,"inbox_id":8,"status":"open"}]})");
    ASSERT_TRUE(l) << l.error;
    ASSERT_EQ(l.value->size(), 2u);
    EXPECT_EQ((*l.value)[1].inbox_id, 8);

    auto t = parse_toggle_status(
        R"({"meta":{},"payload":{"success":true,"conversation_id":15,"current_status":"open","snoozed_until":null}})");
    ASSERT_TRUE(t) << t.error;
    EXPECT_EQ(*t.value, "open");
}

TEST(ApiAnswers, MessagesUseIntegerTypes)
{
    auto m = parse_message(
        R"({"id":3022,"content":"hi","inbox_id":7,"conversation_id":15,"message_type":0,)"
        R"("content_type":"text","status":"sent","content_attributes":{},"created_at":1781950562,)"
        R"("private":false,"source_id":"WAID:ABC","sender":{"id":42,"type":"contact"}})");
    ASSERT_TRUE(m) << m.error;
    EXPECT_EQ(m.value->id, 3022);
    EXPECT_EQ(m.value->message_type, 0);
    EXPECT_EQ(m.value->source_id, "WAID:ABC");

    auto l = parse_message_list(
        R"({"meta":{"labels":[]},"payload":[{"id":1,"conversation_id":15,"message_type":1,)"
        R"("private":false,"source_id":null,"status":"sent"},{"id":2,"conversation_id":15,)"
        R"("message_type":0,"private":true,"source_id":"WAID:X","status":"sent"}]})");
    ASSERT_TRUE(l) << l.error;
    ASSERT_EQ(l.value->size(), 2u);
    EXPECT_EQ((*l.value)[0].source_id, "");
    EXPECT_TRUE((*l.value)[1].is_private);
}

TEST(ApiAnswers, WrongShapesSayWhatIsWrong)
{
    EXPECT_EQ(parse_message("{").error, "malformed JSON at offset 1");
    EXPECT_EQ(parse_message(R"({"id":"1"})").error, "field id is not an integer");
    EXPECT_EQ(parse_message(R"({"id":1,"conversation_id":15,"message_type":"incoming","private":false})")
                  .error,
              "field message_type is not an integer")
        << "webhooks use strings, REST answers integers";
    EXPECT_EQ(parse_contact_list(R"({"payload":{}})").error, "field payload is not an array");
    EXPECT_EQ(parse_created_contact(R"({"payload":{"contact_inbox":{}}})").error,
              "field contact is not an object");
    EXPECT_EQ(parse_conversation(R"({"id":15,"inbox_id":7})").error,
              "field status is not a string");
    EXPECT_FALSE(parse_toggle_status("[]"));
}

// ---------------------------------------------------------------------------
// The url check: GET /api/v1/profile, judged for the inbox's account.

namespace {

// Chatwoot 4.15's user partial (CONTRACT.md section 5.2) for an agent of
// two accounts, the second suspended; the token is in it, as Chatwoot sends.
constexpr std::string_view kProfile = R"({"access_token":"s3cr3t-t0ken","account_id":3,)"
    R"("available_name":"Ana","avatar_url":"","confirmed":true,"display_name":null,)"
    R"("message_signature":null,"email":"ana@acme.test","id":12,"inviter_id":null,)"
    R"("name":"Ana","provider":"email","pubsub_token":"pst","role":"agent","ui_settings":{},)"
    R"("uid":"ana@acme.test","type":null,"accounts":[)"
    R"({"id":3,"name":"Acme","status":"active","role":"agent","permissions":["agent"],)"
    R"("availability":"online","availability_status":"online","auto_offline":true,)"
    R"("active_at":"2026-12-01T10:00:00.000Z","onboarding_step":null},)"
    R"({"id":9,"name":"Old","status":"suspended","role":"administrator",)"
    R"("permissions":["administrator"],"availability":"offline",)"
    R"("availability_status":"offline","auto_offline":true,"active_at":null,)"
    R"("onboarding_step":null}]})";

Response answered(int status, std::string_view body)
{
    Response r;
    r.http_status = status;
    r.body = body;
    return r;
}

}  // namespace

TEST(ApiCheck, TheRequestIsTheProfile)
{
    Request r = api.profile();
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.path, "/api/v1/profile");
    EXPECT_EQ(r.body, "");
}

TEST(ApiCheck, TheProfileParsesWithItsAccounts)
{
    auto p = parse_profile(kProfile);
    ASSERT_TRUE(p) << p.error;
    EXPECT_EQ(p.value->id, 12);
    ASSERT_EQ(p.value->accounts.size(), 2u);
    EXPECT_EQ(p.value->accounts[0].id, 3);
    EXPECT_EQ(p.value->accounts[0].status, "active");
    EXPECT_EQ(p.value->accounts[1].id, 9);
    EXPECT_EQ(p.value->accounts[1].status, "suspended");
}

TEST(ApiCheck, OkOnlyForAnActiveAccountOfTheToken)
{
    auto ok = check_profile(answered(200, kProfile), 3);
    EXPECT_EQ(ok.result, CheckResult::ok);
    EXPECT_EQ(ok.reason, "account 3 reachable");

    auto other = check_profile(answered(200, kProfile), 4);
    EXPECT_EQ(other.result, CheckResult::no_account_access);
    EXPECT_EQ(other.reason, "the api_token's user is not a member of account 4");

    auto suspended = check_profile(answered(200, kProfile), 9);
    EXPECT_EQ(suspended.result, CheckResult::no_account_access);
    EXPECT_EQ(suspended.reason, "account 9 is suspended");
}

TEST(ApiCheck, AWrongTokenIsUnauthorized)
{
    for (std::string_view body :
         {R"({"error":"Invalid Access Token"})",
          R"({"errors":["You need to sign in or sign up before continuing."]})"}) {
        auto c = check_profile(answered(401, body), 3);
        EXPECT_EQ(c.result, CheckResult::unauthorized) << body;
        EXPECT_TRUE(c.reason.starts_with("check api_token")) << c.reason;
    }
}

TEST(ApiCheck, AnythingButChatwootsApiIsABadAnswer)
{
    // Another server at the URL, or Chatwoot behind a path the URL lacks.
    auto not_found = check_profile(
        answered(404, "<html><body><h1>404 Not Found</h1></body></html>"), 3);
    EXPECT_EQ(not_found.result, CheckResult::bad_answer);
    EXPECT_EQ(not_found.reason,
              "404 for /api/v1/profile: url is not a Chatwoot installation's base URL");

    // A site that answers every path with its home page.
    auto page = check_profile(answered(200, "<!DOCTYPE html><html></html>"), 3);
    EXPECT_EQ(page.result, CheckResult::bad_answer);
    EXPECT_NE(page.reason.find("not a Chatwoot profile (malformed JSON at offset 0)"),
              std::string::npos) << page.reason;

    auto other_json = check_profile(answered(200, R"({"version":"4.15.1"})"), 3);
    EXPECT_EQ(other_json.result, CheckResult::bad_answer);

    auto redirect = check_profile(answered(301, ""), 3);
    EXPECT_EQ(redirect.result, CheckResult::bad_answer);

    Response cut = answered(200, kProfile.substr(0, 100));
    cut.body_truncated = true;
    cut.body_cap = 100;
    auto too_long = check_profile(cut, 3);
    EXPECT_EQ(too_long.result, CheckResult::bad_answer);
    EXPECT_EQ(too_long.reason, "answer 200 over the 100-byte cap");
}

TEST(ApiCheck, NoAnswerIsUnreachableAndAnOutageUnavailable)
{
    Response none;
    none.transport_error = TransportError::connect;
    EXPECT_EQ(check_profile(none, 3).result, CheckResult::unreachable);
    none.transport_error = TransportError::timeout;
    EXPECT_EQ(check_profile(none, 3).result, CheckResult::unreachable);
    EXPECT_EQ(check_profile(answered(0, ""), 3).result, CheckResult::unreachable);

    for (int s : {500, 502, 503, 504, 429}) {
        EXPECT_EQ(check_profile(answered(s, "Retry later\n"), 3).result,
                  CheckResult::unavailable) << s;
    }
}

TEST(ApiCheck, ResultsAreOrderedWorstLastAndNamed)
{
    EXPECT_LT(CheckResult::ok, CheckResult::unavailable);
    EXPECT_LT(CheckResult::unreachable, CheckResult::unauthorized);
    EXPECT_EQ(check_result_name(CheckResult::no_account_access), "no_account_access");
    EXPECT_EQ(check_result_name(CheckResult::bad_answer), "bad_answer");
}
