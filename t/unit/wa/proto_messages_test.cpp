#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/proto/adv.pb.h"
#include "wa/proto/codec.hpp"
#include "wa/proto/handshake.pb.h"
#include "wa/proto/history_sync.pb.h"
#include "wa/proto/message.pb.h"

namespace chatwoot::wa::proto {
namespace {

// Encodings made by npm baileys 7.0.0-rc14 (its WAProto, `T.encode(
// T.fromObject(obj))`) for the same content each test builds in C++.  Equal
// bytes prove our field numbers, wire types and packing, not just our
// ability to read what we wrote.
constexpr const char* reply_hex =
    "324f0a057265706c798a01450a03414243121a313535353030303030303240732e77686174736170702e6e65"
    "741a060a046f7269677a1a313535353030303030303340732e77686174736170702e6e65749a024a0a240a0a"
    "010101010101010101011080e2cfaa06420a020202020202020202024881e2cfaa0610021a20030303030303"
    "0303030303030303030303030303030303030303030303030303";
constexpr const char* image_hex =
    "1aba010a1a68747470733a2f2f6d6d672e77686174736170702e6e65742f78120a696d6167652f6a7065671a"
    "036361702220040404040404040404040404040404040404040404040404040404040404040428b960308005"
    "38e003422005050505050505050505050505050505050505050505050505050505050505054a200606060606"
    "0606060606060606060606060606060606060606060606060606065a082f762f7436322f786080e2cfaa0682"
    "01080707070707070707c80100";
constexpr const char* media_hex =
    "221d0a03416e6e820115424547494e3a56434152440a454e443a56434152442a2109c3f5285c8f424a40118f"
    "c2f5285ccf2a401a064265726c696e22054d697474653a3e0a0175120f6170706c69636174696f6e2f706466"
    "1a0174220401010101286330023a04020202024205612e7064664a040303030352022f645805a20101634240"
    "0a01751216617564696f2f6f67673b20636f646563733d6f7075731a0401010101200a280330013a04020202"
    "024204030303034a022f6150069a0104090909094a330a01751209766964656f2f6d70341a0401010101200b"
    "28043204020202023a01764000480250035a04030303036a022f767007d201310a01751204010101011a0403"
    "0303032204020202022a0a696d6167652f7765627030800438800442022f73480c50086801";
constexpr const char* revoke_hex =
    "62340a300a1a313535353030303030303140732e77686174736170702e6e657410011a103345423041424344"
    "45463031323334351000";
constexpr const char* edit_hex =
    "62470a300a1a313535353030303030303140732e77686174736170702e6e657410011a103345423041424344"
    "4546303132333435100e720a0a086e6577207465787478fbd095ffbc31";
constexpr const char* reaction_hex =
    "f2025b0a4c0a1a313535353030303030303140732e77686174736170702e6e657410001a1033454230414243"
    "444546303132333435221a313535353030303030303240732e77686174736170702e6e65741204f09f918d20"
    "c8d395ffbc31";
constexpr const char* device_sent_hex =
    "fa01340a1a313535353030303030303140732e77686174736170702e6e6574120f0a0d66726f6d206d792070"
    "686f6e651a05323a616263";
constexpr const char* skdm_hex =
    "0a02686912200a1731323033363330313233343536373839303140672e757312053333333333";
constexpr const char* hsn_hex =
    "627c100532780a20010101010101010101010101010101010101010101010101010101010101010110e8071a"
    "2002020202020202020202020202020202020202020202020202020202020202022220030303030303030303"
    "03030303030303030303030303030303030303030303032a032f68733003380142024d314832";
constexpr const char* ephemeral_hex = "c202170a1532130a0976616e697368696e678a0105c80180f524";
constexpr const char* history_hex =
    "0803126b0a1a313535353030303030303140732e77686174736170702e6e657412460a420a230a1a31353535"
    "3030303030303140732e77686174736170702e6e657410001a03414243120d0a0b6f6c64206d657373616765"
    "1880b5eda50620049a0103416e6e100130026a03416e6e280130643a210a1a31353535303030303030314073"
    "2e77686174736170702e6e65741203416e6e7a310a1a313535353030303030303140732e7768617473617070"
    "2e6e65741213313233343536373839303132333435406c6964";
constexpr const char* adv_hmac_hex =
    "0a06010101010101122002020202020202020202020202020202020202020202020202020202020202021801";
constexpr const char* adv_signed_hex =
    "0a06010101010101122002020202020202020202020202020202020202020202020202020202020202021a40"
    "0303030303030303030303030303030303030303030303030303030303030303030303030303030303030303"
    "0303030303030303030303030303030303030303224004040404040404040404040404040404040404040404"
    "040404040404040404040404040404040404040404040404040404040404040404040404040404040404";
constexpr const char* adv_identity_hex = "08631080e2cfaa06180220002801";
constexpr const char* adv_key_index_hex = "08631080e2cfaa0618032203000203";

std::string fill(std::size_t n, int v)
{
    return std::string(n, static_cast<char>(v));
}

void set_key(MessageKey& key, bool from_me)
{
    key.set_remotejid("15550000001@s.whatsapp.net");
    key.set_fromme(from_me);
    key.set_id("3EB0ABCDEF012345");
}

// Parses `hex` as M, checks it re-encodes to the same bytes, returns it.
template <class M>
M parse_same(const char* hex)
{
    const Bytes bytes = from_hex(hex).value_or(Bytes{});
    auto m = parse<M>(bytes);
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().detail);
    if (!m.ok()) return M{};
    EXPECT_EQ(to_hex(serialize(*m)), hex);
    return std::move(m).value();
}

TEST(ProtoMessages, ReplyWithQuoteMentionAndDeviceListMetadata)
{
    Message m;
    auto* ext = m.mutable_extendedtextmessage();
    ext->set_text("reply");
    auto* ctx = ext->mutable_contextinfo();
    ctx->set_stanzaid("ABC");
    ctx->set_participant("15550000002@s.whatsapp.net");
    ctx->mutable_quotedmessage()->set_conversation("orig");
    ctx->add_mentionedjid("15550000003@s.whatsapp.net");
    auto* mci = m.mutable_messagecontextinfo();
    auto* dlm = mci->mutable_devicelistmetadata();
    dlm->set_senderkeyhash(fill(10, 1));
    dlm->set_sendertimestamp(1700000000);
    dlm->set_recipientkeyhash(fill(10, 2));
    dlm->set_recipienttimestamp(1700000001);
    mci->set_devicelistmetadataversion(2);
    mci->set_messagesecret(fill(32, 3));
    EXPECT_EQ(to_hex(serialize(m)), reply_hex);

    Message back = parse_same<Message>(reply_hex);
    EXPECT_EQ(back.extendedtextmessage().contextinfo().quotedmessage().conversation(), "orig");
    EXPECT_EQ(back.extendedtextmessage().contextinfo().stanzaid(), "ABC");
}

TEST(ProtoMessages, ImageMessageMediaFields)
{
    Message m;
    auto* img = m.mutable_imagemessage();
    img->set_url("https://mmg.whatsapp.net/x");
    img->set_mimetype("image/jpeg");
    img->set_caption("cap");
    img->set_filesha256(fill(32, 4));
    img->set_filelength(12345);
    img->set_height(640);
    img->set_width(480);
    img->set_mediakey(fill(32, 5));
    img->set_fileencsha256(fill(32, 6));
    img->set_directpath("/v/t62/x");
    img->set_mediakeytimestamp(1700000000);
    img->set_jpegthumbnail(fill(8, 7));
    img->set_viewonce(false);
    EXPECT_EQ(to_hex(serialize(m)), image_hex);
}

TEST(ProtoMessages, DocumentAudioVideoStickerLocationContact)
{
    Message m;
    auto* doc = m.mutable_documentmessage();
    doc->set_url("u");
    doc->set_mimetype("application/pdf");
    doc->set_title("t");
    doc->set_filesha256(fill(4, 1));
    doc->set_filelength(99);
    doc->set_pagecount(2);
    doc->set_mediakey(fill(4, 2));
    doc->set_filename("a.pdf");
    doc->set_fileencsha256(fill(4, 3));
    doc->set_directpath("/d");
    doc->set_mediakeytimestamp(5);
    doc->set_caption("c");
    auto* audio = m.mutable_audiomessage();
    audio->set_url("u");
    audio->set_mimetype("audio/ogg; codecs=opus");
    audio->set_filesha256(fill(4, 1));
    audio->set_filelength(10);
    audio->set_seconds(3);
    audio->set_ptt(true);
    audio->set_mediakey(fill(4, 2));
    audio->set_fileencsha256(fill(4, 3));
    audio->set_directpath("/a");
    audio->set_mediakeytimestamp(6);
    audio->set_waveform(fill(4, 9));
    auto* video = m.mutable_videomessage();
    video->set_url("u");
    video->set_mimetype("video/mp4");
    video->set_filesha256(fill(4, 1));
    video->set_filelength(11);
    video->set_seconds(4);
    video->set_mediakey(fill(4, 2));
    video->set_caption("v");
    video->set_gifplayback(false);
    video->set_height(2);
    video->set_width(3);
    video->set_fileencsha256(fill(4, 3));
    video->set_directpath("/v");
    video->set_mediakeytimestamp(7);
    auto* sticker = m.mutable_stickermessage();
    sticker->set_url("u");
    sticker->set_filesha256(fill(4, 1));
    sticker->set_fileencsha256(fill(4, 3));
    sticker->set_mediakey(fill(4, 2));
    sticker->set_mimetype("image/webp");
    sticker->set_height(512);
    sticker->set_width(512);
    sticker->set_directpath("/s");
    sticker->set_filelength(12);
    sticker->set_mediakeytimestamp(8);
    sticker->set_isanimated(true);
    auto* loc = m.mutable_locationmessage();
    loc->set_degreeslatitude(52.52);
    loc->set_degreeslongitude(13.405);
    loc->set_name("Berlin");
    loc->set_address("Mitte");
    auto* contact = m.mutable_contactmessage();
    contact->set_displayname("Ann");
    contact->set_vcard("BEGIN:VCARD\nEND:VCARD");
    EXPECT_EQ(to_hex(serialize(m)), media_hex);

    Message back = parse_same<Message>(media_hex);
    EXPECT_TRUE(back.audiomessage().ptt());
    EXPECT_DOUBLE_EQ(back.locationmessage().degreeslatitude(), 52.52);
}

TEST(ProtoMessages, RevokeAndEditAreProtocolMessages)
{
    Message revoke;
    set_key(*revoke.mutable_protocolmessage()->mutable_key(), true);
    revoke.mutable_protocolmessage()->set_type(Message::ProtocolMessage::REVOKE);
    EXPECT_EQ(to_hex(serialize(revoke)), revoke_hex);

    Message edit;
    auto* pm = edit.mutable_protocolmessage();
    set_key(*pm->mutable_key(), true);
    pm->set_type(Message::ProtocolMessage::MESSAGE_EDIT);
    pm->mutable_editedmessage()->set_conversation("new text");
    pm->set_timestampms(1700000000123);
    EXPECT_EQ(to_hex(serialize(edit)), edit_hex);

    // An explicit REVOKE (0) is present, not merely defaulted.
    Message back = parse_same<Message>(revoke_hex);
    EXPECT_TRUE(back.protocolmessage().has_type());
    EXPECT_EQ(back.protocolmessage().type(), Message::ProtocolMessage::REVOKE);
}

TEST(ProtoMessages, ReactionDeviceSentAndSenderKeyDistribution)
{
    Message reaction;
    auto* r = reaction.mutable_reactionmessage();
    set_key(*r->mutable_key(), false);
    r->mutable_key()->set_participant("15550000002@s.whatsapp.net");
    r->set_text("\xF0\x9F\x91\x8D");  // thumbs up
    r->set_sendertimestampms(1700000000456);
    EXPECT_EQ(to_hex(serialize(reaction)), reaction_hex);

    Message sent;
    auto* dsm = sent.mutable_devicesentmessage();
    dsm->set_destinationjid("15550000001@s.whatsapp.net");
    dsm->mutable_message()->set_conversation("from my phone");
    dsm->set_phash("2:abc");
    EXPECT_EQ(to_hex(serialize(sent)), device_sent_hex);

    Message skdm;
    skdm.set_conversation("hi");
    skdm.mutable_senderkeydistributionmessage()->set_groupid("120363012345678901@g.us");
    skdm.mutable_senderkeydistributionmessage()->set_axolotlsenderkeydistributionmessage(
        fill(5, 0x33));
    EXPECT_EQ(to_hex(serialize(skdm)), skdm_hex);
}

TEST(ProtoMessages, HistorySyncNotificationAndEphemeralWrapper)
{
    Message m;
    auto* pm = m.mutable_protocolmessage();
    pm->set_type(Message::ProtocolMessage::HISTORY_SYNC_NOTIFICATION);
    auto* n = pm->mutable_historysyncnotification();
    n->set_filesha256(fill(32, 1));
    n->set_filelength(1000);
    n->set_mediakey(fill(32, 2));
    n->set_fileencsha256(fill(32, 3));
    n->set_directpath("/hs");
    n->set_synctype(Message::RECENT);
    n->set_chunkorder(1);
    n->set_progress(50);
    n->set_originalmessageid("M1");
    EXPECT_EQ(to_hex(serialize(m)), hsn_hex);

    Message eph;
    auto* inner = eph.mutable_ephemeralmessage()->mutable_message()->mutable_extendedtextmessage();
    inner->set_text("vanishing");
    inner->mutable_contextinfo()->set_expiration(604800);
    EXPECT_EQ(to_hex(serialize(eph)), ephemeral_hex);
}

TEST(ProtoMessages, HistorySyncBlob)
{
    HistorySync hs;
    hs.set_synctype(HistorySync::RECENT);
    hs.set_chunkorder(1);
    hs.set_progress(100);
    auto* conv = hs.add_conversations();
    conv->set_id("15550000001@s.whatsapp.net");
    conv->set_name("Ann");
    conv->set_unreadcount(2);
    auto* hmsg = conv->add_messages();
    auto* info = hmsg->mutable_message();
    info->mutable_key()->set_remotejid("15550000001@s.whatsapp.net");
    info->mutable_key()->set_fromme(false);
    info->mutable_key()->set_id("ABC");
    info->mutable_message()->set_conversation("old message");
    info->set_messagetimestamp(1690000000);
    info->set_status(WebMessageInfo::READ);
    info->set_pushname("Ann");
    hmsg->set_msgorderid(1);
    auto* pn = hs.add_pushnames();
    pn->set_id("15550000001@s.whatsapp.net");
    pn->set_pushname("Ann");
    auto* map = hs.add_phonenumbertolidmappings();
    map->set_pnjid("15550000001@s.whatsapp.net");
    map->set_lidjid("123456789012345@lid");
    EXPECT_EQ(to_hex(serialize(hs)), history_hex);

    HistorySync back = parse_same<HistorySync>(history_hex);
    ASSERT_EQ(back.conversations_size(), 1);
    EXPECT_EQ(back.conversations(0).messages(0).message().message().conversation(), "old message");
}

TEST(ProtoMessages, AdvRecords)
{
    ADVSignedDeviceIdentityHMAC outer;
    outer.set_details(fill(6, 1));
    outer.set_hmac(fill(32, 2));
    outer.set_accounttype(HOSTED);
    EXPECT_EQ(to_hex(serialize(outer)), adv_hmac_hex);

    ADVSignedDeviceIdentity signed_identity;
    signed_identity.set_details(fill(6, 1));
    signed_identity.set_accountsignaturekey(fill(32, 2));
    signed_identity.set_accountsignature(fill(64, 3));
    signed_identity.set_devicesignature(fill(64, 4));
    EXPECT_EQ(to_hex(serialize(signed_identity)), adv_signed_hex);

    ADVDeviceIdentity identity;
    identity.set_rawid(99);
    identity.set_timestamp(1700000000);
    identity.set_keyindex(2);
    identity.set_accounttype(E2EE);
    identity.set_devicetype(HOSTED);
    EXPECT_EQ(to_hex(serialize(identity)), adv_identity_hex);

    ADVKeyIndexList list;  // validIndexes is packed, as in the reference
    list.set_rawid(99);
    list.set_timestamp(1700000000);
    list.set_currentindex(3);
    for (std::uint32_t i : {0u, 2u, 3u}) list.add_validindexes(i);
    EXPECT_EQ(to_hex(serialize(list)), adv_key_index_hex);
}

TEST(ProtoMessages, VectorSenderKeyDistributionMessage)
{
    const auto& sk = test::vector_section("sender_keys");
    const Bytes wrapped = test::vector_hex(sk, "skdm_wrapped_in_Message");
    auto m = parse<Message>(wrapped);
    ASSERT_TRUE(m.ok()) << m.error().detail;
    ASSERT_TRUE(m->has_senderkeydistributionmessage());
    EXPECT_EQ(m->senderkeydistributionmessage().groupid(), test::vector_string(sk, "group"));
    EXPECT_EQ(
        to_hex(as_bytes(m->senderkeydistributionmessage().axolotlsenderkeydistributionmessage())),
        test::vector_string(sk, "skdm_axolotl"));
    EXPECT_EQ(serialize(*m), wrapped);
}

TEST(ProtoMessages, VectorGroupPlaintextsAreConversations)
{
    for (const auto& msg : test::vector_section("sender_keys")["messages"].GetArray()) {
        Bytes padded = test::vector_hex(msg, "padded_plaintext");
        ASSERT_FALSE(padded.empty());
        const std::size_t pad = padded.back();  // v2 padding: N bytes of value N
        ASSERT_LE(pad, padded.size());
        padded.resize(padded.size() - pad);
        auto m = parse<Message>(padded);
        ASSERT_TRUE(m.ok()) << m.error().detail;
        EXPECT_EQ(m->conversation(), test::vector_string(msg, "text"));
    }
}

TEST(ProtoMessages, VectorCertChain)
{
    const Bytes bytes = test::vector_hex(test::vector_section("noise"), "cert_chain");
    auto chain = parse<CertChain>(bytes);
    ASSERT_TRUE(chain.ok()) << chain.error().detail;
    auto inter =
        parse<CertChain::NoiseCertificate::Details>(as_bytes(chain->intermediate().details()));
    auto leaf = parse<CertChain::NoiseCertificate::Details>(as_bytes(chain->leaf().details()));
    ASSERT_TRUE(inter.ok() && leaf.ok());
    EXPECT_EQ(inter->serial(), 7u);
    EXPECT_EQ(inter->issuerserial(), 0u);
    EXPECT_EQ(leaf->serial(), 8u);
    EXPECT_EQ(leaf->issuerserial(), 7u);
    EXPECT_EQ(leaf->notafter(), 4102444800u);
    EXPECT_EQ(leaf->key().size(), 32u);
    EXPECT_EQ(chain->leaf().signature().size(), 64u);
    EXPECT_EQ(serialize(*chain), bytes);
}

}  // namespace
}  // namespace chatwoot::wa::proto
