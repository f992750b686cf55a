#include "wa/signal/protocol_store.hpp"

namespace chatwoot::wa::signal {

namespace {

template <class T>
Result<bool> has_value(Result<std::optional<T>> loaded)
{
    if (!loaded) return loaded.error();
    return loaded->has_value();
}

}  // namespace

// The contains_* defaults load the record; a store with a cheaper test
// (SELECT 1) overrides them.

Result<bool> ProtocolStore::contains_session(const Address& address)
{
    return has_value(load_session(address));
}

Result<bool> ProtocolStore::contains_pre_key(std::uint32_t id)
{
    return has_value(load_pre_key(id));
}

Result<bool> ProtocolStore::contains_signed_pre_key(std::uint32_t id)
{
    return has_value(load_signed_pre_key(id));
}

}  // namespace chatwoot::wa::signal
