// One WhatsApp message's way into Chatwoot, as a sans-I/O state machine:
// find or create the chat's contact, find, reopen or create its
// conversation, post the message with source_id "WAID:<id>".  The caller
// sends each request (through its REST client, one chat at a time) and
// feeds the answer back.
//
// Exactly once: a create whose answer was lost may have happened, so
// before creating again the job looks (contacts by identifier, the
// contact's conversations, the conversation's messages by source_id).
// Mappings the caller knew are trusted until Chatwoot answers 404, then
// resolved again.
//
// The other kinds refer to messages already in Chatwoot; the caller looks
// their Chatwoot ids up (the store owns that mapping) and hands them in:
// - reaction: a message with the emoji, in reply to the reacted message
//   (as the peers' Chatwoot integrations show it: Chatwoot has no
//   reactions); a reaction taken back is said the same way, "removed the
//   reaction 👍" (the emoji when the store still has it), since agents
//   saw it.
// - edit: Chatwoot's API cannot change a message's content (PATCH takes
//   only a status), so the new text comes as a message "Edited: ..." in
//   reply to the original.
// - revoke: the message deleted in Chatwoot (DELETE); already gone (404):
//   done.
// - read: each of our messages the contact read marked "read" (PATCH
//   status); one Chatwoot no longer has is skipped.
// A reaction, edit or revoke whose target Chatwoot never had is still told
// (a reaction or edit as a message that says so, a revoke as a private
// note), never dropped; read receipts of messages Chatwoot never had are
// nothing to show.
#pragma once

#include "../chatwoot/api_requests.hpp"
#include "../chatwoot/retry_policy.hpp"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace chatwoot::bridge {

// A WhatsApp media file still to be downloaded (wa/message MediaRef, as the
// row keeps it): the message is durable with this before its receipt, and
// the helper fetches the file from it, again after a crash.  Byte fields
// are raw bytes (hex in the row's JSON).
struct WaMedia {
    std::string type;             // "image", "video", "gif", "audio", "ptt", ...
    std::string media_key;        // 32 bytes
    std::string file_sha256;      // 32 bytes or empty
    std::string file_enc_sha256;  // 32 bytes or empty
    std::optional<uint64_t> file_length;
    std::string direct_path;
    std::string url;
    std::string mimetype;
    std::string file_name;
    std::string caption;          // the text once the file is there

    bool operator==(const WaMedia&) const = default;
};

struct WaMessage {
    // What the event is.  Every kind is one row in the chat's ordered
    // stream into Chatwoot, so a reaction, edit or revoke never overtakes
    // the message it refers to.
    enum class Kind {
        message,   // a message to post (text, caption, placeholder...)
        reaction,  // text = the emoji on `target` ("" takes it back)
        revoke,    // `target` deleted for everyone
        edit,      // `target`'s text is now `text`
        read       // the contact read `targets` (our messages)
    };
    Kind kind = Kind::message;
    std::string id;              // WhatsApp message id (the event's own)
    std::string chat;            // chat JID: the contact's identifier
    std::string sender;          // who wrote it (differs from chat in groups)
    std::string push_name;       // the sender's WhatsApp name, may be empty
    std::string chat_name;       // group subject or contact name, may be empty
    bool from_me = false;        // written on the owner's own phone
    std::string text;            // WhatsApp formatting
    std::optional<std::string> reply_to;   // quoted message id
    // Media, already on disk in the helper's media directory; text is then
    // the caption and may be empty.
    std::vector<rest::Attachment> attachments;
    // Media not downloaded yet (attachments is then empty).
    std::optional<WaMedia> media;
    // How WhatsApp addressed the chat and the author (LID or phone number,
    // no device), when they differ from chat and sender: receipts and
    // quotes go back in the form the message came in.  Empty: the same.
    std::string wa_chat;
    std::string wa_sender;
    std::string target;                  // reaction, revoke, edit
    std::vector<std::string> targets;    // read
    int64_t timestamp = 0;               // WhatsApp's, unix seconds; 0 unknown
    // Put before the content as it is (a history import's
    // "[2024-01-15 14:30] Ana: "): it names a group's sender itself, so the
    // content gets no other name.  Empty: none.
    std::string lead;
};

