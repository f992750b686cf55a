// The receive path on a real SQLite store: kept <message> stanzas become
// wa_inbound rows in one unit with their ratchet, receipts go after the
// commit (and again after a failed send), undecryptable messages ask for
// retries and end as a placeholder, and one person's PN and LID land in
// one chat.  The 1:1 messages are libsignal-node's (the wa vectors).
#include "helper/device_keys.hpp"
#include "helper/message_receiver.hpp"
#include "store/send_state_repository.hpp"
#include "store/signal_store.hpp"
#include "store/wa_stanza_repository.hpp"
#include "temp_store.hpp"
#include "vectors.hpp"

#include "bridge/wa_message_json.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/memory_protocol_store.hpp"
#include "wa/signal/prekey_records.hpp"
#include "wa/signal/session_cipher.hpp"
#include "wa/signal/padding.hpp"
#include "wa/proto/message.pb.h"

#include <gtest/gtest.h>

namespace chatwoot::helper {
namespace {

using wa::Bytes;
using wa::binary::Jid;
using wa::binary::Node;
using wa::test::vector_hex;
using wa::test::vector_section;

constexpr const char* kInbox = "support";

struct Events : DeviceEvents {
    std::vector<std::string> chats;
    void inbound(std::string_view chat) override { chats.emplace_back(chat); }
    void state_changed(const DeviceStatus&) override {}
};

wa::crypto::KeyPair pair_of(const rapidjson::Value& obj, std::string_view key)
{
    return wa::crypto::x25519_key_pair(vector_hex(obj, key)).value();
}

// Bob of the vectors, as this device (us), in the SQLite store.
struct Rig {
    test::TempStore temp{"receiver"};
    store::SignalStore signal{*temp.db, kInbox};
    DeviceKeys keys{*temp.db, signal, wa::crypto::seeded_random(wa::as_bytes("keys"))};
    store::WaStanzaRepository stanzas{*temp.db};
    MessageReceiver receiver{MessageReceiver::Options{kInbox, {}, false}, *temp.db, signal, keys,
                             wa::crypto::seeded_random(wa::as_bytes("rx"))};
    Events events;
    std::vector<Node> sent;
    bool online = true;
    wa::signal::PreKeyBundle bundle;

    Rig()
    {
        const rapidjson::Value& bob = vector_section("signal_1to1")["bob"];
        wa::signal::LocalIdentity identity{pair_of(bob, "identity_priv"),
                                           bob["registration_id"].GetUint()};
        signal.set_local_identity(identity);
        signal.set_own_jids({"15550000002:1@s.whatsapp.net", "77777777777777:1@lid"});
        signal.set_adv_identity(Bytes{0xad, 0x0e});
        const rapidjson::Value& spk = bob["signed_prekey"];
        wa::signal::SignedPreKey signed_pre_key{spk["id"].GetUint(), pair_of(spk, "priv"), {}};
        Bytes sig = vector_hex(spk, "signature");
        std::copy(sig.begin(), sig.end(), signed_pre_key.signature.begin());
        EXPECT_TRUE(wa::signal::store_signed_pre_key(signal, signed_pre_key).ok());
        const rapidjson::Value& otk = bob["one_time_prekey"];
        wa::signal::PreKey pre_key{otk["id"].GetUint(), pair_of(otk, "priv")};
        EXPECT_TRUE(wa::signal::store_pre_keys(signal, std::span<const wa::signal::PreKey>(&pre_key, 1)).ok());
        bundle = {identity.registration_id, identity.key_pair.public_key, pre_key.public_part(),
                  signed_pre_key.public_part()};
    }

    void keep(const Node& node)
    {
        Bytes bytes;
        ASSERT_TRUE(wa::binary::encode_node(node, bytes).ok());
        std::string key = "message|" + std::string(node.attr("from").value_or("")) + "|" +
                          std::string(node.attr("id").value_or(""));
        if (const auto* children = node.children())
            for (const Node& c : *children)
                if (auto count = c.attr("count")) key += "|" + std::string(*count);
        ASSERT_TRUE(stanzas.keep(kInbox, key, "message", bytes, 1700000000));
    }

    std::size_t drain()
    {
        return receiver.drain([this](const Node& n) {
            if (!online) return false;
            sent.push_back(n);
            return true;
        }, &events, 1700000100);
    }

