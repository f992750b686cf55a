// The steps after <success>, against the scripted server: the prekey
// count, an upload of 812 when the server holds none, a refill of 50 under
// the threshold, none above it, the encrypt notification's refill, then
// passive active and presence available.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "session_flow_harness.hpp"
#include "wa/crypto/curve_signature.hpp"
#include "wa/crypto/signal_context.hpp"
#include "wa/session/after_login.hpp"

namespace chatwoot::wa::session {
namespace {

using binary::Children;
using binary::Node;
using test::FlowHarness;
using test::server_node;

DeviceCredentials paired_credentials()
{
    auto c = generate_credentials(crypto::seeded_random(as_bytes("login device")));
    EXPECT_TRUE(c.ok());
    c->jid = binary::Jid::parse("5511999990000:7@s.whatsapp.net");
    c->lid = binary::Jid::parse("123456789012345:7@lid");
    return *c;
}

// Keys in memory, as the helper's store keeps them on disk: made on
// request, marked when the server has them, unmarked ones offered again.
class MemoryKeeper final : public PreKeyKeeper {
public:
    explicit MemoryKeeper(const DeviceCredentials& c)
        : ctx_(crypto::SignalContext::create(crypto::seeded_random(as_bytes("keeper"))).value()),
          identity_{c.identity_key, c.registration_id},
          signed_{c.signed_prekey.id, c.signed_prekey.key, c.signed_prekey.signature}
    {
    }

    Result<PreKeyBatch> prepare_upload(std::uint32_t count) override
    {
        ++prepared;
        if (fail) return make_error(Errc::store_failure, "disk full");
        while (pending_.size() < count) {
            auto more = signal::generate_pre_keys(ctx_, next_id_, count - pending_.size());
            if (!more.ok()) return more.error();
            next_id_ = signal::next_pre_key_id(more->back().id);
            pending_.insert(pending_.end(), more->begin(), more->end());
        }
        return PreKeyBatch{identity_, {pending_.begin(), pending_.begin() + count}, signed_};
    }

    Status mark_uploaded(std::span<const std::uint32_t> ids) override
    {
        for (std::uint32_t id : ids) {
            uploaded.insert(id);
            std::erase_if(pending_, [id](const signal::PreKey& k) { return k.id == id; });
        }
        return Done{};
    }

    std::set<std::uint32_t> uploaded;
    int prepared = 0;
    bool fail = false;

private:
    crypto::SignalContext ctx_;
    signal::LocalIdentity identity_;
    signal::SignedPreKey signed_;
    std::vector<signal::PreKey> pending_;
    std::uint32_t next_id_ = 1;
};

struct LoginHarness : FlowHarness {
    DeviceCredentials creds = paired_credentials();
    MemoryKeeper keeper{creds};
    AfterLogin after;
    std::vector<LoginEvent> flow_events;
    std::vector<Node> not_ours;  // stanzas the flow left alone

    LoginHarness()
        : FlowHarness(paired_credentials()), after(keeper, AfterLoginConfig{"Acme Support"})
    {
        on_event = [this](const Event& e) {
            if (std::holds_alternative<event::LoggedIn>(e)) {
                after.on_logged_in(*conn, now);
            } else if (const auto* a = std::get_if<event::IqAnswered>(&e)) {
                (void)after.on_iq_answered(*conn, a->outcome, now);
            } else if (const auto* s = std::get_if<event::Stanza>(&e)) {
                if (!after.on_stanza(*conn, s->to_node(), now)) not_ours.push_back(s->to_node());
            }
            while (auto le = after.poll_event()) flow_events.push_back(std::move(*le));
        };
        handshake();
        send(server_node("success", {{"t", "1800000000"}, {"lid", "123456789012345@lid"}}));
    }

    // The one node the client sent since the last look.
    Node sent_one()
    {
        auto got = take_received();
        EXPECT_EQ(got.size(), 1u);
        return got.empty() ? Node{} : got.back();
    }

