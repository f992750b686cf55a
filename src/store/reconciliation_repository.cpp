#include "reconciliation_repository.hpp"

#include <vector>

namespace chatwoot::store {

ReconciliationRepository::ReconciliationRepository(Database& db)
    : db_(db),
      get_(db.prepare("SELECT reconciled_until FROM reconciliations WHERE inbox = ?1")),
      set_(db.prepare("INSERT INTO reconciliations (inbox, reconciled_until) VALUES (?1, ?2)"
                      " ON CONFLICT (inbox) DO UPDATE SET reconciled_until ="
                      " max(reconciled_until, excluded.reconciled_until)")),
      key_insert_(db.prepare("INSERT INTO inbox_keys (inbox) VALUES (?1)"
                             " ON CONFLICT (inbox) DO NOTHING")),
      key_get_(db.prepare("SELECT id FROM inbox_keys WHERE inbox = ?1"))
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

std::string ReconciliationRepository::delivery_id(std::string_view inbox,
                                                  int64_t message_id)
{
    std::string out = "reconciled-";
    out += inbox;
    out += '-';
    out += std::to_string(message_id);
    return out;
}

int64_t ReconciliationRepository::reply_epoch(std::string_view inbox)
{
    UnitOfWork unit(db_);
    key_insert_.bind(1, inbox);
    key_insert_.run();
    key_get_.bind(1, inbox);
    const int64_t key = key_get_.scalar();
    unit.commit();
    if (key <= 0) {
        throw StoreError("inbox_keys: no key for inbox \"" + std::string(inbox) + "\"", 0);
    }
    return -key;
}

size_t ReconciliationRepository::file_replies(InboundEventRepository& inbound,
                                              OutboxRepository& outbox,
                                              std::string_view inbox,
                                              std::span<const ReconciledReply> replies,
                                              int64_t now)
{
    if (replies.empty()) {
        return 0;
    }
    UnitOfWork unit(db_);
    const int64_t epoch = reply_epoch(inbox);
    std::vector<InboundEvent> events;
    events.reserve(replies.size());
    for (const ReconciledReply& r : replies) {
        InboundEvent& e = events.emplace_back();
        // The same bit pattern as the ring's unsigned epochs.
        e.ring_epoch = static_cast<uint64_t>(epoch);
        e.ring_seq = static_cast<uint64_t>(r.message_id);
        e.kind = r.kind;
        e.received_at = now;
        e.payload.assign(r.record.begin(), r.record.end());
        e.delivery_id = delivery_id(inbox, r.message_id);
    }
    size_t filed = 0;
    inbound.insert_batch(events, [&](const InboundEvent& e, int64_t row_id) {
        const ReconciledReply& r = replies[static_cast<size_t>(&e - events.data())];
        OutboxEntry entry;
        entry.inbox = std::string(inbox);
        entry.action = r.action;
        entry.conversation_id = r.conversation_id;
        entry.chatwoot_message_id = r.message_id;
        entry.inbound_id = row_id;
        entry.created_at = now;
        filed += outbox.add(entry) ? 1 : 0;
    });
    unit.commit();
    return filed;
}

}  // namespace chatwoot::store