    std::vector<bridge::WaMessage> inbound()
    {
        std::vector<bridge::WaMessage> out;
        for (const auto& row : temp.rows("SELECT record FROM wa_inbound ORDER BY id")) {
            std::string error;
            auto m = bridge::parse_wa_message(row[0], &error);
            EXPECT_TRUE(m) << error;
            if (m) out.push_back(*m);
        }
        return out;
    }
};

Node message(std::string id, std::string from, std::vector<std::pair<std::string, Bytes>> encs,
             std::vector<wa::binary::Attr> extra = {}, std::string count = {})
{
    Node m("message", {{"id", {id}}, {"from", wa::binary::jid_value(*Jid::parse(from))},
                       {"t", {"1700000000"}}, {"type", {"text"}}, {"notify", {"Alice"}}});
    for (auto& a : extra) m.attrs.push_back(std::move(a));
    wa::binary::Children children;
    for (auto& [type, bytes] : encs) {
        Node e("enc", {{"type", {type}}, {"v", {"2"}}}, std::move(bytes));
        if (!count.empty()) e.set_attr("count", count);
        children.push_back(std::move(e));
    }
    m.content = std::move(children);
    return m;
}

TEST(MessageReceiver, DirectMessagesBecomeRowsThenReceipts)
{
    Rig rig;
    int i = 0;
    std::vector<std::string> texts;
    for (const auto& m : vector_section("signal_1to1")["messages"].GetArray()) {
        rig.keep(message("ID" + std::to_string(i++), "15550000001@s.whatsapp.net",
                         {{std::string(wa::test::vector_string(m, "type")), vector_hex(m, "ciphertext")}}));
        texts.emplace_back(wa::test::vector_string(m, "text"));
    }
    EXPECT_EQ(rig.drain(), texts.size());

    auto rows = rig.inbound();
    ASSERT_EQ(rows.size(), texts.size());
    for (size_t k = 0; k < rows.size(); k++) {
        EXPECT_EQ(rows[k].text, texts[k]);
        EXPECT_EQ(rows[k].chat, "15550000001@s.whatsapp.net");
        EXPECT_EQ(rows[k].push_name, "Alice");
        EXPECT_FALSE(rows[k].from_me);
    }
    ASSERT_EQ(rig.sent.size(), texts.size());
    for (const Node& r : rig.sent) {
        EXPECT_EQ(r.tag, "receipt");
        EXPECT_FALSE(r.attr("type"));
        EXPECT_EQ(r.attr("to"), "15550000001@s.whatsapp.net");
    }
    EXPECT_EQ(rig.events.chats.size(), texts.size());
    EXPECT_EQ(rig.stanzas.count(kInbox), 0u);
    // A second drain finds nothing to do: the receipts that went are marked
    // in the store with the next unit of work (here the drain's own), not
    // in a commit of their own, and none goes twice.
    EXPECT_EQ(rig.drain(), 0u);
    EXPECT_EQ(rig.sent.size(), texts.size());
    EXPECT_TRUE(rig.stanzas.owed_receipts(kInbox, 10).empty());
}

TEST(MessageReceiver, AReceiptThatDidNotGoIsSentByTheNextDrain)
{
    Rig rig;
    const auto& first = vector_section("signal_1to1")["messages"][0];
    rig.keep(message("A1", "15550000001@s.whatsapp.net",
                     {{std::string(wa::test::vector_string(first, "type")), vector_hex(first, "ciphertext")}}));
    rig.online = false;
    EXPECT_EQ(rig.drain(), 1u);
    EXPECT_EQ(rig.inbound().size(), 1u);  // committed before the receipt
    EXPECT_EQ(rig.stanzas.owed_receipts(kInbox, 10).size(), 1u);
    rig.online = true;
    rig.drain();
    ASSERT_EQ(rig.sent.size(), 1u);
    EXPECT_EQ(rig.sent[0].attr("id"), "A1");
    EXPECT_TRUE(rig.stanzas.owed_receipts(kInbox, 10).empty());
    EXPECT_EQ(rig.inbound().size(), 1u);
}

// The receipt was marked sent but died with the helper before it left:
// the server redelivers, keep() says "kept already", and the receipt goes
// again (a delivery receipt: the message is stored); nothing is filed twice.
TEST(MessageReceiver, ARedeliveryOfAHandledMessageGetsItsReceiptAgain)
{
    Rig rig;
    const auto& first = vector_section("signal_1to1")["messages"][0];
    Node m = message("R1", "15550000001@s.whatsapp.net",
                     {{std::string(wa::test::vector_string(first, "type")), vector_hex(first, "ciphertext")}});
    rig.keep(m);
    rig.drain();
    ASSERT_EQ(rig.sent.size(), 1u);
    const auto send = [&](const Node& n) { rig.sent.push_back(n); return true; };
    rig.receiver.redelivered("message|15550000001@s.whatsapp.net|R1", m, send, 1700000200);
    ASSERT_EQ(rig.sent.size(), 2u);
    EXPECT_EQ(rig.sent[1].attr("id"), "R1");
    EXPECT_FALSE(rig.sent[1].attr("type"));
    EXPECT_EQ(rig.inbound().size(), 1u);
    // A stanza not handled yet is drain()'s: no receipt from here.
    rig.receiver.redelivered("message|15550000001@s.whatsapp.net|UNKNOWN", m, send, 1700000200);
    EXPECT_EQ(rig.sent.size(), 2u);
}

TEST(MessageReceiver, UndecryptableAsksForRetriesThenPostsAPlaceholder)
{
    Rig rig;
    Bytes garbage(60, 0x41);
    garbage[0] = 0x33;
    rig.keep(message("BAD", "15550000001@s.whatsapp.net", {{"msg", garbage}}));
    rig.drain();
    ASSERT_EQ(rig.sent.size(), 1u);
    EXPECT_EQ(rig.sent[0].attr("type"), "retry");
    EXPECT_EQ(rig.sent[0].child("retry")->attr("count"), "1");
    EXPECT_EQ(rig.sent[0].child("keys"), nullptr);
    EXPECT_TRUE(rig.inbound().empty());

    // The sender's resend, its count 1: the second retry carries our keys.
    rig.keep(message("BAD", "15550000001@s.whatsapp.net", {{"msg", garbage}}, {}, "1"));
    rig.drain();
    ASSERT_EQ(rig.sent.size(), 2u);
    EXPECT_EQ(rig.sent[1].child("retry")->attr("count"), "2");
    const Node* keys = rig.sent[1].child("keys");
    ASSERT_NE(keys, nullptr);
    EXPECT_EQ(*keys->child("device-identity")->bytes(), (Bytes{0xad, 0x0e}));
    EXPECT_EQ(keys->child("key")->child("value")->bytes()->size(), 32u);
    EXPECT_TRUE(rig.inbound().empty());

    // At the limit: a placeholder, and a plain receipt so the sender stops.
    rig.keep(message("BAD", "15550000001@s.whatsapp.net", {{"msg", garbage}}, {}, "4"));
    rig.drain();
    ASSERT_EQ(rig.sent.size(), 3u);
    EXPECT_FALSE(rig.sent[2].attr("type"));
    auto rows = rig.inbound();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].id, "BAD");
    EXPECT_NE(rows[0].text.find("could not be decrypted"), std::string::npos);
    EXPECT_EQ(rig.receiver.undecryptable(), 1u);
}

