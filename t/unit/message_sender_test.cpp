// The send path of a live device, end to end on our side of the socket: a
// Connection logged in to the scripted server, the SQLite store, and the
// contact's devices as libsignal parties of their own that decrypt what we
// send.  The test plays the server: it answers our usync, bundle and group
// queries, then acks (or refuses) the message.
#include "helper/message_sender.hpp"

#include "session_flow_harness.hpp"
#include "temp_store.hpp"

#include "store/send_state_repository.hpp"
#include "store/signal_store.hpp"

#include "wa/message/outgoing.hpp"
#include "wa/proto/codec.hpp"
#include "wa/session/session_store.hpp"
#include "wa/signal/group_cipher.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/memory_protocol_store.hpp"
#include "wa/signal/padding.hpp"
#include "wa/signal/prekey_records.hpp"
#include "wa/signal/session_cipher.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace chatwoot::helper {
namespace {

namespace ws = wa::session;
using wa::Bytes;
using wa::binary::Children;
using wa::binary::Jid;
using wa::binary::Node;
using wa::test::server_node;

Jid J(std::string_view s) { return *Jid::parse(s); }

Bytes be(std::uint32_t v, std::size_t n)
{
    Bytes out(n);
    for (std::size_t i = 0; i < n; ++i) out[n - 1 - i] = static_cast<std::uint8_t>(v >> (8 * i));
    return out;
}

Node leaf(std::string tag, Bytes b) { return Node(std::move(tag), {}, std::move(b)); }

// One device of somebody else: its own keys and sessions, in memory.
struct Party {
    Jid jid;
    wa::signal::MemoryProtocolStore store;
    std::unique_ptr<wa::signal::ProtocolContext> ctx;
    wa::signal::LocalIdentity identity{};
    wa::signal::SignedPreKey signed_pre_key;
    wa::signal::PreKey pre_key;

    Party(Jid jid_, std::string_view seed) : jid(std::move(jid_))
    {
        ctx = std::make_unique<wa::signal::ProtocolContext>(
            wa::signal::ProtocolContext::create(wa::crypto::seeded_random(wa::as_bytes(seed)), store).value());
        identity = wa::signal::generate_local_identity(ctx->crypto_context()).value();
        store.set_local_identity(identity);
        signed_pre_key = wa::signal::generate_signed_pre_key(ctx->crypto_context(), identity.key_pair, 1).value();
        EXPECT_TRUE(wa::signal::store_signed_pre_key(store, signed_pre_key).ok());
        pre_key = wa::signal::generate_pre_keys(ctx->crypto_context(), 7, 1).value().at(0);
        std::vector<wa::signal::PreKey> keys{pre_key};
        EXPECT_TRUE(wa::signal::store_pre_keys(store, keys).ok());
    }

    // Its <user> in the answer to our bundle request.
    Node bundle() const
    {
        Node skey("skey", {}, Children{leaf("id", be(signed_pre_key.id, 3)),
                                       leaf("value", Bytes(signed_pre_key.key_pair.public_key.begin(),
                                                           signed_pre_key.key_pair.public_key.end())),
                                       leaf("signature", Bytes(signed_pre_key.signature.begin(),
                                                               signed_pre_key.signature.end()))});
        Node key("key", {}, Children{leaf("id", be(pre_key.id, 3)),
                                     leaf("value", Bytes(pre_key.key_pair.public_key.begin(),
                                                         pre_key.key_pair.public_key.end()))});
        Node user("user", {}, Children{leaf("registration", be(identity.registration_id, 4)),
                                        leaf("type", Bytes{5}),
                                        leaf("identity", Bytes(identity.key_pair.public_key.begin(),
                                                               identity.key_pair.public_key.end())),
                                        key, skey});
        user.set_attr("jid", jid);
        return user;
    }

    // Decrypts its <enc> from `sender`: the Message inside.
    wa::proto::Message open(const Node& enc, const Jid& sender)
    {
        auto address = wa::signal::address_of(sender).value();
        const Bytes& ct = *enc.bytes();
        auto plain = enc.attr("type") == std::optional<std::string_view>("pkmsg")
                         ? wa::signal::decrypt_pkmsg(*ctx, address, ct)
                         : wa::signal::decrypt_msg(*ctx, address, ct);
        EXPECT_TRUE(plain.ok()) << plain.error().detail;
        if (!plain) return {};
        auto unpadded = wa::signal::unpad_message(*plain);
        EXPECT_TRUE(unpadded.ok());
        return wa::proto::parse<wa::proto::Message>(*unpadded).value();
    }
};

ws::DeviceCredentials credentials()
{
    auto c = ws::generate_credentials(wa::crypto::seeded_random(wa::as_bytes("sender device")));
    c->jid = J("1000:12@s.whatsapp.net");
    c->lid = J("2000:12@lid");
    return *c;
}

const Jid kOwnLid = J("2000:12@lid");
const Jid kContactPn = J("4915112345678@s.whatsapp.net");
const Jid kContactLid = J("4455@lid");

struct SenderHarness : wa::test::FlowHarness {
    test::TempStore db{"message-sender"};
    store::SignalStore signal{*db.db, "inbox"};
    std::unique_ptr<MessageSender> sender;
    std::vector<SendResult> results;
    std::vector<Node> acks_left;  // stanzas the sender did not take