    void answer(const Node& request, Children children = {})
    {
        send(server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "result"},
                                {"id", std::string(request.attr("id").value_or(""))}},
                         std::move(children)));
    }

    void answer_error(const Node& request, std::string code)
    {
        send(server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "error"},
                                {"id", std::string(request.attr("id").value_or(""))}},
                         {server_node("error", {{"code", code}, {"text", "nope"}})}));
    }

    template <class E>
    std::vector<E> flow() const
    {
        std::vector<E> out;
        for (const auto& e : flow_events) {
            if (const auto* p = std::get_if<E>(&e)) out.push_back(*p);
        }
        return out;
    }

    // passive active, answered, then presence: the end of every path.
    void expect_activation()
    {
        Node passive = sent_one();
        EXPECT_EQ(passive.attr("xmlns"), "passive");
        EXPECT_EQ(passive.attr("type"), "set");
        EXPECT_NE(passive.child("active"), nullptr);
        EXPECT_FALSE(after.active());
        answer(passive);
        Node presence = sent_one();
        EXPECT_EQ(presence.tag, "presence");
        EXPECT_EQ(presence.attr("type"), "available");
        EXPECT_EQ(presence.attr("name"), "Acme Support");
        EXPECT_TRUE(after.active());
        EXPECT_EQ(flow<login_event::Active>().size(), 1u);
    }
};

Node count_node(std::string value)
{
    return server_node("count", {{"value", value}});
}

std::size_t keys_in(const Node& upload)
{
    const Node* list = upload.child("list");
    return list && list->children() ? list->children()->size() : 0;
}

TEST(SessionAfterLogin, CountZeroUploads812SignedKeysThenGoesActive)
{
    LoginHarness h;
    Node count = h.sent_one();
    EXPECT_EQ(count.tag, "iq");
    EXPECT_EQ(count.attr("xmlns"), "encrypt");
    EXPECT_EQ(count.attr("type"), "get");
    EXPECT_NE(count.child("count"), nullptr);

    h.answer(count, {count_node("0")});
    ASSERT_EQ(h.flow<login_event::PreKeyCount>().size(), 1u);
    EXPECT_EQ(h.flow<login_event::PreKeyCount>()[0].count, 0u);

    Node upload = h.sent_one();
    EXPECT_EQ(upload.attr("xmlns"), "encrypt");
    EXPECT_EQ(upload.attr("type"), "set");
    ASSERT_EQ(keys_in(upload), 812u);
    // Distinct ids, and the server can check the signed prekey with the
    // identity it is given.
    std::set<Bytes> ids;
    for (const Node& k : *upload.child("list")->children()) ids.insert(*k.child("id")->bytes());
    EXPECT_EQ(ids.size(), 812u);
    const Node* skey = upload.child("skey");
    ASSERT_NE(skey, nullptr);
    Bytes signed_message{0x05};
    const Bytes& spk = *skey->child("value")->bytes();
    signed_message.insert(signed_message.end(), spk.begin(), spk.end());
    EXPECT_TRUE(crypto::curve_verify(*upload.child("identity")->bytes(), signed_message,
                                     *skey->child("signature")->bytes())
                    .ok());
    EXPECT_EQ(*upload.child("identity")->bytes(), crypto::to_bytes(h.creds.identity_key.public_key));

    // Not marked until the server says so; nothing else goes meanwhile.
    EXPECT_TRUE(h.keeper.uploaded.empty());
    EXPECT_TRUE(h.after.uploading());
    EXPECT_TRUE(h.take_received().empty());

    h.answer(upload);
    EXPECT_EQ(h.keeper.uploaded.size(), 812u);
    ASSERT_EQ(h.flow<login_event::PreKeysUploaded>().size(), 1u);
    EXPECT_EQ(h.flow<login_event::PreKeysUploaded>()[0].count, 812u);
    h.expect_activation();
    EXPECT_TRUE(h.flow<login_event::StepFailed>().empty());
}

TEST(SessionAfterLogin, CountAtOrAboveTheThresholdUploadsNothing)
{
    LoginHarness h;
    h.answer(h.sent_one(), {count_node("5")});
    EXPECT_EQ(h.keeper.prepared, 0);
    h.expect_activation();
    EXPECT_TRUE(h.flow<login_event::PreKeysUploaded>().empty());
}

TEST(SessionAfterLogin, CountUnderTheThresholdRefillsFifty)
{
    LoginHarness h;
    h.answer(h.sent_one(), {count_node("4")});
    Node upload = h.sent_one();
    EXPECT_EQ(keys_in(upload), 50u);
    h.answer(upload);
    EXPECT_EQ(h.keeper.uploaded.size(), 50u);
    h.expect_activation();
}