// Carol writes first from her LID (no mapping known), then from her phone
// number with sender_lid: both messages land in the LID chat.
TEST(MessageReceiver, OnePersonIsOneChatWhateverFormTheyWriteIn)
{
    Rig rig;
    auto keygen = wa::crypto::SignalContext::create(wa::crypto::seeded_random(wa::as_bytes("carol")));
    wa::signal::MemoryProtocolStore carol_store(wa::signal::generate_local_identity(*keygen).value());
    auto carol = wa::signal::ProtocolContext::create(wa::crypto::seeded_random(wa::as_bytes("c")),
                                                     carol_store).value();
    const wa::signal::Address bob{"15550000002", 1};
    ASSERT_TRUE(wa::signal::process_prekey_bundle(carol, bob, rig.bundle).ok());

    auto encrypted = [&](const std::string& text) {
        wa::proto::Message m;
        m.set_conversation(text);
        std::string bytes = m.SerializeAsString();
        Bytes padded = wa::signal::pad_message(wa::as_bytes(bytes),
                                               wa::crypto::seeded_random(wa::as_bytes("p"))).value();
        auto e = wa::signal::encrypt(carol, bob, padded).value();
        return std::pair<std::string, Bytes>{std::string(wa::signal::enc_type(e.type)), e.ciphertext};
    };
    // Bob's session with Carol is keyed by the address her stanza names:
    // the first as the LID, the second as the PN (a session of its own,
    // which the same Carol session cannot serve; so both go as the LID
    // address, the second stanza naming the PN in sender_pn form).
    rig.keep(message("C1", "333444@lid", {encrypted("from the lid")}));
    rig.drain();
    rig.keep(message("C2", "333444@lid", {encrypted("now mapped")},
                     {{"sender_pn", wa::binary::jid_value(*Jid::parse("15550000003@s.whatsapp.net"))}}));
    rig.drain();
    auto rows = rig.inbound();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].chat, "333444@lid");
    EXPECT_EQ(rows[1].chat, "333444@lid");
    EXPECT_EQ(rig.signal.pn_for_lid("333444"), std::optional<std::string>("15550000003"));
}

