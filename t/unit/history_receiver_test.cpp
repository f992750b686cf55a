// History sync notifications on a real SQLite store (schema step 14): a
// chunk from our phone stored exactly (chats, messages with their media
// keys, push names, PN <-> LID pairs, tctokens, the NCT salt), twice
// storing nothing twice; a contact's refused; a zip bomb and a chunk that
// does not parse skipped with the receipt still owed and nothing stored; a
// downloaded chunk filed as pending, then stored with its receipt moved
// onto the stanza in one unit.
#include "helper/history_receiver.hpp"
#include "store/history_repository.hpp"
#include "store/signal_store.hpp"
#include "store/wa_stanza_repository.hpp"
#include "temp_store.hpp"

#include "wa/proto/codec.hpp"
#include "wa/proto/history_sync.pb.h"
#include "wa/proto/message.pb.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace chatwoot::helper {
namespace {

using wa::Bytes;
using wa::binary::Jid;

constexpr const char* kInbox = "support";
constexpr const char* kOurPn = "15550000002";
constexpr const char* kOurLid = "77777777777777";

Bytes deflate_bytes(const Bytes& in)
{
    uLongf n = compressBound(static_cast<uLong>(in.size()));
    Bytes out(n);
    EXPECT_EQ(compress2(out.data(), &n, in.data(), static_cast<uLong>(in.size()), 6), Z_OK);
    out.resize(n);
    return out;
}

Bytes sample_chunk()
{
    wa::proto::HistorySync sync;
    sync.set_synctype(wa::proto::HistorySync_HistorySyncType_RECENT);
    sync.set_chunkorder(3);
    sync.set_progress(60);
    sync.set_nctsalt(std::string("\x0a\x0b\x0c", 3));
    auto* dm = sync.add_conversations();
    dm->set_id("4915100000001@s.whatsapp.net");
    dm->set_name("Ana");
    dm->set_lidjid("900000000001@lid");
    dm->set_tctoken("token-ana");
    dm->set_tctokentimestamp(1700000000);
    {
        auto* m = dm->add_messages()->mutable_message();
        m->mutable_key()->set_remotejid(dm->id());
        m->mutable_key()->set_id("H1");
        m->set_messagetimestamp(1700000001);
        m->set_pushname("Ana");
        m->mutable_message()->set_conversation("hello");
    }
    {
        auto* m = dm->add_messages()->mutable_message();
        m->mutable_key()->set_remotejid(dm->id());
        m->mutable_key()->set_id("H2");
        m->mutable_key()->set_fromme(true);
        m->set_messagetimestamp(1700000002);
        auto* img = m->mutable_message()->mutable_imagemessage();
        img->set_mediakey(std::string(32, '\x01'));
        img->set_fileencsha256(std::string(32, '\x02'));
        img->set_filesha256(std::string(32, '\x03'));
        img->set_filelength(77);
        img->set_directpath("/v/t62.7118-24/1_2_n.enc");
        img->set_mimetype("image/jpeg");
        img->set_caption("pic");
    }
    auto* group = sync.add_conversations();
    group->set_id("120363000000000001@g.us");
    group->set_name("Team");
    {
        auto* m = group->add_messages()->mutable_message();
        m->mutable_key()->set_remotejid(group->id());
        m->mutable_key()->set_id("G1");
        m->mutable_key()->set_participant("900000000002@lid");
        m->set_messagetimestamp(1700000003);
        m->mutable_message()->set_conversation("in the group");
    }
    auto* p = sync.add_pushnames();
    p->set_id("900000000002@lid");
    p->set_pushname("Bo");
    auto* map = sync.add_phonenumbertolidmappings();
    map->set_pnjid("4915100000002@s.whatsapp.net");
    map->set_lidjid("900000000002@lid");
    return wa::proto::serialize(sync);
}

wa::proto::Message_HistorySyncNotification inline_note(const Bytes& zlib_stream)
{
    wa::proto::Message_HistorySyncNotification n;
    n.set_synctype(wa::proto::Message_HistorySyncType_RECENT);
    n.set_initialhistbootstrapinlinepayload(std::string(zlib_stream.begin(), zlib_stream.end()));
    return n;
}

wa::message::MessageEnvelope envelope(const std::string& from, bool peer)
{
    const Jid jid = Jid::parse(from).value();
    return wa::message::MessageEnvelope{.id = "NOTE1",
                                        .from = jid,
                                        .chat = jid.without_device(),
                                        .sender = jid,
                                        .participant = std::nullopt,
                                        .recipient = std::nullopt,
                                        .from_me = peer,
                                        .peer = peer,
                                        .group = false,
                                        .push_name = {},
                                        .timestamp = 0,
                                        .type = "protocol",
                                        .edit = {},
                                        .addressing_mode = wa::message::AddressingMode::none,
                                        .lid_pairs = {},
                                        .encs = {}};
}

struct Rig {
    test::TempStore temp{"history"};
    store::SignalStore signal{*temp.db, kInbox};
    store::WaStanzaRepository stanzas{*temp.db};
    HistoryReceiver history{kInbox, *temp.db, signal};
    wa::message::OwnAccount own{kOurPn, kOurLid};
    const Bytes node{0xf8, 0x01, 0x02};

