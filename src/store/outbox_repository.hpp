// What agents asked us to do on WhatsApp (send, delete, conversation status),
// filed once per Chatwoot message: Chatwoot may deliver the same message
// again (retries, replays, a lost shared-memory filter), the outbox keeps
// the first.
#pragma once

#include "sqlite_handle.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatwoot::store {

struct OutboxEntry {
    std::string inbox;
    std::string action;                       // send, delete, status
    int64_t conversation_id = 0;
    std::optional<int64_t> chatwoot_message_id;
    int64_t inbound_id = 0;                   // the row holding the event
    int64_t created_at = 0;
};

class OutboxRepository {
public:
    explicit OutboxRepository(Database& db);

    // The store it writes to: a caller's unit of work spanning several of
    // its calls (and the device's writes) opens there.
    Database& database() { return db_; }

    // Files the entry unless the same (inbox, action, message) is there.
    // Runs inside the caller's transaction.  True when new.
    bool add(const OutboxEntry& entry);

    // add() for each entry, in order, several rows per statement (see
    // InboundEventRepository::kRowsPerInsert).  Returns how many are new.
    size_t add_all(std::span<const OutboxEntry> entries);

    // Entries not through yet (pending, in flight or failing).
    uint64_t count_pending();
    // Per inbox: entries waiting for their turn (pending) and handed to
    // WhatsApp without its ack yet (in_flight), for the metrics.
    struct InboxCounts {
        std::string inbox;
        uint64_t pending = 0;
        uint64_t in_flight = 0;
    };
    std::vector<InboxCounts> count_unsettled_by_inbox();

    struct Pending {
        int64_t id = 0;
        std::string action;
        int64_t conversation_id = 0;
        std::optional<int64_t> chatwoot_message_id;
    };

    // Pending entries of an inbox filed at or before `filed_before`, oldest
    // first, at most `limit`.
    std::vector<Pending> pending_before(std::string_view inbox,
                                        int64_t filed_before, size_t limit);

    // Moves an entry that is not through yet (pending, in flight, failing)
    // to 'sent' or 'failed'; false if it was settled already.
    bool settle(int64_t id, std::string_view state);

    // An entry on its way to WhatsApp (see schema step 6 for the states).
    struct Job {
        int64_t id = 0;
        std::string action;
        int64_t conversation_id = 0;
        std::optional<int64_t> chatwoot_message_id;
        std::string record;   // the queued webhook record
        int64_t created_at = 0;
        std::string state;    // pending, in_flight or failing
        std::string wa_id;    // chosen before the first transmission
        int64_t attempts = 0;
        int64_t next_attempt_at = 0;
        std::string failure;  // the reason a failing entry reports
    };
    // The inbox's entries not yet through (pending, in flight, failing) with
    // their records, oldest first.
    std::vector<Job> unsettled_jobs(std::string_view inbox, size_t limit);
    // The same without the records (record left empty): a sender's pass
    // reads up to hundreds of entries, most of them waiting behind their
    // conversation's head, and needs the record only of those it sends.
    std::vector<Job> unsettled_heads(std::string_view inbox, size_t limit);
    // An entry's record (its webhook), as unsettled_jobs gives it.
    std::optional<std::string> record_of(int64_t id);

    // pending -> in_flight with the WhatsApp id it goes as; committed before
    // the first transmission.  False if the entry was not pending.
    bool begin_send(int64_t id, std::string_view wa_id);
    // The same for several entries (different conversations) in one
    // commit: one fsync for a pass's ids instead of one each.  The result
    // says, per entry in order, whether it was pending.
    struct Begin {
        int64_t id = 0;
        std::string wa_id;
    };
    std::vector<bool> begin_sends(std::span<const Begin> entries);

    // A transient failure: try again at `next_attempt_at` (unix seconds).
    void defer(int64_t id, int64_t attempts, int64_t next_attempt_at);

    // pending or in_flight -> failing with the reason, which is reported to
    // Chatwoot before the entry is settled failed.  False if already past.
    bool begin_failing(int64_t id, std::string_view reason);

    // A reply is on WhatsApp: remember its id and settle the entry, in one
    // commit.
    void settle_sent(int64_t id, std::string_view inbox, std::string_view wa_id,
                     std::string_view chat, int64_t chatwoot_message_id, int64_t now);

    // The WhatsApp id a Chatwoot message was sent as, if we sent it.
    std::optional<std::pair<std::string, std::string>>  // (wa id, chat)
    sent_as(std::string_view inbox, int64_t chatwoot_message_id);

    // Every WhatsApp id a Chatwoot message went as, in the order they were
    // sent: a reply with several attachments went as one message each.
    std::vector<std::string> sent_ids(std::string_view inbox, int64_t chatwoot_message_id);

    bool is_our_send(std::string_view inbox, std::string_view wa_id);

    // Whether WhatsApp told us of a revoke of this message of the chat (the
    // owner deleted our reply on the phone): Chatwoot's deletion that our
    // DELETE caused is then no agent's, and nothing is revoked again.
    bool revoked_on_whatsapp(std::string_view inbox, std::string_view chat,
                             std::string_view wa_id);

private:
    static constexpr size_t kRowsPerInsert = 32;
    // The statement filing n entries (1..kRowsPerInsert), prepared on first use.
    Statement& insert_rows(size_t n);

    Database& db_;
    Statement insert_;
    std::array<std::optional<Statement>, kRowsPerInsert + 1> insert_rows_;
    Statement pending_;
    std::optional<Statement> by_inbox_;   // made on first use
    Statement pending_before_;
    Statement settle_;
    Statement jobs_;
    Statement heads_;
    Statement record_of_;
    Statement begin_send_;
    Statement defer_;
    Statement begin_failing_;
    Statement sent_insert_;
    Statement sent_as_;
    Statement sent_ids_;
    Statement ours_;
    Statement revoked_;
};

}  // namespace chatwoot::store
