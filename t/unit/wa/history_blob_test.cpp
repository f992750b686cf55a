// History-sync blobs: the `history_sync` vector (a HistorySync encoded by
// Baileys' protobufjs, deflated by node:zlib, encrypted under "WhatsApp
// History Keys" as Baileys does) opened end to end, then each way a blob
// can be wrong: forged or cut ciphertext, a deflate bomb, a zlib stream cut
// short, garbage where the protobuf should be.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>

#include "vectors.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/history/history_blob.hpp"
#include "wa/media/media_cipher.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/history_sync.pb.h"
#include "wa/proto/message.pb.h"

namespace chatwoot::wa::history {
namespace {

using test::vector_hex;
using test::vector_section;
using test::vector_string;

std::string str(const Bytes& b)
{
    return std::string(as_chars(b));
}

HistorySource vector_source()
{
    const auto& v = vector_section("history_sync");
    HistorySource s;
    s.direct_path = "/v/t62.1234-24/history?ccb=1";
    s.media_key = vector_hex(v, "media_key");
    s.file_enc_sha256 = vector_hex(v, "file_enc_sha256");
    s.file_sha256 = vector_hex(v, "zlib_plain_sha256");
    return s;
}

Bytes vector_blob()
{
    return vector_hex(vector_section("history_sync"), "enc_blob");
}

// zlib (RFC 1950) of `data`, as the phone compresses a chunk.
Bytes deflate(ByteView data)
{
    uLongf n = compressBound(static_cast<uLong>(data.size()));
    Bytes out(n);
    EXPECT_EQ(compress2(out.data(), &n, data.data(), static_cast<uLong>(data.size()), 9), Z_OK);
    out.resize(n);
    return out;
}

// `total` zero bytes deflated a MiB at a time, so the test never holds
// the inflated size itself.
Bytes deflated_zeros(std::size_t total)
{
    z_stream z{};
    EXPECT_EQ(deflateInit(&z, 1), Z_OK);
    const Bytes zeros(1u << 20, 0);
    Bytes out;
    Bytes buf(1u << 16);
    std::size_t fed = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (z.avail_in == 0 && fed < total) {
            const std::size_t n = std::min(zeros.size(), total - fed);
            z.next_in = const_cast<Bytef*>(zeros.data());
            z.avail_in = static_cast<uInt>(n);
            fed += n;
        }
        z.next_out = buf.data();
        z.avail_out = static_cast<uInt>(buf.size());
        rc = deflate(&z, fed == total ? Z_FINISH : Z_NO_FLUSH);
        EXPECT_NE(rc, Z_STREAM_ERROR);
        out.insert(out.end(), buf.begin(), buf.begin() + (buf.size() - z.avail_out));
    }
    deflateEnd(&z);
    return out;
}

// A small HistorySync with one text message.
Bytes small_sync()
{
    proto::HistorySync sync;
    sync.set_synctype(proto::HistorySync_HistorySyncType_INITIAL_BOOTSTRAP);
    proto::Conversation* c = sync.add_conversations();
    c->set_id("15550000002@s.whatsapp.net");
    proto::WebMessageInfo* m = c->add_messages()->mutable_message();
    m->mutable_key()->set_remotejid("15550000002@s.whatsapp.net");
    m->mutable_key()->set_fromme(true);
    m->mutable_key()->set_id("INLINE1");
    m->mutable_message()->set_conversation("inline hello");
    m->set_messagetimestamp(1690000100);
    return proto::serialize(sync);
}

// The enc blob and source for a zlib stream of our own.
struct Sealed {
    HistorySource source;
    Bytes blob;
};

Sealed seal(ByteView zlib_stream)
{
    Sealed s;
    s.source.direct_path = "/v/own";
    s.source.media_key = Bytes(32, 0x42);
    auto enc = media::encrypt_media(s.source.media_key, media::MediaType::history, zlib_stream);
    EXPECT_TRUE(enc.ok());
    s.blob = enc->enc_blob;
    s.source.file_enc_sha256 = crypto::to_bytes(enc->file_enc_sha256);
    s.source.file_sha256 = crypto::to_bytes(enc->file_sha256);
    return s;
}

Errc failure(const Result<HistorySyncData>& r)
{
    EXPECT_FALSE(r.ok());
    return r.ok() ? Errc::not_found : r.error().code;
}

TEST(HistoryBlob, VectorDecryptsToTheDeflatedBytes)
{
    auto zlib_stream = decrypt_history_blob(vector_blob(), vector_source());
    ASSERT_TRUE(zlib_stream.ok()) << zlib_stream.error().detail;
    EXPECT_EQ(to_hex(crypto::sha256(*zlib_stream)),
              vector_string(vector_section("history_sync"), "zlib_plain_sha256"));
}

TEST(HistoryBlob, VectorOpensToTheExpectedConversation)
{
    const auto& expect = vector_section("history_sync")["expect"];
    auto data = open_history(vector_source(), vector_blob());
    ASSERT_TRUE(data.ok()) << data.error().detail;
    EXPECT_EQ(data->type, HistorySyncType::recent);
    EXPECT_EQ(data->chunk_order, 1u);
    EXPECT_EQ(data->progress, 100u);
    ASSERT_EQ(data->conversations.size(), 1u);
    const HistoryConversation& c = data->conversations[0];
    EXPECT_EQ(c.jid, vector_string(expect, "conversation_id"));
    ASSERT_EQ(c.messages.size(), 1u);
    const HistoryMessage& m = c.messages[0];
    EXPECT_EQ(m.chat_jid, vector_string(expect, "conversation_id"));
    EXPECT_EQ(m.id, "ABC");
    EXPECT_FALSE(m.from_me);
    EXPECT_EQ(m.timestamp, 1690000000u);
    ASSERT_TRUE(m.text.has_value());
    EXPECT_EQ(*m.text, vector_string(expect, "text"));
    EXPECT_EQ(data->skipped_messages, 0u);
}

TEST(HistoryBlob, SourceFromADownloadNotification)
{
    const HistorySource v = vector_source();
    proto::Message_HistorySyncNotification n;
    n.set_directpath(v.direct_path);
    n.set_mediakey(str(v.media_key));
    n.set_fileencsha256(str(v.file_enc_sha256));
    n.set_filesha256(str(v.file_sha256));
    n.set_filelength(123);
    auto source = history_source(n);
    ASSERT_TRUE(source.ok()) << source.error().detail;
    EXPECT_FALSE(source->is_inline());
    EXPECT_EQ(source->direct_path, v.direct_path);
    EXPECT_EQ(source->file_length, 123u);
    auto data = open_history(*source, vector_blob());
    ASSERT_TRUE(data.ok()) << data.error().detail;
    EXPECT_EQ(data->conversations.at(0).messages.at(0).text, "old message");
}

TEST(HistoryBlob, InlinePayloadIsTheZlibStreamItself)
{
    proto::Message_HistorySyncNotification n;
    n.set_initialhistbootstrapinlinepayload(str(deflate(small_sync())));
    n.set_directpath("/ignored");
    auto source = history_source(n);
    ASSERT_TRUE(source.ok()) << source.error().detail;
    EXPECT_TRUE(source->is_inline());
    auto data = open_history(*source, {});
    ASSERT_TRUE(data.ok()) << data.error().detail;
    EXPECT_EQ(data->type, HistorySyncType::initial_bootstrap);
    const HistoryMessage& m = data->conversations.at(0).messages.at(0);
    EXPECT_EQ(m.id, "INLINE1");
    EXPECT_TRUE(m.from_me);
    EXPECT_EQ(m.text, "inline hello");
}

TEST(HistoryBlob, NotificationRefusals)
{
    const HistorySource v = vector_source();
    auto base = [&] {
        proto::Message_HistorySyncNotification n;
        n.set_directpath(v.direct_path);
        n.set_mediakey(str(v.media_key));
        n.set_fileencsha256(str(v.file_enc_sha256));
        n.set_filesha256(str(v.file_sha256));
        return n;
    };
    auto code = [](const proto::Message_HistorySyncNotification& n) {
        auto r = history_source(n);
        EXPECT_FALSE(r.ok());
        return r.ok() ? Errc::not_found : r.error().code;
    };
    auto no_path = base();
    no_path.clear_directpath();
    EXPECT_EQ(code(no_path), Errc::malformed);
    auto short_key = base();
    short_key.set_mediakey(str(Bytes(31, 1)));
    EXPECT_EQ(code(short_key), Errc::malformed);
    auto no_key = base();
    no_key.clear_mediakey();
    EXPECT_EQ(code(no_key), Errc::malformed);
    auto short_hash = base();
    short_hash.set_fileencsha256(str(Bytes(20, 1)));
    EXPECT_EQ(code(short_hash), Errc::malformed);
    // Hashes are optional: without them the MAC alone guards the blob.
    auto no_hashes = base();
    no_hashes.clear_fileencsha256();
    no_hashes.clear_filesha256();
    auto ok = history_source(no_hashes);
    ASSERT_TRUE(ok.ok());
    EXPECT_TRUE(open_history(*ok, vector_blob()).ok());
}

TEST(HistoryBlob, BadMac)
{
    HistorySource no_hashes = vector_source();
    no_hashes.file_enc_sha256.clear();
    no_hashes.file_sha256.clear();

    Bytes mac_flipped = vector_blob();
    mac_flipped.back() ^= 0x01;
    EXPECT_EQ(failure(open_history(no_hashes, mac_flipped)), Errc::bad_mac);
    EXPECT_EQ(failure(open_history(vector_source(), mac_flipped)), Errc::bad_mac);

    Bytes body_flipped = vector_blob();
    body_flipped[3] ^= 0x10;
    EXPECT_EQ(failure(open_history(no_hashes, body_flipped)), Errc::bad_mac);

    HistorySource wrong_key = no_hashes;
    wrong_key.media_key[0] ^= 0x01;
    EXPECT_EQ(failure(open_history(wrong_key, vector_blob())), Errc::bad_mac);

    HistorySource wrong_plain_hash = vector_source();
    wrong_plain_hash.file_sha256[0] ^= 0x01;
    EXPECT_EQ(failure(open_history(wrong_plain_hash, vector_blob())), Errc::bad_mac);

    // The same blob under another media type's keys does not authenticate.
    auto as_image =
        media::decrypt_media(no_hashes.media_key, media::MediaType::image, vector_blob());
    ASSERT_FALSE(as_image.ok());
    EXPECT_EQ(as_image.error().code, Errc::bad_mac);
}

TEST(HistoryBlob, TruncatedBlob)
{
    HistorySource no_hashes = vector_source();
    no_hashes.file_enc_sha256.clear();
    no_hashes.file_sha256.clear();
    const Bytes blob = vector_blob();
    for (std::size_t keep : {std::size_t{0}, std::size_t{10}, std::size_t{25}}) {
        Bytes cut(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(keep));
        EXPECT_EQ(failure(open_history(no_hashes, cut)), Errc::truncated) << keep;
    }
    // Cut by whole blocks: long enough, but the MAC no longer matches.
    Bytes short_by_a_block(blob.begin(), blob.end() - 16);
    EXPECT_EQ(failure(open_history(no_hashes, short_by_a_block)), Errc::bad_mac);
    EXPECT_EQ(failure(open_history(vector_source(), short_by_a_block)), Errc::bad_mac);
}

TEST(HistoryBlob, DeflateBombStopsAtTheLimit)
{
    const Bytes bomb = deflated_zeros(100u << 20);
    ASSERT_LT(bomb.size(), 1u << 20);  // under a MiB that claims 100 MiB
    const HistoryLimits limits{16u << 20};

    auto inflated = inflate_history(bomb, limits);
    ASSERT_FALSE(inflated.ok());
    EXPECT_EQ(inflated.error().code, Errc::too_large);

    // The same through the whole path, encrypted like a real download.
    Sealed s = seal(bomb);
    EXPECT_EQ(failure(open_history(s.source, s.blob, limits)), Errc::too_large);
}

TEST(HistoryBlob, LimitIsInclusive)
{
    const Bytes z = deflated_zeros(4096);
    auto exact = inflate_history(z, HistoryLimits{4096});
    ASSERT_TRUE(exact.ok()) << exact.error().detail;
    EXPECT_EQ(exact->size(), 4096u);
    EXPECT_TRUE(std::all_of(exact->begin(), exact->end(), [](std::uint8_t b) { return b == 0; }));
    auto over = inflate_history(z, HistoryLimits{4095});
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().code, Errc::too_large);
}