// A media message files its row with what the download needs (and the
// placeholder text until the file is there); its receipt still follows
// the row, as for text: the row alone lets the file be fetched again.
TEST(MessageReceiver, AMediaMessageFilesItsDownloadInTheRow)
{
    Rig rig;
    auto keygen = wa::crypto::SignalContext::create(wa::crypto::seeded_random(wa::as_bytes("dora")));
    wa::signal::MemoryProtocolStore dora_store(wa::signal::generate_local_identity(*keygen).value());
    auto dora = wa::signal::ProtocolContext::create(wa::crypto::seeded_random(wa::as_bytes("d")),
                                                    dora_store).value();
    const wa::signal::Address bob{"15550000002", 1};
    ASSERT_TRUE(wa::signal::process_prekey_bundle(dora, bob, rig.bundle).ok());
    wa::proto::Message m;
    auto* img = m.mutable_imagemessage();
    img->set_mediakey(std::string(32, 'k'));
    img->set_fileencsha256(std::string(32, 'e'));
    img->set_filesha256(std::string(32, 's'));
    img->set_filelength(4242);
    img->set_directpath("/v/t62.7118-24/1.enc?ccb=11-4");
    img->set_mimetype("image/jpeg");
    img->set_caption("look");
    std::string bytes = m.SerializeAsString();
    Bytes padded = wa::signal::pad_message(wa::as_bytes(bytes),
                                           wa::crypto::seeded_random(wa::as_bytes("p"))).value();
    auto e = wa::signal::encrypt(dora, bob, padded).value();
    rig.keep(message("IMG1", "15550000004@s.whatsapp.net",
                     {{std::string(wa::signal::enc_type(e.type)), e.ciphertext}}));
    EXPECT_EQ(rig.drain(), 1u);
    auto rows = rig.inbound();
    ASSERT_EQ(rows.size(), 1u);
    ASSERT_TRUE(rows[0].media);
    EXPECT_EQ(rows[0].media->type, "image");
    EXPECT_EQ(rows[0].media->media_key, std::string(32, 'k'));
    EXPECT_EQ(rows[0].media->file_enc_sha256, std::string(32, 'e'));
    EXPECT_EQ(rows[0].media->file_length, 4242u);
    EXPECT_EQ(rows[0].media->direct_path, "/v/t62.7118-24/1.enc?ccb=11-4");
    EXPECT_EQ(rows[0].media->mimetype, "image/jpeg");
    EXPECT_NE(rows[0].text.find("look"), std::string::npos);
    ASSERT_EQ(rig.sent.size(), 1u);
    EXPECT_EQ(rig.sent[0].tag, "receipt");
}

