// What the send path keeps between messages (schema step 11): device
// lists and group info it looked up, which group members hold our sender
// key, the contacts' trusted-contact tokens and when we last gave them
// ours, and the plaintexts of recent sends for recipients' retry receipts.
//
// Rows are keyed by the device's name (its inbox).  Each write joins the
// caller's unit of work when one is open: the sender records the sender
// key holders and the recent send in the same unit as the ratchet
// advances of that message.
#pragma once

#include "sqlite_handle.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::store {

class SendStateRepository {
public:
    SendStateRepository(Database& db, std::string device);

    // A user's devices ("0,7,99h": ids, hosted ones suffixed "h"), keyed
    // by the user's JID without device.
    std::optional<std::string> device_list(std::string_view user);
    void put_device_list(std::string_view user, std::string_view devices, int64_t now);
    void drop_device_list(std::string_view user);

    // A group's participants and addressing mode as the sender encoded them.
    std::optional<std::string> group_info(std::string_view group);
    void put_group_info(std::string_view group, std::string_view info, int64_t now);
    void drop_group_info(std::string_view group);

    bool holds_sender_key(std::string_view group, std::string_view member_device);
    void add_sender_key_holder(std::string_view group, std::string_view member_device);
    // Our sender key changed or a member left: everyone gets it again.
    void drop_sender_key_holders(std::string_view group);
    // A user's devices (`user`: its JID without device, one form) hold our
    // sender key of no group any more (a new identity: they lost it).
    void drop_sender_key_holder_user(std::string_view user);

    struct PrivacyToken {
        std::vector<unsigned char> token;  // empty: none received yet
        int64_t t = 0;
        std::optional<int64_t> issued;     // when ours last went to them
    };
    std::optional<PrivacyToken> privacy_token(std::string_view lid);
    // Ours went to them at `now` (a row without their token keeps an empty one).
    void token_issued(std::string_view lid, int64_t now);

    struct RecentSend {
        std::string chat;
        std::vector<unsigned char> message;  // the Message protobuf, unpadded
    };
    void put_recent_send(std::string_view id, std::string_view chat,
                         std::span<const unsigned char> message, int64_t now);
    std::optional<RecentSend> recent_send(std::string_view id);
    // Drops what was sent before `before`; returns how many.

    // Who wrote a message a reply quotes: its author as WhatsApp addressed
    // them, or ours (the owner's phone, or an agent's reply we sent);
    // nullopt for a message this inbox never had.
    struct QuotedAuthor {
        std::string jid;    // "" when ours
        bool ours = false;
    };
    std::optional<QuotedAuthor> quoted_author(std::string_view wa_id);

private:
    Database& db_;
    std::string device_;
    Statement device_list_;
    Statement put_device_list_;
    Statement drop_device_list_;
    Statement group_info_;
    Statement put_group_info_;
    Statement drop_group_info_;
    Statement holds_;
    Statement add_holder_;
    Statement drop_holders_;
    Statement drop_holder_user_;
    Statement token_;
    Statement token_issued_;
    Statement put_recent_;
    Statement recent_;
    Statement quoted_author_;
};

}  // namespace chatwoot::store
