// A WhatsApp message's way into Chatwoot, answer by answer, with bodies
// shaped as Chatwoot 4.15 answers (CONTRACT.md section 5).
#include "bridge/forward_job.hpp"

#include <gtest/gtest.h>

#include "chatwoot_answers.hpp"

using namespace chatwoot;
using test::answer;
using test::lost;
using bridge::ChatMapping;
using bridge::ForwardJob;
using bridge::InboxOptions;
using bridge::WaMessage;

namespace {

WaMessage maria(std::string id = "3EB0A1", std::string text = "Olá, *tudo bem*?")
{
    WaMessage m;
    m.id = std::move(id);
    m.chat = "5511987654321@s.whatsapp.net";
    m.sender = m.chat;
    m.push_name = "Maria";
    m.text = std::move(text);
    return m;
}

const InboxOptions kInbox{7, true, false};
const rest::Api kApi(1);

constexpr std::string_view kNoContacts =
    R"({"meta":{"count":0,"current_page":1,"has_more":false},"payload":[]})";
constexpr std::string_view kCreatedContact =
    R"({"payload":{"contact":{"id":42,"name":"Maria","identifier":"5511987654321@s.whatsapp.net",)"
    R"("phone_number":"+5511987654321","contact_inboxes":[]},"contact_inbox":{"inbox":null,"source_id":"x"}}})";
constexpr std::string_view kNoConversations = R"({"payload":[]})";
constexpr std::string_view kConversation15 =
    R"({"meta":{"sender":{"id":42}},"id":15,"inbox_id":7,"status":"open"})";

std::string message_answer(int id, std::string_view source_id)
{
    return "{\"id\":" + std::to_string(id) + ",\"conversation_id\":15,\"message_type\":0,"
           "\"private\":false,\"status\":\"sent\",\"source_id\":\"" + std::string(source_id)
           + "\"}";
}

}  // namespace

TEST(ForwardJob, ANewChatCreatesContactConversationAndMessage)
{
    ForwardJob job(maria(), {}, kInbox, kApi);
    ASSERT_EQ(job.state(), ForwardJob::State::request);
    EXPECT_EQ(job.request().path,
              "/api/v1/accounts/1/contacts/search?q=5511987654321&page=1&include_contact_inboxes=true");

    job.on_answer(answer(200), kNoContacts);
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/contacts");
    EXPECT_EQ(job.request().body,
              R"({"inbox_id":7,"source_id":"5511987654321@s.whatsapp.net","name":"Maria",)"
              R"("identifier":"5511987654321@s.whatsapp.net","phone_number":"+5511987654321"})");

    job.on_answer(answer(200), kCreatedContact);
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/contacts/42/conversations");

    job.on_answer(answer(200), kNoConversations);
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations");
    EXPECT_EQ(job.request().body,
              R"({"inbox_id":7,"contact_id":42,"source_id":"5511987654321@s.whatsapp.net"})");

    job.on_answer(answer(200), kConversation15);
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages");
    EXPECT_EQ(job.request().body,
              R"({"content":"Olá, **tudo bem**?","message_type":"incoming","private":false,)"
              R"("source_id":"WAID:3EB0A1"})");

    job.on_answer(answer(200), message_answer(3100, "WAID:3EB0A1"));
    ASSERT_EQ(job.state(), ForwardJob::State::done);
    EXPECT_EQ(job.chatwoot_message_id(), 3100);
    EXPECT_EQ(job.mapping().contact_id, std::optional<int64_t>(42));
    EXPECT_EQ(job.mapping().conversation_id, std::optional<int64_t>(15));
}

TEST(ForwardJob, AKnownChatPostsAtOnce)
{
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi);
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages");
}

TEST(ForwardJob, FindsTheContactByIdentifierOrByPhoneAndReusesAnOpenConversation)
{
    ForwardJob job(maria(), {}, kInbox, kApi);
    job.on_answer(answer(200),
                  R"({"meta":{},"payload":[{"id":5,"name":"Other","identifier":"55119876543210@s.whatsapp.net"},)"
                  R"({"id":9,"name":"Maria","phone_number":"+5511987654321","identifier":null}]})");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/contacts/9/conversations")
        << "a substring match on the identifier is not the contact; the phone is";
    job.on_answer(answer(200),
                  R"({"payload":[{"id":20,"inbox_id":8,"status":"open"},)"
                  R"({"id":16,"inbox_id":7,"status":"pending"},{"id":11,"inbox_id":7,"status":"resolved"}]})");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/16/messages")
        << "the pending conversation of this inbox, not another inbox's";
}

