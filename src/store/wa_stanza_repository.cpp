#include "wa_stanza_repository.hpp"

namespace chatwoot::store {

WaStanzaRepository::WaStanzaRepository(Database& db)
    : db_(db),
      insert_(db.raw(), "INSERT OR IGNORE INTO wa_stanzas (device, stanza_key, tag, received_at, "
                        "node) VALUES (?1, ?2, ?3, ?4, ?5)"),
      oldest_(db.raw(), "SELECT id, tag, node FROM wa_stanzas WHERE device = ?1 AND done_at IS "
                        "NULL ORDER BY id LIMIT ?2"),
      remove_(db.raw(), "DELETE FROM wa_stanzas WHERE id = ?1"),
      count_(db.raw(), "SELECT count(*) FROM wa_stanzas WHERE device = ?1 AND done_at IS NULL"),
      done_(db.raw(), "UPDATE wa_stanzas SET done_at = ?2, receipt = ?3 WHERE id = ?1"),
      owed_(db.raw(), "SELECT id, receipt, node FROM wa_stanzas WHERE device = ?1 AND receipt IS "
                      "NOT NULL ORDER BY id LIMIT ?2"),
      receipt_sent_(db.raw(), "UPDATE wa_stanzas SET receipt = NULL WHERE id = ?1")
{
}

bool WaStanzaRepository::keep(std::string_view device, std::string_view stanza_key,
                              std::string_view tag, std::span<const unsigned char> node,
                              int64_t now)
{
    insert_.bind(1, device).bind(2, stanza_key).bind(3, tag).bind(4, now).bind_blob(5, node);
    insert_.run();
    return db_.changes() > 0;
}

namespace {

// Rows of (id, text, node), as both look-ups select them.
std::vector<WaStanzaRepository::Kept> kept_rows(Statement& st, std::string_view device,
                                                size_t limit)
{
    std::vector<WaStanzaRepository::Kept> out;
    st.bind(1, device).bind(2, static_cast<int64_t>(limit));
    st.each_row([&](const Statement& row) {
        WaStanzaRepository::Kept k;
        k.id = row.column_int(0);
        k.tag = row.column_text(1);
        k.node = row.column_blob(2);
        out.push_back(std::move(k));
    });
    return out;
}

}  // namespace

std::vector<WaStanzaRepository::Kept> WaStanzaRepository::oldest(std::string_view device,
                                                                 size_t limit)
{
    return kept_rows(oldest_, device, limit);
}

void WaStanzaRepository::remove(int64_t id)
{
    remove_.bind(1, id);
    remove_.run();
}

void WaStanzaRepository::done(int64_t id, int64_t now, std::optional<std::string_view> receipt)
{
    done_.bind(1, id).bind(2, now);
    if (receipt) {
        done_.bind(3, *receipt);
    } else {
        done_.bind_null(3);
    }
    done_.run();
}

std::vector<WaStanzaRepository::Kept> WaStanzaRepository::owed_receipts(std::string_view device,
                                                                        size_t limit)
{
    return kept_rows(owed_, device, limit);
}

void WaStanzaRepository::receipt_sent(int64_t id)
{
    receipt_sent_.bind(1, id);
    receipt_sent_.run();
}

uint64_t WaStanzaRepository::count(std::string_view device)
{
    uint64_t n = 0;
    count_.bind(1, device);
    count_.each_row([&](const Statement& st) { n = static_cast<uint64_t>(st.column_int(0)); });
    return n;
}

}  // namespace chatwoot::store
