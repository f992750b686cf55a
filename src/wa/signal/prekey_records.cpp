#include "wa/signal/prekey_records.hpp"

#include <session_pre_key.h>

#include <algorithm>
#include <string>

#include "wa/crypto/x25519.hpp"
#include "wa/signal/curve_keys.hpp"
#include "wa/signal/signal_error.hpp"

namespace chatwoot::wa::signal {

namespace {

// libsignal does not check that a record's halves belong together; a pair
// that does not would make sessions nobody can decrypt.
Result<crypto::KeyPair> matched_pair(const ec_key_pair* pair, const char* what)
{
    Result<crypto::KeyPair> out = key_pair_of(pair);
    if (!out) return make_error(Errc::malformed, std::string(what) + ": " + out.error().detail);
    Result<crypto::Key32> derived = crypto::x25519_public_key(out->private_key);
    if (!derived || *derived != out->public_key)
        return make_error(Errc::malformed, std::string(what) + ": public key does not match");
    return out;
}

Error record_error(int rc, const char* what)
{
    return make_error(rc == SG_ERR_NOMEM ? Errc::crypto_failure : Errc::malformed,
                      std::string(what) + ": " + std::string(signal_error_name(rc)));
}

}  // namespace

Result<Bytes> serialize_pre_key(const PreKey& key)
{
    Result<SignalRef<ec_key_pair>> pair = ec_pair_of(key.key_pair);
    if (!pair) return pair.error();
    session_pre_key* raw = nullptr;
    int rc = session_pre_key_create(&raw, key.id, pair->get());
    SignalRef<session_pre_key> record(raw);
    if (rc < 0 || !record) return make_error(Errc::crypto_failure, "session_pre_key_create");
    signal_buffer* out = nullptr;
    rc = session_pre_key_serialize(&out, record.get());
    SignalBuffer buffer(out);
    if (rc < 0 || !buffer) return make_error(Errc::crypto_failure, "session_pre_key_serialize");
    return buffer_bytes(buffer.get());
}

Result<Bytes> serialize_signed_pre_key(const SignedPreKey& key)
{
    Result<SignalRef<ec_key_pair>> pair = ec_pair_of(key.key_pair);
    if (!pair) return pair.error();
    session_signed_pre_key* raw = nullptr;
    // WhatsApp keeps no time with the key; libsignal's field stays 0.
    int rc = session_signed_pre_key_create(&raw, key.id, 0, pair->get(), key.signature.data(),
                                           key.signature.size());
    SignalRef<session_signed_pre_key> record(raw);
    if (rc < 0 || !record) return make_error(Errc::crypto_failure, "session_signed_pre_key_create");
    signal_buffer* out = nullptr;
    rc = session_signed_pre_key_serialize(&out, record.get());
    SignalBuffer buffer(out);
    if (rc < 0 || !buffer)
        return make_error(Errc::crypto_failure, "session_signed_pre_key_serialize");
    return buffer_bytes(buffer.get());
}

Result<PreKey> parse_pre_key(ByteView record)
{
    if (record.empty()) return make_error(Errc::truncated, "empty pre-key record");
    session_pre_key* raw = nullptr;
    int rc = session_pre_key_deserialize(&raw, record.data(), record.size(), nullptr);
    SignalRef<session_pre_key> key(raw);
    if (rc < 0 || !key) return record_error(rc, "pre-key record");
    Result<crypto::KeyPair> pair =
        matched_pair(session_pre_key_get_key_pair(key.get()), "pre-key record");
    if (!pair) return pair.error();
    return PreKey{session_pre_key_get_id(key.get()), *pair};
}

Result<SignedPreKey> parse_signed_pre_key(ByteView record)
{
    if (record.empty()) return make_error(Errc::truncated, "empty signed pre-key record");
    session_signed_pre_key* raw = nullptr;
    int rc = session_signed_pre_key_deserialize(&raw, record.data(), record.size(), nullptr);
    SignalRef<session_signed_pre_key> key(raw);
    if (rc < 0 || !key) return record_error(rc, "signed pre-key record");
    Result<crypto::KeyPair> pair =
        matched_pair(session_signed_pre_key_get_key_pair(key.get()), "signed pre-key record");
    if (!pair) return pair.error();
    std::size_t n = session_signed_pre_key_get_signature_len(key.get());
    if (n != 64)
        return make_error(Errc::malformed,
                          "signed pre-key record: signature of " + std::to_string(n) + " bytes");
    SignedPreKey out{session_signed_pre_key_get_id(key.get()), *pair, {}};
    std::copy_n(session_signed_pre_key_get_signature(key.get()), 64, out.signature.begin());
    return out;
}

Status store_pre_keys(ProtocolStore& store, std::span<const PreKey> keys)
{
    for (const PreKey& key : keys) {
        Result<Bytes> record = serialize_pre_key(key);
        if (!record) return record.error();
        Status s = store.store_pre_key(key.id, *record);
        if (!s) return s;
    }
    return Done{};
}

Status store_signed_pre_key(ProtocolStore& store, const SignedPreKey& key)
{
    Result<Bytes> record = serialize_signed_pre_key(key);
    if (!record) return record.error();
    return store.store_signed_pre_key(key.id, *record);
}

}  // namespace chatwoot::wa::signal
