// What the forwarder and the read receipts look up in the store: the
// Chatwoot message a WhatsApp id is, the chat of a conversation, and what
// of a chat is not marked read yet.
#include "store/outbox_repository.hpp"
#include "store/read_mark_repository.hpp"
#include "store/wa_inbound_repository.hpp"

#include "temp_store.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace chatwoot;

namespace {

const std::string kChat = "5511987654321@s.whatsapp.net";

int64_t add(store::WaInboundRepository& repo, test::TempStore& t, const std::string& id,
            const std::string& record, std::optional<int64_t> posted_as)
{
    EXPECT_TRUE(repo.add("support", id, kChat, record, 1000));
    const int64_t row = t.scalar("SELECT id FROM wa_inbound WHERE wa_id = '" + id + "'");
    if (posted_as) {
        repo.settle(row, true, *posted_as, "", "support", kChat, {42, 15});
    }
    return row;
}

}  // namespace

TEST(MessageMapping, AWhatsAppIdIsTheChatwootMessageWePostedOrSent)
{
    test::TempStore t("message-mapping-test");
    store::WaInboundRepository repo(*t.db);
    add(repo, t, "A1", R"({"id":"A1"})", 3100);
    add(repo, t, "A2", R"({"id":"A2"})", std::nullopt);   // pending: not in Chatwoot yet
    add(repo, t, "V1", R"({"kind":"revoke","id":"V1"})", 0);   // posted, made no message
    store::OutboxRepository(*t.db).settle_sent(0, "support", "3EB0AA", kChat, 7001, 1000);

    EXPECT_EQ(repo.chatwoot_message_of("support", "A1"), 3100);
    EXPECT_EQ(repo.chatwoot_message_of("support", "3EB0AA"), 7001) << "an agent's reply we sent";
    EXPECT_EQ(repo.chatwoot_message_of("support", "A2"), std::nullopt);
    EXPECT_EQ(repo.chatwoot_message_of("support", "V1"), std::nullopt) << "0 is no message";
    EXPECT_EQ(repo.chatwoot_message_of("support", "NOPE"), std::nullopt);
    EXPECT_EQ(repo.chatwoot_message_of("other", "A1"), std::nullopt) << "per inbox";

    EXPECT_EQ(repo.chat_of_conversation("support", 15), kChat);
    EXPECT_EQ(repo.chat_of_conversation("support", 16), std::nullopt);
    EXPECT_EQ(repo.chat_of_conversation("other", 15), std::nullopt);
}

TEST(MessageMapping, TheReadMarkOnlyMovesForward)
{
    test::TempStore t("read-mark-test");
    store::WaInboundRepository repo(*t.db);
    store::ReadMarkRepository marks(*t.db);
    EXPECT_EQ(marks.unread("support", kChat, 10).up_to, 0) << "an empty chat";
    add(repo, t, "A1", R"({"id":"A1","sender":"x@s.whatsapp.net"})", 1);
    add(repo, t, "A2", R"({"id":"A2","from_me":false})", 2);
    add(repo, t, "A3", R"({"id":"A3"})", 3);
    auto u = marks.unread("support", kChat, 2);
    ASSERT_EQ(u.messages.size(), 2u) << "at most the limit";
    EXPECT_EQ(u.messages[0].wa_id, "A2") << "the newest, oldest first";
    EXPECT_EQ(u.messages[1].wa_id, "A3");
    EXPECT_EQ(u.messages[1].sender, kChat) << "no sender: the chat's";
    const int64_t up_to = u.up_to;
    marks.mark("support", kChat, up_to);
    EXPECT_EQ(marks.unread("support", kChat, 10).up_to, 0) << "nothing since";
    marks.mark("support", kChat, up_to - 2);
    EXPECT_EQ(marks.unread("support", kChat, 10).up_to, 0) << "a mark never moves back";
    EXPECT_EQ(marks.unread("support", "other@s.whatsapp.net", 10).up_to, 0) << "per chat";
    store::ReadMarkRepository again(*t.db);   // its table made again: kept
    EXPECT_EQ(again.unread("support", kChat, 10).up_to, 0);
}