TEST(ForwardJob, AResolvedConversationIsReopenedOrReplaced)
{
    const std::string_view resolved = R"({"payload":[{"id":11,"inbox_id":7,"status":"resolved"}]})";
    ForwardJob reopen(maria(), ChatMapping{42, std::nullopt}, kInbox, kApi);
    reopen.on_answer(answer(200), resolved);
    EXPECT_EQ(reopen.request().path, "/api/v1/accounts/1/conversations/11/toggle_status");
    EXPECT_EQ(reopen.request().body, R"({"status":"open"})");
    reopen.on_answer(answer(200), R"({"meta":{},"payload":{"success":true,"conversation_id":11,"current_status":"open"}})");
    EXPECT_EQ(reopen.request().path, "/api/v1/accounts/1/conversations/11/messages");

    ForwardJob fresh(maria(), ChatMapping{42, std::nullopt}, InboxOptions{7, false, true}, kApi);
    fresh.on_answer(answer(200), resolved);
    EXPECT_EQ(fresh.request().path, "/api/v1/accounts/1/conversations");
    EXPECT_EQ(fresh.request().body,
              R"({"inbox_id":7,"contact_id":42,"source_id":"5511987654321@s.whatsapp.net","status":"pending"})");
}

TEST(ForwardJob, ALostAnswerIsLookedUpNotPostedTwice)
{
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi);
    job.on_answer(lost(), "");
    EXPECT_EQ(job.request().method, "GET");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages");
    job.on_answer(answer(200),
                  R"({"meta":{},"payload":[{"id":3099,"conversation_id":15,"message_type":0,"private":false,"source_id":"WAID:OTHER"},)"
                  R"({"id":3100,"conversation_id":15,"message_type":0,"private":false,"source_id":"WAID:3EB0A1"}]})");
    ASSERT_EQ(job.state(), ForwardJob::State::done);
    EXPECT_EQ(job.chatwoot_message_id(), 3100);
}

TEST(ForwardJob, ALostAnswerForAMessageThatNeverArrivedPostsAgain)
{
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi);
    job.on_answer(lost(), "");
    job.on_answer(answer(200), R"({"meta":{},"payload":[]})");
    EXPECT_EQ(job.request().method, "POST");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages");
}

TEST(ForwardJob, ALostContactCreateSearchesAgain)
{
    ForwardJob job(maria(), {}, kInbox, kApi);
    job.on_answer(answer(200), kNoContacts);
    job.on_answer(lost(), "");
    EXPECT_EQ(job.request().method, "GET");
    EXPECT_NE(job.request().path.find("/contacts/search"), std::string::npos);
    job.on_answer(answer(200),
                  R"({"payload":[{"id":42,"identifier":"5511987654321@s.whatsapp.net"}]})");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/contacts/42/conversations");
}

TEST(ForwardJob, AnIdentifierTakenMeanwhileIsFoundNotFailed)
{
    ForwardJob job(maria(), {}, kInbox, kApi);
    job.on_answer(answer(200), kNoContacts);
    job.on_answer(answer(422, R"({"message":"Identifier has already been taken","attributes":["identifier"]})"),
                  "");
    EXPECT_NE(job.request().path.find("/contacts/search"), std::string::npos);
}

TEST(ForwardJob, A404ResolvesTheConversationAgain)
{
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi);
    job.on_answer(answer(404, R"({"error":"Resource could not be found"})"), "");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/contacts/42/conversations");
    job.on_answer(answer(404, R"({"error":"Resource could not be found"})"), "");
    EXPECT_NE(job.request().path.find("/contacts/search"), std::string::npos)
        << "the contact is gone too: from the top";
}