// Our phone (device 0 of our own number) mirrors what it sent to a
// contact, wrapped in DeviceSentMessage: a from_me row in the contact's
// chat; the echo of an agent reply we sent ourselves (wa_sent) is not
// filed again; a chat the inbox ignores is not filed at all.  Each still
// gets its receipt ("sender": our own account's message).
TEST(MessageReceiver, OurPhonesMessagesMirrorOurEchoesAndIgnoredChatsDoNot)
{
    Rig rig;
    auto keygen = wa::crypto::SignalContext::create(wa::crypto::seeded_random(wa::as_bytes("phone")));
    wa::signal::MemoryProtocolStore phone_store(wa::signal::generate_local_identity(*keygen).value());
    auto phone = wa::signal::ProtocolContext::create(wa::crypto::seeded_random(wa::as_bytes("ph")),
                                                     phone_store).value();
    const wa::signal::Address us{"15550000002", 1};
    ASSERT_TRUE(wa::signal::process_prekey_bundle(phone, us, rig.bundle).ok());
    auto sent_by_phone = [&](const std::string& id, const std::string& to, const std::string& text) {
        wa::proto::Message m;
        m.mutable_devicesentmessage()->set_destinationjid(to);
        m.mutable_devicesentmessage()->mutable_message()->set_conversation(text);
        std::string bytes = m.SerializeAsString();
        Bytes padded = wa::signal::pad_message(wa::as_bytes(bytes),
                                               wa::crypto::seeded_random(wa::as_bytes("p"))).value();
        auto e = wa::signal::encrypt(phone, us, padded).value();
        return message(id, "15550000002@s.whatsapp.net",
                       {{std::string(wa::signal::enc_type(e.type)), e.ciphertext}},
                       {{"recipient", wa::binary::jid_value(*Jid::parse(to))}});
    };

    rig.keep(sent_by_phone("MINE1", "15550000001@s.whatsapp.net", "typed on the phone"));
    rig.temp.db->prepare("INSERT INTO wa_sent (inbox, wa_id, chat, chatwoot_message_id, sent_at)"
                         " VALUES ('support', 'AGENT1', '15550000001@s.whatsapp.net', 5, 1)").run();
    rig.keep(sent_by_phone("AGENT1", "15550000001@s.whatsapp.net", "an agent's reply, echoed"));
    rig.drain();
    auto rows = rig.inbound();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].id, "MINE1");
    EXPECT_TRUE(rows[0].from_me);
    EXPECT_EQ(rows[0].chat, "15550000001@s.whatsapp.net");
    EXPECT_EQ(rows[0].text, "typed on the phone");
    ASSERT_EQ(rig.sent.size(), 2u);
    EXPECT_EQ(rig.sent[0].attr("type"), "sender");
    EXPECT_EQ(rig.sent[1].attr("type"), "sender");

    // The inbox ignores that chat: receipted, not filed.
    bridge::IntakeFilter intake;
    intake.ignored_chats.insert("15550000009@s.whatsapp.net");
    MessageReceiver ignoring{MessageReceiver::Options{kInbox, intake, false}, *rig.temp.db, rig.signal,
                             rig.keys, wa::crypto::seeded_random(wa::as_bytes("rx3"))};
    rig.keep(sent_by_phone("MINE2", "15550000009@s.whatsapp.net", "to an ignored chat"));
    ignoring.drain([&](const Node& n) { rig.sent.push_back(n); return true; }, &rig.events, 1700000100);
    EXPECT_EQ(rig.inbound().size(), 1u);
    EXPECT_EQ(rig.sent.size(), 3u);
}

TEST(MessageReceiver, AKnownMappingFilesANewPersonUnderThePhoneNumber)
{
    Rig rig;
    rig.signal.map_lid("15550000001", "111222");
    const auto& first = vector_section("signal_1to1")["messages"][0];
    // libsignal-node's Alice, addressed by her phone number here; the row
    // goes to the PN chat whichever form a later message takes.
    rig.keep(message("P1", "15550000001@s.whatsapp.net",
                     {{std::string(wa::test::vector_string(first, "type")), vector_hex(first, "ciphertext")}}));
    rig.drain();
    auto rows = rig.inbound();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].chat, "15550000001@s.whatsapp.net");
}

