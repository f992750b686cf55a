#include "wa/signal/session_cipher.hpp"

#include <protocol.h>
#include <cstdint>
#include <optional>
#include <session_cipher.h>
#include <session_record.h>
#include <session_state.h>

#include "wa/signal/c_views.hpp"
#include "wa/signal/message_checks.hpp"
#include "wa/signal/signal_ref.hpp"

namespace chatwoot::wa::signal {

namespace {

// libsignal's smallest messages: a version byte and something (pkmsg), a
// version byte and the 8-byte MAC (msg).
constexpr std::size_t kPkmsgMin = 1;
constexpr std::size_t kMsgMin = 1 + 8;

using Cipher = Owned<session_cipher, session_cipher_free>;

// The cipher keeps a pointer to `address`, which must outlive it.
Result<Cipher> make_cipher(ProtocolContext& context, const signal_protocol_address& address)
{
    session_cipher* raw = nullptr;
    int rc = session_cipher_create(&raw, context.store_context(), &address, context.signal());
    Cipher cipher(raw);
    if (rc < 0 || !cipher) return make_error(Errc::crypto_failure, "session_cipher_create");
    return cipher;
}

Result<Bytes> decrypted(ProtocolContext& context, int rc, signal_buffer* raw, const char* what)
{
    SignalBuffer plaintext(raw);
    // Parsed but not authenticated by any session state: a bad MAC.
    if (rc < 0) return context.failure(rc, what, Errc::bad_mac);
    if (!plaintext) return make_error(Errc::crypto_failure, std::string(what) + ": no plaintext");
    return buffer_bytes(plaintext.get());
}

// A look into a stored session record without libsignal's parse of it (a
// malloc for every chain, key and old state: most of a send's CPU, and a
// send asks has_session of every device's one or two addresses).  Field
// numbers are those of libsignal's LocalStorageProtocol.proto:
// RecordStructure.currentSession = 1, SessionStructure.senderChain = 6.
enum class Field { absent, present, malformed };

bool read_varint(ByteView& in, std::uint64_t& value)
{
    value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (in.empty()) return false;
        const std::uint8_t b = in.front();
        in = in.subspan(1);
        value |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) return true;
    }
    return false;
}

// The last length-delimited field `number` of one message's bytes (for a
// message field protobuf merges repeats; libsignal writes one).
Field find_field(ByteView message, std::uint64_t number, ByteView& field)
{
    Field found = Field::absent;
    while (!message.empty()) {
        std::uint64_t key = 0;
        if (!read_varint(message, key)) return Field::malformed;
        switch (key & 7) {
        case 0: {
            std::uint64_t ignored = 0;
            if (!read_varint(message, ignored)) return Field::malformed;
            break;
        }
        case 1:
            if (message.size() < 8) return Field::malformed;
            message = message.subspan(8);
            break;
        case 5:
            if (message.size() < 4) return Field::malformed;
            message = message.subspan(4);
            break;
        case 2: {
            std::uint64_t length = 0;
            if (!read_varint(message, length) || length > message.size()) return Field::malformed;
            if ((key >> 3) == number) {
                field = message.first(static_cast<std::size_t>(length));
                found = Field::present;
            }
            message = message.subspan(static_cast<std::size_t>(length));
            break;
        }
        default:
            return Field::malformed;   // groups: never in a session record
        }
    }
    return found;
}

}  // namespace

std::optional<bool> stored_record_can_send(ByteView record)
{
    ByteView current;
    switch (find_field(record, 1, current)) {
    case Field::absent:
        return false;   // no current state: libsignal makes an empty one
    case Field::malformed:
        return std::nullopt;
    case Field::present:
        break;
    }
    ByteView chain;
    switch (find_field(current, 6, chain)) {
    case Field::absent:
        return false;
    case Field::present:
        return true;
    case Field::malformed:
        break;
    }
    return std::nullopt;
}

std::string_view enc_type(MessageType type)
{
    return type == MessageType::pkmsg ? "pkmsg" : "msg";
}

