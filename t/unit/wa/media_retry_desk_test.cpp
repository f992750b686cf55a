// The media retry desk (wa/media/media_retry_desk.hpp) with an injected
// clock: a request's receipt opens with the message's media key (as the
// phone opens it) and goes once; the phone's answer settles the request it
// names, and only that one; an answer that does not open settles it too,
// as a failure; one for a message not waited for changes nothing; a
// message is asked about once; the wait is bounded by kAnswerWait.
#include <gtest/gtest.h>

#include "wa/crypto/aes.hpp"
#include "wa/media/media_retry_desk.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/message.pb.h"

namespace chatwoot::wa::media {
namespace {

using binary::Jid;
using binary::Node;
using Millis = MediaRetryDesk::Millis;

Jid jid(std::string_view text)
{
    auto j = Jid::parse(text);
    EXPECT_TRUE(j.has_value()) << text;
    return j.value_or(*Jid::parse("0@s.whatsapp.net"));
}

const Bytes kKey(32, 0x5a);

MediaRetryTarget target(std::string id, std::optional<Jid> participant = std::nullopt)
{
    return MediaRetryTarget{.own = jid("15550001111:7@s.whatsapp.net"),
                            .message_id = std::move(id),
                            .chat = participant ? jid("120363000000000001@g.us")
                                                : jid("15552223333@s.whatsapp.net"),
                            .from_me = false,
                            .participant = participant};
}

Bytes content(const Node* n)
{
    EXPECT_NE(n, nullptr);
    if (n == nullptr || n->bytes() == nullptr) return {};
    return *n->bytes();
}

// What the phone reads out of our receipt: the ServerErrorReceipt's id.
std::string phone_opens(const Node& receipt, ByteView media_key)
{
    const Node* enc = receipt.child("encrypt");
    if (enc == nullptr) return "(no encrypt)";
    auto key = media_retry_key(media_key);
    auto id = receipt.attr("id");
    auto plain = crypto::aes256_gcm_decrypt(*key, content(enc->child("enc_iv")),
                                            content(enc->child("enc_p")),
                                            as_bytes(id.value_or("")));
    if (!plain) return "(does not open)";
    auto r = proto::parse<proto::ServerErrorReceipt>(*plain);
    return r ? r->stanzaid() : "(not a ServerErrorReceipt)";
}

// The phone's answer, sealed under `media_key`.
Node answer(const std::string& id, ByteView media_key,
            proto::MediaRetryNotification::ResultType result, std::string path)
{
    proto::MediaRetryNotification m;
    m.set_stanzaid(id);
    m.set_result(result);
    if (!path.empty()) m.set_directpath(path);
    const Bytes iv(12, 9);
    auto key = media_retry_key(media_key);
    auto ct = crypto::aes256_gcm_encrypt(*key, iv, proto::serialize(m), as_bytes(id));
    Node n("notification");
    n.set_attr("from", "15550001111@s.whatsapp.net");
    n.set_attr("type", "mediaretry");
    n.set_attr("id", id);
    Node rmr("rmr");
    rmr.set_attr("jid", jid("15552223333@s.whatsapp.net"));
    rmr.set_attr("from_me", "false");
    Node enc("encrypt");
    enc.content = binary::Children{Node("enc_p", {}, *ct), Node("enc_iv", {}, iv)};
    n.content = binary::Children{std::move(rmr), std::move(enc)};
    return n;
}

Node error_answer(const std::string& id, std::string code)
{
    Node n("notification");
    n.set_attr("type", "mediaretry");
    n.set_attr("id", id);
    Node rmr("rmr");
    rmr.set_attr("jid", jid("15552223333@s.whatsapp.net"));
    rmr.set_attr("from_me", "false");
    n.content = binary::Children{std::move(rmr), Node("error", {{"code", {code}}})};
    return n;
}

std::vector<MediaRetryDesk::Receipt> take(MediaRetryDesk& desk)
{
    std::vector<MediaRetryDesk::Answer> failed;
    auto out = desk.take_receipts(crypto::seeded_random(as_bytes("desk")), failed);
    EXPECT_TRUE(failed.empty());
    return out;
}

TEST(MediaRetryDesk, ReceiptOpensForThePhoneAndGoesOnce)
{
    MediaRetryDesk desk;
    ASSERT_TRUE(desk.ask(target("M1"), kKey, 1000).ok());
    auto receipts = take(desk);
    ASSERT_EQ(receipts.size(), 1u);
    const Node& r = receipts[0].node;
    EXPECT_EQ(receipts[0].message_id, "M1");
    EXPECT_EQ(r.tag, "receipt");
    EXPECT_EQ(r.attr("type"), std::optional<std::string_view>("server-error"));
    // To our own user, without the device.
    EXPECT_EQ(r.attr_jid("to"), jid("15550001111@s.whatsapp.net"));
    ASSERT_NE(r.child("rmr"), nullptr);
    EXPECT_EQ(r.child("rmr")->attr_jid("jid"), jid("15552223333@s.whatsapp.net"));
    EXPECT_EQ(r.child("rmr")->attr("from_me"), std::optional<std::string_view>("false"));
    EXPECT_EQ(phone_opens(r, kKey), "M1");
    Bytes other = kKey;
    other[0] ^= 1;
    EXPECT_EQ(phone_opens(r, other), "(does not open)");
    // Sent once; a send that failed goes again.
    EXPECT_TRUE(take(desk).empty());
    desk.unsent("M1");
    EXPECT_EQ(take(desk).size(), 1u);
    EXPECT_EQ(desk.waiting(), 1u);
}

TEST(MediaRetryDesk, GroupReceiptNamesTheSender)
{
    MediaRetryDesk desk;
    ASSERT_TRUE(desk.ask(target("G1", jid("15554445555@s.whatsapp.net")), kKey, 0).ok());
    auto receipts = take(desk);
    ASSERT_EQ(receipts.size(), 1u);
    const Node* rmr = receipts[0].node.child("rmr");
    ASSERT_NE(rmr, nullptr);
    EXPECT_EQ(rmr->attr_jid("jid"), jid("120363000000000001@g.us"));
    EXPECT_EQ(rmr->attr_jid("participant"), jid("15554445555@s.whatsapp.net"));
}

TEST(MediaRetryDesk, SuccessSettlesTheRequestItNames)
{
    MediaRetryDesk desk;
    ASSERT_TRUE(desk.ask(target("M1"), kKey, 0).ok());
    ASSERT_TRUE(desk.ask(target("M2"), kKey, 0).ok());
    (void) take(desk);
    auto a = desk.on_notification(
        answer("M2", kKey, proto::MediaRetryNotification::SUCCESS, "/v/t62.7118-24/new.enc?oh=1"));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->message_id, "M2");
    ASSERT_TRUE(a->outcome.ok());
    EXPECT_EQ(a->outcome->result, MediaRetryResult::success);
    EXPECT_EQ(a->outcome->direct_path, "/v/t62.7118-24/new.enc?oh=1");
    EXPECT_EQ(desk.waiting(), 1u);
    // The same answer again: nothing waits for it now.
    auto again = desk.on_notification(
        answer("M2", kKey, proto::MediaRetryNotification::SUCCESS, "/v/t62.7118-24/new.enc?oh=1"));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::not_found);
    EXPECT_EQ(desk.waiting(), 1u);
}

