// The commands table (src/store/command_repository.*): what workers asked
// the helper to do, stored once under the worker's id, settled once.

#include "ipc/command_record.hpp"
#include "store/command_repository.hpp"
#include "store/inbound_event_repository.hpp"
#include "store/schema.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

using namespace chatwoot::store;

namespace {

class Commands : public ::testing::Test {
protected:
    Commands()
    {
        char tmpl[] = "/tmp/command-repository-test-XXXXXX";
        dir_ = mkdtemp(tmpl);
        db_.emplace(Database::open(dir_ + "/chatwoot.db"));
        migrate(*db_);
        repo_.emplace(*db_);
    }
    ~Commands() override
    {
        repo_.reset();
        db_.reset();
        std::filesystem::remove_all(dir_);
    }

    static NewCommand pair(const std::string& id, int64_t at)
    {
        chatwoot::ipc::Command c{at, chatwoot::ipc::PairCommand{"phone-1"}};
        NewCommand n;
        n.id = id;
        n.kind = "pair";
        n.payload = *chatwoot::ipc::encode_command(c);
        n.created_at = at;
        return n;
    }

    std::string dir_;
    std::optional<Database> db_;
    std::optional<CommandRepository> repo_;
};

}  // namespace

TEST_F(Commands, ACommandIsStoredOncePendingWithItsRecord)
{
    const NewCommand n = pair("00000000000000010000000000000001", 100);
    EXPECT_TRUE(repo_->add(n));
    EXPECT_FALSE(repo_->add(n)) << "the same id again (a drain repeated after a crash)";

    const auto got = repo_->find(n.id);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->kind, "pair");
    EXPECT_EQ(got->state, CommandState::pending);
    EXPECT_EQ(got->payload, n.payload);
    EXPECT_EQ(got->created_at, 100);
    EXPECT_EQ(got->updated_at, 100);
    EXPECT_EQ(got->reason, "");
    EXPECT_EQ(repo_->count(CommandState::pending), 1u);

    // What the store keeps decodes to the command the worker asked for.
    const auto decoded = chatwoot::ipc::decode_command(got->payload);
    ASSERT_TRUE(decoded.ok()) << decoded.reason();
    EXPECT_EQ(std::get<chatwoot::ipc::PairCommand>(decoded.value().body).device, "phone-1");

    EXPECT_FALSE(repo_->find("ffffffffffffffff0000000000000001").has_value());
}

TEST_F(Commands, AnUnreadableCommandIsKeptAsFailedWithItsReason)
{
    NewCommand n;
    n.id = "00000000000000010000000000000002";
    n.kind = "unknown";
    n.payload = {9, 9, 9};
    n.created_at = 5;
    n.failure = "unreadable command: unknown_version at 0: version 9";
    EXPECT_TRUE(repo_->add(n));
    const auto got = repo_->find(n.id);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->state, CommandState::failed);
    EXPECT_EQ(got->reason, *n.failure);
    EXPECT_EQ(got->payload, n.payload);
    EXPECT_TRUE(repo_->pending(10).empty());
}

TEST_F(Commands, SettlingHappensOnceAndOnlyFromPending)
{
    const NewCommand n = pair("00000000000000010000000000000003", 100);
    ASSERT_TRUE(repo_->add(n));
    EXPECT_TRUE(repo_->settle(n.id, CommandState::failed, "device unknown", 120));
    EXPECT_FALSE(repo_->settle(n.id, CommandState::done, "", 130)) << "outcome kept";
    EXPECT_FALSE(repo_->settle("nope", CommandState::done, "", 130));
    const auto got = repo_->find(n.id);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->state, CommandState::failed);
    EXPECT_EQ(got->reason, "device unknown");
    EXPECT_EQ(got->updated_at, 120);
    EXPECT_EQ(repo_->count(CommandState::failed), 1u);
    EXPECT_EQ(repo_->count(CommandState::done), 0u);
}

TEST_F(Commands, PendingListsTheOldestFirstUpToTheLimit)
{
    ASSERT_TRUE(repo_->add(pair("c", 30)));
    ASSERT_TRUE(repo_->add(pair("a", 10)));
    ASSERT_TRUE(repo_->add(pair("b", 20)));
    ASSERT_TRUE(repo_->settle("a", CommandState::done, "", 40));
    const auto got = repo_->pending(10);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].id, "b");
    EXPECT_EQ(got[1].id, "c");
    ASSERT_EQ(repo_->pending(1).size(), 1u);
    EXPECT_EQ(repo_->pending(1)[0].id, "b");
}

TEST_F(Commands, AStateOutsideTheThreeIsRefusedByTheSchema)
{
    ASSERT_TRUE(repo_->add(pair("x", 1)));
    EXPECT_THROW(db_->exec("UPDATE commands SET state = 'lost' WHERE id = 'x'"), StoreError);
}

// The queue drain files a batch's commands in the transaction of its
// inbound rows (insert_batch's before_commit): both commit, or neither, so
// the ring is popped only past what is all in the store.
TEST_F(Commands, CommandsCommitAndRollBackWithTheDrainedBatch)
{
    InboundEventRepository inbound(*db_);
    InboundEvent e;
    e.ring_epoch = 1;
    e.ring_seq = 1;
    e.kind = 1;
    e.received_at = 10;
    e.payload = {'{', '}'};
    const InboundEvent batch[] = {e};

    EXPECT_THROW(inbound.insert_batch(batch, {},
                                      [&] {
                                          ASSERT_TRUE(repo_->add(pair("rolled-back", 10)));
                                          throw std::runtime_error("disk full");
                                      }),
                 std::runtime_error);
    EXPECT_FALSE(repo_->find("rolled-back").has_value());
    EXPECT_EQ(inbound.count(), 0u);

    bool added = false;
    EXPECT_EQ(inbound.insert_batch(batch, {}, [&] { added = repo_->add(pair("kept", 10)); }),
              1u);
    EXPECT_TRUE(added);
    EXPECT_TRUE(repo_->find("kept").has_value());
    EXPECT_EQ(inbound.count(), 1u);

    // A batch of commands only: no inbound row, the command still commits.
    const std::span<const InboundEvent> none;
    EXPECT_EQ(inbound.insert_batch(none, {}, [&] { added = repo_->add(pair("alone", 11)); }),
              0u);
    EXPECT_TRUE(added);
    EXPECT_TRUE(repo_->find("alone").has_value());
}
