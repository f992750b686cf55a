#include "device_keys.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "wa/binary/jid.hpp"
#include "wa/crypto/signal_context.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/prekey_records.hpp"

namespace chatwoot::helper {

namespace {

using wa::Errc;
using wa::session::DeviceCredentials;

constexpr std::string_view kAdvSecret = "adv_secret";
constexpr std::uint32_t kSignedPreKeyId = 1;

// A store call's StoreError as the wa layer's error: the caller decides
// what a failing database means for the connection.
template <class F>
auto stored(const char* what, F&& body) -> decltype(body())
{
    try {
        return body();
    } catch (const store::StoreError& e) {
        return wa::make_error(Errc::store_failure, std::string(what) + ": " + e.what());
    }
}

wa::Result<wa::signal::SignedPreKey> load_signed_pre_key(store::SignalStore& store)
{
    auto record = store.load_signed_pre_key(kSignedPreKeyId);
    if (!record) return record.error();
    if (!*record) return wa::make_error(Errc::malformed, "device keys: the signed prekey is missing");
    return wa::signal::parse_signed_pre_key(**record);
}

}  // namespace

DeviceKeys::DeviceKeys(store::Database& db, store::SignalStore& store,
                       wa::crypto::RandomSource random)
    : db_(db), store_(store), random_(std::move(random))
{
}

wa::Result<DeviceCredentials> DeviceKeys::load_credentials()
{
    return stored("device keys", [&]() -> wa::Result<DeviceCredentials> {
        auto identity = store_.local_identity();
        const auto noise = store_.noise_key();
        if (!identity) {
            if (identity.error().code != Errc::not_found) return identity.error();
            if (noise) {
                return wa::make_error(Errc::malformed,
                                      "device keys: a noise key without an identity");
            }
            return wa::make_error(Errc::not_found, "device keys: none yet");
        }
        if (!noise) {
            return wa::make_error(Errc::malformed, "device keys: an identity without a noise key");
        }
        auto signed_pre_key = load_signed_pre_key(store_);
        if (!signed_pre_key) return signed_pre_key.error();
        const auto adv = store_.value(kAdvSecret);
        if (!adv || adv->size() != 32) {
            return wa::make_error(Errc::malformed, "device keys: the ADV secret is missing");
        }

        DeviceCredentials c;
        c.noise_key = *noise;
        c.identity_key = identity->key_pair;
        c.registration_id = identity->registration_id;
        c.signed_prekey.id = signed_pre_key->id;
        c.signed_prekey.key = signed_pre_key->key_pair;
        c.signed_prekey.signature = signed_pre_key->signature;
        std::copy(adv->begin(), adv->end(), c.adv_secret.begin());

        const store::OwnJids jids = store_.own_jids();
        if (!jids.pn.empty()) {
            c.jid = wa::binary::Jid::parse(jids.pn);
            if (!c.jid) return wa::make_error(Errc::malformed, "device keys: our stored JID does not parse");
        }
        if (!jids.lid.empty()) {
            c.lid = wa::binary::Jid::parse(jids.lid);
        }
        return c;
    });
}

wa::Result<DeviceCredentials> DeviceKeys::load_or_create()
{
    auto loaded = load_credentials();
    if (loaded || loaded.error().code != Errc::not_found) return loaded;

    auto made = wa::session::generate_credentials(random_);
    if (!made) return made.error();
    return stored("device keys", [&]() -> wa::Result<DeviceCredentials> {
        store::UnitOfWork unit(db_);
        store_.set_local_identity(wa::signal::LocalIdentity{made->identity_key, made->registration_id});
        store_.set_noise_key(made->noise_key);
        wa::signal::SignedPreKey spk;
        spk.id = made->signed_prekey.id;
        spk.key_pair = made->signed_prekey.key;
        spk.signature = made->signed_prekey.signature;
        if (auto s = wa::signal::store_signed_pre_key(store_, spk); !s) return s.error();
        store_.put_value(kAdvSecret, wa::ByteView(made->adv_secret.data(), made->adv_secret.size()));
        unit.commit();
        return std::move(*made);
    });
}

wa::Result<wa::session::PreKeyBatch> DeviceKeys::prepare_upload(std::uint32_t count)
{
    return stored("device keys", [&]() -> wa::Result<wa::session::PreKeyBatch> {
        wa::session::PreKeyBatch batch;
        auto identity = store_.local_identity();
        if (!identity) return identity.error();
        batch.identity = *identity;
        auto signed_pre_key = load_signed_pre_key(store_);
        if (!signed_pre_key) return signed_pre_key.error();
        batch.signed_pre_key = *signed_pre_key;

        // Keys made for an upload that never finished go first; new ones
        // make up the rest, kept before they leave (a key the server hands
        // out must be one we can still decrypt with).
        store::UnitOfWork unit(db_);
        std::vector<std::uint32_t> ids = store_.pre_keys_to_upload(count);
        for (std::uint32_t id : ids) {
            auto record = store_.load_pre_key(id);
            if (!record) return record.error();
            if (!*record) continue;
            auto key = wa::signal::parse_pre_key(**record);
            if (!key) return key.error();
            batch.pre_keys.push_back(*key);
        }
        if (batch.pre_keys.size() < count) {
            auto context = wa::crypto::SignalContext::create(random_);
            if (!context) return context.error();
            auto fresh = wa::signal::generate_pre_keys(
                *context, store_.next_pre_key_id(),
                count - static_cast<std::uint32_t>(batch.pre_keys.size()));
            if (!fresh) return fresh.error();
            if (auto s = wa::signal::store_pre_keys(store_, *fresh); !s) return s.error();
            batch.pre_keys.insert(batch.pre_keys.end(), fresh->begin(), fresh->end());
        }
        unit.commit();
        return batch;
    });
}

wa::Status DeviceKeys::mark_uploaded(std::span<const std::uint32_t> ids)
{
    return stored("device keys", [&]() -> wa::Status {
        store::UnitOfWork unit(db_);
        store_.mark_pre_keys_uploaded(ids);
        unit.commit();
        return wa::Done{};
    });
}

wa::Status DeviceKeys::store_pairing(const wa::pairing::PairedAccount& account)
{
    return stored("device keys", [&]() -> wa::Status {
        store::UnitOfWork unit(db_);
        store_.set_own_jids(store::OwnJids{account.jid.to_string(),
                                           account.lid ? account.lid->to_string() : ""});
        store_.set_adv_identity(account.account);
        if (account.lid) {
            store_.map_lid(account.jid.user(), account.lid->user());
        }
        unit.commit();
        return wa::Done{};
    });
}

wa::Status DeviceKeys::store_adv_secret(const wa::crypto::Key32& secret)
{
    return stored("device keys", [&]() -> wa::Status {
        store_.put_value(kAdvSecret, wa::ByteView(secret.data(), secret.size()));
        return wa::Done{};
    });
}

wa::Status DeviceKeys::forget()
{
    return stored("device keys", [&]() -> wa::Status {
        store_.forget_device();
        return wa::Done{};
    });
}

}  // namespace chatwoot::helper