TEST(MediaRetryDesk, FailuresAndAnswersThatDoNotOpen)
{
    MediaRetryDesk desk;
    for (const char* id : {"NF", "DE", "GE", "FORGED", "BADPATH"}) {
        ASSERT_TRUE(desk.ask(target(id), kKey, 0).ok());
    }
    (void) take(desk);
    auto nf = desk.on_notification(error_answer("NF", "2"));
    ASSERT_TRUE(nf.ok() && nf->outcome.ok());
    EXPECT_EQ(nf->outcome->result, MediaRetryResult::not_found);
    auto de = desk.on_notification(
        answer("DE", kKey, proto::MediaRetryNotification::DECRYPTION_ERROR, ""));
    ASSERT_TRUE(de.ok() && de->outcome.ok());
    EXPECT_EQ(de->outcome->result, MediaRetryResult::decryption_error);
    auto ge = desk.on_notification(error_answer("GE", "0"));
    ASSERT_TRUE(ge.ok() && ge->outcome.ok());
    EXPECT_EQ(ge->outcome->result, MediaRetryResult::general_error);
    // Sealed under another key: it settles the request, as a failure.
    Bytes other(32, 0x11);
    auto forged = desk.on_notification(
        answer("FORGED", other, proto::MediaRetryNotification::SUCCESS, "/v/x.enc?oh=1"));
    ASSERT_TRUE(forged.ok());
    ASSERT_FALSE(forged->outcome.ok());
    EXPECT_EQ(forged->outcome.error().code, Errc::bad_mac);
    // A success that names a path off the media hosts.
    auto bad = desk.on_notification(
        answer("BADPATH", kKey, proto::MediaRetryNotification::SUCCESS, "https://evil.example/x"));
    ASSERT_TRUE(bad.ok());
    EXPECT_FALSE(bad->outcome.ok());
    EXPECT_EQ(desk.waiting(), 0u);
}

