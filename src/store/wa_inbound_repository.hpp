// WhatsApp messages on their way into Chatwoot (one row per WhatsApp id:
// a device delivering the same message again adds nothing) and each chat's
// contact and conversation in Chatwoot.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

struct ChatRow {
    std::optional<int64_t> contact_id;
    std::optional<int64_t> conversation_id;
};

class WaInboundRepository {
public:
    explicit WaInboundRepository(Database& db);

    // Inside the caller's transaction.  True when new.
    bool add(std::string_view inbox, std::string_view wa_id, std::string_view chat,
             std::string_view record, int64_t now);

    // Chats of the inbox with pending messages, in the order of their
    // oldest one, at most limit, leaving out those `skip` names (chats
    // being forwarded already).
    std::vector<std::string> pending_chats(
        std::string_view inbox, size_t limit,
        const std::function<bool(const std::string&)>& skip = {});

    struct Pending {
        int64_t id = 0;
        std::string record;
    };
    // The chat's oldest pending message: the only one that may go next.
    std::optional<Pending> oldest_pending(std::string_view inbox, std::string_view chat);

    // The message is in Chatwoot (or given up), and the chat's mapping as
    // the job left it: one transaction, so a crash keeps both or neither.
    void settle(int64_t id, bool posted, int64_t chatwoot_message_id,
                std::string_view failure, std::string_view inbox,
                std::string_view chat, const ChatRow& mapping);

    // Several rows settled as settle() settles one, in one transaction:
    // the forwarder's replies of one tick (a commit, its WAL frames and
    // its locks per message were most of the forwarding's store time).
    struct Settlement {
        int64_t id = 0;
        bool posted = false;
        int64_t chatwoot_message_id = 0;
        std::string failure;
        std::string chat;
        ChatRow mapping;
    };
    void settle_all(std::string_view inbox, std::span<const Settlement> settlements);

    ChatRow chat(std::string_view inbox, std::string_view chat);
    // The chat's contact and conversation as another writer learned them
    // (a history import), inside the caller's unit of work if any.
    void save_chat(std::string_view inbox, std::string_view chat, const ChatRow& mapping);

    // The Chatwoot message a WhatsApp message is: one we posted (a
    // contact's, or one from the owner's phone) or an agent's reply we sent
    // (wa_sent).  nullopt when Chatwoot never had it.
    std::optional<int64_t> chatwoot_message_of(std::string_view inbox,
                                               std::string_view wa_id);

    // The emoji `sender` last put on `target` in the chat before row
    // `before_id` ("" when none, or when that was a removal too).
    std::string previous_reaction(std::string_view inbox, std::string_view chat,
                                  std::string_view sender, std::string_view target,
                                  int64_t before_id);

    // The chat whose conversation this is, if any chat maps to it.
    std::optional<std::string> chat_of_conversation(std::string_view inbox,
                                                    int64_t conversation_id);
    // The chat exists for the bridge: a chats row, or messages waiting to
    // be posted under it (bridge/chat_identity.hpp keeps one per person).
    bool has_chat(std::string_view inbox, std::string_view chat);

    uint64_t count(std::string_view state);

    // The newest row's id (0 when empty).
    int64_t last_id();

private:
    Database& db_;
    Statement insert_;
    Statement pending_chats_;
    Statement oldest_;
    Statement settle_;
    Statement save_chat_;
    Statement chat_;
    Statement count_;
    Statement message_of_;
    Statement chat_of_conversation_;
    Statement previous_reaction_;
    Statement has_chat_;
};

}  // namespace chatwoot::store
