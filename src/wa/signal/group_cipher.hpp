// Group messages: sender keys (waweb.md section 1.14).
//
// Each sender has, per group, a chain of message keys and a signing key.
// Its SenderKeyDistributionMessage (SKDM; the
// axolotlSenderKeyDistributionMessage inside Message.senderKeyDistributionMessage)
// hands both to each member device over the 1:1 sessions; its group
// messages (<enc type="skmsg">) are SenderKeyMessages, encrypted with the
// next chain key and signed.
//
// Receivers tolerate gaps in the iterations (Baileys skips every other
// one) and messages out of order, up to 2000 ahead of the chain.
// Decrypting changes the store only when it succeeds.  Failures:
//   Errc::truncated      shorter than a version byte and a signature
//   Errc::unsupported    a version other than 3
//   Errc::malformed      bytes that do not parse
//   Errc::not_found      no sender key from that sender in that group, or
//                        none with the message's key id
//   Errc::bad_signature  the signature does not verify (a changed byte
//                        anywhere in the message lands here)
//   Errc::wrong_state    an iteration decrypted before
//   Errc::too_large      more than 2000 iterations ahead
//   the store's own error when the ProtocolStore failed.
#pragma once

#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/signal/address.hpp"
#include "wa/signal/protocol_context.hpp"

namespace chatwoot::wa::signal {

// Our SKDM for the group, `ours` naming the group and our own address.
// The first call makes the sender key (random id, chain key and signing
// key); later calls give the same key at its current iteration.
Result<Bytes> create_sender_key_distribution(ProtocolContext& context, const SenderKeyName& ours);

// Takes a sender's SKDM; `theirs` names the group and the sender.
Status process_sender_key_distribution(ProtocolContext& context, const SenderKeyName& theirs,
                                       ByteView skdm);

// Errc::not_found before create_sender_key_distribution.
Result<Bytes> group_encrypt(ProtocolContext& context, const SenderKeyName& ours,
                            ByteView plaintext);

Result<Bytes> group_decrypt(ProtocolContext& context, const SenderKeyName& theirs, ByteView skmsg);

}  // namespace chatwoot::wa::signal