TEST(ForwardJob, EndlessNotFoundsFailInsteadOfLooping)
{
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi);
    for (int i = 0; i < 20 && job.state() == ForwardJob::State::request; i++) {
        job.on_answer(answer(404, R"({"error":"Resource could not be found"})"), "");
    }
    EXPECT_EQ(job.state(), ForwardJob::State::failed);
    EXPECT_NE(job.failure().find("404"), std::string::npos) << job.failure();
}

TEST(ForwardJob, PermanentRefusalsFail)
{
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi);
    job.on_answer(answer(422, R"x({"error":"Validation failed: Content is too long (maximum is 150000 characters)"})x"),
                  "");
    // The agents learn of it: a private note with the text, then failed.
    ASSERT_EQ(job.state(), ForwardJob::State::request);
    EXPECT_EQ(job.request().method, "POST");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages");
    EXPECT_NE(job.request().body.find(R"("private":true)"), std::string::npos);
    EXPECT_NE(job.request().body.find(R"("message_type":"outgoing")"), std::string::npos);
    EXPECT_NE(job.request().body.find("3EB0A1 could not be added here"), std::string::npos);
    EXPECT_NE(job.request().body.find("Olá, *tudo bem*?"), std::string::npos)
        << "the note carries the text: " << job.request().body;
    job.on_answer(lost(), "");
    ASSERT_EQ(job.state(), ForwardJob::State::failed) << "a lost note is not retried";
    EXPECT_NE(job.failure().find("too long"), std::string::npos) << job.failure();

    // Before a conversation exists there is nowhere to put a note.
    ForwardJob early(maria(), {}, kInbox, kApi);
    early.on_answer(answer(422, R"({"message":"Phone number should be in e164 format"})"), "");
    EXPECT_EQ(early.state(), ForwardJob::State::failed);
}

TEST(ForwardJob, AFailureNoteCutsLongTextOnACharacterBoundary)
{
    WaMessage m = maria("X1", std::string(1999, 'a') + "é and more");
    m.attachments.push_back({"/state/media/x", "image/png", "p.png"});
    std::string note = ForwardJob::failure_note(m, "Content is too long");
    EXPECT_EQ(note.rfind("WhatsApp message X1 could not be added here (Content is too long), "
                         "with 1 attachment(s):\n\n", 0), 0u) << note;
    EXPECT_NE(note.find(std::string(1999, 'a') + " [...]"), std::string::npos)
        << "the two-byte é would not fit whole";
}

TEST(ForwardJob, AttachmentsGoAsMultipart)
{
    WaMessage m = maria("3EB0D4", "caption");
    m.attachments.push_back({"/var/lib/state/media/main-3EB0D4-0", "image/jpeg", "photo.jpg"});
    ForwardJob job(m, ChatMapping{42, 15}, kInbox, kApi);
    const rest::Request& r = job.request();
    EXPECT_TRUE(r.body.empty());
    ASSERT_EQ(r.files.size(), 1u);
    EXPECT_EQ(r.files[0].field, "attachments[]");
    EXPECT_EQ(r.files[0].path, "/var/lib/state/media/main-3EB0D4-0");
    EXPECT_EQ(r.files[0].mime, "image/jpeg");
    EXPECT_EQ(r.files[0].file_name, "photo.jpg");
    ASSERT_EQ(r.form.size(), 4u);
    EXPECT_EQ(r.form[0].name, "content");
    EXPECT_EQ(r.form[0].value, "caption");
    EXPECT_EQ(r.form[3].value, "WAID:3EB0D4");
}

