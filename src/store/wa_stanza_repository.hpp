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
    // The device's oldest kept stanzas, at most limit.
    std::vector<Kept> oldest(std::string_view device, size_t limit);
    void remove(int64_t id);
    uint64_t count(std::string_view device);

private:
    Database& db_;
    Statement insert_;
    Statement oldest_;
    Statement remove_;
    Statement count_;
};

}  // namespace chatwoot::store
