// One WhatsApp device's keys and protocol state in SQLite.
//
// SignalStore is the ProtocolStore (src/wa/signal/protocol_store.hpp) the
// helper gives libsignal, plus what the session needs besides Signal: the
// Noise static key, the ADV signed identity, our own JIDs, the PN <-> LID
// map, pre-keys' "uploaded" marks, and a few small values (the last client
// version the server accepted, edge routing info).  Rows are keyed by the
// device's name (its inbox), so one database holds every device.
//
// Every write is a store::UnitOfWork of its own, or part of the caller's
// when one is open (a write of several statements as a savepoint, a
// single statement as it is: SQLite undoes a failed statement alone, so it
// needs no savepoint).  The helper opens a unit around one message's
// decryption and its inbound row, and the ratchet advance libsignal
// writes through this store commits with the row or not at all (DESIGN.md
// section 3).  Nothing is cached in memory: after a rolled-back unit the
// next load reads the old record, so the same message decrypts again.  A
// write outside any unit is its own durable commit (an fsync): bulk
// writes, such as the 812 pre-keys of a first upload, belong in one unit
// of the caller's.
//
// The ProtocolStore methods return the wa layer's Error: a failing
// database is Errc::store_failure (never a reason to drop a message), a
// stored key of the wrong length Errc::malformed.  The other methods throw
// StoreError, like the other repositories.  No message here carries key
// bytes; these tables must never be read into a log line or the status.
//
// Borrows the Database, which must outlive it; single-threaded like it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite_handle.hpp"
#include "wa/signal/protocol_store.hpp"

namespace chatwoot::store {

// Our own JIDs once paired ("" when not known yet).
struct OwnJids {
    std::string pn;   // "<phone>:<device>@s.whatsapp.net"
    std::string lid;  // "<lid>:<device>@lid"

    bool operator==(const OwnJids&) const = default;
};

class SignalStore final : public wa::signal::ProtocolStore {
public:
    SignalStore(Database& db, std::string device);

    const std::string& device() const { return device_; }

    // -- wa::signal::ProtocolStore ------------------------------------------

    wa::Result<wa::signal::LocalIdentity> local_identity() override;

    wa::Status save_identity(const wa::signal::Address& address,
                             std::optional<wa::crypto::Key32> key) override;
    wa::Result<std::optional<wa::crypto::Key32>> load_identity(
        const wa::signal::Address& address) override;

    wa::Result<std::optional<wa::Bytes>> load_session(const wa::signal::Address& address) override;
    wa::Status store_session(const wa::signal::Address& address, wa::ByteView record) override;
    wa::Result<bool> contains_session(const wa::signal::Address& address) override;
    wa::Result<bool> delete_session(const wa::signal::Address& address) override;
    wa::Result<std::size_t> delete_all_sessions(std::string_view name) override;
    wa::Result<std::vector<std::uint32_t>> session_devices(std::string_view name) override;

    wa::Result<std::optional<wa::Bytes>> load_pre_key(std::uint32_t id) override;
    // A new id is not uploaded; the same record stored again keeps its mark.
    wa::Status store_pre_key(std::uint32_t id, wa::ByteView record) override;
    wa::Result<bool> contains_pre_key(std::uint32_t id) override;
    wa::Status remove_pre_key(std::uint32_t id) override;

    wa::Result<std::optional<wa::Bytes>> load_signed_pre_key(std::uint32_t id) override;
    wa::Status store_signed_pre_key(std::uint32_t id, wa::ByteView record) override;
    wa::Result<bool> contains_signed_pre_key(std::uint32_t id) override;
    wa::Status remove_signed_pre_key(std::uint32_t id) override;

    wa::Result<std::optional<wa::Bytes>> load_sender_key(
        const wa::signal::SenderKeyName& name) override;
    wa::Status store_sender_key(const wa::signal::SenderKeyName& name,
                                wa::ByteView record) override;
    // Forgets one sender key (ours, to renew it after a member left: the
    // next group message distributes a new one); true when there was one.
    wa::Result<bool> delete_sender_key(const wa::signal::SenderKeyName& name);

    // -- the device beyond Signal (these throw StoreError) -----------------

    // Made once at registration.  Replaces an earlier one: the caller
    // decides (a logout forgets everything first).
    void set_local_identity(const wa::signal::LocalIdentity& identity);

    // The Noise static key pair; nullopt before registration.  A stored
    // key of the wrong length throws (a damaged store must not make a
    // device register anew behind the operator's back).
    std::optional<wa::crypto::KeyPair> noise_key();
    void set_noise_key(const wa::crypto::KeyPair& key);

    // The ADVSignedDeviceIdentity from pair-success, as serialized (the
    // account's signature over our identity, sent back in every login).
    std::optional<wa::Bytes> adv_identity();
    void set_adv_identity(wa::ByteView serialized);

    OwnJids own_jids();
    void set_own_jids(const OwnJids& jids);

    // A person's phone-number user and LID user.  A new pair replaces any
    // row holding either side: a changed LID or number leaves no stale row.
    void map_lid(std::string_view pn, std::string_view lid);
    std::optional<std::string> lid_for_pn(std::string_view pn);
    std::optional<std::string> pn_for_lid(std::string_view lid);

    // Small values by name; put with nullopt deletes.
    std::optional<wa::Bytes> value(std::string_view key);
    void put_value(std::string_view key, std::optional<wa::ByteView> value);

    // Pre-keys the server does not have yet, lowest id first, at most limit.
    std::vector<std::uint32_t> pre_keys_to_upload(std::size_t limit);
    // After the server acknowledged the upload.
    void mark_pre_keys_uploaded(std::span<const std::uint32_t> ids);
    std::size_t pre_key_count();
    // Past every id ever stored here, consumed ones included.
    std::uint32_t next_pre_key_id();

    // Logged out or removed: every key and record of this device goes,
    // in one unit (a crash keeps all or nothing).
    void forget_device();

    // For tests and checks, never for status: how many rows.
    std::size_t session_count();
    std::size_t sender_key_count();
    std::size_t signed_pre_key_count();

private:
    void ensure_device_row();

    Database& db_;
    std::string device_;

    Statement ensure_device_;
    Statement identity_;
    Statement set_identity_;

    Statement load_identity_;
    Statement save_identity_;
    Statement forget_identity_;

    Statement load_session_;
    Statement store_session_;
    Statement contains_session_;
    Statement delete_session_;
    Statement delete_all_sessions_;
    Statement session_devices_;

    Statement load_pre_key_;
    Statement store_pre_key_;
    Statement advance_pre_key_id_;
    Statement contains_pre_key_;
    Statement remove_pre_key_;

    Statement load_signed_pre_key_;
    Statement store_signed_pre_key_;
    Statement contains_signed_pre_key_;
    Statement remove_signed_pre_key_;

    Statement load_sender_key_;
    Statement store_sender_key_;
    Statement delete_sender_key_;

    // Per message in a LID-first world, so prepared once.
    Statement drop_stale_lid_;
    Statement insert_lid_;
    Statement lid_for_pn_;
    Statement pn_for_lid_;

    Statement value_;
    Statement put_value_;
    Statement delete_value_;

    // Read for every send (our own JIDs twice, the device identity once):
    // prepared once, not per call.
    Statement own_jids_;
    Statement adv_identity_;
};

}  // namespace chatwoot::store