    SenderHarness() : FlowHarness(credentials())
    {
        auto pctx = wa::signal::ProtocolContext::create(wa::crypto::seeded_random(wa::as_bytes("our keys")), signal);
        signal.set_local_identity(wa::signal::generate_local_identity(pctx->crypto_context()).value());
        signal.set_own_jids(store::OwnJids{"1000:12@s.whatsapp.net", "2000:12@lid"});
        signal.set_adv_identity(Bytes{0xAD, 0x01});
        sender = std::make_unique<MessageSender>(*db.db, signal, "inbox",
                                                 wa::crypto::seeded_random(wa::as_bytes("sender")));
        on_event = [this](const ws::Event& e) {
            if (const auto* a = std::get_if<ws::event::IqAnswered>(&e)) {
                EXPECT_TRUE(sender->on_iq_answered(*conn, a->outcome, now, 1800000000));
            } else if (const auto* s = std::get_if<ws::event::Stanza>(&e)) {
                Node n = s->to_node();
                if (n.tag == "ack") {
                    if (!sender->on_ack(*conn, n, now, 1800000000)) acks_left.push_back(n);
                } else if (n.tag == "receipt" && n.attr("type") == std::optional<std::string_view>("retry")) {
                    if (sender->on_retry_receipt(*conn, n, 1800000000) != MessageSender::RetryAnswer::later) (void)conn->send_ack(n);
                }
            }
        };
        handshake();
        send(server_node("success", {{"t", "1800000000"}, {"lid", "2000:12@lid"}}));
        (void)take_received();
    }

    std::int64_t unix_now = 1800000000;  // the wall clock sends are given

    void send_message(OutgoingMessage m)
    {
        sender->send(*conn, m, [this](const SendResult& r) { results.push_back(r); }, now, unix_now);
        settle();
    }

    Node sent_one()
    {
        auto got = take_received();
        EXPECT_EQ(got.size(), 1u);
        for (const auto& n : got) if (got.size() != 1) ADD_FAILURE() << wa::binary::to_debug_string(n);
        return got.empty() ? Node{} : got.back();
    }

    void answer(const Node& request, Children children)
    {
        send(server_node("iq", {{"from", "s.whatsapp.net"}, {"type", "result"},
                                {"id", std::string(request.attr("id").value_or(""))}},
                         std::move(children)));
    }

    static Node usync_user(const std::string& jid, std::vector<int> devices, Children extra = {})
    {
        Children list;
        for (int d : devices) list.push_back(server_node("device", {{"id", std::to_string(d)}}));
        Children content{server_node("devices", {}, Children{server_node("device-list", {}, std::move(list))})};
        for (auto& e : extra) content.push_back(std::move(e));
        return server_node("user", {{"jid", jid}}, std::move(content));
    }

    static Children usync_answer(Children users)
    {
        return Children{server_node("usync", {}, Children{server_node("list", {}, std::move(users))})};
    }