TEST(SessionAfterLogin, EncryptNotificationWithALowCountRefills)
{
    LoginHarness h;
    h.answer(h.sent_one(), {count_node("100")});
    h.expect_activation();

    // Plenty left: noted, nothing sent but the notification's ack.
    h.send(server_node("notification", {{"from", "s.whatsapp.net"}, {"type", "encrypt"}, {"id", "n1"}},
                       {count_node("20")}));
    Node ack = h.sent_one();
    EXPECT_EQ(ack.tag, "ack");
    EXPECT_EQ(h.keeper.prepared, 0);

    h.send(server_node("notification", {{"from", "s.whatsapp.net"}, {"type", "encrypt"}, {"id", "n2"}},
                       {count_node("0")}));
    auto got = h.take_received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].tag, "ack");
    EXPECT_EQ(got[1].attr("xmlns"), "encrypt");
    EXPECT_EQ(keys_in(got[1]), 812u);
    EXPECT_TRUE(h.not_ours.empty());

    // A second low count while one upload is in flight adds none.
    h.send(server_node("notification", {{"from", "s.whatsapp.net"}, {"type", "encrypt"}, {"id", "n3"}},
                       {count_node("1")}));
    EXPECT_EQ(h.sent_one().tag, "ack");
    EXPECT_EQ(h.keeper.prepared, 1);

    h.answer(got[1]);
    EXPECT_EQ(h.keeper.uploaded.size(), 812u);
    EXPECT_TRUE(h.take_received().empty());  // already active: nothing more

    // An encrypt notification about identities is not this flow's.
    h.send(server_node("notification", {{"from", "s.whatsapp.net"}, {"type", "encrypt"}, {"id", "n4"}},
                       {server_node("identity", {})}));
    EXPECT_EQ(h.not_ours.size(), 1u);

    // Nor is a count from anyone but the server.
    h.send(server_node("notification",
                       {{"from", "5511988887777@s.whatsapp.net"}, {"type", "encrypt"}, {"id", "n5"}},
                       {count_node("0")}));
    EXPECT_EQ(h.not_ours.size(), 2u);
    EXPECT_EQ(h.keeper.prepared, 1);
}

TEST(SessionAfterLogin, RefusedUploadIsNotMarkedAndTheDeviceStillGoesActive)
{
    LoginHarness h;
    h.answer(h.sent_one(), {count_node("0")});
    Node upload = h.sent_one();
    h.answer_error(upload, "406");
    EXPECT_TRUE(h.keeper.uploaded.empty());
    auto failed = h.flow<login_event::StepFailed>();
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].step, "prekey upload");
    EXPECT_NE(failed[0].error.detail.find("406"), std::string::npos);
    h.expect_activation();

    // The next low count offers the same keys again.
    h.send(server_node("notification", {{"from", "s.whatsapp.net"}, {"type", "encrypt"}, {"id", "n1"}},
                       {count_node("0")}));
    auto got = h.take_received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].child("list")->children()->front(), upload.child("list")->children()->front());
}

TEST(SessionAfterLogin, BadCountAnswerOrKeeperFailureIsReportedAndActivationGoesOn)
{
    {
        LoginHarness h;
        h.answer(h.sent_one(), {count_node("many")});
        auto failed = h.flow<login_event::StepFailed>();
        ASSERT_EQ(failed.size(), 1u);
        EXPECT_EQ(failed[0].step, "prekey count");
        EXPECT_EQ(failed[0].error.code, Errc::malformed);
        h.expect_activation();
    }
    {
        LoginHarness h;
        h.keeper.fail = true;
        h.answer(h.sent_one(), {count_node("0")});
        auto failed = h.flow<login_event::StepFailed>();
        ASSERT_EQ(failed.size(), 1u);
        EXPECT_EQ(failed[0].error.code, Errc::store_failure);
        h.expect_activation();
    }
    {
        LoginHarness h;
        h.answer_error(h.sent_one(), "500");
        EXPECT_EQ(h.flow<login_event::StepFailed>().size(), 1u);
        h.expect_activation();
    }
}

TEST(SessionAfterLogin, PrekeysWantedFollowsTheThreshold)
{
    EXPECT_EQ(prekeys_wanted(0), 812u);
    EXPECT_EQ(prekeys_wanted(1), 50u);
    EXPECT_EQ(prekeys_wanted(4), 50u);
    EXPECT_EQ(prekeys_wanted(5), 0u);
    EXPECT_EQ(prekeys_wanted(812), 0u);
    EXPECT_EQ(parse_prekey_count(Node("iq")).error().code, Errc::malformed);
}

}  // namespace
}  // namespace chatwoot::wa::session
