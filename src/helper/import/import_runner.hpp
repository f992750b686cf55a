// An inbox's history import jobs at work (issue 12): the job the command
// desk filed (store/import_job_repository.hpp) is planned (its chats with
// messages in the window, groups only when asked), then its chats are
// imported side by side, each oldest first, a page of the history at a
// time, through the inbox's REST client as bulk work (the live path goes
// first) or, for an inbox with an import database, through an ImportSink.
//
// Each message is a bridge::ForwardJob as on the live path (the chat's
// contact and conversation, keyed "WAID:<id>"), its content
// "[2024-01-15 14:30] Hello!" (UTC), a group's with the sender's name.  A
// message Chatwoot has already (the live path's, an earlier import's) is
// skipped.  Each outcome commits with the chat's cursor: a helper killed at
// any line goes on after the last message recorded, and looks before it
// posts the first one of each chat (its post may have happened unrecorded).
//
// Contacts (what = contacts or all): every person the history names (1:1
// chats, one per person: LID and phone number unified as the live path
// does) is found or created in Chatwoot with name and phone, without a
// conversation.
#pragma once

#include "import_sink.hpp"

#include "../chatwoot_client.hpp"
#include "../device.hpp"
#include "../media_fetcher.hpp"
#include "../media_store.hpp"

#include "../../bridge/forward_job.hpp"
#include "../../store/history_reader.hpp"
#include "../../store/import_job_repository.hpp"
#include "../../store/wa_inbound_repository.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace chatwoot::helper {

class ImportRunner {
public:
    using Clock = std::function<int64_t()>;

    ImportRunner(std::string inbox, store::Database& db, store::WaInboundRepository& inbound,
                 ChatwootClient& client, rest::Api api, bridge::InboxOptions options,
                 size_t max_chats, Clock clock, std::function<void()> soon);
    ~ImportRunner();
    ImportRunner(const ImportRunner&) = delete;
    ImportRunner& operator=(const ImportRunner&) = delete;

    // Once Chatwoot told the inbox's id (nothing runs before).
    void set_inbox_id(int64_t id) { options_.inbox_id = id; }
    // The inbox has an import database: batches go there, not to the API.
    void use_sink(ImportSink* sink) { sink_ = sink; }
    // A device that downloads media: a job with include_media posts the
    // files WhatsApp still has (into `store`), else their note.
    void use_media(MediaFetcher* fetcher, MediaStore* store, std::uint64_t max_file_size)
    {
        fetcher_ = fetcher;
        media_store_ = store;
        media_max_ = max_file_size;
    }

    // History on demand: a device with a phone to ask.  A chat whose
    // stored history starts after the window's start (and the phone has
    // not said there is no more) is asked for older messages before it is
    // imported: kAskCount at a time before its oldest stored message, again
    // while the answers bring older messages and the window reaches
    // further, until an answer without messages or kAskWait seconds.  One
    // ask is out at a time (an ON_DEMAND chunk does not say which ask it
    // answers: the next one stored is this one's); the chats waiting for
    // theirs hold no slot, the others import meanwhile.  The message each
    // ask named is remembered per chat (wa_device_values, once the phone
    // acked it), so a restart does not ask the same again.
    static constexpr int64_t kAskWait = 60;
    static constexpr int32_t kAskCount = 50;
    void use_device(Device* device) { device_ = device; }

    // A job may have been filed: the next tick looks.
    void poke() { looked_ = false; }

    // Takes up the inbox's job (planning a queued one), starts chats up to
    // the bound, and settles a job whose chats are all done.
    void tick();

    // import_on_link: once after the inbox's first link, an import of
    // everything within `days` starts when the phone's bootstrap and recent
    // history chunks are stored, or kLinkWait after the link if they never
    // come.  connected_since: the device's (0: not connected).  The inbox
    // remembers it did (import_on_link row), whatever a restart does.
    static constexpr int64_t kLinkWait = 120;
    void import_on_link(int64_t connected_since, unsigned days, bool groups);

    // Nothing to do until poked: no job, or none that can run now.
    bool idle() const { return looked_ && job_id_.empty(); }