    void ack(const Node& message, std::vector<std::pair<std::string, std::string>> extra = {})
    {
        Node a = server_node("ack", {{"class", "message"}, {"id", std::string(*message.attr("id"))},
                                     {"from", std::string(*message.attr("to"))}, {"t", "1800000001"}});
        for (auto& [k, v] : extra) a.set_attr(k, v);
        send(a);
    }
};

OutgoingMessage text(std::string id, std::string chat, std::string body)
{
    OutgoingMessage m;
    m.kind = OutgoingMessage::Kind::text;
    m.id = std::move(id);
    m.chat = std::move(chat);
    m.text = std::move(body);
    return m;
}

std::map<std::string, Node> encs_by_device(const Node& message)
{
    std::map<std::string, Node> out;
    const Node* parts = message.child("participants");
    if (!parts || !parts->children()) return out;
    for (const Node& to : *parts->children()) out[std::string(*to.attr("jid"))] = *to.child("enc");
    return out;
}

// A first message to a phone number: looked up (LID, devices), bundles
// fetched, every device of the contact and our own other devices get it
// once, LID-first, with our device identity; the ack makes it sent, and
// our trusted-contact token goes to the contact.
TEST(MessageSender, FirstDmToAPhoneNumberFansOutLidFirst)
{
    SenderHarness h;
    Party phone0(J("4455@lid"), "contact 0"), phone7(J("4455:7@lid"), "contact 7"),
        our_phone(J("2000@lid"), "our phone");

    h.send_message(text("3EB0AA", kContactPn.to_string(), "hello"));
    Node lookup = h.sent_one();
    ASSERT_EQ(lookup.attr("xmlns"), std::optional<std::string_view>("usync"));
    h.answer(lookup, SenderHarness::usync_answer(Children{SenderHarness::usync_user(
                         kContactPn.to_string(), {0, 7},
                         Children{server_node("contact", {{"type", "in"}}),
                                  server_node("lid", {{"val", "4455@lid"}})})}));
    EXPECT_EQ(h.signal.lid_for_pn("4915112345678"), "4455");

    Node devices = h.sent_one();  // our own account's devices
    ASSERT_EQ(devices.attr("xmlns"), std::optional<std::string_view>("usync"));
    h.answer(devices, SenderHarness::usync_answer(Children{SenderHarness::usync_user("2000@lid", {0, 12})}));

    Node fetch = h.sent_one();
    ASSERT_EQ(fetch.attr("xmlns"), std::optional<std::string_view>("encrypt"));
    EXPECT_EQ(fetch.child("key")->children()->size(), 3u);  // 4455, 4455:7, 2000: not ourselves
    h.answer(fetch, Children{server_node("list", {}, Children{phone0.bundle(), phone7.bundle(), our_phone.bundle()})});

    Node msg = h.sent_one();
    ASSERT_EQ(msg.tag, "message");
    EXPECT_EQ(msg.attr("to"), std::optional<std::string_view>("4455@lid"));
    EXPECT_EQ(msg.attr("peer_recipient_pn"), std::optional<std::string_view>("4915112345678@s.whatsapp.net"));
    ASSERT_NE(msg.child("device-identity"), nullptr);
    EXPECT_EQ(*msg.child("device-identity")->bytes(), (Bytes{0xAD, 0x01}));
    auto encs = encs_by_device(msg);
    ASSERT_EQ(encs.size(), 3u);
    EXPECT_EQ(phone0.open(encs.at("4455@lid"), kOwnLid).conversation(), "hello");
    EXPECT_EQ(phone7.open(encs.at("4455:7@lid"), kOwnLid).conversation(), "hello");
    auto mirrored = our_phone.open(encs.at("2000@lid"), kOwnLid);
    EXPECT_EQ(mirrored.devicesentmessage().destinationjid(), "4455@lid");
    EXPECT_EQ(mirrored.devicesentmessage().message().conversation(), "hello");
    EXPECT_TRUE(h.results.empty());  // waits for the ack
    EXPECT_EQ(h.db.scalar("SELECT count(*) FROM wa_recent_sends WHERE id = '3EB0AA'"), 1);

    h.ack(msg);
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(h.results[0].kind, SendResult::Kind::sent);
    Node token = h.sent_one();
    EXPECT_EQ(token.attr("xmlns"), std::optional<std::string_view>("privacy"));
    h.answer(token, {});
    EXPECT_EQ(h.db.scalar("SELECT issued FROM wa_privacy_tokens WHERE lid = '4455@lid'"), 1800000000);
    EXPECT_EQ(h.sender->in_flight(), 0u);

    // The next message needs no query: cached lists and sessions.  No
    // device has answered yet, so the sessions still start with pkmsg.
    h.send_message(text("3EB0AB", kContactPn.to_string(), "again"));
    Node second = h.sent_one();
    ASSERT_EQ(second.tag, "message");
    EXPECT_NE(second.child("device-identity"), nullptr);
    auto encs2 = encs_by_device(second);
    ASSERT_EQ(encs2.size(), 3u);
    EXPECT_EQ(encs2.at("4455:7@lid").attr("type"), std::optional<std::string_view>("pkmsg"));  // not answered yet
    EXPECT_EQ(phone7.open(encs2.at("4455:7@lid"), kOwnLid).conversation(), "again");
}

TEST(MessageSender, ANumberNotOnWhatsAppFailsWithoutSending)
{
    SenderHarness h;
    h.send_message(text("3EB0AC", "4915100000000@s.whatsapp.net", "hi"));
    Node lookup = h.sent_one();
    h.answer(lookup, SenderHarness::usync_answer(Children{server_node(
                         "user", {{"jid", "4915100000000@s.whatsapp.net"}},
                         Children{server_node("contact", {{"type", "out"}})})}));
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(h.results[0].kind, SendResult::Kind::failed);
    EXPECT_EQ(h.results[0].reason, kNotOnWhatsApp);
    EXPECT_TRUE(h.take_received().empty());
}

TEST(MessageSender, ANumberCheckAsksOnceAndKeepsTheLidItLearns)
{
    SenderHarness h;
    std::vector<NumberCheck> got;
    auto record = [&](NumberCheck how) { got.push_back(how); };
    const Jid pn = J("4915100000001@s.whatsapp.net");
    ASSERT_TRUE(h.sender->check_number(*h.conn, pn, record, h.now, h.unix_now));
    h.settle();
    // A second check of the same number waits for the same answer.
    ASSERT_TRUE(h.sender->check_number(*h.conn, pn, record, h.now, h.unix_now));
    h.settle();
    Node lookup = h.sent_one();
    EXPECT_EQ(lookup.attr("xmlns"), std::optional<std::string_view>("usync"));
    EXPECT_TRUE(got.empty());
    h.answer(lookup, SenderHarness::usync_answer(Children{server_node(
                         "user", {{"jid", "4915100000001@s.whatsapp.net"}},
                         Children{server_node("contact", {{"type", "in"}}),
                                  server_node("lid", {{"val", "777@lid"}})})}));
    EXPECT_EQ(got, (std::vector<NumberCheck>{NumberCheck::on_whatsapp, NumberCheck::on_whatsapp}));
    EXPECT_EQ(h.db.scalar("SELECT count(*) FROM wa_lid_map WHERE pn = '4915100000001'"
                          " AND lid = '777'"), 1);
    // Known now: answered at once, nothing asked.
    got.clear();
    ASSERT_TRUE(h.sender->check_number(*h.conn, pn, record, h.now, h.unix_now));
    h.settle();
    EXPECT_EQ(got, std::vector<NumberCheck>{NumberCheck::on_whatsapp});
    EXPECT_TRUE(h.take_received().empty());
}

TEST(MessageSender, ANumberCheckSaysNotOnWhatsAppOrUnknownWhenTheConnectionGoes)
{
    SenderHarness h;
    std::vector<NumberCheck> got;
    auto record = [&](NumberCheck how) { got.push_back(how); };
    ASSERT_TRUE(h.sender->check_number(*h.conn, J("4915100000000@s.whatsapp.net"), record, h.now,
                                       h.unix_now));
    h.settle();
    h.answer(h.sent_one(), SenderHarness::usync_answer(Children{server_node(
                               "user", {{"jid", "4915100000000@s.whatsapp.net"}},
                               Children{server_node("contact", {{"type", "out"}})})}));
    EXPECT_EQ(got, std::vector<NumberCheck>{NumberCheck::not_on_whatsapp});

    got.clear();
    ASSERT_TRUE(h.sender->check_number(*h.conn, J("4915100000002@s.whatsapp.net"), record, h.now,
                                       h.unix_now));
    h.settle();
    (void) h.sent_one();
    h.sender->connection_lost();
    EXPECT_EQ(got, std::vector<NumberCheck>{NumberCheck::unknown});
    // Not a phone number: nothing to ask.
    EXPECT_FALSE(h.sender->check_number(*h.conn, J("4455@lid"), record, h.now, h.unix_now));
}

// A contact known by LID with cached devices: straight to the message.
struct KnownContact : SenderHarness {
    Party contact{J("4455@lid"), "known contact"};