TEST(ForwardJob, OwnMessagesRepliesAndGroups)
{
    WaMessage mine = maria("3EB0B2", "sent from my phone");
    mine.from_me = true;
    mine.reply_to = "3EB0A1";
    ForwardJob job(mine, ChatMapping{42, 15}, kInbox, kApi);
    EXPECT_EQ(job.request().body,
              R"({"content":"sent from my phone","message_type":"outgoing","private":false,)"
              R"("source_id":"WAID:3EB0B2","content_attributes":{"in_reply_to_external_id":"WAID:3EB0A1"}})");

    WaMessage group;
    group.id = "3EB0C3";
    group.chat = "120363000000000000@g.us";
    group.sender = "5511987654321@s.whatsapp.net";
    group.push_name = "Maria";
    group.chat_name = "Família";
    group.text = "oi _gente_";
    EXPECT_EQ(ForwardJob::chatwoot_content(group), "**Maria:** oi *gente*");
    group.push_name.clear();
    EXPECT_EQ(ForwardJob::chatwoot_content(group), "**+5511987654321:** oi *gente*");

    ForwardJob g(group, {}, kInbox, kApi);
    EXPECT_EQ(g.request().path,
              "/api/v1/accounts/1/contacts/search?q=120363000000000000&page=1&include_contact_inboxes=true");
    g.on_answer(answer(200), kNoContacts);
    EXPECT_EQ(g.request().body,
              R"({"inbox_id":7,"source_id":"120363000000000000@g.us","name":"Família",)"
              R"("identifier":"120363000000000000@g.us"})")
        << "a group is one contact named after its subject, without a phone";
}

TEST(ForwardJob, AMessageAnEarlierHelperMayHavePostedIsLookedForFirst)
{
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi, true);
    EXPECT_EQ(job.request().method, "GET");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages");
    job.on_answer(answer(200), R"({"meta":{},"payload":[]})");
    EXPECT_EQ(job.request().method, "POST") << "not there: post it";

    ForwardJob found(maria(), {}, kInbox, kApi, true);
    found.on_answer(answer(200), R"({"payload":[{"id":42,"identifier":"5511987654321@s.whatsapp.net"}]})");
    found.on_answer(answer(200), R"({"payload":[{"id":15,"inbox_id":7,"status":"open"}]})");
    EXPECT_EQ(found.request().method, "GET") << "the mapping was lost with the crash too";
    found.on_answer(answer(200),
                    R"({"payload":[{"id":3100,"conversation_id":15,"message_type":0,"private":false,"source_id":"WAID:3EB0A1"}]})");
    ASSERT_EQ(found.state(), ForwardJob::State::done);
    EXPECT_EQ(found.chatwoot_message_id(), 3100);
}

namespace {

// A page of GET .../messages as Chatwoot sends it: ids first..last, oldest
// first, one message a minute from `t0`, one of them maybe ours.
std::string message_page(int64_t first, int64_t last, int64_t t0,
                         int64_t ours = 0, std::string_view ours_source = "WAID:3EB0A1")
{
    std::string out = R"({"meta":{},"payload":[)";
    for (int64_t id = first; id <= last; id++) {
        if (id != first) {
            out += ',';
        }
        const std::string source =
            id == ours ? std::string(ours_source) : "WAID:OTHER" + std::to_string(id);
        out += "{\"id\":" + std::to_string(id)
               + ",\"conversation_id\":15,\"message_type\":0,\"private\":false,"
                 "\"created_at\":" + std::to_string(t0 + (id - first) * 60)
               + ",\"source_id\":\"" + source + "\"}";
    }
    return out + "]}";
}

constexpr int64_t kT0 = 1796000000;   // Unix seconds, Chatwoot's clock

}  // namespace

TEST(ForwardJob, ALostPostBehindMoreThanAPageOfNewerMessagesIsFoundNotPostedTwice)
{
    // The post (id 3100) went through, its answer was lost, and 25 newer
    // messages came before the look: the newest page no longer holds it.
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi, false, kT0);
    job.on_answer(lost(), "");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages");

    job.on_answer(answer(200), message_page(3106, 3125, kT0 + 6 * 60));
    ASSERT_EQ(job.state(), ForwardJob::State::request);
    EXPECT_EQ(job.request().method, "GET") << "a full page newer than the post: page back";
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages?before=3106");

    job.on_answer(answer(200), message_page(3086, 3105, kT0 - 14 * 60, 3100));
    ASSERT_EQ(job.state(), ForwardJob::State::done);
    EXPECT_EQ(job.chatwoot_message_id(), 3100);
}

