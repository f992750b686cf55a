// What our phone's history sync chunks say, stored (schema step 14) for the
// import jobs that post it to Chatwoot later (issue 12).
//
// store_chunk() writes a whole chunk inside the caller's unit of work (or
// one of its own): chats, messages (UNIQUE (inbox, chat, id): a chunk
// delivered twice adds nothing), push names, and, where the send path reads
// them, the PN <-> LID pairs (wa_lid_map), the contacts' tctokens
// (wa_privacy_tokens) and the NCT salt (wa_device_values).
//
// Notifications whose blob is being downloaded wait in history_pending,
// with the stanza's bytes, until their chunk is stored (or refused).
#pragma once

#include "sqlite_handle.hpp"
#include "signal_store.hpp"

#include "wa/history/history_sync.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

// "initial_bootstrap", "recent", ...: the history_chunks column.
std::string_view history_sync_type_name(wa::history::HistorySyncType type);

class HistoryRepository {
public:
    // `signal` is the inbox's (same device); borrowed.
    HistoryRepository(Database& db, std::string inbox, SignalStore& signal);

    struct Stored {
        std::size_t chats = 0;
        std::size_t messages = 0;      // new rows
        std::size_t duplicates = 0;    // stored before (the chunk came again)
        std::size_t push_names = 0;
        std::size_t mappings = 0;
        std::size_t tokens = 0;
        bool nct_salt = false;
    };
    // Throws StoreError; the caller's unit then rolls back whole.
    Stored store_chunk(const wa::history::HistorySyncData& chunk, int64_t now);

    struct Pending {
        int64_t stanza = 0;
        std::vector<unsigned char> notification;  // HistorySyncNotification protobuf
        std::vector<unsigned char> node;          // the stanza, for its receipt
    };
    void add_pending(int64_t stanza, std::span<const unsigned char> notification,
                     std::span<const unsigned char> node, int64_t now);
    std::vector<Pending> pending();
    std::optional<Pending> pending(int64_t stanza);
    // The chunk is stored or refused: the row goes, and the stanza owes its
    // hist_sync receipt (its bytes given back for the receipt's address).
    void settle_pending(int64_t stanza);

private:
    Database& db_;
    std::string inbox_;
    SignalStore& signal_;
    Statement chat_;
    Statement message_;
    Statement push_name_;
    Statement token_;
    Statement chunk_;
    Statement add_pending_;
    Statement all_pending_;
    Statement one_pending_;
    Statement drop_pending_;
    Statement owe_receipt_;
};

}  // namespace chatwoot::store