    KnownContact()
    {
        signal.map_lid("4915112345678", "4455");
        store::SendStateRepository st(*db.db, "inbox");
        st.put_device_list("4455@lid", "0", 1);
        st.put_device_list("2000@lid", "12", 1);  // only ourselves
    }

    Node send_and_fetch(OutgoingMessage m)
    {
        send_message(std::move(m));
        Node fetch = sent_one();
        if (fetch.attr("xmlns") == std::optional<std::string_view>("encrypt"))
            answer(fetch, Children{server_node("list", {}, Children{contact.bundle()})});
        else
            return fetch;
        return sent_one();
    }
};

TEST(MessageSender, Error463FailsWithTheReasonAndIsNotRetried)
{
    KnownContact h;
    Node msg = h.send_and_fetch(text("3EB0AD", "4455@lid", "hi"));
    ASSERT_EQ(msg.tag, "message");
    h.ack(msg, {{"error", "463"}});
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(h.results[0].kind, SendResult::Kind::failed);
    EXPECT_EQ(h.results[0].reason, kFirstMessageRefused);
    EXPECT_TRUE(h.take_received().empty());
}

// Counts the statements SQLite starts on a connection whose text begins
// with a prefix, while it lives.
class StatementCounter {
public:
    StatementCounter(sqlite3* db, std::string prefix) : db_(db), prefix_(std::move(prefix))
    {
        sqlite3_trace_v2(db_, SQLITE_TRACE_STMT, &StatementCounter::on_trace, this);
    }
    ~StatementCounter() { sqlite3_trace_v2(db_, 0, nullptr, nullptr); }
    StatementCounter(const StatementCounter&) = delete;
    StatementCounter& operator=(const StatementCounter&) = delete;
    int count() const { return count_; }

private:
    static int on_trace(unsigned, void* self, void* stmt, void*) noexcept
    {
        auto* me = static_cast<StatementCounter*>(self);
        const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(stmt));
        if (sql && std::string_view(sql).starts_with(me->prefix_)) ++me->count_;
        return 0;
    }
    sqlite3* db_;
    std::string prefix_;
    int count_ = 0;
};

