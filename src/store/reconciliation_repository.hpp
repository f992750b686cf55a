// How far back each inbox's agent replies have been checked against
// Chatwoot (bridge/outbox_reconciliation.hpp): the next start looks only
// at what came after, and a store that never had the mark starts it now
// instead of sending an install's whole history.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace chatwoot::store {

class ReconciliationRepository {
public:
    explicit ReconciliationRepository(Database& db);

    std::optional<int64_t> reconciled_until(std::string_view inbox);

    // Only ever moves forward.
    void set_reconciled_until(std::string_view inbox, int64_t until);

private:
    Statement get_;
    Statement set_;
};

}  // namespace chatwoot::store
