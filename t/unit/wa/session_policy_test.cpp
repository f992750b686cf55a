// The small pure parts of the session layer: what a stream end means, the
// reconnect policy, the acks, and device credentials.
#include <gtest/gtest.h>

#include <limits>

#include "wa/crypto/curve_signature.hpp"
#include "wa/crypto/random.hpp"
#include "wa/session/reconnect_policy.hpp"
#include "wa/session/session_store.hpp"
#include "wa/session/stanza_ack.hpp"
#include "wa/session/stream_end.hpp"

namespace chatwoot::wa::session {
namespace {

using binary::Node;

Node node(std::string tag, std::initializer_list<std::pair<std::string, std::string>> attrs,
          binary::Children children = {})
{
    Node n(std::move(tag));
    for (const auto& [k, v] : attrs) n.set_attr(k, v);
    if (!children.empty()) n.content = std::move(children);
    return n;
}

// --- stream errors and login failures (waweb.md 1.9)

TEST(SessionStreamEnd, StreamErrors)
{
    struct Case {
        Node stanza;
        EndKind kind;
        bool reconnect;
        bool clear_keys;
    };
    const Case cases[] = {
        {node("stream:error", {{"code", "515"}}), EndKind::restart_required, true, false},
        {node("stream:error", {{"code", "401"}}, {node("conflict", {{"type", "device_removed"}})}),
         EndKind::logged_out, false, true},
        {node("stream:error", {}, {node("conflict", {{"type", "replaced"}})}), EndKind::replaced,
         false, false},
        {node("stream:error", {{"code", "503"}}), EndKind::transient, true, false},
        // A 401 without device_removed is not a logout we were told about.
        {node("stream:error", {{"code", "401"}}), EndKind::transient, true, false},
        {node("stream:error", {}, {node("xml-not-well-formed", {})}), EndKind::transient, true, false},
    };
    for (const Case& c : cases) {
        StreamEnd end = classify_stream_error(c.stanza);
        SCOPED_TRACE(binary::to_debug_string(c.stanza));
        EXPECT_EQ(end.kind, c.kind) << end_kind_name(end.kind);
        EXPECT_EQ(end.reconnect(), c.reconnect);
        EXPECT_EQ(end.clear_keys(), c.clear_keys);
        EXPECT_FALSE(end.detail.empty());
    }
    EXPECT_EQ(classify_stream_error(node("stream:error", {{"code", "515"}})).code, 515);
    EXPECT_NE(classify_stream_error(node("stream:error", {}, {node("xml-not-well-formed", {})}))
                  .detail.find("xml-not-well-formed"),
              std::string::npos);
}

TEST(SessionStreamEnd, LoginFailures)
{
    struct Case {
        const char* reason;
        EndKind kind;
        bool reconnect;
    };
    const Case cases[] = {
        {"401", EndKind::logged_out, false},      {"403", EndKind::logged_out, false},
        {"406", EndKind::logged_out, false},      {"405", EndKind::client_outdated, false},
        {"402", EndKind::banned, false},          {"500", EndKind::transient, true},
        {"503", EndKind::transient, true},        {"409", EndKind::refused, false},
        {"", EndKind::refused, false},            {"4o1", EndKind::refused, false},
    };
    for (const Case& c : cases) {
        StreamEnd end = classify_failure(node("failure", {{"reason", c.reason}}));
        EXPECT_EQ(end.kind, c.kind) << c.reason << ": " << end_kind_name(end.kind);
        EXPECT_EQ(end.reconnect(), c.reconnect) << c.reason;
    }
    StreamEnd ban = classify_failure(node("failure", {{"reason", "402"}, {"expire", "3600"}}));
    EXPECT_NE(ban.detail.find("3600"), std::string::npos);
}

TEST(SessionStreamEnd, DetailIsPrintableAndBounded)
{
    StreamEnd end = classify_stream_error(
        node("stream:error", {{"code", "999"}},
             {node("conflict", {{"type", std::string(200, 'x') + "\n\x01"}})}));
    EXPECT_LT(end.detail.size(), 150u);
    for (char c : end.detail) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << int(c);
}

// --- reconnect policy

TEST(SessionReconnectPolicy, DoublesUpToTheCapWithEqualJitter)
{
    const BackoffPolicy p{1000, 60000, 60000};
    const std::uint32_t lo = 0, hi = std::numeric_limits<std::uint32_t>::max();
    EXPECT_EQ(reconnect_delay(p, 0, lo), 500);
    EXPECT_EQ(reconnect_delay(p, 0, hi), 1000);
    EXPECT_EQ(reconnect_delay(p, 1, lo), 1000);
    EXPECT_EQ(reconnect_delay(p, 1, hi), 2000);
    EXPECT_EQ(reconnect_delay(p, 5, lo), 16000);
    EXPECT_EQ(reconnect_delay(p, 5, hi), 32000);
    EXPECT_EQ(reconnect_delay(p, 6, hi), 60000);  // 64 s capped at 60
    EXPECT_EQ(reconnect_delay(p, 6, lo), 30000);
    // Huge attempt counts neither overflow nor pass the cap.
    EXPECT_EQ(reconnect_delay(p, 4000000000u, hi), 60000);
    // The middle of the random range is the middle of the spread.
    const Millis mid = reconnect_delay(p, 2, hi / 2);
    EXPECT_GE(mid, 2999);
    EXPECT_LE(mid, 3001);
}

TEST(SessionReconnectPolicy, StableConnectionResetsTheCount)
{
    const BackoffPolicy p{1000, 60000, 60000};
    EXPECT_EQ(next_attempt(p, 0, std::nullopt), 1u);
    EXPECT_EQ(next_attempt(p, 4, std::nullopt), 5u);
    EXPECT_EQ(next_attempt(p, 4, seconds(59)), 5u);  // up, but not long enough
    EXPECT_EQ(next_attempt(p, 4, seconds(60)), 0u);
    EXPECT_EQ(next_attempt(p, std::numeric_limits<std::uint32_t>::max(), std::nullopt),
              std::numeric_limits<std::uint32_t>::max());
}

TEST(SessionReconnectPolicy, WhatEachEndLeadsTo)
{
    const BackoffPolicy p{1000, 60000, 60000};
    auto after = [&](EndKind kind) {
        return reconnect_after(p, StreamEnd{kind, 0, ""}, 3, 0);
    };
    EXPECT_EQ(after(EndKind::restart_required), 0);
    EXPECT_EQ(after(EndKind::transient), 4000);
    EXPECT_EQ(after(EndKind::protocol_error), 4000);
    EXPECT_FALSE(after(EndKind::logged_out).has_value());
    EXPECT_FALSE(after(EndKind::replaced).has_value());
    EXPECT_FALSE(after(EndKind::client_outdated).has_value());
    EXPECT_FALSE(after(EndKind::banned).has_value());
    EXPECT_FALSE(after(EndKind::refused).has_value());
    EXPECT_FALSE(after(EndKind::local_close).has_value());
}

// --- acks (whatsmeow receipt.go sendAck)

TEST(SessionStanzaAck, WhichStanzasNeedOne)
{
    for (const char* tag : {"message", "receipt", "notification", "call"}) {
        EXPECT_TRUE(needs_ack(Node(tag))) << tag;
    }
    for (const char* tag : {"iq", "ib", "success", "presence", "chatstate", "ack"}) {
        EXPECT_FALSE(needs_ack(Node(tag))) << tag;
    }
}

TEST(SessionStanzaAck, ReceiptAckCarriesParticipantRecipientAndType)
{
    Node receipt("receipt");
    receipt.set_attr("from", *binary::Jid::parse("120363000000000000@g.us"));
    receipt.set_attr("id", "3EB0CC");
    receipt.set_attr("participant", *binary::Jid::parse("5511888880000:3@s.whatsapp.net"));
    receipt.set_attr("recipient", *binary::Jid::parse("5511777770000@s.whatsapp.net"));
    receipt.set_attr("type", "read");
    receipt.set_attr("t", "1800000000");
    auto ack = build_ack(receipt);
    ASSERT_TRUE(ack.ok());
    EXPECT_EQ(binary::to_debug_string(*ack),
              binary::to_debug_string(Node(
                  "ack", {{"class", binary::Value{"receipt"}},
                          {"id", binary::Value{"3EB0CC"}},
                          {"to", binary::jid_value(*binary::Jid::parse("120363000000000000@g.us"))},
                          {"participant",
                           binary::jid_value(*binary::Jid::parse("5511888880000:3@s.whatsapp.net"))},
                          {"recipient",
                           binary::jid_value(*binary::Jid::parse("5511777770000@s.whatsapp.net"))},
                          {"type", binary::Value{"read"}}})));
    // The JIDs keep their wire form.
    EXPECT_TRUE(ack->find_attr("to")->value.is_jid());
}

TEST(SessionStanzaAck, MessageAckHasNoTypeAndANackHasItsCode)
{
    Node message("message");
    message.set_attr("from", *binary::Jid::parse("5511888880000@s.whatsapp.net"));
    message.set_attr("id", "3EB0DD");
    message.set_attr("type", "text");
    auto ack = build_ack(message);
    ASSERT_TRUE(ack.ok());
    EXPECT_FALSE(ack->attr("type").has_value());
    EXPECT_FALSE(ack->attr("error").has_value());
    auto nack = build_ack(message, nack_parsing_error);
    ASSERT_TRUE(nack.ok());
    EXPECT_EQ(nack->attr("error"), "487");
}

TEST(SessionStanzaAck, NoIdOrNoFromIsRefused)
{
    Node no_id("notification");
    no_id.set_attr("from", binary::server_jid());
    EXPECT_EQ(build_ack(no_id).error().code, Errc::malformed);
    Node no_from("notification");
    no_from.set_attr("id", "1");
    auto r = build_ack(no_from);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().detail.find("no from"), std::string::npos);
}

// --- credentials

TEST(SessionStore, GeneratedCredentialsAreConsistent)
{
    auto c = generate_credentials(crypto::seeded_random(as_bytes("creds")));
    ASSERT_TRUE(c.ok()) << c.error().detail;
    EXPECT_FALSE(c->paired());
    EXPECT_GE(c->registration_id, 1u);
    EXPECT_LE(c->registration_id, 16380u);
    EXPECT_EQ(c->signed_prekey.id, 1u);
    EXPECT_NE(c->noise_key.public_key, c->identity_key.public_key);
    // The signed prekey verifies under the identity key, over 0x05 || key.
    Bytes signed_part{0x05};
    signed_part.insert(signed_part.end(), c->signed_prekey.key.public_key.begin(),
                       c->signed_prekey.key.public_key.end());
    EXPECT_TRUE(crypto::curve_verify(c->identity_key.public_key, signed_part,
                                     c->signed_prekey.signature)
                    .ok());
    // Same source, same device; another source, another device.
    auto again = generate_credentials(crypto::seeded_random(as_bytes("creds")));
    EXPECT_EQ(again->identity_key.public_key, c->identity_key.public_key);
    auto other = generate_credentials(crypto::seeded_random(as_bytes("other")));
    EXPECT_NE(other->identity_key.public_key, c->identity_key.public_key);
    EXPECT_NE(other->adv_secret, c->adv_secret);
}

TEST(SessionStore, RandomFailureIsAnError)
{
    auto c = generate_credentials(crypto::replay_random(Bytes(40, 1)));
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, Errc::crypto_failure);
}

TEST(SessionStore, MemoryStoreReportsWhatItHolds)
{
    MemorySessionStore store;
    EXPECT_EQ(store.load_credentials().error().code, Errc::not_found);
    auto c = generate_credentials(crypto::seeded_random(as_bytes("creds")));
    store.set(*c);
    ASSERT_TRUE(store.load_credentials().ok());
    EXPECT_EQ(store.load_credentials()->noise_key.public_key, c->noise_key.public_key);
    store.fail_with(make_error(Errc::crypto_failure, "disk on fire"));
    EXPECT_EQ(store.load_credentials().error().detail, "disk on fire");
    EXPECT_EQ(store.loads(), 4);
}

}  // namespace
}  // namespace chatwoot::wa::session