// A send with its session in place reads the session record once to find
// it (LID first), once in encrypt's own check and once in libsignal: not
// again for every step that needs the address (it used to be five reads).
TEST(MessageSender, ASendReadsEachDevicesSessionThreeTimesAtMost)
{
    KnownContact h;
    Node first = h.send_and_fetch(text("3EB0D1", "4455@lid", "one"));
    ASSERT_EQ(first.tag, "message");
    h.ack(first);
    h.answer(h.sent_one(), {});  // our token
    ASSERT_EQ(h.results.size(), 1u);

    StatementCounter loads(h.db.db->raw(), "SELECT record FROM wa_sessions");
    h.send_message(text("3EB0D2", "4455@lid", "two"));
    Node second = h.sent_one();
    ASSERT_EQ(second.tag, "message");
    EXPECT_EQ(h.contact.open(encs_by_device(second).at("4455@lid"), kOwnLid).conversation(), "two");
    EXPECT_LE(loads.count(), 3);
    EXPECT_GE(loads.count(), 1);
}

TEST(MessageSender, APhashMismatchRefreshesDevicesAndSendsOnce)
{
    KnownContact h;
    Party contact2(J("4455:2@lid"), "new device");
    Node msg = h.send_and_fetch(text("3EB0AE", "4455@lid", "hi"));
    h.ack(msg, {{"phash", "2:AAAAAAAA"}});
    EXPECT_TRUE(h.results.empty());
    Node devices = h.sent_one();  // the lists were dropped
    ASSERT_EQ(devices.attr("xmlns"), std::optional<std::string_view>("usync"));
    h.answer(devices, SenderHarness::usync_answer(Children{SenderHarness::usync_user("4455@lid", {0, 2}),
                                                           SenderHarness::usync_user("2000@lid", {12})}));
    Node fetch = h.sent_one();
    ASSERT_EQ(fetch.attr("xmlns"), std::optional<std::string_view>("encrypt"));
    h.answer(fetch, Children{server_node("list", {}, Children{contact2.bundle()})});
    Node again = h.sent_one();
    EXPECT_EQ(again.attr("id"), std::optional<std::string_view>("3EB0AE"));
    auto encs = encs_by_device(again);
    ASSERT_EQ(encs.size(), 2u);
    EXPECT_EQ(contact2.open(encs.at("4455:2@lid"), kOwnLid).conversation(), "hi");
    h.ack(again, {{"phash", "2:BBBBBBBB"}});  // once only: taken as sent
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(h.results[0].kind, SendResult::Kind::sent);
}

TEST(MessageSender, NoAckInTimeOrADropMeansRetryLater)
{
    KnownContact h;
    Node msg = h.send_and_fetch(text("3EB0AF", "4455@lid", "hi"));
    ASSERT_TRUE(h.sender->next_deadline().has_value());
    h.sender->on_timer(*h.sender->next_deadline());
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(h.results[0].kind, SendResult::Kind::retry);

    h.send_message(text("3EB0AF", "4455@lid", "hi"));  // the outbox resends the same id
    Node resent = h.sent_one();
    EXPECT_EQ(resent.attr("id"), std::optional<std::string_view>("3EB0AF"));
    h.sender->connection_lost();
    ASSERT_EQ(h.results.size(), 2u);
    EXPECT_EQ(h.results[1].kind, SendResult::Kind::retry);
    EXPECT_EQ(h.sender->in_flight(), 0u);
}

TEST(MessageSender, QuoteAndRevoke)
{
    KnownContact h;
    OutgoingMessage m = text("3EB0B0", "4455@lid", "yes");
    m.quoted = "ABCD";
    Node msg = h.send_and_fetch(m);
    auto reply = h.contact.open(encs_by_device(msg).at("4455@lid"), kOwnLid);
    EXPECT_EQ(reply.extendedtextmessage().text(), "yes");
    EXPECT_EQ(reply.extendedtextmessage().contextinfo().stanzaid(), "ABCD");
    EXPECT_EQ(reply.extendedtextmessage().contextinfo().participant(), "4455@lid");
    h.ack(msg);
    h.answer(h.sent_one(), {});  // our token, once per week

    OutgoingMessage del;
    del.kind = OutgoingMessage::Kind::revoke;
    del.id = "3EB0B1";
    del.chat = "4455@lid";
    del.revoked_id = "3EB0B0";
    h.send_message(del);
    Node revoke = h.sent_one();
    auto pm = h.contact.open(encs_by_device(revoke).at("4455@lid"), kOwnLid).protocolmessage();
    EXPECT_EQ(pm.type(), wa::proto::Message::ProtocolMessage::REVOKE);
    EXPECT_EQ(pm.key().id(), "3EB0B0");
    EXPECT_TRUE(pm.key().fromme());
}

