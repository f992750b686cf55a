// A WhatsApp device's keys as the session layer asks for them, kept in the
// helper's SQLite store (store::SignalStore).
//
// The session layer reads two interfaces: SessionStore (the credentials it
// connects with) and PreKeyKeeper (the one-time prekeys it uploads).  This
// adapter answers both from the device's rows, and writes what pairing
// learns.  Every write is one store::UnitOfWork, so a crash leaves the
// device either as it was or fully changed: a half-made identity would
// make the next helper register a new device behind the operator's back,
// and a pairing stored in part would log in with keys the phone does not
// know.
//
// Nothing here logs: these are private keys.  Errors carry no key bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "../store/signal_store.hpp"
#include "../store/sqlite_handle.hpp"

#include "wa/crypto/random.hpp"
#include "wa/pairing/pair_success.hpp"
#include "wa/session/after_login.hpp"
#include "wa/session/session_store.hpp"

namespace chatwoot::helper {

class DeviceKeys final : public wa::session::SessionStore, public wa::session::PreKeyKeeper {
public:
    // Borrows both; `random` makes the keys (system_random() in the helper).
    DeviceKeys(store::Database& db, store::SignalStore& store, wa::crypto::RandomSource random);

    // -- SessionStore ---------------------------------------------------------
    // Errc::not_found for a device that has no identity yet; Errc::malformed
    // for a store that holds part of one (never silently replaced);
    // Errc::store_failure when the database fails.
    wa::Result<wa::session::DeviceCredentials> load_credentials() override;

    // -- PreKeyKeeper -----------------------------------------------------------
    wa::Result<wa::session::PreKeyBatch> prepare_upload(std::uint32_t count) override;
    wa::Status mark_uploaded(std::span<const std::uint32_t> ids) override;

    // The stored credentials, or fresh ones made and stored in one unit when
    // the device has none.  A partial identity is an error, not a reason to
    // start over.
    wa::Result<wa::session::DeviceCredentials> load_or_create();

    // What pair-success told us, stored before the reply goes out: our JIDs
    // and the account's signed identity.  A later `adv_secret` (pairing by
    // code derives a new one) replaces the stored one.
    wa::Status store_pairing(const wa::pairing::PairedAccount& account);
    wa::Status store_adv_secret(const wa::crypto::Key32& secret);

    // Logged out or removed by the phone: every key of the device goes.
    wa::Status forget();

private:
    store::Database& db_;
    store::SignalStore& store_;
    wa::crypto::RandomSource random_;
};

}  // namespace chatwoot::helper