    // Messages of the window, for the log and tests.
    const std::string& job_id() const { return job_id_; }

private:
    struct Chat {
        store::ImportChatProgress progress;
        bridge::ImportChat batch;           // the chat as the import shows it
        std::string history_jid;            // the job's chat row: the chat as keyed
        std::vector<std::string> history_jids;  // its forms in the history tables
        std::deque<store::HistoryMessage> page;
        bool exhausted = false;             // no page after the cursor
        bool unsure = false;                // its last post may be unrecorded
        std::unique_ptr<bridge::ForwardJob> job;
        store::HistoryMessage current;
        bool in_sink = false;
        bool failed = false;
        std::string media_path;             // the current message's file, if fetched
    };

    // The oldest stored message of a chat's forms.
    struct Oldest {
        std::string jid;
        std::string id;
        bool from_me = false;
        int64_t timestamp = 0;
    };
    struct Ask {
        store::ImportChatProgress progress;
        std::vector<std::string> forms;
        Oldest oldest;           // what the ask names
        int64_t asked_at = 0;    // 0: not sent yet
        int64_t chunks = 0;      // on_demand chunks stored when it was sent
        int64_t in_window = 0;   // the chat's messages in the window then
        bool over = false;       // the device could not send it: no answer comes
    };
    std::optional<Oldest> oldest_of(const std::vector<std::string>& forms);
    int64_t in_window(const std::vector<std::string>& forms);
    int64_t on_demand_chunks();
    // True when the chat waits for an answer of the phone first.
    bool ask_phone(const store::ImportChatProgress& progress);
    void send_ask();
    // Looks whether the ask out has its answer (or its bound passed).
    void check_ask();

    void take_up();
    void plan(const store::ImportJobRow& job);
    void start_chats();
    bool start_chat(const store::ImportChatProgress& progress);
    // Moves the chat on: skips what Chatwoot has, posts the next message,
    // or finishes it.  False when the chat is finished.
    bool advance(const std::string& key);
    // Posts the chat's current message (with its file when fetched).
    void post_current(const std::string& key, const std::optional<MediaOutcome>& media);
    void send(const std::string& key);
    void on_reply(const std::string& key, const ChatwootClient::Reply& reply);
    void posted(const std::string& key);
    void sink_page(const std::string& key);
    void sink_done(const std::string& key, const ImportSinkResult& result);
    void finish_chat(const std::string& key, bool failed);
    void finish_job();
    void fail_job(const std::string& why);
    void contacts();
    void next_contact();

    bridge::ImportChat describe(const store::HistoryChat& chat);
    // A chat as keyed and its other form (a person's PN and LID), as the
    // history names them.
    std::vector<std::string> forms_of(const std::string& chat);
    bridge::WaMessage to_wa_message(const Chat& chat, const store::HistoryMessage& m) const;
    std::string sender_name(const store::HistoryMessage& m) const;

    std::string inbox_;
    store::Database& db_;
    store::WaInboundRepository& inbound_;
    ChatwootClient& client_;
    rest::Api api_;
    bridge::InboxOptions options_;
    size_t max_chats_;
    Clock clock_;
    std::function<void()> soon_;
    ImportSink* sink_ = nullptr;
    MediaFetcher* fetcher_ = nullptr;
    MediaStore* media_store_ = nullptr;
    std::uint64_t media_max_ = 0;
    store::ImportJobRepository jobs_;
    store::HistoryReader history_;

    bool looked_ = false;
    std::string job_id_;
    std::optional<store::ImportJobRow> job_;
    std::deque<store::ImportChatProgress> todo_;   // chats not started yet
    std::map<std::string, Chat> active_;           // by the client's lane key
    std::vector<std::string> continue_;            // to advance at the next tick
    bool resumed_ = false;                         // taken up from an earlier helper
    // The contacts part: people still to find or create.
    std::deque<bridge::ImportChat> contacts_todo_;
    bool contacts_running_ = false;
    bool contacts_done_ = false;
    std::unique_ptr<bridge::ForwardJob> contact_job_;
    bool linked_known_ = false;   // the import_on_link row exists (cached)
    Device* device_ = nullptr;
    std::deque<Ask> asks_;        // the front one is out
    std::set<std::string> asked_; // chats whose asking ended in this job
    // The phone left an ask unanswered past its bound (offline, or a
    // chunk it could not send): the rest of this job asks nothing more,
    // or each chat that needs older messages would wait the bound in turn.
    bool phone_silent_ = false;
};

// "[2024-01-15 14:30] " for a message of that time (UTC).
std::string import_time_prefix(int64_t unix_seconds);

}  // namespace chatwoot::helper