TEST(MessageSender, ADevicesNotificationDropsTheCachedListsOfBothForms)
{
    KnownContact h;
    store::SendStateRepository st(*h.db.db, "inbox");
    st.put_device_list("4915112345678@s.whatsapp.net", "0", 1);
    h.sender->devices_changed(J("4915112345678@s.whatsapp.net"));
    EXPECT_FALSE(st.device_list("4915112345678@s.whatsapp.net").has_value());
    EXPECT_FALSE(st.device_list("4455@lid").has_value());
    EXPECT_TRUE(st.device_list("2000@lid").has_value());  // ours stays
}

TEST(MessageSender, TypingAndReadGoAtOnce)
{
    SenderHarness h;
    OutgoingMessage typing;
    typing.kind = OutgoingMessage::Kind::typing;
    typing.chat = "4455@lid";
    typing.typing_on = true;
    h.send_message(typing);
    Node cs = h.sent_one();
    EXPECT_EQ(cs.tag, "chatstate");
    EXPECT_NE(cs.child("composing"), nullptr);

    OutgoingMessage read;
    read.kind = OutgoingMessage::Kind::read;
    read.chat = "4455@lid";
    read.read_ids = {"A", "B"};
    h.send_message(read);
    Node r = h.sent_one();
    EXPECT_EQ(r.tag, "receipt");
    EXPECT_EQ(r.attr("type"), std::optional<std::string_view>("read"));
    ASSERT_EQ(h.results.size(), 2u);
    EXPECT_EQ(h.results[0].kind, SendResult::Kind::sent);
    EXPECT_EQ(h.results[1].kind, SendResult::Kind::sent);
}

// Older messages of a chat asked of our phone (history on demand): one peer
// message to our own user, its enc for the phone alone (a session from the
// phone's bundle the first time), acked like any send; the next request
// needs no bundle.
TEST(MessageSender, AHistoryRequestIsAPeerMessageToOurPhone)
{
    SenderHarness h;
    Party our_phone(J("2000@lid"), "our phone");
    OutgoingMessage ask;
    ask.kind = OutgoingMessage::Kind::history_request;
    ask.id = "3EB0D1";
    ask.chat = "4455@lid";
    ask.history = {"3A0LDEST", true, 1790000000123, 40};
    h.send_message(ask);

    Node fetch = h.sent_one();
    ASSERT_EQ(fetch.attr("xmlns"), std::optional<std::string_view>("encrypt"));
    ASSERT_EQ(fetch.child("key")->children()->size(), 1u);
    EXPECT_EQ(fetch.child("key")->children()->at(0).attr("jid"), std::optional<std::string_view>("2000@lid"));
    h.answer(fetch, Children{server_node("list", {}, Children{our_phone.bundle()})});

    Node msg = h.sent_one();
    ASSERT_EQ(msg.tag, "message");
    EXPECT_EQ(msg.attr("to"), std::optional<std::string_view>("1000@s.whatsapp.net"));
    EXPECT_EQ(msg.attr("category"), std::optional<std::string_view>("peer"));
    EXPECT_EQ(msg.attr("push_priority"), std::optional<std::string_view>("high_force"));
    EXPECT_EQ(msg.child("participants"), nullptr);
    EXPECT_EQ(msg.child("tctoken"), nullptr);
    ASSERT_NE(msg.child("meta"), nullptr);
    EXPECT_EQ(msg.child("meta")->attr("appdata"), std::optional<std::string_view>("default"));
    ASSERT_NE(msg.child("device-identity"), nullptr);  // a pkmsg: the first of this session
    const Node* enc = msg.child("enc");
    ASSERT_NE(enc, nullptr);
    EXPECT_EQ(enc->attr("type"), std::optional<std::string_view>("pkmsg"));
    auto m = our_phone.open(*enc, kOwnLid);
    ASSERT_TRUE(m.has_protocolmessage());
    EXPECT_EQ(m.protocolmessage().type(), wa::proto::Message::ProtocolMessage::PEER_DATA_OPERATION_REQUEST_MESSAGE);
    const auto& op = m.protocolmessage().peerdataoperationrequestmessage();
    EXPECT_EQ(op.peerdataoperationrequesttype(), wa::proto::Message::HISTORY_SYNC_ON_DEMAND);
    const auto& r = op.historysyncondemandrequest();
    EXPECT_EQ(r.chatjid(), "4455@lid");
    EXPECT_EQ(r.oldestmsgid(), "3A0LDEST");
    EXPECT_TRUE(r.oldestmsgfromme());
    EXPECT_EQ(r.oldestmsgtimestampms(), 1790000000123);
    EXPECT_EQ(r.ondemandmsgcount(), 40);
    EXPECT_TRUE(h.results.empty());  // waits for the ack

    h.ack(msg);
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(h.results[0].kind, SendResult::Kind::sent);
    EXPECT_TRUE(h.take_received().empty());  // no token to a peer
    EXPECT_EQ(h.sender->in_flight(), 0u);

    ask.id = "3EB0D2";
    h.send_message(ask);
    Node again = h.sent_one();
    ASSERT_EQ(again.tag, "message");  // the session is there: no bundle
    EXPECT_EQ(our_phone.open(*again.child("enc"), kOwnLid).protocolmessage().peerdataoperationrequestmessage()
                  .historysyncondemandrequest().chatjid(), "4455@lid");

    // Not a chat: refused before anything goes.
    ask.id = "3EB0D3";
    ask.chat = "nonsense";
    h.send_message(ask);
    EXPECT_TRUE(h.take_received().empty());
    EXPECT_EQ(h.results.back().kind, SendResult::Kind::failed);
}