// A group is one contact named after its subject: a group message whose
// info is not cached waits (and what came after it too) while the hook
// fetches it, once per group; then it is filed with the subject.  A fetch
// that failed files without a name and is not asked again this run; one
// lost with the connection is asked again.
TEST(MessageReceiver, AGroupMessageWaitsForItsSubject)
{
    Rig rig;
    struct Ask {
        std::string group;
        MessageReceiver::GroupInfoDone done;
    };
    std::vector<Ask> asks;
    rig.receiver.group_info_hook = [&](const Jid& group, MessageReceiver::GroupInfoDone done) {
        asks.push_back({group.to_string(), std::move(done)});
        return true;
    };
    const std::string team = "120363000000000001@g.us";
    const auto& msgs = vector_section("signal_1to1")["messages"];
    auto enc = [&](int i) {
        return std::pair<std::string, Bytes>{std::string(wa::test::vector_string(msgs[i], "type")),
                                             vector_hex(msgs[i], "ciphertext")};
    };
    const wa::binary::Attr alice{"participant", wa::binary::jid_value(*Jid::parse("15550000001@s.whatsapp.net"))};
    rig.keep(message("G1", team, {enc(0)}, {alice}));
    rig.keep(message("D1", "15550000001@s.whatsapp.net", {enc(1)}));

    EXPECT_EQ(rig.drain(), 0u);
    ASSERT_EQ(asks.size(), 1u);
    EXPECT_EQ(asks[0].group, team);
    EXPECT_TRUE(rig.inbound().empty());
    EXPECT_TRUE(rig.sent.empty());           // no receipt for what is not stored
    EXPECT_EQ(rig.stanzas.count(kInbox), 2u);
    EXPECT_EQ(rig.drain(), 0u);              // still asking: not asked twice
    EXPECT_EQ(asks.size(), 1u);

    store::SendStateRepository groups(*rig.temp.db, kInbox);
    groups.put_group_info(team, R"({"addressing_mode":"lid","subject":"Team \u00e9","participants":[]})", 1);
    asks[0].done(wa::message::GroupInfoFetch::cached);
    EXPECT_EQ(rig.drain(), 2u);
    auto rows = rig.inbound();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].id, "G1");
    EXPECT_EQ(rows[0].chat, team);
    EXPECT_EQ(rows[0].chat_name, "Team \xc3\xa9");
    EXPECT_EQ(rows[1].id, "D1");
    EXPECT_EQ(rows[1].chat_name, "");
    EXPECT_EQ(rig.sent.size(), 2u);

    // WhatsApp will not describe this one: filed without a name, and the
    // next message of that group does not wait.
    const std::string other = "120363000000000002@g.us";
    Bytes garbage(60, 0x41);
    garbage[0] = 0x33;
    rig.keep(message("G2", other, {{"msg", garbage}}, {alice}, "4"));
    EXPECT_EQ(rig.drain(), 0u);
    ASSERT_EQ(asks.size(), 2u);
    asks[1].done(wa::message::GroupInfoFetch::failed);
    EXPECT_EQ(rig.drain(), 1u);
    rig.keep(message("G3", other, {{"msg", garbage}}, {alice}, "4"));
    EXPECT_EQ(rig.drain(), 1u);
    EXPECT_EQ(asks.size(), 2u);
    rows = rig.inbound();
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[2].id, "G2");
    EXPECT_EQ(rows[2].chat, other);
    EXPECT_EQ(rows[2].chat_name, "");
    EXPECT_EQ(rows[3].id, "G3");

    // Lost with the connection: asked again by the next drain.
    const std::string third = "120363000000000003@g.us";
    rig.keep(message("G4", third, {{"msg", garbage}}, {alice}, "4"));
    EXPECT_EQ(rig.drain(), 0u);
    ASSERT_EQ(asks.size(), 3u);
    asks[2].done(wa::message::GroupInfoFetch::lost);
    EXPECT_EQ(rig.drain(), 0u);
    ASSERT_EQ(asks.size(), 4u);
    EXPECT_EQ(asks[3].group, third);

    // An entry kept before subjects were (none in it) is asked again.
    const std::string old = "120363000000000004@g.us";
    groups.put_group_info(old, R"({"addressing_mode":"pn","participants":[]})", 1);
    asks[3].done(wa::message::GroupInfoFetch::failed);
    EXPECT_EQ(rig.drain(), 1u);  // G4, unnamed
    rig.keep(message("G5", old, {{"msg", garbage}}, {alice}, "4"));
    EXPECT_EQ(rig.drain(), 0u);
    ASSERT_EQ(asks.size(), 5u);
    EXPECT_EQ(asks[4].group, old);
}

TEST(MessageReceiver, ReadReceiptsBecomeReadRows)
{
    Rig rig;
    Node r("receipt", {{"id", {"OUR1"}}, {"from", wa::binary::jid_value(*Jid::parse("15550000001@s.whatsapp.net"))},
                       {"type", {"read"}}, {"t", {"1700000200"}}},
           wa::binary::Children{Node("list", {}, wa::binary::Children{Node("item", {{"id", {"OUR2"}}})})});
    rig.receiver.on_receipt(r, &rig.events, 1700000300);
    rig.receiver.on_receipt(r, &rig.events, 1700000300);  // the same again: nothing more
    auto rows = rig.inbound();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].kind, bridge::WaMessage::Kind::read);
    EXPECT_EQ(rows[0].targets, (std::vector<std::string>{"OUR1", "OUR2"}));
    EXPECT_EQ(rows[0].chat, "15550000001@s.whatsapp.net");
    EXPECT_EQ(rig.events.chats.size(), 1u);
}