TEST(MessageMapping, RecordsRetentionEmptiedAreReadAndNoRevokes)
{
    test::TempStore t("read-mark-retention-test");
    store::WaInboundRepository repo(*t.db);
    store::ReadMarkRepository marks(*t.db);
    add(repo, t, "A1", R"({"id":"A1"})", 1);
    add(repo, t, "V1", R"({"kind":"revoke","id":"V1","target":"3EB0AA"})", 0);
    add(repo, t, "A2", R"({"id":"A2"})", 2);
    t.db->exec("UPDATE wa_inbound SET record = '' WHERE wa_id IN ('A1', 'V1')");
    auto u = marks.unread("support", kChat, 10);
    ASSERT_EQ(u.messages.size(), 1u) << "an emptied row is passed over, not an error";
    EXPECT_EQ(u.messages[0].wa_id, "A2");
    EXPECT_GT(u.up_to, 0);
    store::OutboxRepository outbox(*t.db);
    EXPECT_FALSE(outbox.revoked_on_whatsapp("support", kChat, "3EB0AA"));
    add(repo, t, "V2", R"({"kind":"revoke","id":"V2","target":"3EB0AA"})", 0);
    EXPECT_TRUE(outbox.revoked_on_whatsapp("support", kChat, "3EB0AA"));
    EXPECT_FALSE(outbox.revoked_on_whatsapp("support", kChat, "3EB0BB"));
}

TEST(MessageMapping, AReactionTakenBackFindsTheEmojiItHad)
{
    test::TempStore t("previous-reaction-test");
    store::WaInboundRepository repo(*t.db);
    const std::string x = kChat, y = "5521912345678@s.whatsapp.net";
    auto reaction = [&](const std::string& id, const std::string& sender,
                        const std::string& target, const std::string& text) {
        return add(repo, t, id,
                   R"({"kind":"reaction","id":")" + id + R"(","sender":")" + sender
                       + R"(","target":")" + target + R"(","text":")" + text + R"("})",
                   1);
    };
    reaction("R1", x, "A1", "👍");
    reaction("R2", y, "A1", "❤️");   // another member's
    reaction("R3", x, "A2", "😂");   // another message
    const int64_t r4 = reaction("R4", x, "A1", "");
    EXPECT_EQ(repo.previous_reaction("support", kChat, x, "A1", r4), "👍");
    EXPECT_EQ(repo.previous_reaction("support", kChat, y, "A1", r4), "❤️");
    EXPECT_EQ(repo.previous_reaction("support", kChat, x, "A3", r4), "") << "none";
    EXPECT_EQ(repo.previous_reaction("support", kChat, x, "A1", r4 + 1), "")
        << "the latest was a removal already";
    t.db->exec("UPDATE wa_inbound SET record = '' WHERE wa_id = 'R1'");
    EXPECT_EQ(repo.previous_reaction("support", kChat, x, "A1", r4), "")
        << "emptied by retention: unknown, not an error";
}

// The forwarder's replies of one tick settle in one commit: each row posted
// (with its Chatwoot id) or failed (with its reason), each chat's mapping
// saved, as settle() does for one.
TEST(MessageMapping, SettleAllSettlesSeveralChatsInOneCommit)
{
    test::TempStore t("settle-all-test");
    store::WaInboundRepository repo(*t.db);
    const std::string other = "5511900000000@s.whatsapp.net";
    ASSERT_TRUE(repo.add("support", "B1", kChat, R"({"id":"B1"})", 1000));
    ASSERT_TRUE(repo.add("support", "B2", other, R"({"id":"B2"})", 1000));
    ASSERT_TRUE(repo.add("support", "B3", kChat, R"({"id":"B3"})", 1000));
    auto row = [&](const std::string& id) {
        return t.scalar("SELECT id FROM wa_inbound WHERE wa_id = '" + id + "'");
    };
    int commits = 0;
    sqlite3_commit_hook(
        t.db->raw(), [](void* n) noexcept { ++*static_cast<int*>(n); return 0; }, &commits);
    const std::vector<store::WaInboundRepository::Settlement> rows{
        {row("B1"), true, 3201, "", kChat, {42, 15}},
        {row("B2"), false, 0, "Chatwoot said no", other, {43, std::nullopt}},
    };
    repo.settle_all("support", rows);
    sqlite3_commit_hook(t.db->raw(), nullptr, nullptr);

    EXPECT_EQ(commits, 1);
    EXPECT_EQ(repo.chatwoot_message_of("support", "B1"), 3201);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_inbound WHERE wa_id = 'B2' AND state = 'failed'"
                       " AND failure = 'Chatwoot said no'"), 1);
    EXPECT_EQ(t.scalar("SELECT count(*) FROM wa_inbound WHERE wa_id = 'B3' AND state = 'pending'"), 1)
        << "a row not named stays pending";
    EXPECT_EQ(repo.chat("support", kChat).conversation_id, 15);
    EXPECT_EQ(repo.chat("support", other).contact_id, 43);
    EXPECT_EQ(repo.chat("support", other).conversation_id, std::nullopt);

    repo.settle_all("support", {});   // nothing to do: no transaction either
}
