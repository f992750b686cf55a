// HistorySync protobuf to values: which fields land where, which text
// counts, what is skipped, and garbage refused.  The chunks are built here
// with our generated classes; the vector's Baileys-encoded chunk is read in
// history_blob_test.cpp.
#include <gtest/gtest.h>

#include "wa/history/history_sync.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/history_sync.pb.h"
#include "wa/proto/message.pb.h"

namespace chatwoot::wa::history {
namespace {

constexpr const char* kGroup = "120363012345678901@g.us";
constexpr const char* kPeer = "15550000001@s.whatsapp.net";

proto::WebMessageInfo* add_message(proto::Conversation* c, const char* id)
{
    proto::WebMessageInfo* m = c->add_messages()->mutable_message();
    m->mutable_key()->set_remotejid(c->id());
    m->mutable_key()->set_id(id);
    return m;
}

Bytes sample()
{
    proto::HistorySync sync;
    sync.set_synctype(proto::HistorySync_HistorySyncType_FULL);
    sync.set_chunkorder(4);
    sync.set_progress(37);

    proto::Conversation* peer = sync.add_conversations();
    peer->set_id(kPeer);
    peer->set_lidjid("123456789012345@lid");
    peer->set_displayname("Alice");
    {
        auto* m = add_message(peer, "P1");
        m->mutable_message()->set_conversation("plain text");
        m->set_messagetimestamp(1690000001);
        m->set_pushname("Alice A.");
    }
    {
        auto* m = add_message(peer, "P2");
        m->mutable_key()->set_fromme(true);
        m->mutable_message()->mutable_extendedtextmessage()->set_text("see https://example.org");
        m->set_messagetimestamp(1690000002);
    }
    {
        auto* m = add_message(peer, "P3");
        m->mutable_message()
            ->mutable_ephemeralmessage()
            ->mutable_message()
            ->mutable_extendedtextmessage()
            ->set_text("disappearing");
    }
    {
        auto* m = add_message(peer, "P4");
        m->mutable_message()->mutable_imagemessage()->set_caption("a photo");
    }
    {
        // A system entry: no content at all.
        auto* m = add_message(peer, "P5");
        m->set_messagestubtype(proto::WebMessageInfo_StubType_REVOKE);
    }
    // Entries that cannot name a message.
    peer->add_messages();
    peer->add_messages()->mutable_message()->mutable_message()->set_conversation("no key");
    peer->add_messages()->mutable_message()->mutable_key()->set_remotejid(kPeer);

    proto::Conversation* group = sync.add_conversations();
    group->set_id(kGroup);
    group->set_name("Team");
    {
        auto* m = add_message(group, "G1");
        m->mutable_key()->set_participant("15550000003@s.whatsapp.net");
        m->mutable_message()->set_conversation("hi team");
    }
    {
        // The author only in WebMessageInfo.participant; no remoteJid.
        auto* m = group->add_messages()->mutable_message();
        m->mutable_key()->set_id("G2");
        m->set_participant("15550000004@s.whatsapp.net");
        m->mutable_message()->set_conversation("");
    }

    auto* p = sync.add_pushnames();
    p->set_id(kPeer);
    p->set_pushname("Alice A.");
    auto* map = sync.add_phonenumbertolidmappings();
    map->set_pnjid(kPeer);
    map->set_lidjid("123456789012345@lid");
    return proto::serialize(sync);
}

TEST(HistorySync, HeaderFields)
{
    auto data = parse_history_sync(sample());
    ASSERT_TRUE(data.ok()) << data.error().detail;
    EXPECT_EQ(data->type, HistorySyncType::full);
    EXPECT_EQ(data->chunk_order, 4u);
    EXPECT_EQ(data->progress, 37u);
    ASSERT_EQ(data->push_names.size(), 1u);
    EXPECT_EQ(data->push_names[0].jid, kPeer);
    EXPECT_EQ(data->push_names[0].name, "Alice A.");
    ASSERT_EQ(data->jid_mappings.size(), 1u);
    EXPECT_EQ(data->jid_mappings[0].pn_jid, kPeer);
    EXPECT_EQ(data->jid_mappings[0].lid_jid, "123456789012345@lid");
}

TEST(HistorySync, ConversationsAndTexts)
{
    auto data = parse_history_sync(sample());
    ASSERT_TRUE(data.ok());
    ASSERT_EQ(data->conversations.size(), 2u);
    const HistoryConversation& peer = data->conversations[0];
    EXPECT_EQ(peer.jid, kPeer);
    EXPECT_EQ(peer.name, "Alice");
    EXPECT_EQ(peer.lid_jid, "123456789012345@lid");
    EXPECT_EQ(peer.pn_jid, "");
    ASSERT_EQ(peer.messages.size(), 5u);

    EXPECT_EQ(peer.messages[0].id, "P1");
    EXPECT_EQ(peer.messages[0].chat_jid, kPeer);
    EXPECT_FALSE(peer.messages[0].from_me);
    EXPECT_EQ(peer.messages[0].timestamp, 1690000001u);
    EXPECT_EQ(peer.messages[0].push_name, "Alice A.");
    EXPECT_EQ(peer.messages[0].text, "plain text");

    EXPECT_TRUE(peer.messages[1].from_me);
    EXPECT_EQ(peer.messages[1].text, "see https://example.org");
    EXPECT_EQ(peer.messages[2].text, "disappearing");
    EXPECT_EQ(peer.messages[3].id, "P4");
    EXPECT_FALSE(peer.messages[3].text.has_value());  // media is not text
    EXPECT_EQ(peer.messages[4].id, "P5");
    EXPECT_FALSE(peer.messages[4].text.has_value());

    // An empty entry, one without a key and one without an id.
    EXPECT_EQ(data->skipped_messages, 3u);

    const HistoryConversation& group = data->conversations[1];
    EXPECT_EQ(group.name, "Team");
    ASSERT_EQ(group.messages.size(), 2u);
    EXPECT_EQ(group.messages[0].participant, "15550000003@s.whatsapp.net");
    EXPECT_EQ(group.messages[0].text, "hi team");
    EXPECT_EQ(group.messages[1].chat_jid, kGroup);
    EXPECT_EQ(group.messages[1].participant, "15550000004@s.whatsapp.net");
    EXPECT_EQ(group.messages[1].text, "");  // present but empty is still text
}

TEST(HistorySync, EmptyAndUnknownType)
{
    auto empty = parse_history_sync({});
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(empty->type, HistorySyncType::unknown);
    EXPECT_TRUE(empty->conversations.empty());

    // syncType = 42: a value newer than our enum.
    const Bytes future{0x08, 0x2a};
    auto unknown = parse_history_sync(future);
    ASSERT_TRUE(unknown.ok()) << unknown.error().detail;
    EXPECT_EQ(unknown->type, HistorySyncType::unknown);

    const Bytes on_demand{0x08, 0x06};
    EXPECT_EQ(parse_history_sync(on_demand)->type, HistorySyncType::on_demand);
}

TEST(HistorySync, GarbageIsMalformed)
{
    const Bytes cases[] = {
        {0xff, 0xff, 0xff},                   // a tag varint that never ends
        {0x12, 0x05, 0x0a, 0x01},             // conversations longer than the input
        {0x0f, 0x00},                         // wire type 7 does not exist
        {0x12, 0x03, 0x12, 0x05, 0x0a},       // a message inside a conversation, cut
    };
    for (const Bytes& c : cases) {
        auto r = parse_history_sync(c);
        ASSERT_FALSE(r.ok()) << to_hex(c);
        EXPECT_EQ(r.error().code, Errc::malformed) << to_hex(c);
    }
    // The sample itself, cut anywhere inside, never crashes; cut inside a
    // field it is refused.
    const Bytes whole = sample();
    for (std::size_t n = 0; n <= whole.size(); ++n) {
        (void)parse_history_sync(ByteView(whole.data(), n));
    }
    EXPECT_FALSE(parse_history_sync(ByteView(whole.data(), whole.size() - 1)).ok());
}

TEST(HistorySync, DeepWrappersStopAtTheBound)
{
    // Six ephemeral wrappers around the text: deeper than anyone sends.
    proto::HistorySync sync;
    proto::Conversation* c = sync.add_conversations();
    c->set_id(kPeer);
    proto::Message* m = add_message(c, "DEEP")->mutable_message();
    for (int i = 0; i < 6; ++i) m = m->mutable_ephemeralmessage()->mutable_message();
    m->set_conversation("buried");
    auto data = parse_history_sync(proto::serialize(sync));
    ASSERT_TRUE(data.ok());
    EXPECT_FALSE(data->conversations[0].messages[0].text.has_value());
}


// What the store keeps for a later download and for the send path: a media
// message's keys, path and kind, a contact's tctoken, the NCT salt.
TEST(HistorySync, MediaKeysTokensAndSalt)
{
    proto::HistorySync sync;
    sync.set_nctsalt(std::string("\x01\x02\x03\x04", 4));
    proto::Conversation* c = sync.add_conversations();
    c->set_id("123456789012345@lid");
    c->set_tctoken(std::string("tok-bytes"));
    c->set_tctokentimestamp(1700000000);
    {
        auto* img = add_message(c, "M1")->mutable_message()->mutable_imagemessage();
        img->set_mediakey(std::string(32, 'k'));
        img->set_filesha256(std::string(32, 's'));
        img->set_fileencsha256(std::string(32, 'e'));
        img->set_filelength(1234);
        img->set_directpath("/v/t62.7118-24/1_2_n.enc?ccb=11-4");
        img->set_mimetype("image/jpeg");
        img->set_caption("look");
    }
    {
        // A key that is not 32 bytes: nothing could decrypt it.
        auto* doc = add_message(c, "M2")->mutable_message()->mutable_documentmessage();
        doc->set_mediakey(std::string(5, 'k'));
        doc->set_directpath("/v/x");
    }
    add_message(c, "M3")->mutable_message()->mutable_locationmessage()->set_degreeslatitude(1.5);

    auto data = parse_history_sync(proto::serialize(sync));
    ASSERT_TRUE(data.ok()) << data.error().detail;
    EXPECT_EQ(data->nct_salt, (Bytes{1, 2, 3, 4}));
    const auto& conv = data->conversations.at(0);
    EXPECT_EQ(std::string(conv.tc_token.begin(), conv.tc_token.end()), "tok-bytes");
    EXPECT_EQ(conv.tc_token_timestamp, 1700000000u);
    ASSERT_EQ(conv.messages.size(), 3u);
    const HistoryMessage& m1 = conv.messages[0];
    EXPECT_FALSE(m1.text.has_value());
    EXPECT_EQ(m1.kind, "image");
    EXPECT_EQ(m1.caption, "look");
    ASSERT_TRUE(m1.media.has_value());
    EXPECT_EQ(m1.media->media_key, std::string(32, 'k'));
    EXPECT_EQ(m1.media->file_enc_sha256, std::string(32, 'e'));
    EXPECT_EQ(m1.media->direct_path, "/v/t62.7118-24/1_2_n.enc?ccb=11-4");
    EXPECT_EQ(m1.media->file_length, 1234u);
    EXPECT_EQ(conv.messages[1].kind, "document");
    EXPECT_FALSE(conv.messages[1].media.has_value());
    EXPECT_EQ(conv.messages[2].kind, "location");
    EXPECT_FALSE(conv.messages[2].media.has_value());
}

}  // namespace
}  // namespace chatwoot::wa::history
