// Chatwoot webhook bodies -> decisions (src/chatwoot/webhook_event.cpp).
//
// The bodies are built from ../shared/chatwoot/CONTRACT.md section 4 as
// Chatwoot 4.15 sends them: a message event carries the whole conversation
// (meta.sender, contact_inbox, messages[] in push format with an integer
// message_type), `attachments` is absent when there are none, and
// non-ASCII text is raw UTF-8 while <, > and & are \u-escaped.
//
// Every body is handed to parse() in a heap buffer of exactly its size,
// with no NUL after it, so a read past the end shows up under ASan.
#include "chatwoot/webhook_event.hpp"
#include "chatwoot/webhook_utf8.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::webhook {

// So that a failed EXPECT_EQ names the values instead of printing bytes.
void PrintTo(Verdict v, std::ostream* os)
{
    switch (v) {
    case Verdict::queue: *os << "queue"; return;
    case Verdict::ignore: *os << "ignore"; return;
    case Verdict::reject: *os << "reject"; return;
    }
    *os << "Verdict(" << static_cast<int>(v) << ")";
}

void PrintTo(IgnoreReason r, std::ostream* os)
{
    *os << ignore_reason_name(r);
}

}  // namespace chatwoot::webhook

using namespace chatwoot::webhook;

namespace {

// --- bodies ---------------------------------------------------------------

// Conversation#webhook_data (CONTRACT.md 4.2) without its braces, so that
// conversation events can be this object plus "event".  messages[0] is the
// reply itself in push format (4.4): integer message_type and created_at.
const std::string kConversationFields = R"("additional_attributes":{},)"
    R"("can_reply":true,"channel":"Channel::Api",)"
    R"("contact_inbox":{"id":99,"contact_id":42,"inbox_id":7,"source_id":"5511987654321",)"
    R"("created_at":"2026-06-20T10:15:00.000Z","updated_at":"2026-06-20T10:15:00.000Z",)"
    R"("hmac_verified":false,"pubsub_token":"q8Vd3kYx1mN7pQ2rT5wZ9aBc"},)"
    R"("id":15,"inbox_id":7,)"
    R"("messages":[{"id":3022,"content":"Olá Maria, já verifiquei o pedido.",)"
    R"("account_id":1,"inbox_id":7,"conversation_id":15,"message_type":1,)"
    R"("created_at":1781950562,"updated_at":"2026-06-20T10:16:02.118Z","private":false,)"
    R"("status":"sent","source_id":null,"content_type":"text","content_attributes":{},)"
    R"("sender_type":"User","sender_id":3,"external_source_ids":{},)"
    R"("additional_attributes":{},)"
    R"("processed_message_content":"Olá Maria, já verifiquei o pedido.","sentiment":{},)"
    R"("conversation":{"assignee_id":3,"unread_count":0,"last_activity_at":1781950562,)"
    R"("contact_inbox":{"source_id":"5511987654321"}},)"
    R"("sender":{"id":3,"name":"Ana","available_name":"Ana","avatar_url":"",)"
    R"("type":"user","availability_status":"online","thumbnail":""}}],)"
    R"("labels":[],)"
    R"("meta":{"sender":{"additional_attributes":{},"custom_attributes":{},)"
    R"("email":null,"id":42,"identifier":null,"name":"Maria Silva",)"
    R"("phone_number":"+5511987654321","thumbnail":"","blocked":false,"type":"contact"},)"
    R"("assignee":{"id":3,"name":"Ana","available_name":"Ana","avatar_url":"",)"
    R"("type":"user","availability_status":"online","thumbnail":""},)"
    R"("assignee_type":"User","team":null,"hmac_verified":false},)"
    R"("status":"open","custom_attributes":{},"snoozed_until":null,"unread_count":0,)"
    R"("first_reply_created_at":1781950562,"priority":null,"waiting_since":0,)"
    R"("agent_last_seen_at":1781950562,"contact_last_seen_at":0,)"
    R"("last_activity_at":1781950562,"timestamp":1781950562,"created_at":1781950500,)"
    R"("updated_at":1781950562.412,"account":{"id":1,"name":"Acme"})";

// An agent's reply as message_created (CONTRACT.md 4.3), keys in Chatwoot's
// order, no attachments (so no "attachments" key).
const std::string kAgentReply = R"({"account":{"id":1,"name":"Acme"},)"
    R"("additional_attributes":{},"content_attributes":{},"content_type":"text",)"
    R"("content":"Olá Maria, já verifiquei o pedido.",)"
    R"("conversation":{)" + kConversationFields + R"(},)"
    R"("created_at":"2026-06-20T10:16:02.118Z","id":3022,)"
    R"("inbox":{"id":7,"name":"WhatsApp"},"message_type":"outgoing","private":false,)"
    R"("sender":{"id":3,"name":"Ana","email":"ana@acme.test","type":"user"},)"
    R"("source_id":null,"event":"message_created"})";

const std::string kAgentReplyRecord = R"({"type":"send","message_id":3022,)"
    R"("conversation_id":15,"inbox_id":7,"account_id":1,)"
    R"("content":"Olá Maria, já verifiquei o pedido.",)"
    R"("source_id_of_contact":"5511987654321",)"
    R"("contact":{"id":42,"phone_number":"+5511987654321"},)"
    R"("sender":{"id":3,"name":"Ana","type":"user"},)"
    R"("created_at":"2026-06-20T10:16:02.118Z"})";

// conversation_status_changed (4.5): the conversation itself plus "event";
// changed_attributes is null in practice.
std::string status_changed(std::string_view status)
{
    std::string fields = kConversationFields;
    const std::string open = R"("status":"open")";
    fields.replace(fields.find(open), open.size(),
                   std::string(R"("status":")").append(status) + '"');
    return "{" + fields
        + R"(,"event":"conversation_status_changed","changed_attributes":null})";
}

// conversation_typing_on/off (4.6): no account of its own, only the one
// inside the conversation.
std::string typing(std::string_view event, std::string_view is_private = "false")
{
    return std::string(R"({"event":")").append(event) + R"(",)"
        R"("user":{"id":3,"name":"Ana","email":"ana@acme.test","type":"user"},)"
        R"("conversation":{)" + kConversationFields + R"(},"is_private":)"
        + std::string(is_private) + "}";
}

// --- editing bodies ---------------------------------------------------------

// One change to a body: set the value at a JSON Pointer to some JSON text,
// or erase it (json == nullopt).
struct Edit {
    const char* pointer;
    std::optional<std::string_view> json;
};

std::string to_json(const rapidjson::Value& v)
{
    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> writer(out);
    v.Accept(writer);
    return std::string(out.GetString(), out.GetSize());
}

rapidjson::Document parsed(std::string_view json)
{
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    EXPECT_FALSE(doc.HasParseError()) << "test JSON does not parse: " << json;
    return doc;
}

std::string edited(std::string_view body, std::initializer_list<Edit> edits)
{
    rapidjson::Document doc = parsed(body);
    for (const Edit& e : edits) {
        const rapidjson::Pointer pointer(e.pointer);
        EXPECT_TRUE(pointer.IsValid()) << e.pointer;
        if (e.json) {
            const rapidjson::Document value = parsed(*e.json);
            pointer.Set(doc, rapidjson::Value(value, doc.GetAllocator()), doc.GetAllocator());
        } else {
            EXPECT_TRUE(pointer.Erase(doc)) << "nothing to erase at " << e.pointer;
        }
    }
    return to_json(doc);
}

// Textual replacement, for bodies whose exact bytes matter (escapes).
std::string replaced(std::string body, std::string_view from, std::string_view to)
{
    const size_t at = body.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) {
        body.replace(at, from.size(), to);
    }
    return body;
}

// --- running parse() ---------------------------------------------------------

// parse() on a copy of `body` in a buffer of exactly its size: no NUL
// after it, and ASan guards the byte past the end.
Decision run(std::string_view body)
{
    std::unique_ptr<char[]> exact(new char[body.size() + (body.empty() ? 1 : 0)]);
    if (!body.empty()) {
        std::memcpy(exact.get(), body.data(), body.size());
    }
    return parse(std::string_view(exact.get(), body.size()));
}

// A record must itself be one valid, compact-enough JSON object.
::testing::AssertionResult is_json_object(const std::string& record)
{
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(record.data(), record.size());
    if (doc.HasParseError()) {
        return ::testing::AssertionFailure()
            << "record is not JSON (offset " << doc.GetErrorOffset() << "): " << record;
    }
    if (!doc.IsObject()) {
        return ::testing::AssertionFailure() << "record is not an object: " << record;
    }
    return ::testing::AssertionSuccess();
}

void expect_queued(std::string_view body, std::string_view event, std::string_view record)
{
    const Decision d = run(body);
    EXPECT_EQ(d.verdict, Verdict::queue) << d.reason;
    EXPECT_EQ(d.ignored, IgnoreReason::none);
    EXPECT_EQ(d.event, event);
    EXPECT_EQ(d.record, record);
    EXPECT_TRUE(is_json_object(d.record));
}

void expect_ignored(std::string_view body, std::string_view event, IgnoreReason why)
{
    const Decision d = run(body);
    EXPECT_EQ(d.verdict, Verdict::ignore) << d.reason;
    EXPECT_EQ(d.ignored, why);
    EXPECT_EQ(d.reason, ignore_reason_name(why));
    EXPECT_EQ(d.event, event);
    EXPECT_EQ(d.record, "");
}

void expect_rejected(std::string_view body, std::string_view reason,
                     std::string_view event = "")
{
    const Decision d = run(body);
    EXPECT_EQ(d.verdict, Verdict::reject) << d.record;
    EXPECT_EQ(d.ignored, IgnoreReason::none);
    EXPECT_EQ(d.reason, reason);
    EXPECT_EQ(d.event, event);
    EXPECT_EQ(d.record, "");
}

bool starts_with(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

// The image of CONTRACT.md 4.3 and a PDF, as Attachment#push_event_data.
constexpr std::string_view kTwoAttachments =
    R"([{"id":55,"message_id":3022,"file_type":"image","account_id":1,)"
    R"("extension":"jpg","content_type":"image/jpeg",)"
    R"("data_url":"https://chat.acme.test/rails/active_storage/blobs/redirect/eyJfcmFpbHMi--0c1f/photo.jpg",)"
    R"("thumb_url":"https://chat.acme.test/rails/active_storage/representations/redirect/eyJf--9ab2/photo.jpg",)"
    R"("file_size":48213,"width":1280,"height":960},)"
    R"({"id":56,"message_id":3022,"file_type":"file","account_id":1,)"
    R"("extension":"pdf","content_type":"application/pdf",)"
    R"("data_url":"https://chat.acme.test/rails/active_storage/blobs/redirect/eyJfcmFpbHMi--77aa/pedido.pdf",)"
    R"("thumb_url":"","file_size":183004,"width":null,"height":null}])";

constexpr std::string_view kTwoAttachmentsRecord =
    R"("attachments":[{"id":55,"file_type":"image",)"
    R"("data_url":"https://chat.acme.test/rails/active_storage/blobs/redirect/eyJfcmFpbHMi--0c1f/photo.jpg",)"
    R"("content_type":"image/jpeg","file_size":48213,"extension":"jpg"},)"
    R"({"id":56,"file_type":"file",)"
    R"("data_url":"https://chat.acme.test/rails/active_storage/blobs/redirect/eyJfcmFpbHMi--77aa/pedido.pdf",)"
    R"("content_type":"application/pdf","file_size":183004,"extension":"pdf"}])";

// Record prefix up to account_id, shared by the send records below.
constexpr std::string_view kSendHead = R"({"type":"send","message_id":3022,)"
    R"("conversation_id":15,"inbox_id":7,"account_id":1,)";
constexpr std::string_view kSendContact = R"("source_id_of_contact":"5511987654321",)"
    R"("contact":{"id":42,"phone_number":"+5511987654321"},)";
constexpr std::string_view kSendTail = R"("created_at":"2026-06-20T10:16:02.118Z"})";

std::string send_record(std::string_view middle)
{
    return std::string(kSendHead) + std::string(middle) + std::string(kSendTail);
}

}  // namespace

// --- message_created: queued ---------------------------------------------------

TEST(WebhookEventSend, AgentReplyBecomesTheExactRecord)
{
    expect_queued(kAgentReply, "message_created", kAgentReplyRecord);
}

TEST(WebhookEventSend, CompactAndPrettyBodiesGiveTheSameRecord)
{
    // Rails sends compact JSON, but whitespace is still JSON.
    std::string pretty = kAgentReply;
    for (size_t at = 0; (at = pretty.find(",\"", at)) != std::string::npos; at += 4) {
        pretty.replace(at, 2, ",\r\n\t\"");
    }
    expect_queued("\n " + pretty + " \n", "message_created", kAgentReplyRecord);
}

TEST(WebhookEventSend, ReplyToAWhatsAppMessageCarriesBothIds)
{
    const std::string body = edited(kAgentReply,
        {{"/content_attributes",
          R"({"in_reply_to":3021,"in_reply_to_external_id":"WAID:3EB0C767D26A1B2C4F"})"}});
    expect_queued(body, "message_created",
                  send_record(R"("content":"Olá Maria, já verifiquei o pedido.",)"
                              + std::string(kSendContact)
                              + R"("sender":{"id":3,"name":"Ana","type":"user"},)"
                                R"("reply_to":{"id":3021,"external_id":"WAID:3EB0C767D26A1B2C4F"},)"));
}

TEST(WebhookEventSend, ReplyToKeepsOnlyTheKeysThatAreSet)
{
    const std::string sender = R"("sender":{"id":3,"name":"Ana","type":"user"},)";
    const std::string content = R"("content":"Olá Maria, já verifiquei o pedido.",)";

    // The quoted message was not found: Chatwoot nulls both keys.
    expect_queued(edited(kAgentReply, {{"/content_attributes",
                                        R"({"in_reply_to":null,"in_reply_to_external_id":null})"}}),
                  "message_created", kAgentReplyRecord);
    expect_queued(edited(kAgentReply, {{"/content_attributes", R"({"in_reply_to":3021})"}}),
                  "message_created",
                  send_record(content + std::string(kSendContact) + sender
                              + R"("reply_to":{"id":3021},)"));
    expect_queued(edited(kAgentReply, {{"/content_attributes",
                                        R"({"in_reply_to_external_id":"WAID:X"})"}}),
                  "message_created",
                  send_record(content + std::string(kSendContact) + sender
                              + R"("reply_to":{"external_id":"WAID:X"},)"));
    expect_queued(edited(kAgentReply, {{"/content_attributes", "null"}}), "message_created",
                  kAgentReplyRecord);
    expect_queued(edited(kAgentReply, {{"/content_attributes", std::nullopt}}),
                  "message_created", kAgentReplyRecord);
}

TEST(WebhookEventSend, ImageAndFileAttachments)
{
    const std::string body = edited(kAgentReply, {{"/attachments", kTwoAttachments}});
    expect_queued(body, "message_created",
                  send_record(R"("content":"Olá Maria, já verifiquei o pedido.",)"
                              + std::string(kSendContact)
                              + R"("sender":{"id":3,"name":"Ana","type":"user"},)"
                              + std::string(kTwoAttachmentsRecord) + ","));
}

TEST(WebhookEventSend, AttachmentOnlyMessageHasNoContentKey)
{
    const std::string body =
        edited(kAgentReply, {{"/content", "null"}, {"/attachments", kTwoAttachments}});
    expect_queued(body, "message_created",
                  send_record(std::string(kSendContact)
                              + R"("sender":{"id":3,"name":"Ana","type":"user"},)"
                              + std::string(kTwoAttachmentsRecord) + ","));
}

TEST(WebhookEventSend, AttachmentWithoutAStoredFileKeepsWhatItHas)
{
    // A location has no extension, content type or size (CONTRACT.md 4.3).
    const std::string body = edited(kAgentReply,
        {{"/content", "null"},
         {"/attachments",
          R"([{"id":57,"message_id":3022,"file_type":"location","account_id":1,)"
          R"("coordinates_lat":-23.55,"coordinates_long":-46.63,)"
          R"("fallback_title":"Av. Paulista","data_url":"https://maps.example/?q=-23.55,-46.63"}])"}});
    expect_queued(body, "message_created",
                  send_record(std::string(kSendContact)
                              + R"("sender":{"id":3,"name":"Ana","type":"user"},)"
                                R"("attachments":[{"id":57,"file_type":"location",)"
                                R"("data_url":"https://maps.example/?q=-23.55,-46.63"}],)"));
}

TEST(WebhookEventSend, EmptyAttachmentListIsLeftOut)
{
    // t/bench/message_created.json sends "attachments":[].
    expect_queued(edited(kAgentReply, {{"/attachments", "[]"}}), "message_created",
                  kAgentReplyRecord);
    expect_queued(edited(kAgentReply, {{"/attachments", "null"}}), "message_created",
                  kAgentReplyRecord);
}

TEST(WebhookEventSend, UpToMaxAttachmentsAreQueued)
{
    std::string list = "[";
    for (size_t i = 0; i < kMaxAttachments; i++) {
        list.append(i ? "," : "").append(R"({"id":)").append(std::to_string(100 + i));
        list.append(R"(,"file_type":"image"})");
    }
    list += "]";
    const Decision d = run(edited(kAgentReply, {{"/attachments", list}}));
    ASSERT_EQ(d.verdict, Verdict::queue) << d.reason;
    EXPECT_TRUE(is_json_object(d.record));
    EXPECT_NE(d.record.find(R"({"id":131,"file_type":"image"}])"), std::string::npos);
}

TEST(WebhookEventSend, TemplateMessageIsQueuedWithTheContactAsSender)
{
    // For template messages the sender is the contact (CONTRACT.md 5.8),
    // whose webhook data has no "type".
    const std::string body = edited(kAgentReply,
        {{"/message_type", R"("template")"},
         {"/sender",
          R"({"account":{"id":1,"name":"Acme"},"additional_attributes":{},"avatar":"",)"
          R"("custom_attributes":{},"email":null,"id":42,"identifier":null,)"
          R"("name":"Maria Silva","phone_number":"+5511987654321","thumbnail":"",)"
          R"("blocked":false})"}});
    expect_queued(body, "message_created",
                  send_record(R"("content":"Olá Maria, já verifiquei o pedido.",)"
                              + std::string(kSendContact)
                              + R"("sender":{"id":42,"name":"Maria Silva"},)"));
}

TEST(WebhookEventSend, AgentBotSenderAndNullSender)
{
    const std::string content = R"("content":"Olá Maria, já verifiquei o pedido.",)";
    expect_queued(edited(kAgentReply, {{"/sender", R"({"id":9,"name":"Triagem","type":"agent_bot"})"}}),
                  "message_created",
                  send_record(content + std::string(kSendContact)
                              + R"("sender":{"id":9,"name":"Triagem","type":"agent_bot"},)"));
    expect_queued(edited(kAgentReply, {{"/sender", "null"}}), "message_created",
                  send_record(content + std::string(kSendContact)));
}

TEST(WebhookEventSend, ContactKeepsIdentifierAndDropsNulls)
{
    const std::string content = R"("content":"Olá Maria, já verifiquei o pedido.",)";
    const std::string sender = R"("sender":{"id":3,"name":"Ana","type":"user"},)";
    const std::string source = R"("source_id_of_contact":"5511987654321",)";

    expect_queued(edited(kAgentReply, {{"/conversation/meta/sender/identifier",
                                        R"("5511987654321@s.whatsapp.net")"}}),
                  "message_created",
                  send_record(content + source
                              + R"("contact":{"id":42,"identifier":"5511987654321@s.whatsapp.net",)"
                                R"("phone_number":"+5511987654321"},)" + sender));
    expect_queued(edited(kAgentReply, {{"/conversation/meta/sender/phone_number", "null"}}),
                  "message_created",
                  send_record(content + source + R"("contact":{"id":42},)" + sender));
    // Nothing usable in meta.sender: no contact key at all.
    expect_queued(edited(kAgentReply, {{"/conversation/meta/sender", R"({"name":"X"})"}}),
                  "message_created", send_record(content + source + sender));
    expect_queued(edited(kAgentReply, {{"/conversation/meta", std::nullopt}}),
                  "message_created", send_record(content + source + sender));
    expect_queued(edited(kAgentReply, {{"/conversation/contact_inbox", "null"}}),
                  "message_created",
                  send_record(content + R"("contact":{"id":42,"phone_number":"+5511987654321"},)"
                              + sender));
}

TEST(WebhookEventSend, InboxIdFallsBackToTheConversation)
{
    expect_queued(edited(kAgentReply, {{"/inbox", std::nullopt}}), "message_created",
                  kAgentReplyRecord);
    expect_queued(edited(kAgentReply, {{"/inbox", "null"}}), "message_created",
                  kAgentReplyRecord);
    // The message's own inbox wins when both are there.
    const Decision d = run(edited(kAgentReply, {{"/inbox/id", "8"}}));
    ASSERT_EQ(d.verdict, Verdict::queue) << d.reason;
    EXPECT_NE(d.record.find(R"("inbox_id":8,)"), std::string::npos) << d.record;
}

TEST(WebhookEventSend, CreatedAtIsOptional)
{
    const Decision d = run(edited(kAgentReply, {{"/created_at", std::nullopt}}));
    ASSERT_EQ(d.verdict, Verdict::queue) << d.reason;
    EXPECT_EQ(d.record.find("created_at"), std::string::npos) << d.record;
    EXPECT_TRUE(is_json_object(d.record));
}

TEST(WebhookEventSend, LargeIdsUpTo2To53AreKeptExactly)
{
    const std::string body = edited(kAgentReply, {{"/id", "9007199254740992"},
                                                  {"/conversation/id", "9007199254740991"},
                                                  {"/inbox/id", "4294967296"},
                                                  {"/account/id", "9007199254740992"},
                                                  {"/sender/id", "9007199254740993"}});
    expect_queued(body, "message_created",
                  R"({"type":"send","message_id":9007199254740992,)"
                  R"("conversation_id":9007199254740991,"inbox_id":4294967296,)"
                  R"("account_id":9007199254740992,)"
                  R"("content":"Olá Maria, já verifiquei o pedido.",)"
                  + std::string(kSendContact)
                  + R"("sender":{"id":9007199254740993,"name":"Ana","type":"user"},)"
                  + std::string(kSendTail));
    // The top of the signed 64-bit range still is an integer.
    const Decision top = run(edited(kAgentReply, {{"/id", "9223372036854775807"}}));
    EXPECT_EQ(top.verdict, Verdict::queue) << top.reason;
    EXPECT_NE(top.record.find(R"("message_id":9223372036854775807,)"), std::string::npos);
}

// --- text: escapes and Unicode ----------------------------------------------------

TEST(WebhookEventText, EscapesAndUnicodeRoundTrip)
{
    // As Rails writes it: <> as \u003c\u003e, non-ASCII raw; the emoji once
    // raw and once as a surrogate pair.
    const std::string body = replaced(kAgentReply,
        R"("content":"Olá Maria, já verifiquei o pedido.")",
        R"("content":"Olá \u003c\u003e \"quoted\" \n newline 😀 \ud83d\ude00 \u0026")");
    const Decision d = run(body);
    ASSERT_EQ(d.verdict, Verdict::queue) << d.reason;
    EXPECT_EQ(d.record,
              send_record(R"("content":"Olá <> \"quoted\" \n newline 😀 😀 &",)"
                          + std::string(kSendContact)
                          + R"("sender":{"id":3,"name":"Ana","type":"user"},)"));

    rapidjson::Document back;
    back.Parse<rapidjson::kParseValidateEncodingFlag>(d.record.data(), d.record.size());
    ASSERT_FALSE(back.HasParseError());
    EXPECT_EQ(std::string(back["content"].GetString(), back["content"].GetStringLength()),
              "Olá <> \"quoted\" \n newline \xF0\x9F\x98\x80 \xF0\x9F\x98\x80 &");
}

TEST(WebhookEventText, ControlCharactersAndNulAreEscapedInTheRecord)
{
    const std::string body = replaced(kAgentReply,
        R"("content":"Olá Maria, já verifiquei o pedido.")",
        R"("content":"a\u0000b\u001f\t\r\\ / \u2028 end")");
    const Decision d = run(body);
    ASSERT_EQ(d.verdict, Verdict::queue) << d.reason;
    EXPECT_NE(d.record.find(R"("content":"a\u0000b\u001F\t\r\\ / )" "\u2028" R"( end")"),
              std::string::npos)
        << d.record;
    EXPECT_TRUE(is_json_object(d.record));

    rapidjson::Document back;
    back.Parse(d.record.data(), d.record.size());
    ASSERT_FALSE(back.HasParseError());
    const char expected[] = "a\0b\x1f\t\r\\ / \u2028 end";
    EXPECT_EQ(std::string(back["content"].GetString(), back["content"].GetStringLength()),
              std::string(expected, sizeof expected - 1));
}

TEST(WebhookEventText, HostileStringsInEveryCopiedFieldStayInsideTheirStrings)
{
    // Quotes and braces in names and URLs must not change the record's shape.
    const std::string evil = R"("\"},\"type\":\"delete\",\"x\":{\"")";
    const std::string body = edited(kAgentReply, {{"/sender/name", evil},
                                                  {"/conversation/meta/sender/identifier", evil},
                                                  {"/conversation/contact_inbox/source_id", evil},
                                                  {"/created_at", evil},
                                                  {"/attachments", kTwoAttachments},
                                                  {"/attachments/0/data_url", evil}});
    const Decision d = run(body);
    ASSERT_EQ(d.verdict, Verdict::queue) << d.reason;
    ASSERT_TRUE(is_json_object(d.record));
    rapidjson::Document back;
    back.Parse(d.record.data(), d.record.size());
    EXPECT_STREQ(back["type"].GetString(), "send");
    EXPECT_STREQ(back["sender"]["name"].GetString(), R"("},"type":"delete","x":{")");
    EXPECT_STREQ(back["attachments"][0]["data_url"].GetString(), R"("},"type":"delete","x":{")");
    EXPECT_EQ(back.MemberCount(), 11u);
}

// --- message_created: ignored -------------------------------------------------------

TEST(WebhookEventIgnore, PrivateNote)
{
    expect_ignored(edited(kAgentReply, {{"/private", "true"}}), "message_created",
                   IgnoreReason::private_note);
    // Private wins over everything else that would be ignored.
    expect_ignored(edited(kAgentReply, {{"/private", "true"}, {"/source_id", R"("WAID:abc")"}}),
                   "message_created", IgnoreReason::private_note);
}

TEST(WebhookEventIgnore, IncomingMessageIsNotAnAgentReply)
{
    // A contact's message, as the bridge posted it: incoming, our WAID
    // source_id, the contact as sender.
    const std::string incoming = edited(kAgentReply,
        {{"/message_type", R"("incoming")"},
         {"/source_id", R"("WAID:3EB0C767D26A1B2C4F")"},
         {"/sender", R"({"id":42,"name":"Maria Silva","identifier":null,)"
                     R"("phone_number":"+5511987654321","email":null,"thumbnail":"",)"
                     R"("blocked":false})"}});
    expect_ignored(incoming, "message_created", IgnoreReason::not_outgoing);
    expect_ignored(edited(kAgentReply, {{"/message_type", R"("incoming")"}}), "message_created",
                   IgnoreReason::not_outgoing);
}

TEST(WebhookEventIgnore, ActivityAndUnknownTypesAreNotAgentReplies)
{
    expect_ignored(edited(kAgentReply, {{"/message_type", R"("activity")"},
                                        {"/sender", "null"},
                                        {"/content", R"("Conversation was resolved by Ana")"}}),
                   "message_created", IgnoreReason::not_outgoing);
    expect_ignored(edited(kAgentReply, {{"/message_type", R"("Outgoing")"}}), "message_created",
                   IgnoreReason::not_outgoing);
    expect_ignored(edited(kAgentReply, {{"/message_type", R"("")"}}), "message_created",
                   IgnoreReason::not_outgoing);
}

TEST(WebhookEventIgnore, OwnEcho)
{
    expect_ignored(edited(kAgentReply, {{"/source_id", R"("WAID:abc")"}}), "message_created",
                   IgnoreReason::own_echo);
    expect_ignored(edited(kAgentReply, {{"/source_id", R"("WAID:")"}}), "message_created",
                   IgnoreReason::own_echo);
    // Only our exact prefix marks an echo.
    const Decision other = run(edited(kAgentReply, {{"/source_id", R"("waid:abc")"}}));
    EXPECT_EQ(other.verdict, Verdict::queue) << other.reason;
}

// --- message_updated ----------------------------------------------------------------

namespace {

// DELETE …/messages/{id} (CONTRACT.md 5.8): content replaced, content_attributes
// replaced by {"deleted":true}, attachments destroyed.
std::string deleted_message(std::string_view source_id = "null")
{
    return edited(kAgentReply, {{"/event", R"("message_updated")"},
                                {"/content", R"("This message was deleted")"},
                                {"/content_attributes", R"({"deleted":true})"},
                                {"/source_id", source_id}});
}

constexpr std::string_view kDeleteRecord = R"({"type":"delete","message_id":3022,)"
    R"("conversation_id":15,"inbox_id":7,"account_id":1})";

}  // namespace

TEST(WebhookEventDelete, DeletedAgentMessageBecomesADeleteRecord)
{
    expect_queued(deleted_message(), "message_updated", kDeleteRecord);
}

TEST(WebhookEventDelete, DeletedMessageWeEchoedKeepsItsWhatsAppId)
{
    expect_queued(deleted_message(R"("WAID:3EB0C767D26A1B2C4F")"), "message_updated",
                  R"({"type":"delete","message_id":3022,"conversation_id":15,"inbox_id":7,)"
                  R"("account_id":1,"source_id":"WAID:3EB0C767D26A1B2C4F"})");
    // A contact's message deleted by an agent is a deletion too.
    expect_queued(edited(deleted_message(R"("WAID:X")"), {{"/message_type", R"("incoming")"}}),
                  "message_updated",
                  R"({"type":"delete","message_id":3022,"conversation_id":15,"inbox_id":7,)"
                  R"("account_id":1,"source_id":"WAID:X"})");
}

TEST(WebhookEventDelete, DeletedPrivateNoteIsIgnored)
{
    expect_ignored(edited(deleted_message(), {{"/private", "true"}}), "message_updated",
                   IgnoreReason::private_note);
}

TEST(WebhookEventDelete, OtherUpdatesAreNotDeletions)
{
    const std::string updated = edited(kAgentReply, {{"/event", R"("message_updated")"}});
    expect_ignored(updated, "message_updated", IgnoreReason::not_a_deletion);
    // A failed delivery (CONTRACT.md section 2) comes back as an update.
    expect_ignored(edited(updated, {{"/content_attributes",
                                     R"({"external_error":"500 Internal Server Error"})"}}),
                   "message_updated", IgnoreReason::not_a_deletion);
    expect_ignored(edited(updated, {{"/content_attributes", R"({"deleted":false})"}}),
                   "message_updated", IgnoreReason::not_a_deletion);
    expect_ignored(edited(updated, {{"/content_attributes", R"({"deleted":null})"}}),
                   "message_updated", IgnoreReason::not_a_deletion);
    expect_ignored(edited(updated, {{"/content_attributes", "null"}}), "message_updated",
                   IgnoreReason::not_a_deletion);
    expect_ignored(edited(updated, {{"/content_attributes", std::nullopt}}), "message_updated",
                   IgnoreReason::not_a_deletion);
}

// --- conversation_status_changed ------------------------------------------------------

TEST(WebhookEventStatus, EachStatusBecomesARecord)
{
    for (const char* status : {"open", "resolved", "pending", "snoozed"}) {
        SCOPED_TRACE(status);
        expect_queued(status_changed(status), "conversation_status_changed",
                      std::string(R"({"type":"status","conversation_id":15,"inbox_id":7,)"
                                  R"("account_id":1,"status":")")
                          .append(status)
                          .append(R"("})"));
    }
}

TEST(WebhookEventStatus, UnknownStatusIsRefusedWithoutEchoingIt)
{
    for (const char* status : {"closed", "Resolved", "", "<script>"}) {
        SCOPED_TRACE(status);
        expect_rejected(status_changed(status), "field status has an unknown value",
                        "conversation_status_changed");
    }
}

TEST(WebhookEventStatus, ChangedAttributesAreNotRead)
{
    expect_queued(edited(status_changed("resolved"),
                         {{"/changed_attributes",
                           R"([{"status":{"previous_value":"open","current_value":"resolved"}}])"}}),
                  "conversation_status_changed",
                  R"({"type":"status","conversation_id":15,"inbox_id":7,"account_id":1,)"
                  R"("status":"resolved"})");
}

// --- typing ------------------------------------------------------------------------------

TEST(WebhookEventTyping, OnAndOff)
{
    expect_queued(typing("conversation_typing_on"), "conversation_typing_on",
                  R"({"type":"typing","conversation_id":15,"inbox_id":7,"account_id":1,"on":true})");
    expect_queued(typing("conversation_typing_off"), "conversation_typing_off",
                  R"({"type":"typing","conversation_id":15,"inbox_id":7,"account_id":1,"on":false})");
}

TEST(WebhookEventTyping, PrivateTypingIsIgnored)
{
    expect_ignored(typing("conversation_typing_on", "true"), "conversation_typing_on",
                   IgnoreReason::private_note);
    // Chatwoot passes the request parameter on as given (CONTRACT.md 4.6).
    expect_ignored(typing("conversation_typing_on", R"("true")"), "conversation_typing_on",
                   IgnoreReason::private_note);
    expect_queued(typing("conversation_typing_off", R"("false")"), "conversation_typing_off",
                  R"({"type":"typing","conversation_id":15,"inbox_id":7,"account_id":1,"on":false})");
}

TEST(WebhookEventTyping, IsPrivateDefaultsToFalse)
{
    const std::string record =
        R"({"type":"typing","conversation_id":15,"inbox_id":7,"account_id":1,"on":true})";
    expect_queued(edited(typing("conversation_typing_on"), {{"/is_private", std::nullopt}}),
                  "conversation_typing_on", record);
    expect_queued(typing("conversation_typing_on", "null"), "conversation_typing_on", record);
}

TEST(WebhookEventTyping, AccountComesFromTheConversationOrIsLeftOut)
{
    const std::string body = typing("conversation_typing_on");
    expect_queued(edited(body, {{"/account", R"({"id":2,"name":"Other"})"}}),
                  "conversation_typing_on",
                  R"({"type":"typing","conversation_id":15,"inbox_id":7,"account_id":2,"on":true})");
    // Before 4.14.2 the conversation had no account.
    expect_queued(edited(body, {{"/conversation/account", std::nullopt}}),
                  "conversation_typing_on",
                  R"({"type":"typing","conversation_id":15,"inbox_id":7,"on":true})");
}

TEST(WebhookEventTyping, ContactTypingHasAUserWithoutType)
{
    expect_queued(edited(typing("conversation_typing_on"),
                         {{"/user", R"({"id":42,"name":"Maria Silva","email":null})"}}),
                  "conversation_typing_on",
                  R"({"type":"typing","conversation_id":15,"inbox_id":7,"account_id":1,"on":true})");
}

// --- events the bridge does not use --------------------------------------------------------

TEST(WebhookEventUnknown, OtherEventsAreIgnoredWithTheirName)
{
    const std::string conversation = "{" + kConversationFields;
    expect_ignored(conversation + R"(,"event":"conversation_created"})", "conversation_created",
                   IgnoreReason::unknown_event);
    expect_ignored(conversation + R"(,"event":"conversation_updated","changed_attributes":)"
                                  R"([{"status":{"previous_value":"open","current_value":"resolved"}}]})",
                   "conversation_updated", IgnoreReason::unknown_event);
    expect_ignored(conversation + R"(,"event":"conversation_opened"})", "conversation_opened",
                   IgnoreReason::unknown_event);
    expect_ignored(R"({"account":{"id":1,"name":"Acme"},"additional_attributes":{},"avatar":"",)"
                   R"("custom_attributes":{},"email":null,"id":42,"identifier":null,)"
                   R"("name":"Maria Silva","phone_number":"+5511987654321","thumbnail":"",)"
                   R"("blocked":false,"event":"contact_updated","changed_attributes":)"
                   R"([{"name":{"previous_value":"Maria","current_value":"Maria Silva"}}]})",
                   "contact_updated", IgnoreReason::unknown_event);
    expect_ignored(R"({"id":99,"contact":{"id":42,"name":"Maria Silva"},)"
                   R"("inbox":{"id":7,"name":"WhatsApp"},"account":{"id":1,"name":"Acme"},)"
                   R"("current_conversation":null,"source_id":"5511987654321",)"
                   R"("event_info":{"referer":"https://acme.test/"},"event":"webwidget_triggered"})",
                   "webwidget_triggered", IgnoreReason::unknown_event);
    expect_ignored(R"({"event":"made_up_event"})", "made_up_event", IgnoreReason::unknown_event);
    expect_ignored(R"({"event":""})", "", IgnoreReason::unknown_event);
    expect_ignored(R"({"event":"MESSAGE_CREATED"})", "MESSAGE_CREATED",
                   IgnoreReason::unknown_event);
    // Unknown events are not looked into: nothing else is required.
    expect_ignored(R"({"event":"inbox_created","id":"not a number"})", "inbox_created",
                   IgnoreReason::unknown_event);
}

TEST(WebhookEventUnknown, ReasonNames)
{
    EXPECT_EQ(ignore_reason_name(IgnoreReason::none), "none");
    EXPECT_EQ(ignore_reason_name(IgnoreReason::private_note), "private_note");
    EXPECT_EQ(ignore_reason_name(IgnoreReason::not_outgoing), "not_outgoing");
    EXPECT_EQ(ignore_reason_name(IgnoreReason::own_echo), "own_echo");
    EXPECT_EQ(ignore_reason_name(IgnoreReason::unknown_event), "unknown_event");
    EXPECT_EQ(ignore_reason_name(IgnoreReason::not_a_deletion), "not_a_deletion");
}

// --- malformed bodies ---------------------------------------------------------------------

TEST(WebhookEventReject, NotJson)
{
    expect_rejected("hello", "malformed JSON at offset 0");
    expect_rejected("<html></html>", "malformed JSON at offset 0");
    expect_rejected(R"({"event":})", "malformed JSON at offset 9");
    expect_rejected(R"({'event':'message_created'})", "malformed JSON at offset 1");
    expect_rejected(R"({"event":"x",})", "malformed JSON at offset 13");
    expect_rejected(R"({"event":"x"/*c*/})", "malformed JSON at offset 12");
    expect_rejected(R"({"event":"x","n":NaN})", "malformed JSON at offset 17");
}

TEST(WebhookEventReject, EmptyBody)
{
    expect_rejected("", "malformed JSON at offset 0");
    expect_rejected(" \r\n\t", "malformed JSON at offset 4");
}

TEST(WebhookEventReject, EveryTruncationOfARealBody)
{
    const std::string body = edited(kAgentReply, {{"/attachments", kTwoAttachments}});
    for (size_t n = 0; n < body.size(); n++) {
        const Decision d = run(std::string_view(body).substr(0, n));
        ASSERT_EQ(d.verdict, Verdict::reject) << "prefix of " << n << " bytes";
        ASSERT_TRUE(starts_with(d.reason, "malformed JSON at offset ")) << d.reason;
        ASSERT_LE(std::stoul(d.reason.substr(25)), n) << d.reason;
        ASSERT_EQ(d.record, "");
    }
}

TEST(WebhookEventReject, TrailingGarbage)
{
    expect_rejected(R"({"event":"x"} x)", "malformed JSON at offset 14");
    expect_rejected(R"({"event":"x"}{"event":"y"})", "malformed JSON at offset 13");
    expect_rejected(R"({"event":"x"},)", "malformed JSON at offset 13");
    // A NUL byte looks like the end of input to RapidJSON's stream.
    expect_rejected(std::string(R"({"event":"x"})") + '\0' + "junk",
                    "malformed JSON at offset 13");
    expect_rejected(std::string(R"({"event":"x"} )") + '\0', "malformed JSON at offset 14");
    expect_rejected(kAgentReply + "}", "malformed JSON at offset "
                    + std::to_string(kAgentReply.size()));
}

TEST(WebhookEventReject, NulBytesInsideTheBody)
{
    expect_rejected(std::string("{\"event\":\"x\0y\"}", 15), "malformed JSON at offset 11");
    expect_rejected(std::string("\0{\"event\":\"x\"}", 14), "malformed JSON at offset 0");
}

TEST(WebhookEventReject, TopLevelMustBeAnObject)
{
    for (const char* body : {R"([{"event":"message_created"}])", R"("message_created")",
                             "42", "-1.5", "true", "null", "[]"}) {
        SCOPED_TRACE(body);
        expect_rejected(body, "body is not a JSON object");
    }
}

TEST(WebhookEventReject, EventMissingOrNotAString)
{
    expect_rejected("{}", "missing field event");
    expect_rejected(edited(kAgentReply, {{"/event", std::nullopt}}), "missing field event");
    expect_rejected(R"({"event":null})", "missing field event");
    expect_rejected(R"({"event":1})", "field event is not a string");
    expect_rejected(R"({"event":["message_created"]})", "field event is not a string");
    expect_rejected(R"({"event":{"name":"message_created"}})", "field event is not a string");
    expect_rejected(R"({"Event":"message_created"})", "missing field event");
}

TEST(WebhookEventReject, DuplicateKeysThatAreReadAreRefused)
{
    // A reader that keeps the last key would see another event than ours.
    expect_rejected(R"({"event":"contact_updated","event":"message_created"})",
                    "duplicate field event");
    expect_rejected(replaced(kAgentReply, R"("id":3022,"inbox")", R"("id":3022,"id":1,"inbox")"),
                    "duplicate field id", "message_created");
    expect_rejected(replaced(kAgentReply, R"("inbox":{"id":7,)", R"("inbox":{"id":7,"id":8,)"),
                    "duplicate field inbox.id", "message_created");
    expect_rejected(replaced(kAgentReply, R"("account":{"id":1,"name":"Acme"},"additional)",
                             R"("account":{"id":1,"name":"Acme"},"account":{"id":2},"additional)"),
                    "duplicate field account", "message_created");
    // Duplicates where nothing is read do not matter.
    const Decision d = run(replaced(kAgentReply, R"("additional_attributes":{},"content_att)",
                                    R"("additional_attributes":{"a":1,"a":2},"content_att)"));
    EXPECT_EQ(d.verdict, Verdict::queue) << d.reason;
}

TEST(WebhookEventReject, TooManyAttachments)
{
    std::string list = "[";
    for (size_t i = 0; i <= kMaxAttachments; i++) {
        list.append(i ? "," : "").append(R"({"id":)").append(std::to_string(100 + i));
        list.append(R"(,"file_type":"image"})");
    }
    list += "]";
    expect_rejected(edited(kAgentReply, {{"/attachments", list}}), "too many attachments",
                    "message_created");
    // Counted before the entries are looked at.
    std::string junk = std::string("[").append(10000, '1');
    for (size_t i = 1; i < junk.size(); i++) {
        junk[i] = (i % 2) ? '1' : ',';
    }
    junk.back() = ']';
    expect_rejected(edited(kAgentReply, {{"/attachments", junk}}), "too many attachments",
                    "message_created");
}

TEST(WebhookEventReject, LargeNumbersThatAreNotInt64)
{
    expect_rejected(edited(kAgentReply, {{"/id", "9223372036854775808"}}),
                    "field id is not an integer", "message_created");
    expect_rejected(edited(kAgentReply, {{"/id", "18446744073709551616"}}),
                    "field id is not an integer", "message_created");
    expect_rejected(replaced(kAgentReply, R"("id":3022,"inbox")", R"("id":3022.0,"inbox")"),
                    "field id is not an integer", "message_created");
    expect_rejected(replaced(kAgentReply, R"("id":3022,"inbox")", R"("id":3.022e3,"inbox")"),
                    "field id is not an integer", "message_created");
}

// --- nesting -----------------------------------------------------------------------------

namespace {

std::string nested_arrays(size_t depth, bool closed = true)
{
    return std::string(depth, '[') + (closed ? std::string(depth, ']') : "");
}

const std::string kTooDeep = "JSON nested deeper than 64 levels";

}  // namespace

TEST(WebhookEventDepth, ExactlyMaxDepthIsAccepted)
{
    // The body object is level 1.
    expect_ignored(std::string(R"({"event":"made_up","x":)") + nested_arrays(kMaxDepth - 1) + "}",
                   "made_up", IgnoreReason::unknown_event);
    const Decision d = run(edited(kAgentReply, {{"/content_attributes/x",
                                                 nested_arrays(kMaxDepth - 2)}}));
    EXPECT_EQ(d.verdict, Verdict::queue) << d.reason;
}

TEST(WebhookEventDepth, OneLevelMoreIsRefused)
{
    expect_rejected(std::string(R"({"event":"made_up","x":)") + nested_arrays(kMaxDepth) + "}",
                    kTooDeep);
    expect_rejected(nested_arrays(kMaxDepth + 1), kTooDeep);
}

TEST(WebhookEventDepth, TenThousandLevelsDoNotOverflowTheStack)
{
    expect_rejected(nested_arrays(10000), kTooDeep);
    expect_rejected(nested_arrays(1000000, false), kTooDeep);

    std::string objects;
    for (int i = 0; i < 10000; i++) {
        objects += R"({"a":)";
    }
    objects.append("1").append(10000, '}');
    expect_rejected(objects, kTooDeep);

    // Deep inside a real body, where nothing is read.
    const std::string body = replaced(kAgentReply, R"("additional_attributes":{},"content_att)",
                                      std::string(R"("additional_attributes":)") + nested_arrays(10000)
                                      + R"(,"content_att)");
    expect_rejected(body, kTooDeep);
}

// --- encoding ----------------------------------------------------------------------------

TEST(WebhookEventEncoding, InvalidUtf8IsMalformed)
{
    const std::string from = R"("content":"Olá Maria, já verifiquei o pedido.")";
    const struct {
        const char* name;
        std::string bytes;
    } cases[] = {
        {"stray continuation", "\x80"},
        {"0xFF", "\xFF"},
        {"truncated 2-byte", "\xC3"},
        {"overlong slash", "\xC0\xAF"},
        {"overlong 3-byte", "\xE0\x80\xAF"},
        {"UTF-8 encoded surrogate", "\xED\xA0\x80"},
        {"above U+10FFFF", "\xF4\x90\x80\x80"},
        {"5-byte form", "\xF8\x88\x80\x80\x80"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const Decision d = run(replaced(kAgentReply, from, R"("content":"ab)" + c.bytes + R"(cd")"));
        EXPECT_EQ(d.verdict, Verdict::reject);
        EXPECT_TRUE(starts_with(d.reason, "malformed JSON at offset ")) << d.reason;
        EXPECT_EQ(d.record, "");
    }
    // A bad byte in a key, and in a part of the body that is never read.
    expect_rejected("{\"ev\xFFnt\":\"x\"}", "malformed JSON at offset 4");
    const Decision unread = run(replaced(kAgentReply, R"("thumbnail":"")", "\"thumbnail\":\"\xFF\""));
    EXPECT_EQ(unread.verdict, Verdict::reject);
}

TEST(WebhookEventEncoding, LoneSurrogateEscapesAreMalformed)
{
    const std::string from = R"("content":"Olá Maria, já verifiquei o pedido.")";
    for (const char* escaped : {R"(\ud800)", R"(\udc00)", R"(\ud83d\u0041)", R"(\ude00\ud83d)",
                                R"(\udbff)"}) {
        SCOPED_TRACE(escaped);
        const Decision d =
            run(replaced(kAgentReply, from, std::string(R"("content":"x)").append(escaped) + R"(y")"));
        EXPECT_EQ(d.verdict, Verdict::reject);
        EXPECT_TRUE(starts_with(d.reason, "malformed JSON at offset ")) << d.reason;
    }
}

TEST(WebhookEventEncoding, ByteOrderMarkIsRefused)
{
    // Chatwoot never sends one; RFC 8259 forbids adding it.
    expect_rejected("\xEF\xBB\xBF" + kAgentReply, "malformed JSON at offset 0");
}

TEST(WebhookEventEncoding, ReadsOnlyTheGivenBytes)
{
    // The view ends at the closing brace; what follows in memory is not read.
    const std::string buffer = R"({"event":"made_up"}, "trailing": [ garbage)";
    const Decision d = parse(std::string_view(buffer).substr(0, 19));
    EXPECT_EQ(d.verdict, Verdict::ignore) << d.reason;
    EXPECT_EQ(d.event, "made_up");
    // A view cut inside a string is truncated JSON, not a longer string.
    const Decision cut = parse(std::string_view(buffer).substr(0, 15));
    EXPECT_EQ(cut.verdict, Verdict::reject);
    EXPECT_EQ(cut.reason, "malformed JSON at offset 15");
    EXPECT_EQ(parse(std::string_view()).reason, "malformed JSON at offset 0");
}

// --- required fields, one at a time --------------------------------------------------------

namespace {

enum class Base { created, updated, status, typing };

struct FieldCase {
    const char* name;
    Base base;
    Edit edit;
    const char* reason;
};

std::string base_body(Base base)
{
    switch (base) {
    case Base::created: return kAgentReply;
    case Base::updated: return deleted_message();
    case Base::status: return status_changed("resolved");
    case Base::typing: return typing("conversation_typing_on");
    }
    return {};
}

std::string base_event(Base base)
{
    switch (base) {
    case Base::created: return "message_created";
    case Base::updated: return "message_updated";
    case Base::status: return "conversation_status_changed";
    case Base::typing: return "conversation_typing_on";
    }
    return {};
}

constexpr std::nullopt_t kErase = std::nullopt;

const FieldCase kFieldCases[] = {
    // message_* (both events read the same fields)
    {"id_missing", Base::created, {"/id", kErase}, "missing field id"},
    {"id_null", Base::created, {"/id", "null"}, "missing field id"},
    {"id_string", Base::created, {"/id", R"("3022")"}, "field id is not an integer"},
    {"id_float", Base::created, {"/id", "3022.5"}, "field id is not an integer"},
    {"id_bool", Base::updated, {"/id", "true"}, "field id is not an integer"},
    {"message_type_missing", Base::created, {"/message_type", kErase},
     "missing field message_type"},
    {"message_type_integer", Base::created, {"/message_type", "1"},
     "field message_type is not a string"},
    {"message_type_integer_updated", Base::updated, {"/message_type", "1"},
     "field message_type is not a string"},
    {"private_missing", Base::created, {"/private", kErase}, "missing field private"},
    {"private_string", Base::created, {"/private", R"("false")"},
     "field private is not a boolean"},
    {"private_integer", Base::updated, {"/private", "0"}, "field private is not a boolean"},
    {"conversation_missing", Base::created, {"/conversation", kErase},
     "missing field conversation.id"},
    {"conversation_null", Base::created, {"/conversation", "null"},
     "missing field conversation.id"},
    {"conversation_string", Base::created, {"/conversation", R"("15")"},
     "field conversation is not an object"},
    {"conversation_array", Base::updated, {"/conversation", "[15]"},
     "field conversation is not an object"},
    {"conversation_id_missing", Base::created, {"/conversation/id", kErase},
     "missing field conversation.id"},
    {"conversation_id_string", Base::created, {"/conversation/id", R"("15")"},
     "field conversation.id is not an integer"},
    {"conversation_id_string_updated", Base::updated, {"/conversation/id", R"("15")"},
     "field conversation.id is not an integer"},
    {"inbox_id_string", Base::created, {"/inbox/id", R"("7")"},
     "field inbox.id is not an integer"},
    {"inbox_not_object", Base::created, {"/inbox", "7"}, "field inbox is not an object"},
    {"account_missing", Base::created, {"/account", kErase}, "missing field account.id"},
    {"account_id_missing", Base::updated, {"/account/id", kErase}, "missing field account.id"},
    {"account_id_string", Base::created, {"/account/id", R"("1")"},
     "field account.id is not an integer"},
    {"content_missing", Base::created, {"/content", kErase}, "missing field content"},
    {"content_number", Base::created, {"/content", "5"}, "field content is not a string"},
    {"content_object", Base::updated, {"/content", "{}"}, "field content is not a string"},
    {"source_id_missing", Base::created, {"/source_id", kErase}, "missing field source_id"},
    {"source_id_number", Base::updated, {"/source_id", "12"},
     "field source_id is not a string"},
    {"content_attributes_string", Base::created, {"/content_attributes", R"("{}")"},
     "field content_attributes is not an object"},
    {"content_attributes_array", Base::updated, {"/content_attributes", "[]"},
     "field content_attributes is not an object"},
    {"deleted_string", Base::updated, {"/content_attributes/deleted", R"("true")"},
     "field content_attributes.deleted is not a boolean"},
    {"attachments_object", Base::created, {"/attachments", "{}"},
     "field attachments is not an array"},
    {"attachment_not_object", Base::created, {"/attachments", R"([{"id":1,"file_type":"image"},7])"},
     "field attachments[1] is not an object"},
    {"attachment_id_missing", Base::created, {"/attachments", R"([{"file_type":"image"}])"},
     "missing field attachments[0].id"},
    {"attachment_id_string", Base::updated,
     {"/attachments", R"([{"id":"55","file_type":"image"}])"},
     "field attachments[0].id is not an integer"},
    {"attachment_file_type_missing", Base::created, {"/attachments", R"([{"id":55}])"},
     "missing field attachments[0].file_type"},
    {"attachment_file_type_number", Base::created,
     {"/attachments", R"([{"id":55,"file_type":0}])"},
     "field attachments[0].file_type is not a string"},
    // What only the send record reads
    {"attachment_file_size_string", Base::created,
     {"/attachments", R"([{"id":55,"file_type":"image","file_size":"48213"}])"},
     "field attachments[0].file_size is not an integer"},
    {"attachment_data_url_number", Base::created,
     {"/attachments", R"([{"id":55,"file_type":"image","data_url":1}])"},
     "field attachments[0].data_url is not a string"},
    {"sender_string", Base::created, {"/sender", R"("Ana")"}, "field sender is not an object"},
    {"sender_id_string", Base::created, {"/sender/id", R"("3")"},
     "field sender.id is not an integer"},
    {"contact_phone_number", Base::created, {"/conversation/meta/sender/phone_number", "5511"},
     "field conversation.meta.sender.phone_number is not a string"},
    {"meta_string", Base::created, {"/conversation/meta", R"("x")"},
     "field conversation.meta is not an object"},
    {"contact_inbox_source_id_number", Base::created,
     {"/conversation/contact_inbox/source_id", "5511987654321"},
     "field conversation.contact_inbox.source_id is not a string"},
    {"in_reply_to_string", Base::created, {"/content_attributes/in_reply_to", R"("3021")"},
     "field content_attributes.in_reply_to is not an integer"},
    {"in_reply_to_external_id_number", Base::created,
     {"/content_attributes/in_reply_to_external_id", "1"},
     "field content_attributes.in_reply_to_external_id is not a string"},
    {"created_at_integer", Base::created, {"/created_at", "1781950562"},
     "field created_at is not a string"},
    // conversation_status_changed
    {"status_id_missing", Base::status, {"/id", kErase}, "missing field id"},
    {"status_id_string", Base::status, {"/id", R"("15")"}, "field id is not an integer"},
    {"status_inbox_id_missing", Base::status, {"/inbox_id", kErase}, "missing field inbox_id"},
    {"status_inbox_id_string", Base::status, {"/inbox_id", R"("7")"},
     "field inbox_id is not an integer"},
    {"status_missing", Base::status, {"/status", kErase}, "missing field status"},
    {"status_number", Base::status, {"/status", "1"}, "field status is not a string"},
    {"status_account_missing", Base::status, {"/account", kErase}, "missing field account.id"},
    {"status_account_id_string", Base::status, {"/account/id", R"("1")"},
     "field account.id is not an integer"},
    // typing
    {"typing_conversation_missing", Base::typing, {"/conversation", kErase},
     "missing field conversation.id"},
    {"typing_conversation_id_missing", Base::typing, {"/conversation/id", kErase},
     "missing field conversation.id"},
    {"typing_conversation_id_string", Base::typing, {"/conversation/id", R"("15")"},
     "field conversation.id is not an integer"},
    {"typing_inbox_id_missing", Base::typing, {"/conversation/inbox_id", kErase},
     "missing field conversation.inbox_id"},
    {"typing_inbox_id_string", Base::typing, {"/conversation/inbox_id", R"("7")"},
     "field conversation.inbox_id is not an integer"},
    {"typing_account_id_string", Base::typing, {"/account", R"({"id":"1"})"},
     "field account.id is not an integer"},
    {"typing_conversation_account_id_string", Base::typing, {"/conversation/account/id", R"("1")"},
     "field conversation.account.id is not an integer"},
    {"typing_is_private_number", Base::typing, {"/is_private", "1"},
     "field is_private is not a boolean"},
    {"typing_is_private_word", Base::typing, {"/is_private", R"("yes")"},
     "field is_private is not a boolean"},
};

// Names the case in a failure instead of dumping its bytes.
void PrintTo(const FieldCase& c, std::ostream* os)
{
    *os << c.name;
}

class WebhookEventField : public ::testing::TestWithParam<FieldCase> {};

}  // namespace

TEST_P(WebhookEventField, RefusedWithTheExactReason)
{
    const FieldCase& c = GetParam();
    const std::string body = edited(base_body(c.base), {c.edit});
    expect_rejected(body, c.reason, base_event(c.base));
}

INSTANTIATE_TEST_SUITE_P(OnePath, WebhookEventField, ::testing::ValuesIn(kFieldCases),
                         [](const ::testing::TestParamInfo<FieldCase>& info) {
                             return std::string(info.param.name);
                         });

TEST(WebhookEventReject, TheTablesBodiesAreGoodBeforeTheirEdit)
{
    // Each case above differs from a queued body by its one edit only.
    for (Base base : {Base::created, Base::updated, Base::status, Base::typing}) {
        const Decision d = run(base_body(base));
        EXPECT_EQ(d.verdict, Verdict::queue) << base_event(base) << ": " << d.reason;
    }
}

TEST(WebhookEventReject, MissingInboxEverywhere)
{
    expect_rejected(edited(kAgentReply, {{"/inbox", kErase}, {"/conversation/inbox_id", kErase}}),
                    "missing field inbox.id", "message_created");
    expect_rejected(edited(kAgentReply, {{"/inbox", kErase},
                                         {"/conversation/inbox_id", R"("7")"}}),
                    "field conversation.inbox_id is not an integer", "message_created");
}

TEST(WebhookEventReject, IgnoredKindsAreStillChecked)
{
    // A private note or an incoming message with a broken required field
    // is refused, not ignored: it is a malformed body either way.
    expect_rejected(edited(kAgentReply, {{"/private", "true"}, {"/conversation/id", kErase}}),
                    "missing field conversation.id", "message_created");
    expect_rejected(edited(kAgentReply, {{"/message_type", R"("incoming")"}, {"/id", R"("1")"}}),
                    "field id is not an integer", "message_created");
    expect_rejected(edited(typing("conversation_typing_on", "true"), {{"/conversation/id", kErase}}),
                    "missing field conversation.id", "conversation_typing_on");
}

TEST(WebhookEventReject, ReasonsNeverContainBodyContent)
{
    const std::string secret = "SECRET-3f9a";
    const std::string s = R"(")" + secret + R"(")";
    for (const std::string& body :
         {edited(kAgentReply, {{"/id", s}}), edited(kAgentReply, {{"/private", s}}),
          status_changed(secret), edited(typing("conversation_typing_on"), {{"/is_private", s}}),
          R"({"event":")" + secret + "\"," + secret + "}", R"({"event":)" + secret + "}",
          std::string(R"({"event":"message_created",")") + secret + R"(":[)" + nested_arrays(100)
              + "]}"}) {
        const Decision d = run(body);
        EXPECT_EQ(d.verdict, Verdict::reject);
        EXPECT_EQ(d.reason.find("SECRET"), std::string::npos) << d.reason;
    }
}

// --- the worker's fast path ---------------------------------------------------------------
//
// A body that is valid UTF-8 is parsed in situ from a per-thread copy,
// strings eight bytes at a time, without RapidJSON's own encoding check
// (webhook_utf8.hpp decides it for the whole body first), and anything the
// fast parse does not accept goes through the original parse again.  These
// pin what that must not change.

namespace {

// An output stream that keeps nothing.
struct Discard {
    using Ch = char;
    void Put(char) {}
};

// RapidJSON's verdict on a string, as the parser's guard used to ask it.
bool rapidjson_utf8(std::string_view s)
{
    Discard out;
    rapidjson::MemoryStream in(s.data(), s.size());
    while (in.Tell() < s.size()) {
        if (!rapidjson::UTF8<>::Validate(in, out)) {
            return false;
        }
    }
    return true;
}

void expect_same_utf8_verdict(const std::string& seq)
{
    // Alone, and after seven ASCII bytes (the word-at-a-time loop then
    // meets it at its first non-ASCII byte), and followed by ASCII.
    for (const std::string& s : {seq, "abcdefg" + seq, seq + "z", "abcdefgh" + seq + "abcdefgh"}) {
        ASSERT_EQ(valid_utf8(s.data(), s.size()), rapidjson_utf8(s))
            << ::testing::PrintToString(s);
    }
}

std::string bytes(std::initializer_list<int> b)
{
    std::string s;
    for (int c : b) {
        s += static_cast<char>(c);
    }
    return s;
}

}  // namespace

TEST(WebhookUtf8, SameVerdictAsRapidJsonForShortSequences)
{
    for (int a = 0; a < 256; a++) {
        expect_same_utf8_verdict(bytes({a}));
        for (int b = 0; b < 256; b++) {
            expect_same_utf8_verdict(bytes({a, b}));
        }
    }
    // Three bytes: every lead of a three-byte form with every following pair.
    for (int a = 0xE0; a <= 0xEF; a++) {
        for (int b = 0; b < 256; b++) {
            for (int c = 0; c < 256; c++) {
                const std::string s = bytes({a, b, c});
                ASSERT_EQ(valid_utf8(s.data(), s.size()), rapidjson_utf8(s)) << a << ' ' << b;
            }
        }
    }
    // Four bytes: every lead from F0 up, every second byte, the third and
    // fourth at the edges of the continuation range and outside it.
    for (int a = 0xF0; a <= 0xFF; a++) {
        for (int b = 0; b < 256; b++) {
            for (int c : {0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xFF}) {
                for (int d : {0x00, 0x7F, 0x80, 0x9F, 0xBF, 0xC0, 0xFF}) {
                    expect_same_utf8_verdict(bytes({a, b, c, d}));
                }
            }
        }
    }
}

TEST(WebhookUtf8, SameVerdictAsRapidJsonForRandomText)
{
    std::mt19937 rng(7);
    const char* pieces[] = {"a", "é", "😀", "中", "\x80", "\xC3", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                            "\xF0\x9F", " ", "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF"};
    for (int i = 0; i < 20000; i++) {
        std::string s;
        const int n = static_cast<int>(rng() % 24);
        for (int k = 0; k < n; k++) {
            s += pieces[rng() % std::size(pieces)];
        }
        ASSERT_EQ(valid_utf8(s.data(), s.size()), rapidjson_utf8(s)) << ::testing::PrintToString(s);
        bool ascii = true;
        for (unsigned char c : s) {
            ascii = ascii && c < 0x80;
        }
        ASSERT_EQ(is_ascii(s.data(), s.size()), ascii);
    }
}

TEST(WebhookEventFastPath, RawControlCharactersAreRefusedAtEveryPosition)
{
    // RapidJSON's SSE2 scanner lets 0x1A-0x1F through; the word-at-a-time
    // one must not, wherever in an eight-byte word the byte falls.
    const std::string head = R"({"event":"made_up","note":")";
    for (int c : {0x00, 0x01, 0x09, 0x0A, 0x19, 0x1A, 0x1F}) {
        for (size_t at = 0; at < 24; at++) {
            const std::string body = head + std::string(at, 'x') + static_cast<char>(c)
                + std::string(9, 'y') + R"("})";
            expect_rejected(body, "malformed JSON at offset " + std::to_string(head.size() + at));
        }
    }
}

TEST(WebhookEventFastPath, EscapesAtEveryAlignmentComeOutAsRapidJsonWritesThem)
{
    for (std::string_view escape : {R"(\")", R"(\\)", R"(\/)", R"(\n)", R"(\u00e9)", R"(\u0001)",
                                    R"(\ud83d\ude00)", R"(\u003c)", "é", "😀"}) {
        for (size_t before = 0; before < 18; before++) {
            const std::string content = std::string(before, 'a') + std::string(escape)
                + std::string(before % 11, 'b') + std::string(escape) + "c";
            const std::string body = replaced(kAgentReply, "Olá Maria, já verifiquei o pedido.",
                                              content);
            const Decision d = run(body);
            ASSERT_EQ(d.verdict, Verdict::queue) << d.reason << ' ' << content;
            // What the record must say: the body's decoded text, as
            // rapidjson::Writer escapes it.
            const rapidjson::Document doc = parsed(body);
            const std::string expected = to_json(doc["content"]);
            const std::string key = R"("content":)";
            const size_t at = d.record.find(key);
            ASSERT_NE(at, std::string::npos);
            EXPECT_EQ(d.record.substr(at + key.size(), expected.size()), expected) << content;
            EXPECT_TRUE(is_json_object(d.record));
        }
    }
}

TEST(WebhookEventFastPath, AppendsToTheCallersBufferAndLeavesItAloneOtherwise)
{
    std::vector<char> buf(kAgentReply.size() + 4096, '#');
    RecordOut out(buf.data(), buf.size());
    out.append("prefix:", 7);
    const Decision queued = parse(kAgentReply, out);
    ASSERT_EQ(queued.verdict, Verdict::queue);
    EXPECT_EQ(queued.record, "");
    EXPECT_FALSE(out.overflowed());
    EXPECT_EQ(std::string(out.data(), out.size()), "prefix:" + kAgentReplyRecord);

    RecordOut again(buf.data(), buf.size());
    again.append("prefix:", 7);
    EXPECT_EQ(parse(edited(kAgentReply, {{"/private", "true"}}), again).verdict, Verdict::ignore);
    EXPECT_EQ(parse(edited(kAgentReply, {{"/id", kErase}}), again).verdict, Verdict::reject);
    EXPECT_EQ(again.size(), 7u);
}

TEST(WebhookEventFastPath, ARecordThatDoesNotFitIsNeverWrittenPastTheEnd)
{
    for (size_t cap : {size_t{0}, size_t{1}, size_t{40}, kAgentReplyRecord.size() - 1}) {
        std::vector<char> buf(cap + 64, '#');
        RecordOut out(buf.data(), cap);
        const Decision d = parse(kAgentReply, out);
        EXPECT_EQ(d.verdict, Verdict::queue);
        EXPECT_TRUE(out.overflowed()) << cap;
        EXPECT_EQ(out.size(), kAgentReplyRecord.size());
        for (size_t i = cap; i < buf.size(); i++) {
            ASSERT_EQ(buf[i], '#') << "written at " << i << " with capacity " << cap;
        }
    }
    std::vector<char> exact(kAgentReplyRecord.size());
    RecordOut fits(exact.data(), exact.size());
    EXPECT_EQ(parse(kAgentReply, fits).verdict, Verdict::queue);
    EXPECT_FALSE(fits.overflowed());
    EXPECT_EQ(std::string(exact.data(), exact.size()), kAgentReplyRecord);
}

TEST(WebhookEventFastPath, LargeBodiesBetweenSmallOnes)
{
    // The per-thread copy of a large body is let go after its parse; the
    // next parse must not see any of it.
    const std::string big(200 * 1024, 'z');
    const Decision large = run(replaced(kAgentReply, "Olá Maria, já verifiquei o pedido.", big));
    ASSERT_EQ(large.verdict, Verdict::queue);
    EXPECT_NE(large.record.find(big), std::string::npos);
    expect_queued(kAgentReply, "message_created", kAgentReplyRecord);
    expect_rejected(R"({"event":"x")", "malformed JSON at offset 12");
    expect_queued(kAgentReply, "message_created", kAgentReplyRecord);
}

TEST(WebhookEventFastPath, NumbersKeepTheirOriginalReading)
{
    // -0 is the integer 0 to RapidJSON; 2^63 - 1 is the largest integer.
    const Decision zero = run(edited(kAgentReply, {{"/id", "-0"}}));
    ASSERT_EQ(zero.verdict, Verdict::queue) << zero.reason;
    EXPECT_NE(zero.record.find(R"("message_id":0,)"), std::string::npos) << zero.record;
    const Decision max = run(edited(kAgentReply, {{"/id", "9223372036854775807"}}));
    ASSERT_EQ(max.verdict, Verdict::queue) << max.reason;
    EXPECT_NE(max.record.find(R"("message_id":9223372036854775807,)"), std::string::npos);
    const Decision negative = run(edited(kAgentReply, {{"/id", "-9223372036854775808"}}));
    ASSERT_EQ(negative.verdict, Verdict::queue) << negative.reason;
    EXPECT_NE(negative.record.find(R"("message_id":-9223372036854775808,)"), std::string::npos);
}
