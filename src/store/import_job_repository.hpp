// History import jobs (schema step 15): each job a row under its import
// command's id, its chats with how far each got, and every message an
// import put into Chatwoot.  The job runner (helper/import/) moves a job on
// one message at a time, each step one unit of work: a helper killed at any
// line re-posts nothing and skips nothing.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

enum class ImportState { queued, running, paused, completed, failed };

const char* import_state_name(ImportState state);

struct ImportJobRow {
    std::string id;
    std::string inbox;
    std::string what;                 // "messages", "contacts" or "all"
    int64_t days = 0;                 // as asked (0: everything)
    int64_t since = 0;                // the window's start, unix seconds (0: all)
    int64_t flags = 0;                // CW_COMMAND_IMPORT_*
    ImportState state = ImportState::queued;
    int64_t chats_total = 0;
    int64_t chats_done = 0;
    int64_t chats_failed = 0;
    int64_t messages_total = 0;
    int64_t messages_done = 0;
    int64_t messages_skipped = 0;
    int64_t messages_failed = 0;
    int64_t contacts_done = 0;
    std::string current_chat;
    std::string last_error;
    int64_t created_at = 0;
    int64_t started_at = 0;
    int64_t updated_at = 0;
    int64_t finished_at = 0;
};

struct NewImportJob {
    std::string id;
    std::string inbox;
    std::string what;
    int64_t days = 0;
    int64_t since = 0;
    int64_t flags = 0;
    int64_t created_at = 0;
};

// A chat of a job: how many of its messages fall in the window, and the
// last one imported or skipped (none yet: 0 and "").
struct ImportChatProgress {
    std::string chat;
    int64_t messages_total = 0;
    int64_t last_timestamp = 0;
    std::string last_id;
};

// What became of one message of a job.
enum class ImportOutcome { posted, skipped, failed };

class ImportJobRepository {
public:
    explicit ImportJobRepository(Database& db);

    Database& db() { return db_; }

    // Files the job queued, inside the caller's unit of work if any.
    // nullopt: filed (or filed already under that id: a command taken
    // twice files one job).  Else why not: the inbox has a job queued,
    // running or paused, named in the reason.
    std::optional<std::string> file(const NewImportJob& job);

    std::optional<ImportJobRow> find(std::string_view id);
    // The inbox's queued, running or paused job, if any.
    std::optional<ImportJobRow> active(std::string_view inbox);
    // For the snapshot: the active jobs, then the newest others; at most
    // limit.
    std::vector<ImportJobRow> recent(size_t limit);

    // queued -> running: its chats (with their message counts) and the
    // totals, in one unit.  A job running already keeps its chats.
    void start(std::string_view id, const std::vector<ImportChatProgress>& chats,
               int64_t now);
    // paused -> running (a helper that starts again), or running -> paused.
    void set_state(std::string_view id, ImportState state, int64_t now);
    void complete(std::string_view id, int64_t now);
    void fail(std::string_view id, std::string_view why, int64_t now);
    void note_error(std::string_view id, std::string_view why, int64_t now);

    // The job's chats not done yet, in the order they were planned.
    std::vector<ImportChatProgress> open_chats(std::string_view id);

    // One message's outcome: the chat's cursor, the job's counts, and for
    // a posted one its Chatwoot id (import_posted), in one unit.
    void record(std::string_view job, std::string_view inbox, std::string_view chat,
                std::string_view wa_id, int64_t timestamp, ImportOutcome outcome,
                int64_t chatwoot_message_id, int64_t now);
    // A run of messages Chatwoot has already, up to (timestamp, wa_id).
    void record_skipped(std::string_view job, std::string_view chat, int64_t timestamp,
                        std::string_view wa_id, int64_t n, int64_t now);
    void finish_chat(std::string_view job, std::string_view chat, bool failed, int64_t now);
    void set_current_chat(std::string_view job, std::string_view chat);
    void add_contacts(std::string_view job, int64_t n, int64_t now);
    // Messages of the window the phone sent for the chat after the plan
    // (history on demand): the chat's and the job's totals grow.
    void add_messages_total(std::string_view job, std::string_view chat, int64_t n, int64_t now);

    // The message is in Chatwoot already, or on its way there: an import
    // posted it, or the live path has it (wa_inbound, any state: a pending
    // row is posted by the forwarder), or it is an agent's reply we sent.
    bool known_to_chatwoot(std::string_view inbox, std::string_view wa_id);

    // import_on_link: whether the inbox's first link started its import.
    bool linked_before(std::string_view inbox);
    void mark_linked(std::string_view inbox, std::string_view job, int64_t now);

private:
    static ImportJobRow read_row(const Statement& row);

    Database& db_;
    Statement insert_;
    Statement find_;
    Statement active_;
    Statement recent_;
    Statement add_chat_;
    Statement start_;
    Statement state_;
    Statement complete_;
    Statement fail_;
    Statement note_error_;
    Statement open_chats_;
    Statement cursor_;
    Statement count_posted_;
    Statement count_skipped_;
    Statement count_skips_;
    Statement count_failed_;
    Statement posted_;
    Statement finish_chat_;
    Statement current_chat_;
    Statement add_contacts_;
    Statement add_total_;
    Statement add_chat_total_;
    Statement known_;
    Statement linked_;
    Statement mark_linked_;
};

}  // namespace chatwoot::store
