// Media retry: asking the phone to upload expired media again (whatsmeow
// mediaretry.go, Baileys encryptMediaRetryRequest; waweb.md section 2).
//
// When a blob answers 404/410 on every media host (typically after about
// two weeks), the receiver sends
//
//   <receipt id="<message id>" to="<own user, no device>" type="server-error">
//     <encrypt><enc_p>GCM ciphertext</enc_p><enc_iv>12 bytes</enc_iv></encrypt>
//     <rmr jid="<chat>" from_me="true|false" [participant="<group sender>"]/>
//   </receipt>
//
// and the phone answers, if it still has the file, with
//
//   <notification type="mediaretry" id="<message id>" ...>
//     <rmr jid from_me [participant]/>
//     <encrypt><enc_p/><enc_iv/></encrypt>   or   <error code="..."/>
//   </notification>
//
// Both payloads are AES-256-GCM under HKDF-SHA256(mediaKey, no salt,
// "WhatsApp Media Retry Notification", 32 bytes), with a random 12-byte IV
// and the message id as the AAD: the receipt carries a ServerErrorReceipt
// {stanzaId}, the answer a MediaRetryNotification {stanzaId, directPath,
// result}.  Only whoever holds the media key can ask or read the answer.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::media {

inline constexpr std::string_view media_retry_info = "WhatsApp Media Retry Notification";
inline constexpr std::size_t media_retry_iv_size = 12;
// A MediaRetryNotification is a message id, a direct path and a few bytes
// more; anything far larger is not one.
inline constexpr std::size_t kMaxMediaRetryCiphertext = 8192;
// Message ids are some 20-32 characters.
inline constexpr std::size_t kMaxMediaRetryMessageId = 128;

// Errc::malformed for a media key that is not 32 bytes.
Result<crypto::Key32> media_retry_key(ByteView media_key);

struct EncryptedRetryReceipt {
    Bytes ciphertext;  // ServerErrorReceipt, GCM ciphertext || 16-byte tag
    std::array<std::uint8_t, media_retry_iv_size> iv{};
};

// Takes 12 bytes of `random` for the IV.  Errc::malformed for a bad media
// key or an empty message id (or one over kMaxMediaRetryMessageId);
// the random source's error when it fails.
Result<EncryptedRetryReceipt> encrypt_retry_receipt(ByteView media_key,
                                                    std::string_view message_id,
                                                    const crypto::RandomSource& random);

// Which message's media to ask for.
struct MediaRetryTarget {
    binary::Jid own;         // our account; its device is dropped
    std::string message_id;  // the media message's id
    binary::Jid chat;        // the chat it is in (user or group)
    bool from_me = false;    // whether we sent it
    std::optional<binary::Jid> participant = std::nullopt;  // its sender, in a group
};

// The <receipt type="server-error"> above, attributes in the order the
// reference writes them.  Errors as encrypt_retry_receipt().
Result<binary::Node> media_retry_receipt(const MediaRetryTarget& target, ByteView media_key,
                                         const crypto::RandomSource& random);

// A <notification type="mediaretry">, not yet decrypted.
struct MediaRetryNotice {
    std::string message_id;
    binary::Jid chat;
    bool from_me = false;
    std::optional<binary::Jid> participant = std::nullopt;
    // The phone's <error code>, when it answered with one instead of an
    // encrypted result (the code uses the ResultType numbers).
    std::optional<std::uint32_t> error_code = std::nullopt;
    Bytes ciphertext = {};  // empty when error_code is set
    std::array<std::uint8_t, media_retry_iv_size> iv = {};
};

// Errc::malformed for another tag or type, a missing or over-long id, no
// <rmr> or one without a valid jid or with a from_me other than
// "true"/"false", an invalid participant, an <error> whose code is not a
// decimal number, or neither <error> nor an <encrypt> with <enc_p> and a
// 12-byte <enc_iv>; Errc::too_large for a ciphertext over
// kMaxMediaRetryCiphertext.
Result<MediaRetryNotice> parse_media_retry_notification(const binary::Node& notification);

// What the phone said (MediaRetryNotification.ResultType).
enum class MediaRetryResult {
    general_error = 0,     // also: no result given, or one we do not know
    success = 1,           // uploaded again: `direct_path` is where
    not_found = 2,         // the phone no longer has the file
    decryption_error = 3,  // the phone could not read our receipt
};

std::string_view media_retry_result_name(MediaRetryResult result);

struct MediaRetryOutcome {
    MediaRetryResult result = MediaRetryResult::general_error;
    std::string direct_path;  // set for success only, checked by check_direct_path()

    bool operator==(const MediaRetryOutcome&) const = default;
};

// Decrypts and reads the answer.  Errc::malformed for a bad media key, an
// IV that is not 12 bytes, a plaintext that is not a
// MediaRetryNotification, a stanzaId naming another message, or a success
// without a usable direct path; Errc::truncated for a ciphertext shorter
// than the tag; Errc::bad_mac when it does not authenticate (wrong key or
// message id, altered bytes); Errc::too_large over
// kMaxMediaRetryCiphertext.
Result<MediaRetryOutcome> decrypt_media_retry(ByteView media_key, std::string_view message_id,
                                              ByteView iv, ByteView ciphertext);

// The outcome of a parsed notification: its error code mapped to a
// result without decryption, else decrypt_media_retry().
Result<MediaRetryOutcome> media_retry_outcome(ByteView media_key, const MediaRetryNotice& notice);

}  // namespace chatwoot::wa::media
