// The snapshot area (include/chatwoot_snapshot.h, src/ipc/snapshot.cpp):
// what the helper publishes, workers read whole, without a lock, whatever
// the writer does meanwhile, and never past a string's array.

#include "chatwoot_shared.h"
#include "chatwoot_snapshot.h"
#include "ipc/snapshot.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

// Zeroed like the zone's calloc.
std::unique_ptr<cw_snapshot_area_t> fresh_area()
{
    auto a = std::make_unique<cw_snapshot_area_t>();
    std::memset(a.get(), 0, sizeof *a);
    return a;
}

std::unique_ptr<cw_snapshot_t> blank()
{
    auto s = std::make_unique<cw_snapshot_t>();
    std::memset(s.get(), 0, sizeof *s);
    return s;
}

uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// Snapshot number k: every byte depends on k, so a copy mixing two
// snapshots differs from both; counts and string ends are what a reader
// leaves as they are.
void pattern(uint64_t k, cw_snapshot_t* s)
{
    auto* words = reinterpret_cast<unsigned char*>(s);
    for (size_t i = 0; i < CW_SNAPSHOT_WORDS; i++) {
        const uint64_t w = splitmix(k * 1000003 + i);
        std::memcpy(words + i * 8, &w, 8);
    }
    s->published_at = k;
    s->devices_n = k % (CW_SNAPSHOT_DEVICES + 1);
    s->imports_n = k % (CW_SNAPSHOT_IMPORTS + 1);
    s->commands_n = k % (CW_SNAPSHOT_COMMANDS + 1);
    for (auto& d : s->devices) {
        d.name[sizeof d.name - 1] = d.inbox[sizeof d.inbox - 1] = 0;
        d.error[sizeof d.error - 1] = d.pn_jid[sizeof d.pn_jid - 1] = 0;
        d.lid[sizeof d.lid - 1] = d.push_name[sizeof d.push_name - 1] = 0;
        d.qr[sizeof d.qr - 1] = d.pair_code[sizeof d.pair_code - 1] = 0;
    }
    for (auto& i : s->imports) {
        i.id[sizeof i.id - 1] = i.inbox[sizeof i.inbox - 1] = 0;
        i.error[sizeof i.error - 1] = 0;
    }
    for (auto& c : s->commands) {
        c.id[sizeof c.id - 1] = c.reason[sizeof c.reason - 1] = 0;
    }
}

}  // namespace

TEST(Snapshot, AnAreaNobodyPublishedIntoReadsAsAnEmptySnapshot)
{
    auto area = fresh_area();
    auto out = blank();
    out->devices_n = 99;
    ASSERT_EQ(cw_snapshot_read(area.get(), out.get()), CW_SNAPSHOT_OK);
    EXPECT_EQ(out->published_at, 0u);
    EXPECT_EQ(out->devices_n, 0u);
    EXPECT_EQ(out->imports_n, 0u);
    EXPECT_EQ(out->commands_n, 0u);
}

TEST(Snapshot, WhatIsPublishedIsWhatIsReadAndTheNewestWins)
{
    auto area = fresh_area();
    auto s = blank();
    s->published_at = 1700000000;
    s->helper_pid = 4242;
    s->devices_n = 1;
    s->counters.commands_received = 7;
    cw_snapshot_device_t& d = s->devices[0];
    d.state = CW_DEVICE_PAIRING_QR;
    chatwoot::ipc::copy_text(d.name, "shop-phone");
    chatwoot::ipc::copy_text(d.qr, "2@abc,def,ghi,jkl");
    cw_snapshot_publish(area.get(), s.get());

    auto out = blank();
    ASSERT_EQ(cw_snapshot_read(area.get(), out.get()), CW_SNAPSHOT_OK);
    EXPECT_EQ(std::memcmp(out.get(), s.get(), sizeof *s), 0);
    EXPECT_EQ(area->generation, 2u);
    EXPECT_EQ(area->publishes, 1u);

    s->devices[0].state = CW_DEVICE_CONNECTED;
    s->devices[0].qr[0] = '\0';
    s->published_at++;
    cw_snapshot_publish(area.get(), s.get());
    ASSERT_EQ(cw_snapshot_read(area.get(), out.get()), CW_SNAPSHOT_OK);
    EXPECT_EQ(out->devices[0].state, uint64_t{CW_DEVICE_CONNECTED});
    EXPECT_STREQ(out->devices[0].qr, "");
    EXPECT_EQ(out->published_at, 1700000001u);
    EXPECT_STREQ(cw_device_state_name(out->devices[0].state), "connected");
}

TEST(Snapshot, AWriterKilledWhileWritingLeavesThePublishedSnapshotReadable)
{
    auto area = fresh_area();
    auto s = blank();
    s->published_at = 11;
    cw_snapshot_publish(area.get(), s.get());   // generation 2, buffer 1

    // A writer dies mid-write: odd generation, the spare half scribbled.
    area->generation = 3;
    std::memset(area->buffer[0], 0x5A, sizeof area->buffer[0] / 2);

    auto out = blank();
    ASSERT_EQ(cw_snapshot_read(area.get(), out.get()), CW_SNAPSHOT_OK);
    EXPECT_EQ(out->published_at, 11u) << "the published one, whole";

    // The next helper carries on from the odd generation.
    s->published_at = 12;
    cw_snapshot_publish(area.get(), s.get());
    EXPECT_EQ(area->generation, 4u);
    ASSERT_EQ(cw_snapshot_read(area.get(), out.get()), CW_SNAPSHOT_OK);
    EXPECT_EQ(std::memcmp(out.get(), s.get(), sizeof *s), 0);
}

