// What the Signal protocol keeps between messages, as an interface.
//
// libsignal-protocol-c reads and writes five kinds of state through
// callbacks (store_context.hpp installs them): sessions by peer address,
// our one-time pre-keys and signed pre-keys by id, our identity, and
// sender keys by (group, sender).  Records are opaque serialized blobs
// (libsignal's own protobuf forms), so an implementation is a set of
// key -> blob tables; the SQLite store maps each method to one statement.
//
// Identity keys are raw 32-byte curve25519 keys, as WhatsApp sends them.
// WhatsApp trusts every identity key a peer presents (waweb.md section
// 1.14): a changed key is recorded by save_identity, never refused, so
// there is no "is trusted" method.
//
// Every method may fail with the store's own Error (say, a database that
// is gone); the Signal calls then fail with that same error.  Methods are
// called synchronously from inside libsignal and must not call back into
// it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/error.hpp"
#include "wa/signal/address.hpp"

namespace chatwoot::wa::signal {

struct LocalIdentity {
    crypto::KeyPair key_pair;       // our identity key
    std::uint32_t registration_id;  // 1..16380, made once at registration
};

class ProtocolStore {
public:
    virtual ~ProtocolStore() = default;

    // Our identity; Errc::not_found before registration.
    virtual Result<LocalIdentity> local_identity() = 0;

    // The identity key a peer used last.  nullopt forgets it (libsignal
    // asks for that with a null key).
    virtual Status save_identity(const Address& address, std::optional<crypto::Key32> key) = 0;
    virtual Result<std::optional<crypto::Key32>> load_identity(const Address& address) = 0;

    virtual Result<std::optional<Bytes>> load_session(const Address& address) = 0;
    virtual Status store_session(const Address& address, ByteView record) = 0;
    virtual Result<bool> contains_session(const Address& address);
    // True when there was one to delete.
    virtual Result<bool> delete_session(const Address& address) = 0;
    // Every device of a name; how many there were.
    virtual Result<std::size_t> delete_all_sessions(std::string_view name) = 0;
    // The devices of a name that have a session.
    virtual Result<std::vector<std::uint32_t>> session_devices(std::string_view name) = 0;

    virtual Result<std::optional<Bytes>> load_pre_key(std::uint32_t id) = 0;
    virtual Status store_pre_key(std::uint32_t id, ByteView record) = 0;
    virtual Result<bool> contains_pre_key(std::uint32_t id);
    virtual Status remove_pre_key(std::uint32_t id) = 0;

    virtual Result<std::optional<Bytes>> load_signed_pre_key(std::uint32_t id) = 0;
    virtual Status store_signed_pre_key(std::uint32_t id, ByteView record) = 0;
    virtual Result<bool> contains_signed_pre_key(std::uint32_t id);
    virtual Status remove_signed_pre_key(std::uint32_t id) = 0;

    virtual Result<std::optional<Bytes>> load_sender_key(const SenderKeyName& name) = 0;
    virtual Status store_sender_key(const SenderKeyName& name, ByteView record) = 0;
};

}  // namespace chatwoot::wa::signal
