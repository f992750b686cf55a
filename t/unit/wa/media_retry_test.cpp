// Media retry against t/unit/wa/media_vectors.json, written by
// t/mock/wa/gen-media-vectors.mjs with npm baileys: our retry key is
// Baileys' (its HKDF is whatsapp-rust-bridge's), our <receipt> encodes to
// the bytes of the one its encryptMediaRetryRequest built, given the IV it
// drew (the ciphertext byte for byte); the <notification>s it encoded
// decode, parse and decrypt to the results it put in; then the refusals:
// wrong key, wrong id, altered bytes, bad shapes, a hostile direct path.
#include <gtest/gtest.h>

#include <map>

#include "media_vectors.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/crypto/aes.hpp"
#include "wa/media/media_retry.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/message.pb.h"

namespace chatwoot::wa::media {
namespace {

using binary::Jid;
using binary::Node;

const rapidjson::Value& doc()
{
    return test::media_vectors();
}

std::string str(const rapidjson::Value& v, const char* key)
{
    return test::media_str(v, key);
}

Bytes hex(const rapidjson::Value& v, const char* key)
{
    return test::media_hex(v, key);
}

Bytes media_key()
{
    return hex(doc(), "media_key");
}

Jid jid(std::string_view text)
{
    auto j = Jid::parse(text);
    EXPECT_TRUE(j.has_value()) << text;
    return j.value_or(*Jid::parse("0@s.whatsapp.net"));
}

TEST(MediaRetryVectors, FileIsThere)
{
    ASSERT_TRUE(doc().IsObject()) << "cannot read " MEDIA_VECTORS_FILE;
    ASSERT_TRUE(doc().HasMember("receipts"));
    EXPECT_EQ(doc()["receipts"].Size(), 3u);
    EXPECT_EQ(doc()["notifications"].Size(), 7u);
    EXPECT_EQ(str(doc(), "info"), media_retry_info);
}

TEST(MediaRetryVectors, KeyIsBaileys)
{
    auto key = media_retry_key(media_key());
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(to_hex(*key), str(doc(), "retry_key"));
    EXPECT_EQ(media_retry_key(Bytes(31, 0)).error().code, Errc::malformed);
}

TEST(MediaRetryVectors, ReceiptIsByteForByteBaileys)
{
    const Jid me = jid(str(doc(), "me"));
    ASSERT_TRUE(me.has_device());  // the receipt must drop it
    for (const auto& r : doc()["receipts"].GetArray()) {
        const auto& key = r["key"];
        const std::string id = str(key, "id");
        SCOPED_TRACE(id);
        MediaRetryTarget target{.own = me,
                                .message_id = id,
                                .chat = jid(str(key, "remoteJid")),
                                .from_me = key["fromMe"].GetBool(),
                                .participant = std::nullopt};
        if (key.HasMember("participant")) target.participant = jid(str(key, "participant"));

        auto enc = encrypt_retry_receipt(media_key(), id, crypto::replay_random(hex(r, "iv")));
        ASSERT_TRUE(enc.ok()) << enc.error().detail;
        EXPECT_EQ(to_hex(enc->ciphertext), str(r, "ciphertext"));
        EXPECT_EQ(to_hex(enc->iv), str(r, "iv"));

        auto node = media_retry_receipt(target, media_key(), crypto::replay_random(hex(r, "iv")));
        ASSERT_TRUE(node.ok()) << node.error().detail;
        auto bytes = binary::encode(*node);
        ASSERT_TRUE(bytes.ok());
        EXPECT_EQ(to_hex(*bytes), str(r, "encoded")) << binary::to_debug_string(*node);

        // The plaintext is the ServerErrorReceipt Baileys encoded.
        proto::ServerErrorReceipt receipt;
        receipt.set_stanzaid(id);
        EXPECT_EQ(to_hex(proto::serialize(receipt)), str(r, "receipt_plaintext"));
    }
}

TEST(MediaRetryVectors, NotificationsDecodeParseAndDecrypt)
{
    for (const auto& v : doc()["notifications"].GetArray()) {
        const std::string name = str(v, "name");
        SCOPED_TRACE(name);
        auto node = binary::decode(hex(v, "encoded"));
        ASSERT_TRUE(node.ok()) << node.error().detail;
        auto notice = parse_media_retry_notification(*node);
        ASSERT_TRUE(notice.ok()) << notice.error().detail;
        EXPECT_EQ(notice->message_id, str(v, "id"));
        auto outcome = media_retry_outcome(media_key(), *notice);
        ASSERT_TRUE(outcome.ok()) << outcome.error().detail;

        // Baileys' HTTP-like status for the same answer.
        const int status = v["status_code"].GetInt();
        const std::map<MediaRetryResult, int> statuses{
            {MediaRetryResult::success, 200},
            {MediaRetryResult::not_found, 404},
            {MediaRetryResult::decryption_error, 412},
            {MediaRetryResult::general_error, 418}};
        if (v.HasMember("error_code")) {
            EXPECT_EQ(notice->error_code, v["error_code"].GetUint());
            EXPECT_TRUE(notice->ciphertext.empty());
            EXPECT_EQ(statuses.at(outcome->result), status);
            continue;
        }
        EXPECT_FALSE(notice->error_code.has_value());
        EXPECT_EQ(to_hex(notice->ciphertext), str(v, "ciphertext"));
        EXPECT_EQ(to_hex(notice->iv), str(v, "iv"));
        EXPECT_EQ(statuses.at(outcome->result), status);
        if (v["direct_path"].IsString()) {
            EXPECT_EQ(outcome->result, MediaRetryResult::success);
            EXPECT_EQ(outcome->direct_path, str(v, "direct_path"));
        } else {
            EXPECT_TRUE(outcome->direct_path.empty());
        }
    }
}

TEST(MediaRetryVectors, ParticipantAndFromMe)
{
    // The vectors' decryption_error answer is for the group message.
    for (const auto& v : doc()["notifications"].GetArray()) {
        if (str(v, "name") != "decryption_error") continue;
        auto notice = parse_media_retry_notification(*binary::decode(hex(v, "encoded")));
        ASSERT_TRUE(notice.ok());
        EXPECT_EQ(notice->chat.to_string(), "120363012345678901@g.us");
        ASSERT_TRUE(notice->participant.has_value());
        EXPECT_EQ(notice->participant->to_string(), "15554445555@s.whatsapp.net");
        EXPECT_FALSE(notice->from_me);
    }
}

// The success vector, for the refusals below.
struct Success {
    std::string id;
    Bytes iv, ct;
    Success()
    {
        for (const auto& v : doc()["notifications"].GetArray())
            if (str(v, "name") == "success") {
                id = str(v, "id");
                iv = hex(v, "iv");
                ct = hex(v, "ciphertext");
            }
    }
};

TEST(MediaRetryDecrypt, RefusesWhatDoesNotAuthenticate)
{
    Success s;
    ASSERT_TRUE(decrypt_media_retry(media_key(), s.id, s.iv, s.ct).ok());
    Bytes other_key = media_key();
    other_key[0] ^= 1;
    EXPECT_EQ(decrypt_media_retry(other_key, s.id, s.iv, s.ct).error().code, Errc::bad_mac);
    EXPECT_EQ(decrypt_media_retry(media_key(), s.id + "X", s.iv, s.ct).error().code,
              Errc::bad_mac);
    Bytes iv = s.iv;
    iv[11] ^= 1;
    EXPECT_EQ(decrypt_media_retry(media_key(), s.id, iv, s.ct).error().code, Errc::bad_mac);
    for (std::size_t at : {std::size_t{0}, s.ct.size() / 2, s.ct.size() - 1}) {
        Bytes ct = s.ct;
        ct[at] ^= 0x80;
        EXPECT_EQ(decrypt_media_retry(media_key(), s.id, s.iv, ct).error().code, Errc::bad_mac);
    }
    EXPECT_EQ(decrypt_media_retry(media_key(), s.id, s.iv, ByteView(s.ct).first(15)).error().code,
              Errc::truncated);
    EXPECT_EQ(decrypt_media_retry(media_key(), s.id, ByteView(s.iv).first(11), s.ct).error().code,
              Errc::malformed);
    EXPECT_EQ(decrypt_media_retry(media_key(), "", s.iv, s.ct).error().code, Errc::malformed);
    EXPECT_EQ(decrypt_media_retry(media_key(), s.id, s.iv, Bytes(8193, 0)).error().code,
              Errc::too_large);
}

// Our own encryption of an answer, to test what the phone could send.
Bytes seal_answer(const proto::MediaRetryNotification& msg, std::string_view id, ByteView iv)
{
    auto key = media_retry_key(media_key());
    EXPECT_TRUE(key.ok());
    auto ct = crypto::aes256_gcm_encrypt(*key, iv, proto::serialize(msg), as_bytes(id));
    EXPECT_TRUE(ct.ok());
    return ct.ok() ? *ct : Bytes{};
}

TEST(MediaRetryDecrypt, RefusesHostileAnswers)
{
    const Bytes iv(12, 7);
    const std::string id = "3EB0C431C26A1916E07A";
    auto outcome = [&](const proto::MediaRetryNotification& m) {
        return decrypt_media_retry(media_key(), id, iv, seal_answer(m, id, iv));
    };
    proto::MediaRetryNotification m;
    m.set_stanzaid(id);
    m.set_result(proto::MediaRetryNotification::SUCCESS);
    // Success needs a direct path on the media host.
    EXPECT_EQ(outcome(m).error().code, Errc::malformed);
    for (std::string bad : {"", "//evil.com/x", "https://evil.com/x", "/x@evil.com", "/x y",
                            "/x\r\nHost: evil"}) {
        SCOPED_TRACE(bad);
        m.set_directpath(bad);
        EXPECT_EQ(outcome(m).error().code, Errc::malformed);
    }
    m.set_directpath("/v/t62/1.enc?x=1");
    ASSERT_TRUE(outcome(m).ok());
    EXPECT_EQ(outcome(m)->direct_path, "/v/t62/1.enc?x=1");
    // Another message's answer under this one's AAD.
    m.set_stanzaid("OTHER");
    EXPECT_EQ(outcome(m).error().code, Errc::malformed);
    // No stanzaId is fine (the AAD binds the id).
    m.clear_stanzaid();
    EXPECT_TRUE(outcome(m).ok());
    // A failure keeps no path, even when one is sent.
    m.set_result(proto::MediaRetryNotification::NOT_FOUND);
    ASSERT_TRUE(outcome(m).ok());
    EXPECT_EQ(*outcome(m), (MediaRetryOutcome{MediaRetryResult::not_found, ""}));
    // Not a protobuf at all.
    auto key = media_retry_key(media_key());
    auto junk = crypto::aes256_gcm_encrypt(*key, iv, Bytes{0xff, 0xff, 0xff}, as_bytes(id));
    EXPECT_EQ(decrypt_media_retry(media_key(), id, iv, *junk).error().code, Errc::malformed);
}

Node notification(std::vector<Node> kids)
{
    Node n("notification");
    n.set_attr("from", "15550001111@s.whatsapp.net");
    n.set_attr("type", "mediaretry");
    n.set_attr("id", "ABC");
    n.set_attr("t", "1765000000");
    n.content = binary::Children(std::move(kids));
    return n;
}

Node rmr(std::string from_me = "false")
{
    Node r("rmr");
    r.set_attr("jid", jid("15552223333@s.whatsapp.net"));
    r.set_attr("from_me", from_me);
    return r;
}

Node encrypt(Bytes ct, Bytes iv)
{
    Node e("encrypt");
    e.content =
        binary::Children{Node("enc_p", {}, std::move(ct)), Node("enc_iv", {}, std::move(iv))};
    return e;
}

TEST(MediaRetryParse, RefusesBadShapes)
{
    auto code = [](const Node& n) {
        auto r = parse_media_retry_notification(n);
        return r.ok() ? std::optional<Errc>{} : std::optional<Errc>(r.error().code);
    };
    EXPECT_FALSE(code(notification({rmr(), encrypt(Bytes(20, 1), Bytes(12, 2))})).has_value());
    EXPECT_EQ(code(notification({encrypt(Bytes(20, 1), Bytes(12, 2))})), Errc::malformed);
    EXPECT_EQ(code(notification({rmr()})), Errc::malformed);
    EXPECT_EQ(code(notification({rmr("yes"), encrypt(Bytes(20, 1), Bytes(12, 2))})),
              Errc::malformed);
    EXPECT_EQ(code(notification({rmr(), encrypt(Bytes(20, 1), Bytes(16, 2))})), Errc::malformed);
    EXPECT_EQ(code(notification({rmr(), encrypt(Bytes{}, Bytes(12, 2))})), Errc::malformed);
    EXPECT_EQ(code(notification({rmr(), encrypt(Bytes(8193, 1), Bytes(12, 2))})),
              Errc::too_large);
    Node no_jid("rmr");
    no_jid.set_attr("jid", "not a jid");
    no_jid.set_attr("from_me", "true");
    EXPECT_EQ(code(notification({no_jid, encrypt(Bytes(20, 1), Bytes(12, 2))})), Errc::malformed);
    Node bad_participant = rmr();
    bad_participant.set_attr("participant", "x");
    EXPECT_EQ(code(notification({bad_participant, encrypt(Bytes(20, 1), Bytes(12, 2))})),
              Errc::malformed);
    for (std::string bad : {"", "x", "-1", "1e3", "9999999999"}) {
        Node err("error");
        err.set_attr("code", bad);
        EXPECT_EQ(code(notification({rmr(), err})), Errc::malformed) << bad;
    }
    Node other = notification({rmr(), encrypt(Bytes(20, 1), Bytes(12, 2))});
    other.set_attr("type", "w:gp2");
    EXPECT_EQ(code(other), Errc::malformed);
    Node no_id = notification({rmr(), encrypt(Bytes(20, 1), Bytes(12, 2))});
    no_id.set_attr("id", "");
    EXPECT_EQ(code(no_id), Errc::malformed);
    EXPECT_EQ(code(Node("receipt")), Errc::malformed);
}

TEST(MediaRetryParse, AnErrorCodeNeverMeansSuccess)
{
    Node err("error");
    err.set_attr("code", "1");
    auto notice = parse_media_retry_notification(notification({rmr(), err}));
    ASSERT_TRUE(notice.ok());
    auto outcome = media_retry_outcome(media_key(), *notice);
    ASSERT_TRUE(outcome.ok());
    EXPECT_EQ(outcome->result, MediaRetryResult::general_error);
}

TEST(MediaRetryReceipt, RandomFailureAndBadIds)
{
    MediaRetryTarget t{.own = jid("15550001111@s.whatsapp.net"),
                       .message_id = "ID",
                       .chat = jid("15552223333@s.whatsapp.net")};
    EXPECT_EQ(media_retry_receipt(t, media_key(), crypto::replay_random(Bytes(11, 0)))
                  .error()
                  .code,
              Errc::crypto_failure);
    t.message_id = "";
    EXPECT_EQ(media_retry_receipt(t, media_key(), crypto::replay_random(Bytes(12, 0)))
                  .error()
                  .code,
              Errc::malformed);
    t.message_id = "ID";
    EXPECT_EQ(media_retry_receipt(t, Bytes(5, 0), crypto::replay_random(Bytes(12, 0)))
                  .error()
                  .code,
              Errc::malformed);
}

}  // namespace
}  // namespace chatwoot::wa::media
