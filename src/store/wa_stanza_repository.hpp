// Stanzas a live WhatsApp device received and keeps for later (schema step
// 10): the binary node as it came (the frame minus its flags byte, inflated;
// binary::decode_node reads it), stored before the server's ack.  The
// messages layer reads them back in arrival order.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

class WaStanzaRepository {
public:
    explicit WaStanzaRepository(Database& db);

    // Inside the caller's unit of work, or its own commit.  True when new;
    // false for a stanza kept already (the server redelivered it).
    bool keep(std::string_view device, std::string_view stanza_key, std::string_view tag,
              std::span<const unsigned char> node, int64_t now);

    struct Kept {
        int64_t id = 0;
        std::string tag;
        std::vector<unsigned char> node;
    };
    // The device's oldest stanzas not handled yet, at most limit.
    std::vector<Kept> oldest(std::string_view device, size_t limit);
    void remove(int64_t id);
    // Handled (inside the unit of work that keeps what came of it): the
    // row stays, so a redelivery is recognised by keep(); `receipt` is the
    // delivery receipt owed for it (its type attribute, "" for a plain
    // one), nullopt for none.
    void done(int64_t id, int64_t now, std::optional<std::string_view> receipt);
    // Handled stanzas whose receipt has not gone yet (tag holds the
    // receipt type), oldest first: after a crash they are sent again.
    std::vector<Kept> owed_receipts(std::string_view device, size_t limit);
    void receipt_sent(int64_t id);
    // Stanzas not handled yet.
    uint64_t count(std::string_view device);

private:
    Database& db_;
    Statement insert_;
    Statement oldest_;
    Statement remove_;
    Statement count_;
    Statement done_;
    Statement owed_;
    Statement receipt_sent_;
};

}  // namespace chatwoot::store