// What an event refers to, as the store knows it.
struct EventTargets {
    EventTargets() = default;
    EventTargets(std::initializer_list<int64_t> known) : ids(known) {}
    explicit EventTargets(std::vector<int64_t> known) : ids(std::move(known)) {}

    // The Chatwoot ids of the messages a reaction, edit or revoke (one at
    // most) or a read (any number) refers to, those that are known.
    std::vector<int64_t> ids;
    // A reaction taken back: the emoji the same sender had put on the same
    // message, when the store still has it ("" when not).
    std::string removed_reaction;
};

struct ChatMapping {
    std::optional<int64_t> contact_id;
    std::optional<int64_t> conversation_id;
};

struct InboxOptions {
    int64_t inbox_id = 0;
    bool reopen_resolved = true;
    bool open_as_pending = false;
};

class ForwardJob {
public:
    // may_be_posted: an earlier helper may have posted it and died before
    // it could write that down, so look for it before posting.
    // posted_since: Unix seconds before which no try can have posted it
    // (when the message was stored, or when this helper started), 0 when
    // unknown.  A look pages back through the conversation until it is
    // past that time (give or take kClockSkew), or at its first message.
    ForwardJob(WaMessage message, ChatMapping known, InboxOptions options,
               rest::Api api, bool may_be_posted = false, int64_t posted_since = 0,
               EventTargets targets = {});

    // Chatwoot's clock against ours: a look goes this much further back.
    static constexpr int64_t kClockSkew = 10 * 60;
    // Pages a look reads at most when posted_since is unknown (1000
    // messages), then posts: a lost post that far back is beyond doubt.
    static constexpr int kMaxLookBackPages = 50;

    enum class State { request, done, failed };

    // The request to send now (valid while state() is request).
    State state() const { return state_; }
    const rest::Request& request() const { return request_; }

    // The answer to request(): its classification, HTTP status and body.
    void on_answer(const rest::Classification& c, std::string_view body);

    // The message (or event) this job carries.
    const WaMessage& message() const { return message_; }

    // When done: what to remember.
    const ChatMapping& mapping() const { return mapping_; }
    int64_t chatwoot_message_id() const { return message_id_; }
    // When failed: why, for logs.  A message Chatwoot refused for good is
    // also left as a private note in its conversation, so agents see it.
    const std::string& failure() const { return failure_; }

    // What the message becomes in Chatwoot (public for tests).
    static std::string chatwoot_content(const WaMessage& m);
    static std::string failure_note(const WaMessage& m, std::string_view why);
    // What a reaction, edit or revoke becomes (known: its target is in
    // Chatwoot; removed: the emoji a reaction taken back had, if known).
    static std::string event_content(const WaMessage& m, bool known,
                                     std::string_view removed = {});

private:
    enum class Step {
        search_contact,
        create_contact,
        list_conversations,
        reopen_conversation,
        create_conversation,
        post_message,
        find_posted_message,
        post_failure_note,
        delete_target,
        mark_read
    };

    void next();
    void ask(Step step, rest::Request request);
    void look_for_post();
    void fail(std::string why);

    void on_contact_search(std::string_view body);
    void on_contact_created(std::string_view body);
    void on_conversations(std::string_view body);
    void on_conversation(std::string_view body);
    void on_posted(std::string_view body);
    void on_posted_search(std::string_view body);
    // After the conversation is known: what the event's kind does there.
    void act();
    // The next target to mark read, or done.
    void mark_next_read();

    WaMessage message_;
    ChatMapping mapping_;
    InboxOptions options_;
    rest::Api api_;

    State state_ = State::request;
    Step step_ = Step::search_contact;
    rest::Request request_;
    int64_t message_id_ = 0;
    std::string failure_;
    int searches_ = 0;    // bounds look-then-create loops
    int not_founds_ = 0;  // bounds re-resolving after 404s
    bool look_first_ = false;
    int64_t posted_since_ = 0;
    int pages_ = 0;       // of the current look
    std::vector<int64_t> targets_;
    std::string removed_reaction_;
    size_t read_next_ = 0;  // targets_ marked read so far
};

}  // namespace chatwoot::bridge