TEST(MediaRetryDesk, NotificationsNotWaitedForChangeNothing)
{
    MediaRetryDesk desk;
    ASSERT_TRUE(desk.ask(target("M1"), kKey, 0).ok());
    auto unknown = desk.on_notification(
        answer("NEVER", kKey, proto::MediaRetryNotification::SUCCESS, "/v/x.enc?oh=1"));
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().code, Errc::not_found);
    Node junk("notification");
    junk.set_attr("type", "mediaretry");
    junk.set_attr("id", "M1");
    auto bad = desk.on_notification(junk);  // no <rmr>: not an answer at all
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::malformed);
    EXPECT_EQ(desk.waiting(), 1u);
}

TEST(MediaRetryDesk, AMessageIsAskedAboutOnce)
{
    MediaRetryDesk desk;
    ASSERT_TRUE(desk.ask(target("M1"), kKey, 0).ok());
    EXPECT_EQ(desk.ask(target("M1"), kKey, 0).error().code, Errc::wrong_state);
    (void) desk.on_notification(error_answer("M1", "2"));
    EXPECT_EQ(desk.waiting(), 0u);
    // Settled, still remembered: no second ask in this life.
    EXPECT_TRUE(desk.asked("M1"));
    EXPECT_EQ(desk.ask(target("M1"), kKey, 0).error().code, Errc::wrong_state);
    // Expired ones too.
    ASSERT_TRUE(desk.ask(target("M2"), kKey, 0).ok());
    EXPECT_EQ(desk.expire(MediaRetryDesk::kAnswerWait).size(), 1u);
    EXPECT_EQ(desk.ask(target("M2"), kKey, 0).error().code, Errc::wrong_state);
}

TEST(MediaRetryDesk, TheWaitIsBounded)
{
    MediaRetryDesk desk;
    EXPECT_FALSE(desk.next_deadline().has_value());
    const Millis t0 = 5'000;
    ASSERT_TRUE(desk.ask(target("EARLY"), kKey, t0).ok());
    ASSERT_TRUE(desk.ask(target("LATE"), kKey, t0 + 1000).ok());
    EXPECT_EQ(desk.next_deadline(), t0 + MediaRetryDesk::kAnswerWait);
    EXPECT_TRUE(desk.expire(t0 + MediaRetryDesk::kAnswerWait - 1).empty());
    EXPECT_EQ(desk.expire(t0 + MediaRetryDesk::kAnswerWait), std::vector<std::string>{"EARLY"});
    EXPECT_EQ(desk.next_deadline(), t0 + 1000 + MediaRetryDesk::kAnswerWait);
    // A late answer to an expired request is one not waited for.
    auto late = desk.on_notification(error_answer("EARLY", "2"));
    EXPECT_EQ(late.error().code, Errc::not_found);
    EXPECT_EQ(desk.expire(t0 + 1000 + MediaRetryDesk::kAnswerWait),
              std::vector<std::string>{"LATE"});
    EXPECT_FALSE(desk.next_deadline().has_value());
}

TEST(MediaRetryDesk, RefusesWhatItCannotAsk)
{
    MediaRetryDesk desk;
    EXPECT_EQ(desk.ask(target("M1"), Bytes(31, 1), 0).error().code, Errc::malformed);
    EXPECT_EQ(desk.ask(target(""), kKey, 0).error().code, Errc::malformed);
    EXPECT_EQ(desk.ask(target(std::string(200, 'X')), kKey, 0).error().code, Errc::malformed);
    for (std::size_t i = 0; i < MediaRetryDesk::kMaxWaiting; i++) {
        ASSERT_TRUE(desk.ask(target("W" + std::to_string(i)), kKey, 0).ok());
    }
    EXPECT_EQ(desk.ask(target("ONE-MORE"), kKey, 0).error().code, Errc::too_large);
    EXPECT_TRUE(desk.cancel("W0"));
    EXPECT_FALSE(desk.cancel("W0"));
    EXPECT_TRUE(desk.ask(target("ONE-MORE"), kKey, 0).ok());
}

TEST(MediaRetryDesk, AReceiptThatCannotBeBuiltSettlesItsRequest)
{
    MediaRetryDesk desk;
    ASSERT_TRUE(desk.ask(target("M1"), kKey, 0).ok());
    std::vector<MediaRetryDesk::Answer> failed;
    auto receipts = desk.take_receipts(crypto::replay_random(Bytes(4, 0)), failed);
    EXPECT_TRUE(receipts.empty());
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].message_id, "M1");
    EXPECT_FALSE(failed[0].outcome.ok());
    EXPECT_EQ(desk.waiting(), 0u);
}

}  // namespace
}  // namespace chatwoot::wa::media