TEST(MessageReceiver, NotificationsDropDeviceListsKeepTokensAndReportRestrictions)
{
    Rig rig;
    rig.temp.db->prepare("INSERT INTO wa_device_lists (device, user, devices, fetched_at)"
                         " VALUES ('support', '15550000001@s.whatsapp.net', '0,1', 1)").run();
    EXPECT_FALSE(rig.receiver.on_notification(
        Node("notification", {{"type", {"devices"}}, {"from", {"15550000001@s.whatsapp.net"}}},
             wa::binary::Children{Node("remove")}), 1));
    EXPECT_EQ(rig.temp.scalar("SELECT count(*) FROM wa_device_lists"), 0);

    Node token("token", {{"jid", {"15550000002@s.whatsapp.net"}}, {"t", {"1700000000"}},
                         {"type", {"trusted_contact"}}}, Bytes{1, 2, 3});
    rig.receiver.on_notification(
        Node("notification", {{"type", {"privacy_token"}}, {"from", {"15550000001@s.whatsapp.net"}},
                              {"sender_lid", {"111222@lid"}}},
             wa::binary::Children{Node("tokens", {}, wa::binary::Children{token})}), 1);
    EXPECT_EQ(rig.temp.rows("SELECT lid, t FROM wa_privacy_tokens"),
              (std::vector<std::vector<std::string>>{{"111222@lid", "1700000000"}}));

    std::string json = R"({"data":{"xwa2_notify_account_reachout_timelock":{"is_active":true,"enforcement_type":"RESTRICT_ALL_COMPANIONS","time_enforcement_ends":"1783343326"}}})";
    auto text = rig.receiver.on_notification(
        Node("notification", {{"type", {"mex"}}},
             wa::binary::Children{Node("update", {}, Bytes(json.begin(), json.end()))}), 1);
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("reach-out time lock"), std::string::npos);
    EXPECT_NE(text->find("2026-07-06"), std::string::npos);
}

// Rows of the send path's cache for one group and one contact, as the
// sender leaves them after a group message and a DM.
void seed_send_state(Rig& rig)
{
    auto& db = *rig.temp.db;
    db.prepare("INSERT INTO wa_group_info (device, group_jid, info, fetched_at) VALUES"
               " ('support', '120363000000000001@g.us', '{\"subject\":\"Old\",\"participants\":[]}', 1),"
               " ('support', '120363000000000002@g.us', '{\"subject\":\"Other\",\"participants\":[]}', 1)").run();
    db.prepare("INSERT INTO wa_sender_key_holders (device, group_jid, member) VALUES"
               " ('support', '120363000000000001@g.us', '111222@lid'),"
               " ('support', '120363000000000001@g.us', '111222:3@lid'),"
               " ('support', '120363000000000001@g.us', '333444@lid'),"
               " ('support', '120363000000000002@g.us', '111222:3@lid'),"
               " ('support', '120363000000000002@g.us', '1112229@lid'),"
               " ('support', '120363000000000002@g.us', '15550000001:3@s.whatsapp.net')").run();
    for (const char* name : {"111222_1", "15550000001", "333444_1", "15550000001_128", "111222_129"})
        for (std::uint32_t dev : {0u, 3u})
            ASSERT_TRUE(rig.signal.store_session({name, dev}, Bytes{1}).ok());
    // Our sender key in both groups, under our LID device (a LID group).
    for (const char* g : {"120363000000000001@g.us", "120363000000000002@g.us"})
        ASSERT_TRUE(rig.signal.store_sender_key({g, {"77777777777777_1", 1}}, Bytes{2}).ok());
    // A member's sender key (to read their messages) stays whatever happens.
    ASSERT_TRUE(rig.signal.store_sender_key({"120363000000000001@g.us", {"333444_1", 0}}, Bytes{3}).ok());
    db.prepare("INSERT INTO wa_device_lists (device, user, devices, fetched_at) VALUES"
               " ('support', '111222@lid', '0,3', 1), ('support', '15550000001@s.whatsapp.net', '0,3', 1),"
               " ('support', '333444@lid', '0', 1)").run();
    rig.signal.map_lid("15550000001", "111222");
}

