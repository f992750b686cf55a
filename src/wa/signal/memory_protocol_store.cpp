#include "wa/signal/memory_protocol_store.hpp"

namespace chatwoot::wa::signal {

namespace {

template <class Map, class Key>
std::optional<Bytes> find_record(const Map& map, const Key& key)
{
    auto it = map.find(key);
    if (it == map.end()) return std::nullopt;
    return it->second;
}

}  // namespace

Result<LocalIdentity> MemoryProtocolStore::local_identity()
{
    if (!identity_) return make_error(Errc::not_found, "no local identity");
    return *identity_;
}

Status MemoryProtocolStore::save_identity(const Address& address, std::optional<crypto::Key32> key)
{
    if (key)
        identities_[key_of(address)] = *key;
    else
        identities_.erase(key_of(address));
    return Done{};
}

Result<std::optional<crypto::Key32>> MemoryProtocolStore::load_identity(const Address& address)
{
    auto it = identities_.find(key_of(address));
    if (it == identities_.end()) return std::optional<crypto::Key32>{};
    return std::optional<crypto::Key32>{it->second};
}

Result<std::optional<Bytes>> MemoryProtocolStore::load_session(const Address& address)
{
    return find_record(sessions_, key_of(address));
}

Status MemoryProtocolStore::store_session(const Address& address, ByteView record)
{
    sessions_[key_of(address)].assign(record.begin(), record.end());
    return Done{};
}

Result<bool> MemoryProtocolStore::delete_session(const Address& address)
{
    return sessions_.erase(key_of(address)) > 0;
}

Result<std::size_t> MemoryProtocolStore::delete_all_sessions(std::string_view name)
{
    std::size_t n = 0;
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (it->first.first == name) {
            it = sessions_.erase(it);
            ++n;
        } else {
            ++it;
        }
    }
    return n;
}

Result<std::vector<std::uint32_t>> MemoryProtocolStore::session_devices(std::string_view name)
{
    std::vector<std::uint32_t> devices;
    for (const auto& [key, record] : sessions_)
        if (key.first == name) devices.push_back(key.second);
    return devices;
}

Result<std::optional<Bytes>> MemoryProtocolStore::load_pre_key(std::uint32_t id)
{
    return find_record(pre_keys_, id);
}

Status MemoryProtocolStore::store_pre_key(std::uint32_t id, ByteView record)
{
    pre_keys_[id].assign(record.begin(), record.end());
    return Done{};
}

Status MemoryProtocolStore::remove_pre_key(std::uint32_t id)
{
    pre_keys_.erase(id);
    return Done{};
}

Result<std::optional<Bytes>> MemoryProtocolStore::load_signed_pre_key(std::uint32_t id)
{
    return find_record(signed_pre_keys_, id);
}

Status MemoryProtocolStore::store_signed_pre_key(std::uint32_t id, ByteView record)
{
    signed_pre_keys_[id].assign(record.begin(), record.end());
    return Done{};
}

Status MemoryProtocolStore::remove_signed_pre_key(std::uint32_t id)
{
    signed_pre_keys_.erase(id);
    return Done{};
}

Result<std::optional<Bytes>> MemoryProtocolStore::load_sender_key(const SenderKeyName& name)
{
    return find_record(sender_keys_, key_of(name));
}

Status MemoryProtocolStore::store_sender_key(const SenderKeyName& name, ByteView record)
{
    sender_keys_[key_of(name)].assign(record.begin(), record.end());
    return Done{};
}

}  // namespace chatwoot::wa::signal
