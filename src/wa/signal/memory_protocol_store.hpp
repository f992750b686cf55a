// A ProtocolStore in memory, for tests and tools.
//
// Not final: a test derives from it to make one method fail and checks
// that the Signal calls pass the store's error on.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "wa/signal/protocol_store.hpp"

namespace chatwoot::wa::signal {

class MemoryProtocolStore : public ProtocolStore {
public:
    // A store with no identity yet: local_identity() is Errc::not_found.
    MemoryProtocolStore() = default;
    explicit MemoryProtocolStore(LocalIdentity identity) : identity_(std::move(identity)) {}

    void set_local_identity(LocalIdentity identity) { identity_ = std::move(identity); }

    Result<LocalIdentity> local_identity() override;

    Status save_identity(const Address& address, std::optional<crypto::Key32> key) override;
    Result<std::optional<crypto::Key32>> load_identity(const Address& address) override;

    Result<std::optional<Bytes>> load_session(const Address& address) override;
    Status store_session(const Address& address, ByteView record) override;
    Result<bool> delete_session(const Address& address) override;
    Result<std::size_t> delete_all_sessions(std::string_view name) override;
    Result<std::vector<std::uint32_t>> session_devices(std::string_view name) override;

    Result<std::optional<Bytes>> load_pre_key(std::uint32_t id) override;
    Status store_pre_key(std::uint32_t id, ByteView record) override;
    Status remove_pre_key(std::uint32_t id) override;

    Result<std::optional<Bytes>> load_signed_pre_key(std::uint32_t id) override;
    Status store_signed_pre_key(std::uint32_t id, ByteView record) override;
    Status remove_signed_pre_key(std::uint32_t id) override;

    Result<std::optional<Bytes>> load_sender_key(const SenderKeyName& name) override;
    Status store_sender_key(const SenderKeyName& name, ByteView record) override;

    // For tests: how much is held.
    std::size_t session_count() const { return sessions_.size(); }
    std::size_t pre_key_count() const { return pre_keys_.size(); }
    std::size_t signed_pre_key_count() const { return signed_pre_keys_.size(); }
    std::size_t sender_key_count() const { return sender_keys_.size(); }

private:
    using AddressKey = std::pair<std::string, std::uint32_t>;
    using SenderKey = std::tuple<std::string, std::string, std::uint32_t>;

    static AddressKey key_of(const Address& a) { return {a.name, a.device_id}; }
    static SenderKey key_of(const SenderKeyName& n)
    {
        return {n.group_id, n.sender.name, n.sender.device_id};
    }

    std::optional<LocalIdentity> identity_;
    std::map<AddressKey, crypto::Key32> identities_;
    std::map<AddressKey, Bytes> sessions_;
    std::map<std::uint32_t, Bytes> pre_keys_;
    std::map<std::uint32_t, Bytes> signed_pre_keys_;
    std::map<SenderKey, Bytes> sender_keys_;
};

}  // namespace chatwoot::wa::signal