TEST(HistoryBlob, BrokenZlib)
{
    Bytes z = deflate(small_sync());
    Bytes cut(z.begin(), z.end() - 6);
    auto truncated = inflate_history(cut);
    ASSERT_FALSE(truncated.ok());
    EXPECT_EQ(truncated.error().code, Errc::truncated);

    Bytes trailing = z;
    trailing.push_back(0x00);
    auto extra = inflate_history(trailing);
    ASSERT_FALSE(extra.ok());
    EXPECT_EQ(extra.error().code, Errc::malformed);

    const Bytes raw = small_sync();  // not compressed at all
    auto not_zlib = inflate_history(raw);
    ASSERT_FALSE(not_zlib.ok());
    EXPECT_EQ(not_zlib.error().code, Errc::malformed);

    Sealed s = seal(raw);
    EXPECT_EQ(failure(open_history(s.source, s.blob)), Errc::malformed);
}

TEST(HistoryBlob, GarbageProtobufAfterAValidBlob)
{
    // Authentic and well compressed, but not a HistorySync: a field whose
    // length runs past the end.
    const Bytes garbage{0x12, 0x7f, 0x0a, 0x01, 0x41};
    Sealed s = seal(deflate(garbage));
    EXPECT_EQ(failure(open_history(s.source, s.blob)), Errc::malformed);

    // Our own sealed good chunk opens, so the failure above is the payload's.
    Sealed good = seal(deflate(small_sync()));
    auto ok = open_history(good.source, good.blob);
    ASSERT_TRUE(ok.ok()) << ok.error().detail;
    EXPECT_EQ(ok->conversations.at(0).messages.at(0).text, "inline hello");
}

}  // namespace
}  // namespace chatwoot::wa::history