// A recipient that lost its session: the retry receipt brings fresh keys;
// the stored plaintext goes again to that device only, same id.
TEST(MessageSender, RetryReceiptResendsToThatDevice)
{
    KnownContact h;
    Node msg = h.send_and_fetch(text("3EB0B2", "4455@lid", "lost?"));
    h.ack(msg);
    h.answer(h.sent_one(), {});  // our token
    Party fresh(J("4455@lid"), "reinstalled");  // new identity and keys
    Node keys("keys", {}, Children{});
    Node bundle = fresh.bundle();
    for (const Node& c : *bundle.children())
        if (c.tag != "registration") keys.children()->push_back(c);
    Node receipt = server_node("receipt", {{"type", "retry"}, {"id", "3EB0B2"}, {"from", "4455@lid"}, {"t", "1800000002"}},
                               Children{server_node("retry", {{"count", "2"}, {"id", "3EB0B2"}, {"v", "1"}}),
                                        leaf("registration", be(fresh.identity.registration_id, 4)), keys});
    h.send(receipt);
    auto got = h.take_received();
    ASSERT_EQ(got.size(), 2u);  // the resend, then the receipt's ack
    const Node& again = got[0];
    EXPECT_EQ(again.tag, "message");
    EXPECT_EQ(again.attr("id"), std::optional<std::string_view>("3EB0B2"));
    EXPECT_EQ(again.attr("to"), std::optional<std::string_view>("4455@lid"));
    auto encs = encs_by_device(again);
    ASSERT_EQ(encs.size(), 1u);  // that device only
    const Node* enc = &encs.at("4455@lid");
    EXPECT_EQ(enc->attr("count"), std::optional<std::string_view>("2"));
    EXPECT_EQ(enc->attr("type"), std::optional<std::string_view>("pkmsg"));
    EXPECT_EQ(fresh.open(*enc, kOwnLid).conversation(), "lost?");
    EXPECT_EQ(got[1].tag, "ack");
}

