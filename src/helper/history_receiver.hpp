// History sync notifications from our phone (issue 12, the source;
// waweb.md 1.18): the chunk each one names, opened and stored.
//
// A notification is a peer message of our own phone (category="peer",
// from our own user, device 0) carrying protocolMessage{type
// HISTORY_SYNC_NOTIFICATION}.  Anyone else's is refused with a warn line:
// a contact must not write into our history.
//
//   inline (the first bootstrap chunk): inflated with the bound, parsed and
//     stored in the unit of work that handles the stanza (MessageReceiver's:
//     its ratchet step, the rows and the owed receipt commit together);
//   otherwise: a history_pending row in that unit, and the stanza owes no
//     receipt yet.  After the commit the device downloads the blob (media
//     type md-msg-hist: hash and MAC checked before anything is decrypted)
//     and hands it to downloaded(), which stores the chunk and moves the
//     hist_sync receipt onto the stanza in ONE unit.  A helper killed before
//     that finds the row and downloads again.
//
// A chunk that fails its checks (hash, MAC, a stream that inflates past
// the bound, bytes that do not parse) is skipped with a warn line: nothing
// of it is stored, and its receipt still goes, or the phone would send it
// again forever.  Only the hist_sync receipt goes for these stanzas (what
// WhatsApp Web sends once the chunk is processed).
//
// Nothing here is posted to Chatwoot: import jobs read the rows later.
#pragma once

#include "../store/history_repository.hpp"
#include "../store/signal_store.hpp"
#include "../store/sqlite_handle.hpp"

#include "wa/bytes.hpp"
#include "wa/history/history_blob.hpp"
#include "wa/message/envelope.hpp"
#include "wa/proto/message.pb.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chatwoot::helper {

class HistoryReceiver {
public:
    static constexpr std::string_view kReceipt = "hist_sync";

    HistoryReceiver(std::string inbox, store::Database& db, store::SignalStore& signal,
                    wa::history::HistoryLimits limits = {});

    // The notification inside a decrypted message, if it is one.
    static const wa::proto::Message_HistorySyncNotification* notification_in(
        const wa::proto::Message& message);

    struct Taken {
        std::optional<std::string> receipt;  // owed after the commit (or none yet)
        bool download = false;               // a history_pending row was added
    };
    // Inside the caller's unit of work (store failures throw, rolling it
    // back).  `node` is the stanza's bytes, for the receipt after a download.
    Taken take(int64_t stanza, std::span<const unsigned char> node,
               const wa::message::MessageEnvelope& envelope,
               const wa::proto::Message_HistorySyncNotification& notification,
               const wa::message::OwnAccount& own, int64_t now);

    // Notifications whose blob is still to be downloaded.
    std::vector<store::HistoryRepository::Pending> pending() { return repo_.pending(); }

    // Where a pending notification's blob is (nullopt: its stored bytes do
    // not parse any more; then it is settled, refused).
    std::optional<wa::history::HistorySource> source_of(const store::HistoryRepository::Pending& p,
                                                        int64_t now);

    // A pending notification's blob, downloaded and decrypted (the zlib
    // stream), or why there is none: `failure` set for a blob that failed
    // its checks or is gone (refused, settled with its receipt owed).
    // Throws on a store failure (nothing changed; the row stays).
    void downloaded(int64_t stanza, wa::ByteView zlib_stream, int64_t now);
    void refused(int64_t stanza, const std::string& why, int64_t now);

    const wa::history::HistoryLimits& limits() const { return limits_; }

private:
    // Inflated, parsed and stored in the caller's unit; false when the
    // chunk was refused (logged).
    bool open_and_store(int64_t stanza, wa::ByteView zlib_stream, int64_t now);

    std::string inbox_;
    store::Database& db_;
    store::HistoryRepository repo_;
    wa::history::HistoryLimits limits_;
};

}  // namespace chatwoot::helper
