#include "wa/message/decrypt.hpp"

#include "wa/signal/group_cipher.hpp"
#include "wa/signal/padding.hpp"
#include "wa/signal/session_cipher.hpp"

namespace chatwoot::wa::message {

namespace {

DecryptFailure classify(Errc code)
{
    switch (code) {
    case Errc::store_failure: return DecryptFailure::store;
    case Errc::not_found: return DecryptFailure::no_session;
    case Errc::bad_mac:
    case Errc::bad_signature:
    case Errc::untrusted: return DecryptFailure::bad_mac;
    case Errc::wrong_state: return DecryptFailure::duplicate;
    case Errc::unsupported: return DecryptFailure::unsupported;
    default: return DecryptFailure::malformed;
    }
}

PartFailure failure_of(EncType type, const Error& e)
{
    return PartFailure{type, classify(e.code), std::string(errc_name(e.code)) + ": " + e.detail};
}

// Takes the sender keys a Message hands over (the ordinary field and the
// "fast ratchet" one have the same shape).  False when the store failed.
bool take_skdms(signal::ProtocolContext& context, const signal::Address& sender,
                const proto::Message& m, Decrypted& out, EncType type)
{
    for (const auto* skdm : {m.has_senderkeydistributionmessage()
                                 ? &m.senderkeydistributionmessage() : nullptr,
                             m.has_fastratchetkeysenderkeydistributionmessage()
                                 ? &m.fastratchetkeysenderkeydistributionmessage() : nullptr}) {
        if (skdm == nullptr || !skdm->has_axolotlsenderkeydistributionmessage()) continue;
        const std::string& bytes = skdm->axolotlsenderkeydistributionmessage();
        Status s = signal::process_sender_key_distribution(
            context, signal::SenderKeyName{skdm->groupid(), sender}, as_bytes(bytes));
        if (s) {
            ++out.skdms;
            continue;
        }
        PartFailure f = failure_of(type, s.error());
        f.detail = "sender key distribution: " + f.detail;
        const bool store = f.failure == DecryptFailure::store;
        // A bad SKDM alone loses nothing yet: the skmsg that needs it fails
        // on its own and asks for a retry.
        if (store) {
            out.failures.push_back(std::move(f));
            return false;
        }
    }
    return true;
}

}  // namespace

std::string_view decrypt_failure_name(DecryptFailure failure)
{
    switch (failure) {
    case DecryptFailure::no_session: return "no_session";
    case DecryptFailure::bad_mac: return "bad_mac";
    case DecryptFailure::duplicate: return "duplicate";
    case DecryptFailure::unsupported: return "unsupported";
    case DecryptFailure::malformed: return "malformed";
    case DecryptFailure::store: return "store";
    }
    return "?";
}

bool asks_retry(DecryptFailure failure)
{
    return failure == DecryptFailure::no_session || failure == DecryptFailure::bad_mac ||
           failure == DecryptFailure::malformed;
}

bool Decrypted::store_failed() const
{
    for (const PartFailure& f : failures)
        if (f.failure == DecryptFailure::store) return true;
    return false;
}

bool Decrypted::wants_retry() const
{
    for (const PartFailure& f : failures)
        if (asks_retry(f.failure)) return true;
    return false;
}

Result<signal::Address> sender_address(const MessageEnvelope& envelope)
{
    return signal::address_of(envelope.sender);
}

std::optional<signal::Address> alternate_sender_address(const MessageEnvelope& envelope)
{
    const binary::Jid bare = envelope.sender.without_device();
    for (const LidPair& pair : envelope.lid_pairs) {
        const binary::Jid* other = nullptr;
        if (pair.pn == bare) other = &pair.lid;
        else if (pair.lid == bare) other = &pair.pn;
        if (other == nullptr) continue;
        auto jid = binary::Jid::from_parts(other->user(), other->server(), envelope.sender.agent(),
                                           envelope.sender.device());
        if (!jid) return std::nullopt;
        auto address = signal::address_of(*jid);
        if (!address) return std::nullopt;
        return *address;
    }
    return std::nullopt;
}

Decrypted decrypt(signal::ProtocolContext& context, const MessageEnvelope& envelope)
{
    Decrypted out;
    Result<signal::Address> sender = sender_address(envelope);
    if (!sender) {
        for (const EncPart& part : envelope.encs)
            out.failures.push_back(failure_of(part.type, sender.error()));
        return out;
    }
    const std::string group = envelope.chat.to_string();
    const std::optional<signal::Address> alternate = alternate_sender_address(envelope);

    for (const EncPart& part : envelope.encs) {
        Result<Bytes> plain = make_error(Errc::malformed, "");
        switch (part.type) {
        case EncType::pkmsg:
            plain = signal::decrypt_pkmsg(context, *sender, part.ciphertext);
            break;
        case EncType::msg:
            plain = signal::decrypt_msg(context, *sender, part.ciphertext);
            break;
        case EncType::skmsg:
            if (!envelope.group) {
                plain = make_error(Errc::malformed, "skmsg outside a group");
                break;
            }
            plain = signal::group_decrypt(context, signal::SenderKeyName{group, *sender},
                                          part.ciphertext);
            break;
        }
        // The same person's session under their other form: a contact who
        // wrote as PN and now as LID (or the reverse) keeps one ratchet.
        if (!plain && plain.error().code == Errc::not_found && alternate &&
            part.type != EncType::skmsg) {
            Result<Bytes> again = part.type == EncType::pkmsg
                                      ? signal::decrypt_pkmsg(context, *alternate, part.ciphertext)
                                      : signal::decrypt_msg(context, *alternate, part.ciphertext);
            if (again || again.error().code != Errc::not_found) plain = std::move(again);
        }
        if (!plain) {
            out.failures.push_back(failure_of(part.type, plain.error()));
            if (out.failures.back().failure == DecryptFailure::store) return out;
            continue;
        }
        // v=3 has no padding and no Message inside (a consumer-application
        // payload): decrypted, so the ratchet moved, but not bridged.
        if (part.version != 2) {
            out.failures.push_back(PartFailure{part.type, DecryptFailure::unsupported,
                                               "message version " + std::to_string(part.version)});
            continue;
        }
        Result<ByteView> body = signal::unpad_message(*plain);
        if (!body) {
            out.failures.push_back(failure_of(part.type, body.error()));
            out.failures.back().failure = DecryptFailure::malformed;
            continue;
        }
        proto::Message m;
        if (!m.ParseFromArray(body->data(), static_cast<int>(body->size()))) {
            out.failures.push_back(
                PartFailure{part.type, DecryptFailure::malformed, "not a Message protobuf"});
            continue;
        }
        if (!take_skdms(context, *sender, m, out, part.type)) return out;
        out.messages.push_back(std::move(m));
    }
    return out;
}

}  // namespace chatwoot::wa::message
