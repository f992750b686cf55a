#include "wa/signal/group_cipher.hpp"

#include <group_cipher.h>
#include <group_session_builder.h>
#include <protocol.h>
#include <sender_key_record.h>
#include <sender_key_state.h>

#include <string>

#include "wa/signal/c_views.hpp"
#include "wa/signal/message_checks.hpp"
#include "wa/signal/signal_ref.hpp"

namespace chatwoot::wa::signal {

namespace {

constexpr std::size_t kSkdmMin = 1;
constexpr std::size_t kSkmsgMin = 1 + 64;  // version byte, signature
constexpr std::size_t kChainKeyLength = 32;

using Builder = Owned<group_session_builder, group_session_builder_free>;
using Cipher = Owned<group_cipher, group_cipher_free>;

std::string describe(const SenderKeyName& name)
{
    return name.group_id + " from " + to_string(name.sender);
}

Result<Builder> make_builder(ProtocolContext& context)
{
    group_session_builder* raw = nullptr;
    int rc = group_session_builder_create(&raw, context.store_context(), context.signal());
    Builder builder(raw);
    if (rc < 0 || !builder) return make_error(Errc::crypto_failure, "group_session_builder_create");
    return builder;
}

// The cipher keeps a pointer to `name`, which must outlive it.
Result<Cipher> make_cipher(ProtocolContext& context, const signal_protocol_sender_key_name& name)
{
    group_cipher* raw = nullptr;
    int rc = group_cipher_create(&raw, context.store_context(), &name, context.signal());
    Cipher cipher(raw);
    if (rc < 0 || !cipher) return make_error(Errc::crypto_failure, "group_cipher_create");
    return cipher;
}

// libsignal answers SG_ERR_INVALID_MESSAGE both for a bad signature and
// for a key id it does not hold.  Checking against the stored record first
// tells them apart; libsignal then checks again, which costs one parse.
Status check_sender_key(ProtocolContext& context, const SenderKeyName& name,
                        sender_key_message* message)
{
    Result<std::optional<Bytes>> stored = context.store().load_sender_key(name);
    if (!stored) return stored.error();
    if (!*stored) return make_error(Errc::not_found, "no sender key for " + describe(name));
    const Bytes& bytes = **stored;
    sender_key_record* raw = nullptr;
    int rc = bytes.empty() ? SG_ERR_INVALID_PROTO_BUF
                           : sender_key_record_deserialize(&raw, bytes.data(), bytes.size(),
                                                           context.signal());
    SignalRef<sender_key_record> record(raw);
    if (rc < 0 || !record)
        return make_error(Errc::malformed, "stored sender key record for " + describe(name));
    if (sender_key_record_is_empty(record.get()))
        return make_error(Errc::not_found, "no sender key for " + describe(name));

    std::uint32_t key_id = sender_key_message_get_key_id(message);
    sender_key_state* state = nullptr;  // borrowed from the record
    if (sender_key_record_get_sender_key_state_by_id(record.get(), &state, key_id) < 0 || !state)
        return make_error(Errc::not_found,
                          "no sender key " + std::to_string(key_id) + " for " + describe(name));
    if (sender_key_message_verify_signature(message,
                                            sender_key_state_get_signing_key_public(state)) < 0)
        return make_error(Errc::bad_signature,
                          "skmsg signature does not verify (" + describe(name) + ")");
    return Done{};
}

}  // namespace

Result<Bytes> create_sender_key_distribution(ProtocolContext& context, const SenderKeyName& ours)
{
    Status ok = check_sender_key_name(ours);
    if (!ok) return ok.error();
    Result<Builder> builder = make_builder(context);
    if (!builder) return builder.error();

    signal_protocol_sender_key_name c = c_sender_key_name(ours);
    context.begin();
    sender_key_distribution_message* raw = nullptr;
    int rc = group_session_builder_create_session(builder->get(), &raw, &c);
    SignalRef<sender_key_distribution_message> skdm(raw);
    if (rc < 0 || !skdm) return context.failure(rc, "sender key for " + describe(ours));
    // The SKDM starts with libsignal's ciphertext_message header.
    auto* message = reinterpret_cast<ciphertext_message*>(skdm.get());
    return buffer_bytes(ciphertext_message_get_serialized(message));
}

Status process_sender_key_distribution(ProtocolContext& context, const SenderKeyName& theirs,
                                       ByteView skdm)
{
    Status ok = check_sender_key_name(theirs);
    if (!ok) return ok;
    ok = check_message(skdm, kSkdmMin, "SKDM");
    if (!ok) return ok;

    context.begin();
    sender_key_distribution_message* raw = nullptr;
    int rc = sender_key_distribution_message_deserialize(&raw, skdm.data(), skdm.size(),
                                                         context.signal());
    SignalRef<sender_key_distribution_message> parsed(raw);
    if (rc < 0 || !parsed) return context.failure(rc, "parsing SKDM");
    std::size_t chain_key =
        signal_buffer_len(sender_key_distribution_message_get_chain_key(parsed.get()));
    if (chain_key != kChainKeyLength)
        return make_error(Errc::malformed,
                          "SKDM chain key of " + std::to_string(chain_key) + " bytes, want 32");

    Result<Builder> builder = make_builder(context);
    if (!builder) return builder.error();
    signal_protocol_sender_key_name c = c_sender_key_name(theirs);
    rc = group_session_builder_process_session(builder->get(), &c, parsed.get());
    if (rc < 0) return context.failure(rc, "SKDM for " + describe(theirs));
    return Done{};
}

Result<Bytes> group_encrypt(ProtocolContext& context, const SenderKeyName& ours, ByteView plaintext)
{
    Status ok = check_sender_key_name(ours);
    if (!ok) return ok.error();
    signal_protocol_sender_key_name c = c_sender_key_name(ours);
    Result<Cipher> cipher = make_cipher(context, c);
    if (!cipher) return cipher.error();

    context.begin();
    ciphertext_message* raw = nullptr;
    int rc = group_cipher_encrypt(cipher->get(), plaintext.data(), plaintext.size(), &raw);
    SignalRef<ciphertext_message> message(raw);
    if (rc == SG_ERR_NO_SESSION)
        return make_error(Errc::not_found, "no sender key of ours for " + describe(ours));
    if (rc < 0 || !message) return context.failure(rc, "group encrypt for " + describe(ours));
    return buffer_bytes(ciphertext_message_get_serialized(message.get()));
}

Result<Bytes> group_decrypt(ProtocolContext& context, const SenderKeyName& theirs, ByteView skmsg)
{
    Status ok = check_sender_key_name(theirs);
    if (!ok) return ok.error();
    ok = check_message(skmsg, kSkmsgMin, "skmsg");
    if (!ok) return ok.error();

    context.begin();
    sender_key_message* raw = nullptr;
    int rc = sender_key_message_deserialize(&raw, skmsg.data(), skmsg.size(), context.signal());
    SignalRef<sender_key_message> parsed(raw);
    if (rc < 0 || !parsed) return context.failure(rc, "parsing skmsg");

    ok = check_sender_key(context, theirs, parsed.get());
    if (!ok) return ok.error();

    signal_protocol_sender_key_name c = c_sender_key_name(theirs);
    Result<Cipher> cipher = make_cipher(context, c);
    if (!cipher) return cipher.error();
    context.begin();
    signal_buffer* out = nullptr;
    rc = group_cipher_decrypt(cipher->get(), parsed.get(), nullptr, &out);
    SignalBuffer plaintext(out);
    if (rc < 0) return context.failure(rc, "group decrypt for " + describe(theirs));
    if (!plaintext) return make_error(Errc::crypto_failure, "group decrypt: no plaintext");
    return buffer_bytes(plaintext.get());
}

}  // namespace chatwoot::wa::signal