Result<bool> has_session(ProtocolContext& context, const Address& address)
{
    Status ok = check_address(address);
    if (!ok) return ok.error();
    Result<std::optional<Bytes>> stored = context.store().load_session(address);
    if (!stored) return stored.error();
    if (!*stored) return false;
    const Bytes& bytes = **stored;
    if (!bytes.empty())
        if (auto quick = stored_record_can_send(bytes)) return *quick;
    session_record* raw = nullptr;
    int rc = bytes.empty()
                 ? SG_ERR_INVALID_PROTO_BUF
                 : session_record_deserialize(&raw, bytes.data(), bytes.size(), context.signal());
    SignalRef<session_record> record(raw);
    if (rc < 0 || !record)
        return make_error(Errc::malformed, "stored session record for " + to_string(address));
    const session_state* state = session_record_get_state(record.get());
    return state != nullptr && session_state_has_sender_chain(state) == 1;
}

Result<EncryptedMessage> encrypt(ProtocolContext& context, const Address& address,
                                 ByteView plaintext)
{
    Result<bool> ready = has_session(context, address);
    if (!ready) return ready.error();
    if (!*ready) return make_error(Errc::not_found, "no session with " + to_string(address));

    signal_protocol_address c = c_address(address);
    Result<Cipher> cipher = make_cipher(context, c);
    if (!cipher) return cipher.error();
    context.begin();
    ciphertext_message* raw = nullptr;
    int rc = session_cipher_encrypt(cipher->get(), plaintext.data(), plaintext.size(), &raw);
    SignalRef<ciphertext_message> message(raw);
    if (rc < 0 || !message) return context.failure(rc, "encrypting to " + to_string(address));

    int type = ciphertext_message_get_type(message.get());
    if (type != CIPHERTEXT_PREKEY_TYPE && type != CIPHERTEXT_SIGNAL_TYPE)
        return make_error(Errc::crypto_failure,
                          "libsignal made message type " + std::to_string(type));
    return EncryptedMessage{type == CIPHERTEXT_PREKEY_TYPE ? MessageType::pkmsg : MessageType::msg,
                            buffer_bytes(ciphertext_message_get_serialized(message.get()))};
}

Result<Bytes> decrypt_pkmsg(ProtocolContext& context, const Address& address, ByteView message)
{
    Status ok = check_address(address);
    if (!ok) return ok.error();
    ok = check_message(message, kPkmsgMin, "pkmsg");
    if (!ok) return ok.error();

    context.begin();
    pre_key_signal_message* raw = nullptr;
    int rc =
        pre_key_signal_message_deserialize(&raw, message.data(), message.size(), context.signal());
    SignalRef<pre_key_signal_message> parsed(raw);
    if (rc < 0 || !parsed) return context.failure(rc, "parsing pkmsg");

    signal_protocol_address c = c_address(address);
    Result<Cipher> cipher = make_cipher(context, c);
    if (!cipher) return cipher.error();
    signal_buffer* out = nullptr;
    rc = session_cipher_decrypt_pre_key_signal_message(cipher->get(), parsed.get(), nullptr, &out);
    return decrypted(context, rc, out, "decrypting pkmsg");
}

Result<Bytes> decrypt_msg(ProtocolContext& context, const Address& address, ByteView message)
{
    Status ok = check_address(address);
    if (!ok) return ok.error();
    ok = check_message(message, kMsgMin, "msg");
    if (!ok) return ok.error();

    context.begin();
    signal_message* raw = nullptr;
    int rc = signal_message_deserialize(&raw, message.data(), message.size(), context.signal());
    SignalRef<signal_message> parsed(raw);
    if (rc < 0 || !parsed) return context.failure(rc, "parsing msg");

    signal_protocol_address c = c_address(address);
    Result<Cipher> cipher = make_cipher(context, c);
    if (!cipher) return cipher.error();
    signal_buffer* out = nullptr;
    rc = session_cipher_decrypt_signal_message(cipher->get(), parsed.get(), nullptr, &out);
    if (rc == SG_ERR_NO_SESSION)
        return make_error(Errc::not_found, "no session with " + to_string(address));
    return decrypted(context, rc, out, "decrypting msg");
}

}  // namespace chatwoot::wa::signal
