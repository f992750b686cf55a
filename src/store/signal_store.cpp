#include "signal_store.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

namespace chatwoot::store {

namespace {

using wa::Bytes;
using wa::ByteView;
using wa::Errc;
using wa::crypto::Key32;
using wa::signal::Address;
using wa::signal::SenderKeyName;

// Runs a ProtocolStore method's body: a database failure becomes the wa
// layer's Error (libsignal's callbacks pass it on to the Signal call), so
// that a full disk reads as "the store failed", not as a bad message.
template <class F>
auto guarded(const char* what, F&& body) -> decltype(body())
{
    try {
        return body();
    } catch (const StoreError& e) {
        return wa::make_error(Errc::store_failure, std::string(what) + ": " + e.what());
    }
}

std::optional<Bytes> optional_blob(Statement& st)
{
    std::optional<Bytes> out;
    st.each_row([&](const Statement& row) { out = row.column_blob(0); });
    return out;
}

bool exists(Statement& st)
{
    bool found = false;
    st.each_row([&](const Statement&) { found = true; });
    return found;
}

// A 32-byte key from a column; nullopt for another length (a damaged row).
std::optional<Key32> key_of(const Statement& st, int column)
{
    if (st.column_is_null(column)) return std::nullopt;
    Bytes bytes = st.column_blob(column);
    if (bytes.size() != Key32{}.size()) return std::nullopt;
    Key32 key;
    std::copy(bytes.begin(), bytes.end(), key.begin());
    return key;
}

ByteView view(const Key32& key)
{
    return ByteView(key.data(), key.size());
}

// A write of one statement.  Inside the caller's unit it joins that unit
// as it is: one statement is atomic by itself (SQLite undoes a failed one
// alone), so a savepoint of its own would only cost two more statements
// for every ratchet step of every message.  Outside any unit it is its
// own unit (BEGIN IMMEDIATE: the write lock at once, then a durable
// commit).
template <class F>
void write_one(Database& db, F&& statement)
{
    if (db.unit_depth() > 0) {
        statement();
        return;
    }
    UnitOfWork unit(db);
    statement();
    unit.commit();
}

}  // namespace

SignalStore::SignalStore(Database& db, std::string device)
    : db_(db),
      device_(std::move(device)),
      ensure_device_(db.prepare("INSERT OR IGNORE INTO wa_devices (device) VALUES (?1)")),
      identity_(db.prepare("SELECT registration_id, identity_private, identity_public"
                           " FROM wa_devices WHERE device = ?1")),
      set_identity_(db.prepare("UPDATE wa_devices SET registration_id = ?2,"
                               " identity_private = ?3, identity_public = ?4"
                               " WHERE device = ?1")),
      load_identity_(db.prepare("SELECT identity_key FROM wa_identities"
                                " WHERE device = ?1 AND name = ?2 AND device_id = ?3")),
      save_identity_(db.prepare("INSERT INTO wa_identities (device, name, device_id, identity_key)"
                                " VALUES (?1, ?2, ?3, ?4)"
                                " ON CONFLICT (device, name, device_id) DO UPDATE SET"
                                " identity_key = excluded.identity_key")),
      forget_identity_(db.prepare("DELETE FROM wa_identities"
                                  " WHERE device = ?1 AND name = ?2 AND device_id = ?3")),
      load_session_(db.prepare("SELECT record FROM wa_sessions"
                               " WHERE device = ?1 AND name = ?2 AND device_id = ?3")),
      store_session_(db.prepare("INSERT INTO wa_sessions (device, name, device_id, record)"
                                " VALUES (?1, ?2, ?3, ?4)"
                                " ON CONFLICT (device, name, device_id) DO UPDATE SET"
                                " record = excluded.record")),
      contains_session_(db.prepare("SELECT 1 FROM wa_sessions"
                                   " WHERE device = ?1 AND name = ?2 AND device_id = ?3")),
      delete_session_(db.prepare("DELETE FROM wa_sessions"
                                 " WHERE device = ?1 AND name = ?2 AND device_id = ?3")),
      delete_all_sessions_(db.prepare("DELETE FROM wa_sessions WHERE device = ?1 AND name = ?2")),
      session_devices_(db.prepare("SELECT device_id FROM wa_sessions"
                                  " WHERE device = ?1 AND name = ?2 ORDER BY device_id")),
      load_pre_key_(db.prepare("SELECT record FROM wa_pre_keys WHERE device = ?1 AND id = ?2")),
      // A different record under a known id is a new key the server has
      // not seen: its mark goes back to 0.  (SET reads the old row.)
      store_pre_key_(db.prepare("INSERT INTO wa_pre_keys (device, id, record) VALUES (?1, ?2, ?3)"
                                " ON CONFLICT (device, id) DO UPDATE SET"
                                " uploaded = (record = excluded.record AND uploaded = 1),"
                                " record = excluded.record")),
      advance_pre_key_id_(db.prepare("INSERT INTO wa_devices (device, next_pre_key_id)"
                                     " VALUES (?1, ?2)"
                                     " ON CONFLICT (device) DO UPDATE SET next_pre_key_id ="
                                     " max(next_pre_key_id, excluded.next_pre_key_id)")),
      contains_pre_key_(db.prepare("SELECT 1 FROM wa_pre_keys WHERE device = ?1 AND id = ?2")),
      remove_pre_key_(db.prepare("DELETE FROM wa_pre_keys WHERE device = ?1 AND id = ?2")),
      load_signed_pre_key_(db.prepare("SELECT record FROM wa_signed_pre_keys"
                                      " WHERE device = ?1 AND id = ?2")),
      store_signed_pre_key_(db.prepare("INSERT INTO wa_signed_pre_keys (device, id, record)"
                                       " VALUES (?1, ?2, ?3)"
                                       " ON CONFLICT (device, id) DO UPDATE SET"
                                       " record = excluded.record")),
      contains_signed_pre_key_(db.prepare("SELECT 1 FROM wa_signed_pre_keys"
                                          " WHERE device = ?1 AND id = ?2")),
      remove_signed_pre_key_(db.prepare("DELETE FROM wa_signed_pre_keys"
                                        " WHERE device = ?1 AND id = ?2")),
      load_sender_key_(db.prepare("SELECT record FROM wa_sender_keys"
                                  " WHERE device = ?1 AND group_id = ?2"
                                  " AND sender_name = ?3 AND sender_device_id = ?4")),
      store_sender_key_(db.prepare("INSERT INTO wa_sender_keys"
                                   " (device, group_id, sender_name, sender_device_id, record)"
                                   " VALUES (?1, ?2, ?3, ?4, ?5)"
                                   " ON CONFLICT (device, group_id, sender_name, sender_device_id)"
                                   " DO UPDATE SET record = excluded.record")),
      delete_sender_key_(db.prepare("DELETE FROM wa_sender_keys"
                                    " WHERE device = ?1 AND group_id = ?2"
                                    " AND sender_name = ?3 AND sender_device_id = ?4")),
      drop_stale_lid_(db.prepare("DELETE FROM wa_lid_map"
                                 " WHERE device = ?1 AND (pn = ?2 OR lid = ?3)")),
      insert_lid_(db.prepare("INSERT INTO wa_lid_map (device, pn, lid) VALUES (?1, ?2, ?3)")),
      lid_for_pn_(db.prepare("SELECT lid FROM wa_lid_map WHERE device = ?1 AND pn = ?2")),
      pn_for_lid_(db.prepare("SELECT pn FROM wa_lid_map WHERE device = ?1 AND lid = ?2")),
      value_(db.prepare("SELECT value FROM wa_device_values WHERE device = ?1 AND key = ?2")),
      put_value_(db.prepare("INSERT INTO wa_device_values (device, key, value)"
                            " VALUES (?1, ?2, ?3)"
                            " ON CONFLICT (device, key) DO UPDATE SET value = excluded.value")),
      delete_value_(db.prepare("DELETE FROM wa_device_values WHERE device = ?1 AND key = ?2")),
      own_jids_(db.prepare("SELECT coalesce(pn_jid, ''), coalesce(lid_jid, '')"
                           " FROM wa_devices WHERE device = ?1")),
      adv_identity_(db.prepare("SELECT adv_identity FROM wa_devices"
                               " WHERE device = ?1 AND adv_identity IS NOT NULL"))
{
}

// -- ProtocolStore --------------------------------------------------------

wa::Result<wa::signal::LocalIdentity> SignalStore::local_identity()
{
    return guarded("local identity", [&]() -> wa::Result<wa::signal::LocalIdentity> {
        identity_.bind(1, device_);
        std::optional<wa::signal::LocalIdentity> out;
        bool damaged = false;
        identity_.each_row([&](const Statement& st) {
            if (st.column_is_null(0) && st.column_is_null(1)) return;  // not registered
            std::optional<Key32> priv = key_of(st, 1), pub = key_of(st, 2);
            std::int64_t registration_id = st.column_int(0);
            if (!priv || !pub || registration_id <= 0 || registration_id > UINT32_MAX) {
                damaged = true;
                return;
            }
            out = wa::signal::LocalIdentity{{*priv, *pub},
                                            static_cast<std::uint32_t>(registration_id)};
        });
        if (damaged) return wa::make_error(Errc::malformed, "stored local identity is damaged");
        if (!out) return wa::make_error(Errc::not_found, "no local identity");
        return *out;
    });
}

wa::Status SignalStore::save_identity(const Address& address, std::optional<Key32> key)
{
    return guarded("save identity", [&]() -> wa::Status {
        write_one(db_, [&] {
            if (key) {
                save_identity_.bind(1, device_).bind(2, address.name).bind(3, address.device_id);
                save_identity_.bind_blob(4, view(*key)).run();
            } else {
                forget_identity_.bind(1, device_).bind(2, address.name);
                forget_identity_.bind(3, address.device_id).run();
            }
        });
        return wa::Done{};
    });
}

wa::Result<std::optional<Key32>> SignalStore::load_identity(const Address& address)
{
    return guarded("load identity", [&]() -> wa::Result<std::optional<Key32>> {
        load_identity_.bind(1, device_).bind(2, address.name).bind(3, address.device_id);
        std::optional<Key32> key;
        bool found = false;
        load_identity_.each_row([&](const Statement& st) {
            found = true;
            key = key_of(st, 0);
        });
        if (found && !key) return wa::make_error(Errc::malformed, "stored identity key is damaged");
        return key;
    });
}

wa::Result<std::optional<Bytes>> SignalStore::load_session(const Address& address)
{
    return guarded("load session", [&]() -> wa::Result<std::optional<Bytes>> {
        load_session_.bind(1, device_).bind(2, address.name).bind(3, address.device_id);
        return optional_blob(load_session_);
    });
}

wa::Status SignalStore::store_session(const Address& address, ByteView record)
{
    return guarded("store session", [&]() -> wa::Status {
        write_one(db_, [&] {
            store_session_.bind(1, device_).bind(2, address.name).bind(3, address.device_id);
            store_session_.bind_blob_view(4, record).run();
        });
        return wa::Done{};
    });
}

wa::Result<bool> SignalStore::contains_session(const Address& address)
{
    return guarded("contains session", [&]() -> wa::Result<bool> {
        contains_session_.bind(1, device_).bind(2, address.name).bind(3, address.device_id);
        return exists(contains_session_);
    });
}

wa::Result<bool> SignalStore::delete_session(const Address& address)
{
    return guarded("delete session", [&]() -> wa::Result<bool> {
        bool deleted = false;
        write_one(db_, [&] {
            delete_session_.bind(1, device_).bind(2, address.name).bind(3, address.device_id);
            delete_session_.run();
            deleted = db_.changes() > 0;
        });
        return deleted;
    });
}

wa::Result<std::size_t> SignalStore::delete_all_sessions(std::string_view name)
{
    return guarded("delete sessions", [&]() -> wa::Result<std::size_t> {
        std::size_t deleted = 0;
        write_one(db_, [&] {
            delete_all_sessions_.bind(1, device_).bind(2, name).run();
            deleted = static_cast<std::size_t>(db_.changes());
        });
        return deleted;
    });
}

wa::Result<std::vector<std::uint32_t>> SignalStore::session_devices(std::string_view name)
{
    return guarded("session devices", [&]() -> wa::Result<std::vector<std::uint32_t>> {
        std::vector<std::uint32_t> devices;
        session_devices_.bind(1, device_).bind(2, name);
        session_devices_.each_row([&](const Statement& st) {
            devices.push_back(static_cast<std::uint32_t>(st.column_int(0)));
        });
        return devices;
    });
}

wa::Result<std::optional<Bytes>> SignalStore::load_pre_key(std::uint32_t id)
{
    return guarded("load pre-key", [&]() -> wa::Result<std::optional<Bytes>> {
        load_pre_key_.bind(1, device_).bind(2, id);
        return optional_blob(load_pre_key_);
    });
}

wa::Status SignalStore::store_pre_key(std::uint32_t id, ByteView record)
{
    return guarded("store pre-key", [&]() -> wa::Status {
        UnitOfWork unit(db_);
        store_pre_key_.bind(1, device_).bind(2, id).bind_blob_view(3, record).run();
        advance_pre_key_id_.bind(1, device_).bind(2, std::int64_t{id} + 1).run();
        unit.commit();
        return wa::Done{};
    });
}

wa::Result<bool> SignalStore::contains_pre_key(std::uint32_t id)
{
    return guarded("contains pre-key", [&]() -> wa::Result<bool> {
        contains_pre_key_.bind(1, device_).bind(2, id);
        return exists(contains_pre_key_);
    });
}

wa::Status SignalStore::remove_pre_key(std::uint32_t id)
{
    return guarded("remove pre-key", [&]() -> wa::Status {
        write_one(db_, [&] { remove_pre_key_.bind(1, device_).bind(2, id).run(); });
        return wa::Done{};
    });
}

wa::Result<std::optional<Bytes>> SignalStore::load_signed_pre_key(std::uint32_t id)
{
    return guarded("load signed pre-key", [&]() -> wa::Result<std::optional<Bytes>> {
        load_signed_pre_key_.bind(1, device_).bind(2, id);
        return optional_blob(load_signed_pre_key_);
    });
}

wa::Status SignalStore::store_signed_pre_key(std::uint32_t id, ByteView record)
{
    return guarded("store signed pre-key", [&]() -> wa::Status {
        write_one(db_, [&] {
            store_signed_pre_key_.bind(1, device_).bind(2, id).bind_blob_view(3, record).run();
        });
        return wa::Done{};
    });
}

wa::Result<bool> SignalStore::contains_signed_pre_key(std::uint32_t id)
{
    return guarded("contains signed pre-key", [&]() -> wa::Result<bool> {
        contains_signed_pre_key_.bind(1, device_).bind(2, id);
        return exists(contains_signed_pre_key_);
    });
}

wa::Status SignalStore::remove_signed_pre_key(std::uint32_t id)
{
    return guarded("remove signed pre-key", [&]() -> wa::Status {
        write_one(db_, [&] { remove_signed_pre_key_.bind(1, device_).bind(2, id).run(); });
        return wa::Done{};
    });
}

wa::Result<std::optional<Bytes>> SignalStore::load_sender_key(const SenderKeyName& name)
{
    return guarded("load sender key", [&]() -> wa::Result<std::optional<Bytes>> {
        load_sender_key_.bind(1, device_).bind(2, name.group_id).bind(3, name.sender.name);
        load_sender_key_.bind(4, name.sender.device_id);
        return optional_blob(load_sender_key_);
    });
}

wa::Status SignalStore::store_sender_key(const SenderKeyName& name, ByteView record)
{
    return guarded("store sender key", [&]() -> wa::Status {
        write_one(db_, [&] {
            store_sender_key_.bind(1, device_).bind(2, name.group_id).bind(3, name.sender.name);
            store_sender_key_.bind(4, name.sender.device_id).bind_blob_view(5, record).run();
        });
        return wa::Done{};
    });
}

wa::Result<bool> SignalStore::delete_sender_key(const SenderKeyName& name)
{
    return guarded("delete sender key", [&]() -> wa::Result<bool> {
        bool deleted = false;
        write_one(db_, [&] {
            delete_sender_key_.bind(1, device_).bind(2, name.group_id).bind(3, name.sender.name);
            delete_sender_key_.bind(4, name.sender.device_id).run();
            deleted = db_.changes() > 0;
        });
        return deleted;
    });
}

// -- the device beyond Signal ---------------------------------------------

void SignalStore::ensure_device_row()
{
    ensure_device_.bind(1, device_).run();
}

void SignalStore::set_local_identity(const wa::signal::LocalIdentity& identity)
{
    UnitOfWork unit(db_);
    ensure_device_row();
    set_identity_.bind(1, device_).bind(2, identity.registration_id);
    set_identity_.bind_blob_view(3, view(identity.key_pair.private_key));
    set_identity_.bind_blob_view(4, view(identity.key_pair.public_key)).run();
    unit.commit();
}

std::optional<wa::crypto::KeyPair> SignalStore::noise_key()
{
    Statement st = db_.prepare("SELECT noise_private, noise_public FROM wa_devices"
                               " WHERE device = ?1 AND noise_private IS NOT NULL");
    st.bind(1, device_);
    std::optional<wa::crypto::KeyPair> out;
    bool damaged = false;
    st.each_row([&](const Statement& row) {
        std::optional<Key32> priv = key_of(row, 0), pub = key_of(row, 1);
        if (priv && pub) {
            out = wa::crypto::KeyPair{*priv, *pub};
        } else {
            damaged = true;
        }
    });
    if (damaged) throw StoreError("the stored noise key is damaged", SQLITE_CORRUPT);
    return out;
}

void SignalStore::set_noise_key(const wa::crypto::KeyPair& key)
{
    UnitOfWork unit(db_);
    ensure_device_row();
    Statement st = db_.prepare("UPDATE wa_devices SET noise_private = ?2, noise_public = ?3"
                               " WHERE device = ?1");
    st.bind(1, device_).bind_blob_view(2, view(key.private_key));
    st.bind_blob_view(3, view(key.public_key)).run();
    unit.commit();
}

std::optional<Bytes> SignalStore::adv_identity()
{
    adv_identity_.bind(1, device_);
    return optional_blob(adv_identity_);
}

void SignalStore::set_adv_identity(ByteView serialized)
{
    UnitOfWork unit(db_);
    ensure_device_row();
    Statement st = db_.prepare("UPDATE wa_devices SET adv_identity = ?2 WHERE device = ?1");
    st.bind(1, device_).bind_blob_view(2, serialized).run();
    unit.commit();
}

OwnJids SignalStore::own_jids()
{
    own_jids_.bind(1, device_);
    OwnJids jids;
    own_jids_.each_row([&](const Statement& row) {
        jids.pn = row.column_text(0);
        jids.lid = row.column_text(1);
    });
    return jids;
}

void SignalStore::set_own_jids(const OwnJids& jids)
{
    UnitOfWork unit(db_);
    ensure_device_row();
    Statement st = db_.prepare("UPDATE wa_devices SET pn_jid = nullif(?2, ''),"
                               " lid_jid = nullif(?3, '') WHERE device = ?1");
    st.bind(1, device_).bind(2, jids.pn).bind(3, jids.lid).run();
    unit.commit();
}

void SignalStore::map_lid(std::string_view pn, std::string_view lid)
{
    // Learned again from nearly every stanza: a look-up, not two writes,
    // when nothing changed.
    if (lid_for_pn(pn) == std::optional<std::string>(std::string(lid))) {
        return;
    }
    UnitOfWork unit(db_);
    drop_stale_lid_.bind(1, device_).bind(2, pn).bind(3, lid).run();
    insert_lid_.bind(1, device_).bind(2, pn).bind(3, lid).run();
    unit.commit();
}

namespace {

std::optional<std::string> optional_text(Statement& st)
{
    std::optional<std::string> out;
    st.each_row([&](const Statement& row) { out = row.column_text(0); });
    return out;
}

}  // namespace

std::optional<std::string> SignalStore::lid_for_pn(std::string_view pn)
{
    lid_for_pn_.bind(1, device_).bind(2, pn);
    return optional_text(lid_for_pn_);
}

std::optional<std::string> SignalStore::pn_for_lid(std::string_view lid)
{
    pn_for_lid_.bind(1, device_).bind(2, lid);
    return optional_text(pn_for_lid_);
}

std::optional<Bytes> SignalStore::value(std::string_view key)
{
    value_.bind(1, device_).bind(2, key);
    return optional_blob(value_);
}

void SignalStore::put_value(std::string_view key, std::optional<ByteView> value)
{
    UnitOfWork unit(db_);
    if (value) {
        put_value_.bind(1, device_).bind(2, key).bind_blob_view(3, *value).run();
    } else {
        delete_value_.bind(1, device_).bind(2, key).run();
    }
    unit.commit();
}

std::vector<std::uint32_t> SignalStore::pre_keys_to_upload(std::size_t limit)
{
    Statement st = db_.prepare("SELECT id FROM wa_pre_keys WHERE device = ?1 AND uploaded = 0"
                               " ORDER BY id LIMIT ?2");
    st.bind(1, device_).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    std::vector<std::uint32_t> ids;
    st.each_row([&](const Statement& row) {
        ids.push_back(static_cast<std::uint32_t>(row.column_int(0)));
    });
    return ids;
}

void SignalStore::mark_pre_keys_uploaded(std::span<const std::uint32_t> ids)
{
    UnitOfWork unit(db_);
    Statement st = db_.prepare("UPDATE wa_pre_keys SET uploaded = 1 WHERE device = ?1 AND id = ?2");
    for (std::uint32_t id : ids) st.bind(1, device_).bind(2, id).run();
    unit.commit();
}

std::size_t SignalStore::pre_key_count()
{
    Statement st = db_.prepare("SELECT count(*) FROM wa_pre_keys WHERE device = ?1");
    st.bind(1, device_);
    return static_cast<std::size_t>(st.scalar());
}

std::uint32_t SignalStore::next_pre_key_id()
{
    Statement st = db_.prepare("SELECT next_pre_key_id FROM wa_devices WHERE device = ?1");
    st.bind(1, device_);
    std::int64_t next = st.scalar();
    return next < 1 ? 1 : static_cast<std::uint32_t>(next);
}

void SignalStore::forget_device()
{
    UnitOfWork unit(db_);
    for (const char* table : {"wa_pre_keys", "wa_signed_pre_keys", "wa_sessions", "wa_sender_keys",
                              "wa_identities", "wa_lid_map", "wa_device_values", "wa_devices"}) {
        Statement st = db_.prepare(std::string("DELETE FROM ") + table + " WHERE device = ?1");
        st.bind(1, device_).run();
    }
    unit.commit();
}

std::size_t SignalStore::session_count()
{
    Statement st = db_.prepare("SELECT count(*) FROM wa_sessions WHERE device = ?1");
    st.bind(1, device_);
    return static_cast<std::size_t>(st.scalar());
}

std::size_t SignalStore::sender_key_count()
{
    Statement st = db_.prepare("SELECT count(*) FROM wa_sender_keys WHERE device = ?1");
    st.bind(1, device_);
    return static_cast<std::size_t>(st.scalar());
}

std::size_t SignalStore::signed_pre_key_count()
{
    Statement st = db_.prepare("SELECT count(*) FROM wa_signed_pre_keys WHERE device = ?1");
    st.bind(1, device_);
    return static_cast<std::size_t>(st.scalar());
}

}  // namespace chatwoot::store
