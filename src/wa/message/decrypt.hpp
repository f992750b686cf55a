// The <enc> parts of a message stanza decrypted (waweb.md section 1.14):
// pkmsg / msg through the 1:1 session of the sender device, skmsg through
// the sender key (group JID, sender device); each v=2 plaintext unpadded
// and parsed as a Message.  A Message carrying a sender key distribution
// (SKDM) is processed at once, so the skmsg of the same stanza, which the
// sender puts after it, finds its key.
//
// Every change goes through the ProtocolStore of the context: the caller
// opens one unit of work around this and what it stores of the result,
// so the ratchet advance commits with the message or not at all.
//
// Failures are classified, never a reason to drop silently:
//   no_session   msg without a session, pkmsg naming a gone pre-key,
//                skmsg without the sender's key: ask for a retry
//   bad_mac      the ciphertext does not authenticate: ask for a retry
//   duplicate    decrypted before (its key is used up): the stanza was
//                handled already, nothing to ask
//   unsupported  v=3 or a message version we do not speak: not bridged
//   malformed    bytes that do not parse as the message, its padding or
//                its protobuf: ask for a retry (the sender re-encrypts)
//   store        the store failed: roll back, leave the stanza for later
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "wa/message/envelope.hpp"
#include "wa/proto/message.pb.h"
#include "wa/signal/address.hpp"
#include "wa/signal/protocol_context.hpp"

namespace chatwoot::wa::message {

enum class DecryptFailure : std::uint8_t { no_session, bad_mac, duplicate, unsupported, malformed, store };

std::string_view decrypt_failure_name(DecryptFailure failure);

// What to do about a failure: a retry receipt (the sender can help), or
// not (duplicate: done before; unsupported: a resend would not help).
bool asks_retry(DecryptFailure failure);

struct PartFailure {
    EncType type;
    DecryptFailure failure;
    std::string detail;  // from the signal layer; never key material
};

struct Decrypted {
    std::vector<proto::Message> messages;  // in <enc> order, successes only
    std::vector<PartFailure> failures;     // in <enc> order
    int skdms = 0;                         // sender keys taken

    // The store failed: nothing of this may be committed.
    bool store_failed() const;
    // A failure worth a retry receipt.
    bool wants_retry() const;
};

// The Signal address of the sender device: its own JID's address.
Result<signal::Address> sender_address(const MessageEnvelope& envelope);

// The same device under the sender's other form (PN for a LID sender and
// the reverse), when the stanza names it: a pkmsg or msg that finds no
// session under the address it came from is tried there, so a contact who
// moved from PN to LID keeps the one session they have with us.
std::optional<signal::Address> alternate_sender_address(const MessageEnvelope& envelope);

// Decrypts every part; stops at the first store failure.
Decrypted decrypt(signal::ProtocolContext& context, const MessageEnvelope& envelope);

}  // namespace chatwoot::wa::message