    int64_t stanza(const std::string& key)
    {
        EXPECT_TRUE(stanzas.keep(kInbox, key, "message", node, 100));
        return temp.scalar("SELECT max(id) FROM wa_stanzas");
    }
    HistoryReceiver::Taken take(int64_t row, const wa::proto::Message_HistorySyncNotification& n,
                                const std::string& from = std::string(kOurPn) + "@s.whatsapp.net",
                                bool peer = true)
    {
        store::UnitOfWork unit(*temp.db);
        auto t = history.take(row, node, envelope(from, peer), n, own, 200);
        stanzas.done(row, 200, t.receipt ? std::optional<std::string_view>(*t.receipt) : std::nullopt);
        unit.commit();
        return t;
    }
    int64_t count(const std::string& table) { return temp.scalar("SELECT count(*) FROM " + table); }
    std::string text(const std::string& sql)
    {
        auto st = temp.db->prepare(sql);
        if (!st.step() || st.column_is_null(0)) return "(null)";
        return st.column_text(0);
    }
};

TEST(HistoryReceiver, InlineChunkFromOurPhoneStoredExactlyAndOnce)
{
    Rig r;
    const auto n = inline_note(deflate_bytes(sample_chunk()));
    auto t = r.take(r.stanza("k1"), n);
    EXPECT_EQ(t.receipt, "hist_sync");
    EXPECT_FALSE(t.download);

    EXPECT_EQ(r.count("history_chats"), 2);
    EXPECT_EQ(r.text("SELECT name || '|' || lid_jid FROM history_chats WHERE jid = '4915100000001@s.whatsapp.net'"),
              "Ana|900000000001@lid");
    EXPECT_EQ(r.count("history_messages"), 3);
    EXPECT_EQ(r.text("SELECT text || '|' || from_me || '|' || timestamp || '|' || push_name FROM history_messages WHERE id = 'H1'"),
              "hello|0|1700000001|Ana");
    EXPECT_EQ(r.text("SELECT text FROM history_messages WHERE id = 'H2'"), "(null)");
    EXPECT_EQ(r.text("SELECT kind || '|' || caption || '|' || from_me FROM history_messages WHERE id = 'H2'"), "image|pic|1");
    EXPECT_EQ(r.text("SELECT media FROM history_messages WHERE id = 'H2'"),
              "{\"type\":\"image\",\"media_key\":\"0101010101010101010101010101010101010101010101010101010101010101\","
              "\"file_sha256\":\"0303030303030303030303030303030303030303030303030303030303030303\","
              "\"file_enc_sha256\":\"0202020202020202020202020202020202020202020202020202020202020202\","
              "\"file_length\":77,\"direct_path\":\"/v/t62.7118-24/1_2_n.enc\",\"mimetype\":\"image/jpeg\"}");
    EXPECT_EQ(r.text("SELECT chat || '|' || participant FROM history_messages WHERE id = 'G1'"),
              "120363000000000001@g.us|900000000002@lid");
    EXPECT_EQ(r.text("SELECT name FROM history_push_names WHERE jid = '900000000002@lid'"), "Bo");
    // Pairs where the send path reads them; the token under the LID; the salt.
    EXPECT_EQ(r.signal.lid_for_pn("4915100000002"), "900000000002");
    EXPECT_EQ(r.signal.lid_for_pn("4915100000001"), "900000000001");
    EXPECT_EQ(r.text("SELECT CAST(token AS TEXT) || '|' || t FROM wa_privacy_tokens WHERE lid = '900000000001@lid'"),
              "token-ana|1700000000");
    EXPECT_EQ(r.signal.value("nct_salt"), (Bytes{0x0a, 0x0b, 0x0c}));
    EXPECT_EQ(r.text("SELECT sync_type || '|' || chunk_order || '|' || progress || '|' || messages FROM history_chunks"),
              "recent|3|60|3");

    // The same chunk again (the phone sent it twice): nothing twice.
    auto again = r.take(r.stanza("k2"), n);
    EXPECT_EQ(again.receipt, "hist_sync");
    EXPECT_EQ(r.count("history_messages"), 3);
    EXPECT_EQ(r.count("history_chats"), 2);
}

TEST(HistoryReceiver, AContactsNotificationIsRefused)
{
    Rig r;
    const auto n = inline_note(deflate_bytes(sample_chunk()));
    auto t = r.take(r.stanza("k1"), n, "4915100000009@s.whatsapp.net", false);
    EXPECT_FALSE(t.receipt);
    EXPECT_FALSE(t.download);
    // Our own user, but not as a peer message; another device of ours.
    EXPECT_FALSE(r.take(r.stanza("k2"), n, std::string(kOurPn) + "@s.whatsapp.net", false).receipt);
    EXPECT_FALSE(r.take(r.stanza("k3"), n, std::string(kOurPn) + ":3@s.whatsapp.net", true).receipt);
    EXPECT_EQ(r.count("history_messages"), 0);
    EXPECT_EQ(r.count("history_chats"), 0);
    EXPECT_EQ(r.count("history_chunks"), 0);
    // Our phone under its LID is ours.
    EXPECT_EQ(r.take(r.stanza("k4"), n, std::string(kOurLid) + "@lid", true).receipt, "hist_sync");
    EXPECT_EQ(r.count("history_messages"), 3);
}

TEST(HistoryReceiver, ZipBombAndGarbageSkippedWithTheirReceipt)
{
    Rig r;
    HistoryReceiver small{kInbox, *r.temp.db, r.signal, wa::history::HistoryLimits{4096}};
    const Bytes zeros(1 << 20, 0);
    const auto bomb = inline_note(deflate_bytes(zeros));
    {
        store::UnitOfWork unit(*r.temp.db);
        auto t = small.take(r.stanza("k1"), r.node, envelope(std::string(kOurPn) + "@s.whatsapp.net", true),
                            bomb, r.own, 200);
        unit.commit();
        EXPECT_EQ(t.receipt, "hist_sync");
    }
    // zlib that is fine, protobuf that is not.
    const auto garbage = inline_note(deflate_bytes(Bytes{0xff, 0xff, 0xff}));
    EXPECT_EQ(r.take(r.stanza("k2"), garbage).receipt, "hist_sync");
    EXPECT_EQ(r.count("history_messages"), 0);
    EXPECT_EQ(r.count("history_chunks"), 0);
}

TEST(HistoryReceiver, DownloadedChunkPendingThenStoredWithItsReceipt)
{
    Rig r;
    const Bytes zipped = deflate_bytes(sample_chunk());
    wa::proto::Message_HistorySyncNotification n;
    n.set_synctype(wa::proto::Message_HistorySyncType_RECENT);
    n.set_mediakey(std::string(32, '\x05'));
    n.set_directpath("/v/t62.7120-24/9_9_n.enc");
    n.set_filelength(zipped.size());
    const int64_t row = r.stanza("k1");
    auto t = r.take(row, n);
    EXPECT_TRUE(t.download);
    EXPECT_FALSE(t.receipt);
    EXPECT_EQ(r.count("history_pending"), 1);
    EXPECT_EQ(r.count("wa_stanzas WHERE receipt IS NOT NULL"), 0);  // nothing owed yet

    auto pending = r.history.pending();
    ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(pending[0].stanza, row);
    auto source = r.history.source_of(pending[0], 300);
    ASSERT_TRUE(source);
    EXPECT_EQ(source->direct_path, "/v/t62.7120-24/9_9_n.enc");

    // Retention compacted the stanza meanwhile: its bytes come back.
    r.temp.db->exec("UPDATE wa_stanzas SET node = x''");
    r.history.downloaded(row, zipped, 300);
    EXPECT_EQ(r.count("history_pending"), 0);
    EXPECT_EQ(r.count("history_messages"), 3);
    EXPECT_EQ(r.text("SELECT receipt FROM wa_stanzas WHERE id = " + std::to_string(row)), "hist_sync");
    EXPECT_EQ(r.count("wa_stanzas WHERE length(node) = 3"), 1);
    // A second completion (a late duplicate) changes nothing.
    r.history.downloaded(row, zipped, 301);
    EXPECT_EQ(r.count("history_chunks"), 1);

    // A blob that failed its checks: settled, nothing stored, receipt owed.
    const int64_t row2 = r.stanza("k2");
    r.take(row2, n);
    r.history.refused(row2, "MAC mismatch", 400);
    EXPECT_EQ(r.count("history_pending"), 0);
    EXPECT_EQ(r.text("SELECT receipt FROM wa_stanzas WHERE id = " + std::to_string(row2)), "hist_sync");
    EXPECT_EQ(r.count("history_chunks"), 1);
}

}  // namespace
}  // namespace chatwoot::helper