TEST(ForwardJob, ALookStopsOncePastTheTimeOfTheDoubtfulPost)
{
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi, false, kT0);
    job.on_answer(lost(), "");
    job.on_answer(answer(200), message_page(3106, 3125, kT0 + 60));
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages?before=3106");
    // Still within the clock skew allowed for: one page more.
    job.on_answer(answer(200), message_page(3086, 3105, kT0 - 5 * 60));
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages?before=3086");
    // This page starts before the post could have been made: no need to
    // read further; the message never arrived.
    job.on_answer(answer(200),
                  message_page(3066, 3085, kT0 - ForwardJob::kClockSkew - 30 * 60));
    EXPECT_EQ(job.request().method, "POST");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages");
}

TEST(ForwardJob, ALookOfUnknownAgeReadsToTheFirstMessageOrItsBound)
{
    // An earlier helper's post: of any time.  A short page is the start of
    // the conversation.
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi, true);
    job.on_answer(answer(200), message_page(3106, 3125, kT0));
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages?before=3106");
    job.on_answer(answer(200), message_page(3100, 3105, kT0 - 3600));
    EXPECT_EQ(job.request().method, "POST");

    // A very long conversation is read back kMaxLookBackPages pages, no more.
    ForwardJob bounded(maria(), ChatMapping{42, 15}, kInbox, kApi, true);
    int64_t first = 100000;
    for (int i = 0; i < ForwardJob::kMaxLookBackPages; i++) {
        ASSERT_EQ(bounded.request().method, "GET") << i;
        bounded.on_answer(answer(200), message_page(first, first + 19, kT0));
        first -= 20;
    }
    EXPECT_EQ(bounded.request().method, "POST");
}

TEST(ForwardJob, APostWhoseAnswerIsTooLongToReadIsLookedUpNotPostedAgain)
{
    ForwardJob job(maria(), ChatMapping{42, 15}, kInbox, kApi, false, kT0);
    rest::Response r;
    r.http_status = 200;
    r.body = R"({"id":3100,"content":"...)";
    r.body_truncated = true;
    r.body_cap = 262144;
    job.on_answer(rest::classify(r), r.body);
    EXPECT_EQ(job.request().method, "GET") << "Chatwoot made it: find it";
    job.on_answer(answer(200), message_page(3095, 3100, kT0, 3100));
    ASSERT_EQ(job.state(), ForwardJob::State::done);
    EXPECT_EQ(job.chatwoot_message_id(), 3100);

    // A read that is too long fails the message with the reason.
    ForwardJob search(maria(), {}, kInbox, kApi);
    search.on_answer(rest::classify(r), r.body);
    ASSERT_EQ(search.state(), ForwardJob::State::failed);
    EXPECT_EQ(search.failure(), "answer 200 over the 262144-byte cap");
}

// --- events that refer to earlier messages ----------------------------------------

namespace {

WaMessage event(WaMessage::Kind kind, std::string id, std::string target, std::string text = {})
{
    WaMessage m = maria(std::move(id), std::move(text));
    m.kind = kind;
    m.target = std::move(target);
    return m;
}

}  // namespace

