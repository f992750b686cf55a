#include "wa/media/media_retry.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>

#include "wa/crypto/aes.hpp"
#include "wa/crypto/kdf.hpp"
#include "wa/media/media_keys.hpp"
#include "wa/media/media_url.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/message.pb.h"

namespace chatwoot::wa::media {

namespace {

using binary::Jid;
using binary::Node;

Error bad(const std::string& what)
{
    return make_error(Errc::malformed, "media retry: " + what);
}

Status check_message_id(std::string_view id)
{
    if (id.empty()) return bad("empty message id");
    if (id.size() > kMaxMediaRetryMessageId)
        return bad("message id over " + std::to_string(kMaxMediaRetryMessageId) + " bytes");
    return Done{};
}

// A child's byte content; a string content is taken as its bytes too (a
// short binary value may come back as a token or packed string).
std::optional<ByteView> content_bytes(const Node* n)
{
    if (n == nullptr) return std::nullopt;
    if (const Bytes* b = n->bytes()) return ByteView(*b);
    if (const binary::Value* v = n->text()) return as_bytes(v->text);
    return std::nullopt;
}

MediaRetryResult result_of(std::uint32_t value)
{
    switch (value) {
    case 1: return MediaRetryResult::success;
    case 2: return MediaRetryResult::not_found;
    case 3: return MediaRetryResult::decryption_error;
    default: return MediaRetryResult::general_error;
    }
}

}  // namespace

std::string_view media_retry_result_name(MediaRetryResult result)
{
    switch (result) {
    case MediaRetryResult::general_error: return "general_error";
    case MediaRetryResult::success: return "success";
    case MediaRetryResult::not_found: return "not_found";
    case MediaRetryResult::decryption_error: return "decryption_error";
    }
    return "unknown";
}

Result<crypto::Key32> media_retry_key(ByteView media_key)
{
    if (media_key.size() != media_key_size)
        return make_error(Errc::malformed, "media key is " + std::to_string(media_key.size()) +
                                               " bytes, want 32");
    Result<Bytes> okm = crypto::hkdf_sha256({}, media_key, as_bytes(media_retry_info), 32);
    if (!okm) return okm.error();
    crypto::Key32 key{};
    std::copy(okm->begin(), okm->end(), key.begin());
    OPENSSL_cleanse(okm->data(), okm->size());
    return key;
}

Result<EncryptedRetryReceipt> encrypt_retry_receipt(ByteView media_key,
                                                    std::string_view message_id,
                                                    const crypto::RandomSource& random)
{
    if (Status s = check_message_id(message_id); !s) return s.error();
    auto key = media_retry_key(media_key);
    if (!key) return key.error();
    EncryptedRetryReceipt out;
    if (Status s = random(out.iv); !s) {
        OPENSSL_cleanse(key->data(), key->size());
        return s.error();
    }
    proto::ServerErrorReceipt receipt;
    receipt.set_stanzaid(std::string(message_id));
    auto ct = crypto::aes256_gcm_encrypt(*key, out.iv, proto::serialize(receipt),
                                         as_bytes(message_id));
    OPENSSL_cleanse(key->data(), key->size());
    if (!ct) return ct.error();
    out.ciphertext = std::move(*ct);
    return out;
}

Result<Node> media_retry_receipt(const MediaRetryTarget& target, ByteView media_key,
                                 const crypto::RandomSource& random)
{
    auto enc = encrypt_retry_receipt(media_key, target.message_id, random);
    if (!enc) return enc.error();

    Node encrypt("encrypt");
    encrypt.content = binary::Children{
        Node("enc_p", {}, std::move(enc->ciphertext)),
        Node("enc_iv", {}, Bytes(enc->iv.begin(), enc->iv.end())),
    };
    Node rmr("rmr");
    rmr.set_attr("jid", target.chat);
    rmr.set_attr("from_me", target.from_me ? "true" : "false");
    if (target.participant) rmr.set_attr("participant", *target.participant);

    Node receipt("receipt");
    receipt.set_attr("id", target.message_id);
    receipt.set_attr("to", target.own.without_device());
    receipt.set_attr("type", "server-error");
    receipt.content = binary::Children{std::move(encrypt), std::move(rmr)};
    return receipt;
}

Result<MediaRetryNotice> parse_media_retry_notification(const Node& n)
{
    if (n.tag != "notification") return bad("<" + n.tag + "> is not a notification");
    if (n.attr("type") != "mediaretry") return bad("notification is not of type mediaretry");
    auto id = n.attr("id");
    if (!id) return bad("notification without id");
    if (Status s = check_message_id(*id); !s) return s.error();

    const Node* rmr = n.child("rmr");
    if (rmr == nullptr) return bad("no <rmr>");
    std::optional<Jid> chat = rmr->attr_jid("jid");
    if (!chat) return bad("<rmr> without a valid jid");
    auto from_me = rmr->attr("from_me");
    if (from_me != "true" && from_me != "false")
        return bad("<rmr> from_me is neither true nor false");

    MediaRetryNotice out{.message_id = std::string(*id), .chat = *chat,
                         .from_me = *from_me == "true"};
    if (rmr->attr("participant")) {
        out.participant = rmr->attr_jid("participant");
        if (!out.participant) return bad("<rmr> participant is not a valid jid");
    }

    if (const Node* err = n.child("error")) {
        auto code = err->attr("code");
        std::uint32_t v = 0;
        if (!code || code->empty() || code->size() > 9 ||
            std::from_chars(code->data(), code->data() + code->size(), v).ptr !=
                code->data() + code->size())
            return bad("<error> code is not a decimal number");
        out.error_code = v;
        return out;
    }

    const Node* encrypt = n.child("encrypt");
    if (encrypt == nullptr) return bad("neither <error> nor <encrypt>");
    auto ct = content_bytes(encrypt->child("enc_p"));
    auto iv = content_bytes(encrypt->child("enc_iv"));
    if (!ct || ct->empty()) return bad("<encrypt> without <enc_p>");
    if (!iv || iv->size() != media_retry_iv_size) return bad("<enc_iv> is not 12 bytes");
    if (ct->size() > kMaxMediaRetryCiphertext)
        return make_error(Errc::too_large, "media retry: ciphertext over " +
                                               std::to_string(kMaxMediaRetryCiphertext) +
                                               " bytes");
    out.ciphertext.assign(ct->begin(), ct->end());
    std::copy(iv->begin(), iv->end(), out.iv.begin());
    return out;
}

Result<MediaRetryOutcome> decrypt_media_retry(ByteView media_key, std::string_view message_id,
                                              ByteView iv, ByteView ciphertext)
{
    if (Status s = check_message_id(message_id); !s) return s.error();
    if (iv.size() != media_retry_iv_size)
        return bad("IV is " + std::to_string(iv.size()) + " bytes, want 12");
    if (ciphertext.size() > kMaxMediaRetryCiphertext)
        return make_error(Errc::too_large, "media retry: ciphertext over " +
                                               std::to_string(kMaxMediaRetryCiphertext) +
                                               " bytes");
    auto key = media_retry_key(media_key);
    if (!key) return key.error();
    auto plain = crypto::aes256_gcm_decrypt(*key, iv, ciphertext, as_bytes(message_id));
    OPENSSL_cleanse(key->data(), key->size());
    if (!plain) {
        Error e = plain.error();
        e.detail = "media retry: " + e.detail;
        return e;
    }
    auto msg = proto::parse<proto::MediaRetryNotification>(*plain);
    OPENSSL_cleanse(plain->data(), plain->size());
    if (!msg) return bad(msg.error().detail);
    // The AAD already binds the answer to the id; a stanzaId that names
    // another message is a confused or hostile phone all the same.
    if (msg->has_stanzaid() && msg->stanzaid() != message_id)
        return bad("answer names another message");

    MediaRetryOutcome out;
    out.result = msg->has_result() ? result_of(static_cast<std::uint32_t>(msg->result()))
                                   : MediaRetryResult::general_error;
    if (out.result == MediaRetryResult::success) {
        if (!msg->has_directpath()) return bad("success without a direct path");
        if (Status s = check_direct_path(msg->directpath()); !s)
            return bad("success with a bad direct path: " + s.error().detail);
        out.direct_path = msg->directpath();
    }
    return out;
}

Result<MediaRetryOutcome> media_retry_outcome(ByteView media_key, const MediaRetryNotice& notice)
{
    if (notice.error_code) {
        MediaRetryResult r = result_of(*notice.error_code);
        // An <error> never carries a new path, whatever its code says.
        if (r == MediaRetryResult::success) r = MediaRetryResult::general_error;
        return MediaRetryOutcome{r, {}};
    }
    return decrypt_media_retry(media_key, notice.message_id, notice.iv, notice.ciphertext);
}

}  // namespace chatwoot::wa::media
