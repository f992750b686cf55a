// One-to-one messages: the double ratchet over a session per device.
//
// What goes in <enc type="pkmsg|msg"> (waweb.md section 1.14): a pkmsg
// (PreKeySignalMessage) while the peer has not answered on a session we
// started, a msg (SignalMessage) after.  Plaintexts here are the padded
// Message protobuf (padding.hpp); this layer does not look inside.
//
// Decrypting never changes the store unless it succeeds: a forged or
// damaged message leaves the session as it was.  Failures:
//   Errc::truncated     shorter than the smallest message of its kind
//   Errc::unsupported   a version other than 3
//   Errc::malformed     bytes that do not parse as the message
//   Errc::bad_mac       parsed, but no session state authenticates it
//   Errc::not_found     no session (msg), or our pre-key it names is gone
//   Errc::wrong_state   a message decrypted before (its key is used up)
//   Errc::too_large     more than 2000 messages ahead of the chain
//   the store's own error when the ProtocolStore failed.
#pragma once

#include <optional>
#include <string_view>

#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/signal/address.hpp"
#include "wa/signal/protocol_context.hpp"

namespace chatwoot::wa::signal {

enum class MessageType : std::uint8_t {
    msg,    // SignalMessage
    pkmsg,  // PreKeySignalMessage
};

// The <enc type> attribute: "msg" or "pkmsg".
std::string_view enc_type(MessageType type);

struct EncryptedMessage {
    MessageType type;
    Bytes ciphertext;
};

// True when we can encrypt to `address`: a session with a sending chain.
Result<bool> has_session(ProtocolContext& context, const Address& address);

// has_session's answer for a stored record's bytes, read from them without
// libsignal's parse of the whole record; nullopt when they are not a
// well-formed record (has_session then parses them to say why).
std::optional<bool> stored_record_can_send(ByteView record);

// Errc::not_found without a session (fetch the bundle and
// process_prekey_bundle first).
Result<EncryptedMessage> encrypt(ProtocolContext& context, const Address& address,
                                 ByteView plaintext);

// A pkmsg starts a session (or reuses the one it started before) and
// removes the one-time pre-key it used.
Result<Bytes> decrypt_pkmsg(ProtocolContext& context, const Address& address, ByteView message);
Result<Bytes> decrypt_msg(ProtocolContext& context, const Address& address, ByteView message);

}  // namespace chatwoot::wa::signal
