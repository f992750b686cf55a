// What a session reads from the device's store: the keys it connects with
// and, once paired, who it is.  An interface, because the store is SQLite
// in the helper (its adapter lives there) and memory in tests; the session
// layer never opens a database.
//
// Nothing here is ever logged: these are the device's private keys.
#pragma once

#include <cstdint>
#include <optional>

#include "wa/binary/jid.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/random.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::session {

struct SignedPreKey {
    std::uint32_t id = 0;  // < 2^24: it travels as 3 bytes
    crypto::KeyPair key;
    crypto::Signature64 signature{};  // by the identity key over 0x05 || public key
};

// A device's long-lived secrets, made once when it is created and kept
// until it is logged out.
struct DeviceCredentials {
    crypto::KeyPair noise_key;     // the Noise static key; its public half is in the QR
    crypto::KeyPair identity_key;  // the Signal identity
    std::uint32_t registration_id = 0;
    SignedPreKey signed_prekey;
    crypto::Key32 adv_secret{};    // in the QR; checks the phone's pair-success
    // Set by pairing: our device JID ("<phone>:<device>@s.whatsapp.net")
    // and LID.  With a JID the session logs in; without, it registers.
    std::optional<binary::Jid> jid;
    std::optional<binary::Jid> lid;

    bool paired() const { return jid.has_value(); }
};

class SessionStore {
public:
    virtual ~SessionStore() = default;

    // The device's credentials.  Errc::not_found when it has none yet (the
    // owner makes them with generate_credentials and stores them first).
    virtual Result<DeviceCredentials> load_credentials() = 0;
};

// The store of tests: holds one value, or fails as told.
class MemorySessionStore final : public SessionStore {
public:
    MemorySessionStore() = default;
    explicit MemorySessionStore(DeviceCredentials credentials) : credentials_(std::move(credentials)) {}

    Result<DeviceCredentials> load_credentials() override;

    void set(DeviceCredentials credentials) { credentials_ = std::move(credentials); }
    void clear() { credentials_.reset(); }
    void fail_with(Error error) { failure_ = std::move(error); }
    int loads() const { return loads_; }

private:
    std::optional<DeviceCredentials> credentials_;
    std::optional<Error> failure_;
    int loads_ = 0;
};

// Fresh credentials for a new, unpaired device: noise and identity keys, a
// 14-bit registration id (as libsignal makes them), signed prekey 1 signed
// by the identity key, and a random ADV secret.
Result<DeviceCredentials> generate_credentials(const crypto::RandomSource& random);

}  // namespace chatwoot::wa::session