// A group: info and device lists looked up, the SKDM inside each member
// device's 1:1 enc, one skmsg; holders recorded, so the next message
// carries no SKDM.
TEST(MessageSender, GroupSendsSenderKeyOnceThenSkmsg)
{
    SenderHarness h;
    Party member(J("4455@lid"), "member");
    const Jid group = J("120363000000000001@g.us");
    h.send_message(text("3EB0C0", group.to_string(), "hi all"));
    Node info = h.sent_one();
    ASSERT_EQ(info.attr("xmlns"), std::optional<std::string_view>("w:g2"));
    h.answer(info, Children{server_node("group", {{"id", "120363000000000001"}, {"addressing_mode", "lid"}},
                                        Children{server_node("participant", {{"jid", "4455@lid"}, {"phone_number", "4915112345678@s.whatsapp.net"}}),
                                                 server_node("participant", {{"jid", "2000@lid"}})})});
    Node devices = h.sent_one();
    h.answer(devices, SenderHarness::usync_answer(Children{SenderHarness::usync_user("4455@lid", {0}),
                                                           SenderHarness::usync_user("2000@lid", {12})}));
    Node fetch = h.sent_one();
    h.answer(fetch, Children{server_node("list", {}, Children{member.bundle()})});
    Node msg = h.sent_one();
    ASSERT_EQ(msg.tag, "message");
    EXPECT_EQ(msg.attr("addressing_mode"), std::optional<std::string_view>("lid"));
    EXPECT_TRUE(msg.attr("phash").has_value());
    auto skdm = member.open(encs_by_device(msg).at("4455@lid"), kOwnLid);
    ASSERT_TRUE(skdm.has_senderkeydistributionmessage());
    const auto sender_address = wa::signal::address_of(kOwnLid).value();
    const wa::signal::SenderKeyName name{group.to_string(), sender_address};
    const auto& axolotl = skdm.senderkeydistributionmessage().axolotlsenderkeydistributionmessage();
    ASSERT_TRUE(wa::signal::process_sender_key_distribution(*member.ctx, name, wa::as_bytes(axolotl)).ok());
    const Node* sk = msg.child("enc");
    ASSERT_NE(sk, nullptr);
    auto plain = wa::signal::group_decrypt(*member.ctx, name, *sk->bytes());
    ASSERT_TRUE(plain.ok()) << plain.error().detail;
    auto body = wa::proto::parse<wa::proto::Message>(*wa::signal::unpad_message(*plain)).value();
    EXPECT_EQ(body.conversation(), "hi all");
    h.ack(msg);
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(h.results[0].kind, SendResult::Kind::sent);

    h.send_message(text("3EB0C1", group.to_string(), "second"));
    Node second = h.sent_one();
    EXPECT_EQ(second.child("participants"), nullptr);  // everyone holds our key
    auto plain2 = wa::signal::group_decrypt(*member.ctx, name, *second.child("enc")->bytes());
    ASSERT_TRUE(plain2.ok()) << plain2.error().detail;
}

// The receive path asks for a group's info outside any send: one query
// per group however many ask, its answer (with the subject) kept in the
// cache that sends then use; an error fails, a dropped connection loses.
TEST(MessageSender, AGroupsInfoIsFetchedOnceOutsideASend)
{
    SenderHarness h;
    using wa::message::GroupInfoFetch;
    const Jid group = J("120363000000000001@g.us");
    EXPECT_FALSE(h.sender->group_info(group).has_value());
    std::vector<GroupInfoFetch> outcomes;
    auto record = [&](GroupInfoFetch how) { outcomes.push_back(how); };
    ASSERT_TRUE(h.sender->fetch_group(*h.conn, group, record, h.now));
    ASSERT_TRUE(h.sender->fetch_group(*h.conn, group, record, h.now));
    h.settle();
    Node info = h.sent_one();
    ASSERT_EQ(info.attr("xmlns"), std::optional<std::string_view>("w:g2"));
    EXPECT_TRUE(outcomes.empty());
    h.answer(info, Children{server_node("group", {{"id", "120363000000000001"}, {"addressing_mode", "lid"},
                                                  {"subject", "Team \xc3\xa9"}},
                                        Children{server_node("participant", {{"jid", "4455@lid"}, {"phone_number", "4915112345678@s.whatsapp.net"}}),
                                                 server_node("participant", {{"jid", "2000@lid"}})})});
    EXPECT_EQ(outcomes, (std::vector<GroupInfoFetch>{GroupInfoFetch::cached, GroupInfoFetch::cached}));
    auto cached = h.sender->group_info(group);
    ASSERT_TRUE(cached.has_value());
    EXPECT_EQ(cached->subject, "Team \xc3\xa9");
    EXPECT_EQ(cached->addressing_mode, wa::message::AddressingMode::lid);
    EXPECT_EQ(cached->participants.size(), 2u);
    // A send to it uses the cache: its first query is for devices.
    h.send_message(text("3EB0D0", group.to_string(), "hi"));
    Node devices = h.sent_one();
    EXPECT_NE(devices.attr("xmlns"), std::optional<std::string_view>("w:g2"));

    // A group we are not in: an error answer completes, as failed.
    outcomes.clear();
    const Jid gone = J("120363000000000002@g.us");
    ASSERT_TRUE(h.sender->fetch_group(*h.conn, gone, record, h.now));
    h.settle();
    Node asked = h.sent_one();
    h.send(server_node("iq", {{"from", "120363000000000002@g.us"}, {"type", "error"},
                              {"id", std::string(asked.attr("id").value_or(""))}},
                       Children{server_node("error", {{"code", "403"}, {"text", "forbidden"}})}));
    EXPECT_EQ(outcomes, (std::vector<GroupInfoFetch>{GroupInfoFetch::failed}));
    EXPECT_FALSE(h.sender->group_info(gone).has_value());

    // The connection gone first: lost.
    outcomes.clear();
    ASSERT_TRUE(h.sender->fetch_group(*h.conn, J("120363000000000003@g.us"), record, h.now));
    h.settle();
    h.sender->connection_lost();
    EXPECT_EQ(outcomes, (std::vector<GroupInfoFetch>{GroupInfoFetch::lost}));
}

}  // namespace
}  // namespace chatwoot::helper