TEST(Snapshot, AReaderNeverGoesPastAnArrayOrATableWhateverTheBufferHolds)
{
    auto area = fresh_area();
    // Scribbled published buffer: no NUL anywhere, counts far too large.
    std::memset(area->buffer[0], 'A', sizeof area->buffer[0]);
    auto out = blank();
    ASSERT_EQ(cw_snapshot_read(area.get(), out.get()), CW_SNAPSHOT_OK);
    EXPECT_EQ(out->devices_n, uint64_t{CW_SNAPSHOT_DEVICES});
    EXPECT_EQ(out->imports_n, uint64_t{CW_SNAPSHOT_IMPORTS});
    EXPECT_EQ(out->commands_n, uint64_t{CW_SNAPSHOT_COMMANDS});
    for (const auto& d : out->devices) {
        EXPECT_EQ(std::strlen(d.name), sizeof d.name - 1);
        EXPECT_EQ(std::strlen(d.qr), sizeof d.qr - 1);
        EXPECT_EQ(std::strlen(d.pair_code), sizeof d.pair_code - 1);
    }
    EXPECT_EQ(std::strlen(out->imports[15].error), sizeof out->imports[15].error - 1);
    EXPECT_EQ(std::strlen(out->commands[31].reason), sizeof out->commands[31].reason - 1);
}

TEST(Snapshot, CopyTextCutsAtACharacterBoundary)
{
    char small[8];
    EXPECT_EQ(chatwoot::ipc::copy_text(small, "abc"), 3u);
    EXPECT_STREQ(small, "abc");
    EXPECT_EQ(chatwoot::ipc::copy_text(small, "abcdefghij"), 7u);
    EXPECT_STREQ(small, "abcdefg");
    // "abcdé€": é is 2 bytes, € 3; 7 bytes fit: "abcd" + é (6), € dropped whole.
    EXPECT_EQ(chatwoot::ipc::copy_text(small, "abcd\xC3\xA9\xE2\x82\xAC"), 6u);
    EXPECT_STREQ(small, "abcd\xC3\xA9");
    // A four-byte character at the cut goes whole.
    EXPECT_EQ(chatwoot::ipc::copy_text(small, "abcde\xF0\x9F\x98\x80"), 5u);
    EXPECT_STREQ(small, "abcde");
    EXPECT_EQ(chatwoot::ipc::copy_text(small, 0, "x"), 0u);
}

TEST(Snapshot, TheSharedZoneHasTheAreaBeforeTheRing)
{
    EXPECT_LT(offsetof(cw_shared_t, snapshot), offsetof(cw_shared_t, ring));
    EXPECT_EQ(offsetof(cw_shared_t, snapshot) % 8, 0u);
    // Small enough that the glue's fixed part stays a fraction of the
    // default 4 MB zone (it comes on top of size=): 128 devices of ~1 kB,
    // twice.
    EXPECT_LT(sizeof(cw_snapshot_area_t), size_t{512 * 1024});
    EXPECT_NE(CW_SHARED_MAGIC, 0x6368747700000002ULL) << "the layout changed";
}

TEST(Snapshot, ReadersRacingAWriterNeverSeeATornSnapshot)
{
    auto area = fresh_area();
    constexpr uint64_t kPublishes = 3000;
    std::atomic<bool> done{false};
    std::atomic<uint64_t> reads{0};
    std::atomic<uint64_t> busy{0};
    std::atomic<uint64_t> torn{0};
    std::atomic<uint64_t> backwards{0};

    auto reader = [&] {
        auto got = blank();
        auto want = blank();
        uint64_t last = 0;
        while (!done.load(std::memory_order_acquire)) {
            if (cw_snapshot_read(area.get(), got.get()) != CW_SNAPSHOT_OK) {
                busy++;
                continue;
            }
            reads++;
            const uint64_t k = got->published_at;
            if (k < last) {
                backwards++;
            }
            last = k;
            if (k == 0) {
                continue;   // before the first publish: all zero
            }
            pattern(k, want.get());
            if (std::memcmp(got.get(), want.get(), sizeof *got) != 0) {
                torn++;
            }
        }
    };
    std::vector<std::thread> readers;
    for (int i = 0; i < 3; i++) {
        readers.emplace_back(reader);
    }
    {
        auto s = blank();
        for (uint64_t k = 1; k <= kPublishes; k++) {
            pattern(k, s.get());
            cw_snapshot_publish(area.get(), s.get());
        }
    }
    // Let the readers see the last one too.
    while (reads.load() < 3 * 50) {
        std::this_thread::yield();
    }
    done.store(true, std::memory_order_release);
    for (auto& t : readers) {
        t.join();
    }
    EXPECT_EQ(torn.load(), 0u);
    EXPECT_EQ(backwards.load(), 0u);
    EXPECT_GT(reads.load(), 0u);
    EXPECT_EQ(area->generation, 2 * kPublishes);
    EXPECT_EQ(area->publishes, kPublishes);
    // Only a writer publishing twice within one copy can make a reader give
    // up, and then only after CW_SNAPSHOT_READ_TRIES tries.
    EXPECT_LT(busy.load(), reads.load());
}
