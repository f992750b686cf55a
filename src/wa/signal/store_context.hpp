// The glue that lets libsignal use a ProtocolStore.
//
// libsignal-protocol-c reaches storage through a signal_protocol_store_context
// holding five callback sets (sessions, pre-keys, signed pre-keys, identity,
// sender keys).  StoreContext fills them with functions that call the
// ProtocolStore, and owns the context.
//
// libsignal only sees a negative code when a callback fails.  The glue
// keeps the store's own Error (the first since the last take_error()), so
// a caller can report "the database failed" rather than "libsignal said
// -1000".  No exception crosses into libsignal: one thrown by the store is
// caught and reported as Errc::crypto_failure (std::bad_alloc as
// SG_ERR_NOMEM).
//
// The ProtocolStore is borrowed and must outlive the StoreContext; the
// SignalContext likewise.  Moving a StoreContext keeps the raw pointer
// valid.
#pragma once

#include <memory>
#include <optional>

#include "wa/crypto/signal_context.hpp"
#include "wa/error.hpp"
#include "wa/signal/protocol_store.hpp"

struct signal_protocol_store_context;

namespace chatwoot::wa::signal {

class StoreContext {
public:
    // Errc::crypto_failure when libsignal refuses to make the context.
    static Result<StoreContext> create(const crypto::SignalContext& context, ProtocolStore& store);

    ~StoreContext();
    StoreContext(StoreContext&&) noexcept;
    StoreContext& operator=(StoreContext&&) noexcept;
    StoreContext(const StoreContext&) = delete;
    StoreContext& operator=(const StoreContext&) = delete;

    ::signal_protocol_store_context* get() const noexcept;
    ProtocolStore& store() const noexcept;

    // The store's error from a callback since the last call, if any.
    std::optional<Error> take_error();

private:
    struct State;
    explicit StoreContext(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace chatwoot::wa::signal