TEST(ForwardJob, AReactionIsItsEmojiReplyingToTheReactedMessage)
{
    ForwardJob job(event(WaMessage::Kind::reaction, "R1", "3EB0A1", "👍"), ChatMapping{42, 15},
                   kInbox, kApi, false, 0, {3100});
    ASSERT_EQ(job.state(), ForwardJob::State::request);
    EXPECT_EQ(job.request().method, "POST");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages");
    EXPECT_EQ(job.request().body,
              R"({"content":"👍","message_type":"incoming","private":false,)"
              R"("source_id":"WAID:R1","content_attributes":{"in_reply_to":3100}})");
    job.on_answer(answer(200), message_answer(3200, "WAID:R1"));
    ASSERT_EQ(job.state(), ForwardJob::State::done);
    EXPECT_EQ(job.chatwoot_message_id(), 3200);

    ForwardJob removed(event(WaMessage::Kind::reaction, "R2", "3EB0A1"), ChatMapping{42, 15},
                       kInbox, kApi, false, 0, {3100});
    EXPECT_EQ(removed.request().body,
              R"({"content":"*removed a reaction*","message_type":"incoming","private":false,)"
              R"("source_id":"WAID:R2","content_attributes":{"in_reply_to":3100}})")
        << "a reaction taken back is said, on the same message";
    ForwardJob removed_known(event(WaMessage::Kind::reaction, "R2", "3EB0A1"), ChatMapping{42, 15},
                             kInbox, kApi, false, 0, [] {
                                 bridge::EventTargets t{3100};
                                 t.removed_reaction = "👍";
                                 return t;
                             }());
    EXPECT_NE(removed_known.request().body.find(R"("content":"*removed the reaction 👍*")"),
              std::string::npos)
        << "naming the emoji when the store still has it: " << removed_known.request().body;

    ForwardJob unknown(event(WaMessage::Kind::reaction, "R3", "NOPE", "😂"), ChatMapping{42, 15},
                       kInbox, kApi);
    EXPECT_EQ(unknown.request().body,
              R"({"content":"😂 *(a reaction to a message that is not in Chatwoot)*",)"
              R"("message_type":"incoming","private":false,"source_id":"WAID:R3"})")
        << "a target Chatwoot never had is told, with no reply link";

    WaMessage mine = event(WaMessage::Kind::reaction, "R4", "3EB0A1", "❤️");
    mine.from_me = true;
    ForwardJob own(mine, ChatMapping{42, 15}, kInbox, kApi, false, 0, {3100});
    EXPECT_NE(own.request().body.find(R"("message_type":"outgoing")"), std::string::npos)
        << "a reaction from the owner's phone is ours";

    WaMessage group = event(WaMessage::Kind::reaction, "R5", "G1", "🙏");
    group.chat = "120363000000000000@g.us";
    group.sender = "5511987654321@s.whatsapp.net";
    EXPECT_EQ(ForwardJob::event_content(group, true), "**Maria:** 🙏");
    group.text.clear();
    EXPECT_EQ(ForwardJob::event_content(group, false),
              "**Maria:** *removed a reaction from a message that is not in Chatwoot*");
}

TEST(ForwardJob, AnEditRepliesToTheOriginalWithTheNewText)
{
    ForwardJob job(event(WaMessage::Kind::edit, "E1", "3EB0A1", "now *bold*"), ChatMapping{42, 15},
                   kInbox, kApi, false, 0, {3100});
    EXPECT_EQ(job.request().body,
              R"({"content":"*Edited:* now **bold**","message_type":"incoming","private":false,)"
              R"("source_id":"WAID:E1","content_attributes":{"in_reply_to":3100}})");
    EXPECT_EQ(ForwardJob::event_content(event(WaMessage::Kind::edit, "E2", "X", "t"), false),
              "*Edited a message that is not in Chatwoot:* t");
}

TEST(ForwardJob, ARevokeDeletesTheMappedMessageOnceGoneIsDone)
{
    ForwardJob job(event(WaMessage::Kind::revoke, "V1", "3EB0A1"), ChatMapping{42, 15}, kInbox,
                   kApi, true /* may be posted: a DELETE needs no look */, 0, {3100});
    ASSERT_EQ(job.state(), ForwardJob::State::request);
    EXPECT_EQ(job.request().method, "DELETE");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages/3100");
    EXPECT_EQ(job.request().body, "");
    job.on_answer(answer(200), message_answer(3100, "WAID:3EB0A1"));
    EXPECT_EQ(job.state(), ForwardJob::State::done);
    EXPECT_EQ(job.chatwoot_message_id(), 0) << "a revoke makes no message of its own";

    ForwardJob gone(event(WaMessage::Kind::revoke, "V2", "3EB0A1"), ChatMapping{42, 15}, kInbox,
                    kApi, false, 0, {3100});
    gone.on_answer(answer(404, R"({"error":"Resource could not be found"})"), "");
    EXPECT_EQ(gone.state(), ForwardJob::State::done)
        << "deleted already (by an agent, or a try whose answer was lost): done";
    EXPECT_EQ(gone.mapping().conversation_id, 15) << "and the chat's mapping is kept";

    ForwardJob refused(event(WaMessage::Kind::revoke, "V3", "3EB0A1"), ChatMapping{42, 15},
                       kInbox, kApi, false, 0, {3100});
    refused.on_answer(answer(403, R"({"error":"You are not authorized to do this action"})"), "");
    EXPECT_EQ(refused.state(), ForwardJob::State::failed);
    EXPECT_FALSE(refused.failure().empty());
}

