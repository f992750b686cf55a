#include "reconciliation_repository.hpp"

namespace chatwoot::store {

ReconciliationRepository::ReconciliationRepository(Database& db)
    : get_(db.prepare("SELECT reconciled_until FROM reconciliations WHERE inbox = ?1")),
      set_(db.prepare("INSERT INTO reconciliations (inbox, reconciled_until) VALUES (?1, ?2)"
                      " ON CONFLICT (inbox) DO UPDATE SET reconciled_until ="
                      " max(reconciled_until, excluded.reconciled_until)"))
{
}

std::optional<int64_t> ReconciliationRepository::reconciled_until(std::string_view inbox)
{
    std::optional<int64_t> out;
    get_.bind(1, inbox);
    get_.each_row([&](Statement& row) { out = row.column_int(0); });
    return out;
}

void ReconciliationRepository::set_reconciled_until(std::string_view inbox, int64_t until)
{
    set_.bind(1, inbox).bind(2, until);
    set_.run();
}

}  // namespace chatwoot::store