Node gp2(const char* group, wa::binary::Children changes)
{
    return Node("notification", {{"type", {"w:gp2"}}, {"from", {group}}, {"participant", {"333444@lid"}}},
                std::move(changes));
}

TEST(MessageReceiver, GroupRenamedDropsItsCachedInfoOnly)
{
    Rig rig;
    seed_send_state(rig);
    EXPECT_FALSE(rig.receiver.on_notification(
        gp2("120363000000000001@g.us", wa::binary::Children{Node("subject", {{"subject", {"New"}}})}), 1));
    EXPECT_EQ(rig.temp.rows("SELECT group_jid FROM wa_group_info"),
              (std::vector<std::vector<std::string>>{{"120363000000000002@g.us"}}));
    // Nobody went: our sender key and who holds it stand.
    EXPECT_EQ(rig.temp.scalar("SELECT count(*) FROM wa_sender_key_holders"), 6);
    EXPECT_EQ(rig.temp.scalar("SELECT count(*) FROM wa_sender_keys"), 3);
}

TEST(MessageReceiver, MemberRemovedRenewsOurSenderKeyForThatGroup)
{
    Rig rig;
    seed_send_state(rig);
    rig.receiver.on_notification(
        gp2("120363000000000001@g.us",
            wa::binary::Children{Node("remove", {}, wa::binary::Children{Node("participant", {{"jid", {"333444@lid"}}})})}),
        1);
    EXPECT_EQ(rig.temp.scalar("SELECT count(*) FROM wa_group_info WHERE group_jid = '120363000000000001@g.us'"), 0);
    // Every holder of the group goes (the next message gives the new key
    // to all that remain); the other group's are untouched.
    EXPECT_EQ(rig.temp.scalar("SELECT count(*) FROM wa_sender_key_holders WHERE group_jid = '120363000000000001@g.us'"), 0);
    EXPECT_EQ(rig.temp.scalar("SELECT count(*) FROM wa_sender_key_holders WHERE group_jid = '120363000000000002@g.us'"), 3);
    // Our key of that group is gone; the member's key and our other group's stay.
    EXPECT_EQ(rig.temp.rows("SELECT group_id, sender_name FROM wa_sender_keys ORDER BY group_id, sender_name"),
              (std::vector<std::vector<std::string>>{{"120363000000000001@g.us", "333444_1"},
                                                     {"120363000000000002@g.us", "77777777777777_1"}}));
    // A malformed change touches nothing.
    EXPECT_FALSE(rig.receiver.on_notification(gp2("120363000000000002@g.us", wa::binary::Children{}), 1));
    EXPECT_EQ(rig.temp.scalar("SELECT count(*) FROM wa_group_info"), 1);
}

TEST(MessageReceiver, IdentityChangedDropsSessionsDevicesAndHoldersUnderBothForms)
{
    Rig rig;
    seed_send_state(rig);
    // Named by its PN: the LID form goes too, through the map, and so do
    // its hosted devices' sessions.
    rig.receiver.on_notification(
        Node("notification", {{"type", {"encrypt"}}, {"from", {"15550000001@s.whatsapp.net"}}},
             wa::binary::Children{Node("identity")}), 1);
    EXPECT_EQ(rig.temp.rows("SELECT name, device_id FROM wa_sessions ORDER BY name, device_id"),
              (std::vector<std::vector<std::string>>{{"333444_1", "0"}, {"333444_1", "3"}}));
    EXPECT_EQ(rig.temp.rows("SELECT user FROM wa_device_lists"),
              (std::vector<std::vector<std::string>>{{"333444@lid"}}));
    // Its devices in every group, not a user whose id merely starts alike.
    EXPECT_EQ(rig.temp.rows("SELECT group_jid, member FROM wa_sender_key_holders ORDER BY group_jid, member"),
              (std::vector<std::vector<std::string>>{{"120363000000000001@g.us", "333444@lid"},
                                                     {"120363000000000002@g.us", "1112229@lid"}}));
    // Our sender keys are ours: they stay.
    EXPECT_EQ(rig.temp.scalar("SELECT count(*) FROM wa_sender_keys"), 3);
}

}  // namespace
}  // namespace chatwoot::helper