TEST(ForwardJob, ARevokeOfAMessageChatwootNeverHadIsAPrivateNote)
{
    ForwardJob job(event(WaMessage::Kind::revoke, "V4", "GONE"), ChatMapping{42, 15}, kInbox,
                   kApi);
    EXPECT_EQ(job.request().method, "POST");
    EXPECT_EQ(job.request().body,
              R"({"content":"*Deleted for everyone on WhatsApp: a message that is not in Chatwoot (GONE)*",)"
              R"("message_type":"outgoing","private":true,"source_id":"WAID:V4"})");
    // Its answer lost: looked up by its source id, not noted twice.
    job.on_answer(lost(), "");
    EXPECT_EQ(job.request().method, "GET");
    job.on_answer(answer(200), R"({"meta":{},"payload":[)" + message_answer(3300, "WAID:V4") + "]}");
    EXPECT_EQ(job.state(), ForwardJob::State::done);
    EXPECT_EQ(job.chatwoot_message_id(), 3300);
}

TEST(ForwardJob, AReadReceiptMarksEachOfOurMessagesReadSkippingGoneOnes)
{
    WaMessage read = maria("D1", "");
    read.kind = WaMessage::Kind::read;
    read.targets = {"X1", "X2", "X3"};
    ForwardJob job(read, ChatMapping{42, 15}, kInbox, kApi, true, 0, {3101, 3102});
    ASSERT_EQ(job.state(), ForwardJob::State::request);
    EXPECT_EQ(job.request().method, "PATCH");
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages/3101");
    EXPECT_EQ(job.request().body, R"({"status":"read"})");
    job.on_answer(answer(404, R"({"error":"Resource could not be found"})"), "");
    ASSERT_EQ(job.state(), ForwardJob::State::request) << "one Chatwoot lost is passed over";
    EXPECT_EQ(job.request().path, "/api/v1/accounts/1/conversations/15/messages/3102");
    job.on_answer(answer(200), message_answer(3102, ""));
    EXPECT_EQ(job.state(), ForwardJob::State::done);

    ForwardJob none(read, ChatMapping{}, kInbox, kApi, true, 0, {});
    EXPECT_EQ(none.state(), ForwardJob::State::done)
        << "receipts of messages Chatwoot never had: nothing to ask, not even the contact";
}

TEST(ForwardJob, AReactionAnEarlierHelperMayHavePostedIsLookedForFirst)
{
    ForwardJob job(event(WaMessage::Kind::reaction, "R9", "3EB0A1", "👍"), ChatMapping{42, 15},
                   kInbox, kApi, true, 0, {3100});
    EXPECT_EQ(job.request().method, "GET") << "like a message: a post may have happened";
    job.on_answer(answer(200), R"({"meta":{},"payload":[)" + message_answer(3201, "WAID:R9") + "]}");
    EXPECT_EQ(job.state(), ForwardJob::State::done);
    EXPECT_EQ(job.chatwoot_message_id(), 3201);
}

// A history import's message (helper/import/import_runner.hpp): its lead,
// "[2024-01-15 14:30] Ana: ", goes first as it is and names a group's
// sender itself; the text is still converted.
TEST(ForwardJob, AnImportsLeadGoesFirstAndNamesTheSender)
{
    WaMessage group;
    group.id = "3EB0D4";
    group.chat = "120363000000000000@g.us";
    group.sender = "5511987654321@s.whatsapp.net";
    group.push_name = "Maria";
    group.text = "oi _gente_";
    group.lead = "[2024-01-15 14:30] Maria: ";
    EXPECT_EQ(ForwardJob::chatwoot_content(group), "[2024-01-15 14:30] Maria: oi *gente*");
    WaMessage one;
    one.id = "3EB0D5";
    one.chat = "5511987654321@s.whatsapp.net";
    one.text = "Hello!";
    one.lead = "[2024-01-15 14:30] ";
    EXPECT_EQ(ForwardJob::chatwoot_content(one), "[2024-01-15 14:30] Hello!");
}
