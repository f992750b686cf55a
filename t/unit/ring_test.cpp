// Unit tests of the shared-memory record ring (src/ipc/ring.cpp).
//
// The ring lives in plain process memory here: a std::vector<uint64_t> of
// exactly cw_ring_footprint() bytes, so it is 8-byte aligned and ASan flags
// any read or write past the ring's own bytes.

#include "chatwoot_ring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace {

// The record header as ring.cpp lays it out: seq, len, kind, then the
// payload padded to 8 bytes.  The header is private to ring.cpp, but the
// crash and corruption tests must write raw bytes in that shape; the test
// RecordHeaderLayoutIsSeqLenKind pins it so a layout change fails loudly
// there instead of silently weakening those tests.
struct RawHeader {
    uint64_t seq;
    uint32_t len;
    uint32_t kind;
};
static_assert(sizeof(RawHeader) == 16);

constexpr uint32_t kWrapMarkerLen = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kHeader = sizeof(RawHeader);

constexpr uint64_t align8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }
constexpr uint64_t record_bytes(uint64_t len) { return align8(kHeader + len); }

// Owns the memory of one ring.
class Ring {
public:
    Ring(size_t data_size, uint32_t capacity, uint64_t epoch)
        : mem_(cw_ring_footprint(data_size) / sizeof(uint64_t))
    {
        cw_ring_init(get(), data_size, capacity, epoch);
    }

    cw_ring_t* get() { return reinterpret_cast<cw_ring_t*>(mem_.data()); }
    const cw_ring_t* get() const
    {
        return reinterpret_cast<const cw_ring_t*>(mem_.data());
    }
    cw_ring_t* operator->() { return get(); }

    // The published index, as every reader sees it.
    const cw_ring_index_t& ix() const { return *cw_ring_current(get()); }

    // The published index, writable: for the corruption tests only.
    cw_ring_index_t& scribble()
    {
        return const_cast<cw_ring_index_t&>(*cw_ring_current(get()));
    }

    // The copy a writer fills before it flips `active`.
    cw_ring_index_t& inactive()
    {
        return get()->index[(get()->active + 1) & 1];
    }

    // A byte copy of the whole ring, header, both index copies and data, to
    // prove that a call changed nothing.
    std::vector<unsigned char> snapshot() const
    {
        const auto* p = reinterpret_cast<const unsigned char*>(mem_.data());
        return {p, p + mem_.size() * sizeof(uint64_t)};
    }

    // The data bytes alone.
    std::vector<unsigned char> data() const
    {
        const cw_ring_t* r = get();
        return {r->data, r->data + r->data_size};
    }

    size_t bytes() const { return mem_.size() * sizeof(uint64_t); }

    RawHeader header_at(uint64_t offset)
    {
        RawHeader h;
        std::memcpy(&h, get()->data + offset, sizeof h);
        return h;
    }

    void write_header(uint64_t offset, RawHeader h)
    {
        std::memcpy(get()->data + offset, &h, sizeof h);
    }

private:
    std::vector<uint64_t> mem_;
};

std::vector<unsigned char> bytes_of(const std::string& s)
{
    return {s.begin(), s.end()};
}

// A payload whose content depends on seed and length, so a record that came
// back with another record's bytes is caught.
std::vector<unsigned char> pattern(size_t len, uint32_t seed)
{
    std::vector<unsigned char> v(len);
    for (size_t i = 0; i < len; i++) {
        v[i] = static_cast<unsigned char>((seed * 131 + i * 7 + (i >> 8)) & 0xff);
    }
    return v;
}

uint64_t push(cw_ring_t* ring, uint32_t kind,
              const std::vector<unsigned char>& payload)
{
    uint64_t seq = 0;
    EXPECT_EQ(cw_ring_push(ring, kind, payload.data(), payload.size(), &seq),
              CW_RING_OK);
    return seq;
}

// The fields of an index, comparable and printable by gtest.
using IndexFields = std::array<uint64_t, 6>;

IndexFields fields(const cw_ring_index_t& ix)
{
    return {ix.epoch, ix.next_seq, ix.head, ix.tail, ix.used, ix.count};
}

IndexFields published(const cw_ring_t* ring)
{
    return fields(*cw_ring_current(ring));
}

struct Seen {
    uint64_t seq;
    uint32_t kind;
    std::vector<unsigned char> bytes;
    uint64_t offset;  // of the record header inside data[]
};

// Walks the ring with begin/next; fails the test on anything but OK for
// each of the `count` records, and checks the walk then ends.
std::vector<Seen> peek_all(cw_ring_t* ring)
{
    std::vector<Seen> out;
    cw_ring_cursor_t cur = cw_ring_begin(ring);
    const uint64_t count = cw_ring_current(ring)->count;
    EXPECT_EQ(cur.remaining, count);
    cw_ring_record_t rec;
    for (uint64_t i = 0; i < count; i++) {
        cw_ring_rc_t rc = cw_ring_next(ring, &cur, &rec);
        EXPECT_EQ(rc, CW_RING_OK) << "record " << i;
        if (rc != CW_RING_OK) {
            return out;
        }
        out.push_back({rec.seq, rec.kind,
                       std::vector<unsigned char>(rec.data, rec.data + rec.len),
                       static_cast<uint64_t>(rec.data - ring->data) - kHeader});
    }
    EXPECT_EQ(cur.remaining, 0u);
    EXPECT_EQ(cw_ring_next(ring, &cur, &rec), CW_RING_END)
        << "the walk must end after count records";
    return out;
}

// ---------------------------------------------------------------------------
// Layout and sizing

TEST(RingLayout, FootprintIsHeaderPlusDataRoundedUpTo8)
{
    EXPECT_EQ(cw_ring_footprint(0), sizeof(cw_ring_t));
    EXPECT_EQ(cw_ring_footprint(1024), sizeof(cw_ring_t) + 1024);
    EXPECT_EQ(cw_ring_footprint(1001), sizeof(cw_ring_t) + 1008);
    EXPECT_EQ(cw_ring_footprint(1007), sizeof(cw_ring_t) + 1008);
    EXPECT_EQ(sizeof(cw_ring_t) % 8, 0u) << "data[] must start 8-aligned";
}

TEST(RingLayout, InitSetsEmptyStateAndRoundsDataSizeDown)
{
    Ring r(1001, 7, 0x1234);
    EXPECT_EQ(r.ix().epoch, 0x1234u);
    EXPECT_EQ(r.ix().next_seq, 1u);
    EXPECT_EQ(r->capacity, 7u);
    EXPECT_EQ(r.ix().count, 0u);
    EXPECT_EQ(r->data_size, 1000u);
    EXPECT_EQ(r.ix().head, 0u);
    EXPECT_EQ(r.ix().tail, 0u);
    EXPECT_EQ(r.ix().used, 0u);
    // Both copies start equal, so either one is a valid empty index.
    EXPECT_EQ(r->active, 0u);
    EXPECT_EQ(fields(r->index[0]), fields(r->index[1]));
}

TEST(RingLayout, CurrentIsTheIndexSelectedByTheLowBitOfActive)
{
    Ring r(1024, 8, 1);
    EXPECT_EQ(cw_ring_current(r.get()), &r->index[0]);
    push(r.get(), 1, bytes_of("x"));
    EXPECT_EQ(r->active, 1u);
    EXPECT_EQ(cw_ring_current(r.get()), &r->index[1]);
    push(r.get(), 1, bytes_of("y"));
    EXPECT_EQ(r->active, 2u);
    EXPECT_EQ(cw_ring_current(r.get()), &r->index[0]);
    EXPECT_EQ(r.ix().count, 2u);
}

TEST(RingLayout, MaxRecordIsAQuarterMinusTheHeader)
{
    EXPECT_EQ(cw_ring_max_record(Ring(1024, 8, 1).get()), 256u - 16u);
    EXPECT_EQ(cw_ring_max_record(Ring(1000, 8, 1).get()), 248u - 16u);
    EXPECT_EQ(cw_ring_max_record(Ring(1 << 20, 8, 1).get()),
              (1u << 18) - 16u);
    // Rings too small for even a header in a quarter take empty payloads
    // only.
    EXPECT_EQ(cw_ring_max_record(Ring(64, 8, 1).get()), 0u);
    EXPECT_EQ(cw_ring_max_record(Ring(16, 8, 1).get()), 0u);
    EXPECT_EQ(cw_ring_max_record(Ring(0, 8, 1).get()), 0u);
    EXPECT_EQ(cw_ring_max_record(Ring(72, 8, 1).get()), 0u);
    EXPECT_EQ(cw_ring_max_record(Ring(96, 8, 1).get()), 8u);
}

TEST(RingLayout, RecordHeaderLayoutIsSeqLenKind)
{
    Ring r(1024, 8, 1);
    push(r.get(), 0xABCD, bytes_of("hello"));
    RawHeader h = r.header_at(0);
    EXPECT_EQ(h.seq, 1u);
    EXPECT_EQ(h.len, 5u);
    EXPECT_EQ(h.kind, 0xABCDu);
    EXPECT_EQ(std::memcmp(r->data + kHeader, "hello", 5), 0);
}

// ---------------------------------------------------------------------------
// Push, peek, pop

TEST(RingFifo, PushThenPeekReturnsRecordsInOrderWithSeqFromOne)
{
    Ring r(4096, 64, 42);
    const std::vector<std::string> payloads = {
        "first", "", "a somewhat longer third payload", "4", "12345678"};
    for (size_t i = 0; i < payloads.size(); i++) {
        uint64_t seq = push(r.get(), CW_RECORD_WEBHOOK + static_cast<uint32_t>(i),
                            bytes_of(payloads[i]));
        EXPECT_EQ(seq, i + 1);
    }
    EXPECT_EQ(r.ix().count, payloads.size());
    EXPECT_EQ(r.ix().next_seq, payloads.size() + 1);

    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), payloads.size());
    for (size_t i = 0; i < payloads.size(); i++) {
        EXPECT_EQ(seen[i].seq, i + 1);
        EXPECT_EQ(seen[i].kind, CW_RECORD_WEBHOOK + i);
        EXPECT_EQ(seen[i].bytes, bytes_of(payloads[i]));
    }
}

TEST(RingFifo, UsedBytesAreHeaderPlusPayloadPaddedTo8)
{
    Ring r(4096, 64, 1);
    const size_t lens[] = {0, 1, 7, 8, 9, 16, 17};
    uint64_t expect_used = 0;
    uint64_t expect_offset = 0;
    for (size_t len : lens) {
        push(r.get(), 1, pattern(len, static_cast<uint32_t>(len)));
        expect_used += record_bytes(len);
        EXPECT_EQ(r.ix().used, expect_used) << "len " << len;
        expect_offset += record_bytes(len);
        EXPECT_EQ(r.ix().tail, expect_offset) << "len " << len;
    }
    // 16 + 24 + 24 + 24 + 32 + 32 + 40
    EXPECT_EQ(r.ix().used, 192u);
    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), std::size(lens));
    uint64_t offset = 0;
    for (size_t i = 0; i < seen.size(); i++) {
        EXPECT_EQ(seen[i].offset, offset);
        EXPECT_EQ(seen[i].bytes, pattern(lens[i], static_cast<uint32_t>(lens[i])));
        offset += record_bytes(lens[i]);
    }
}

TEST(RingFifo, ZeroLengthPayloadRoundTripsWithNullData)
{
    Ring r(1024, 8, 1);
    uint64_t seq = 0;
    ASSERT_EQ(cw_ring_push(r.get(), 9, nullptr, 0, &seq), CW_RING_OK);
    EXPECT_EQ(seq, 1u);
    EXPECT_EQ(r.ix().used, 16u);

    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    cw_ring_record_t rec{};
    ASSERT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_OK);
    EXPECT_EQ(rec.seq, 1u);
    EXPECT_EQ(rec.kind, 9u);
    EXPECT_EQ(rec.len, 0u);
    EXPECT_EQ(rec.data, r->data + kHeader);
}

TEST(RingFifo, BinaryPayloadWithEveryByteValueRoundTrips)
{
    Ring r(4096, 8, 1);
    std::vector<unsigned char> all(256);
    for (size_t i = 0; i < all.size(); i++) {
        all[i] = static_cast<unsigned char>(255 - i);  // NULs included
    }
    push(r.get(), 1, all);
    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].bytes, all);
}

TEST(RingFifo, PeekDoesNotRemove)
{
    Ring r(1024, 8, 1);
    push(r.get(), 1, bytes_of("a"));
    push(r.get(), 2, bytes_of("bb"));
    const auto before = r.snapshot();

    auto first = peek_all(r.get());
    auto second = peek_all(r.get());
    ASSERT_EQ(first.size(), 2u);
    ASSERT_EQ(second.size(), 2u);
    for (size_t i = 0; i < 2; i++) {
        EXPECT_EQ(first[i].seq, second[i].seq);
        EXPECT_EQ(first[i].bytes, second[i].bytes);
    }
    EXPECT_EQ(r.snapshot(), before) << "peeking must not write to the ring";
}

TEST(RingFifo, NextOnEmptyRingIsEndAndLeavesTheRecordAlone)
{
    Ring r(1024, 8, 1);
    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    EXPECT_EQ(cur.offset, 0u);
    EXPECT_EQ(cur.remaining, 0u);
    cw_ring_record_t rec{};
    rec.seq = 31337;
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_END);
    EXPECT_EQ(rec.seq, 31337u);
    // END is sticky: asking again does not walk into stale bytes.
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_END);
}

TEST(RingFifo, WalkEndsWithEndAfterTheLastRecordEvenWithStaleBytesBehind)
{
    // Popped records leave their bytes in place; the cursor's count, not
    // the bytes, decides where the walk ends.
    Ring r(1024, 8, 1);
    push(r.get(), 1, bytes_of("a"));
    push(r.get(), 1, bytes_of("b"));
    push(r.get(), 1, bytes_of("c"));
    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    EXPECT_EQ(cur.offset, record_bytes(1));
    EXPECT_EQ(cur.remaining, 2u);
    cw_ring_record_t rec{};
    ASSERT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_OK);
    EXPECT_EQ(rec.seq, 2u);
    ASSERT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_OK);
    EXPECT_EQ(rec.seq, 3u);
    EXPECT_EQ(cur.remaining, 0u);
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_END);
    EXPECT_EQ(rec.seq, 3u) << "END must not overwrite the last record";
}

TEST(RingFifo, PopThroughMiddleSeqPopsOnlyUpToIt)
{
    Ring r(4096, 16, 1);
    for (uint32_t i = 1; i <= 5; i++) {
        push(r.get(), i, pattern(10 * i, i));
    }
    ASSERT_EQ(cw_ring_pop_through(r.get(), 3), CW_RING_OK);
    EXPECT_EQ(r.ix().count, 2u);
    EXPECT_EQ(r.ix().used, record_bytes(40) + record_bytes(50));
    EXPECT_EQ(r.ix().head, record_bytes(10) + record_bytes(20) + record_bytes(30));

    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].seq, 4u);
    EXPECT_EQ(seen[0].kind, 4u);
    EXPECT_EQ(seen[0].bytes, pattern(40, 4));
    EXPECT_EQ(seen[1].seq, 5u);
    EXPECT_EQ(seen[1].bytes, pattern(50, 5));
}

TEST(RingFifo, PopThroughSeqOlderThanHeadPopsNothing)
{
    Ring r(4096, 16, 1);
    for (uint32_t i = 1; i <= 5; i++) {
        push(r.get(), 1, pattern(i, i));
    }
    ASSERT_EQ(cw_ring_pop_through(r.get(), 2), CW_RING_OK);
    const auto data_before = r.data();
    const auto index_before = published(r.get());
    const uint64_t active_before = r->active;

    // A helper that re-pops what it already popped (seq 1, 2) or nothing
    // (seq 0) must not lose records 3..5.  A pop that removes nothing
    // returns OK and writes nothing: not `active`, not the index, not data.
    EXPECT_EQ(cw_ring_pop_through(r.get(), 2), CW_RING_OK);
    EXPECT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    EXPECT_EQ(cw_ring_pop_through(r.get(), 0), CW_RING_OK);
    EXPECT_EQ(r.data(), data_before);
    EXPECT_EQ(published(r.get()), index_before);
    EXPECT_EQ(r->active, active_before);
    EXPECT_EQ(r.ix().count, 3u);
    EXPECT_EQ(peek_all(r.get()).front().seq, 3u);
}

TEST(RingFifo, PopThroughNewestEmptiesAndRewindsOffsets)
{
    Ring r(4096, 16, 1);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), 1, pattern(33, i));
    }
    ASSERT_EQ(cw_ring_pop_through(r.get(), 4), CW_RING_OK);
    EXPECT_EQ(r.ix().count, 0u);
    EXPECT_EQ(r.ix().used, 0u);
    EXPECT_EQ(r.ix().head, 0u);
    EXPECT_EQ(r.ix().tail, 0u);
    EXPECT_EQ(r.ix().next_seq, 5u);
    // The next record starts at offset 0 again and seq keeps counting.
    EXPECT_EQ(push(r.get(), 1, bytes_of("x")), 5u);
    EXPECT_EQ(peek_all(r.get()).front().offset, 0u);
}

TEST(RingFifo, PopThroughOnEmptyRingIsOk)
{
    Ring r(1024, 8, 1);
    EXPECT_EQ(cw_ring_pop_through(r.get(), 100), CW_RING_OK);
    EXPECT_EQ(r.ix().count, 0u);
    EXPECT_EQ(r.ix().used, 0u);
}

// ---------------------------------------------------------------------------
// Limits

TEST(RingLimits, CountCapacityGivesFullAndRecoversAfterPop)
{
    Ring r(4096, 3, 1);
    for (uint32_t i = 1; i <= 3; i++) {
        EXPECT_EQ(push(r.get(), 1, bytes_of("x")), i);
    }
    const auto before = r.snapshot();
    uint64_t seq = 777;
    EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_FULL);
    EXPECT_EQ(seq, 777u) << "a refused push must not hand out a seq";
    EXPECT_EQ(r.snapshot(), before) << "a refused push must change nothing";

    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_OK);
    EXPECT_EQ(seq, 4u) << "the refused push must not have consumed a seq";
    EXPECT_EQ(r.ix().count, 3u);
}

TEST(RingLimits, ByteExhaustionGivesFullAndRecoversAfterPop)
{
    // 256 data bytes, max payload 48: four 64-byte records fill it exactly.
    Ring r(256, 100, 1);
    ASSERT_EQ(cw_ring_max_record(r.get()), 48u);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), 1, pattern(48, i));
    }
    EXPECT_EQ(r.ix().used, 256u);
    EXPECT_EQ(r.ix().tail, 0u);
    EXPECT_EQ(r.ix().head, 0u);

    const auto before = r.snapshot();
    uint64_t seq = 0;
    EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_FULL);
    EXPECT_EQ(r.snapshot(), before);

    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    EXPECT_EQ(r.ix().used, 192u);
    // 64 bytes are free at [0, 64): one more 48-byte record fits, an
    // additional empty one does not.
    EXPECT_EQ(push(r.get(), 1, pattern(48, 5)), 5u);
    EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_FULL);

    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 4u);
    for (uint32_t i = 0; i < 4; i++) {
        EXPECT_EQ(seen[i].seq, i + 2);
        EXPECT_EQ(seen[i].bytes, pattern(48, i + 2));
    }
    EXPECT_EQ(seen[3].offset, 0u);
}

TEST(RingLimits, PartialByteExhaustionRefusesOnlyRecordsThatDoNotFit)
{
    // 200 of 256 bytes taken, tail at 192: 64 bytes left at the end and
    // nothing free before head (at 0).
    Ring r(256, 100, 1);
    push(r.get(), 1, pattern(48, 1));
    push(r.get(), 1, pattern(48, 2));
    push(r.get(), 1, pattern(48, 3));
    ASSERT_EQ(r.ix().tail, 192u);
    uint64_t seq = 0;
    std::vector<unsigned char> p49(49, 0x5a);
    // A 49-byte payload is over the per-record limit anyway.
    EXPECT_EQ(cw_ring_push(r.get(), 1, p49.data(), p49.size(), &seq),
              CW_RING_TOO_LARGE);
    EXPECT_EQ(push(r.get(), 1, pattern(40, 4)), 4u);  // 56 bytes
    ASSERT_EQ(r.ix().tail, 248u);
    // 8 bytes left at the end, head at 0: even an empty record is refused.
    EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_FULL);
    EXPECT_EQ(r.ix().count, 4u);
}

TEST(RingLimits, PayloadOverMaxRecordIsTooLargeAndChangesNothing)
{
    Ring r(1024, 8, 5);
    push(r.get(), 1, bytes_of("keep me"));
    const size_t max = cw_ring_max_record(r.get());
    ASSERT_EQ(max, 240u);

    const auto before = r.snapshot();
    std::vector<unsigned char> big(max + 1, 0xEE);
    uint64_t seq = 999;
    EXPECT_EQ(cw_ring_push(r.get(), 1, big.data(), big.size(), &seq),
              CW_RING_TOO_LARGE);
    EXPECT_EQ(seq, 999u);
    EXPECT_EQ(r.snapshot(), before);

    // Much larger than the ring itself: same answer, and the data pointer is
    // never read (nullptr would crash under ASan if it were).
    EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, size_t{1} << 40, &seq),
              CW_RING_TOO_LARGE);
    EXPECT_EQ(r.snapshot(), before);

    // Exactly max fits.
    std::vector<unsigned char> edge(max, 0x11);
    EXPECT_EQ(cw_ring_push(r.get(), 1, edge.data(), edge.size(), &seq),
              CW_RING_OK);
    EXPECT_EQ(seq, 2u);
}

TEST(RingLimits, TooLargeWinsOverFullForAFullRing)
{
    // The sender must learn that it must not retry (413), even when the ring
    // happens to be full at the time.
    Ring r(1024, 1, 1);
    push(r.get(), 1, bytes_of("x"));
    std::vector<unsigned char> big(cw_ring_max_record(r.get()) + 1);
    uint64_t seq = 0;
    EXPECT_EQ(cw_ring_push(r.get(), 1, big.data(), big.size(), &seq),
              CW_RING_TOO_LARGE);
}

TEST(RingLimits, ZeroCapacityRingRefusesEverything)
{
    Ring r(1024, 0, 1);
    uint64_t seq = 0;
    EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_FULL);
    EXPECT_EQ(r.ix().count, 0u);
    EXPECT_EQ(r.ix().next_seq, 1u);
}

TEST(RingLimits, TinyRingsNeverWriteOutOfBounds)
{
    // data_size 0 and 8 cannot hold even a header; 16 holds exactly one
    // empty record.  A ring of 0 bytes fails index_sane (data_size == 0), so
    // every call on it reports CORRUPT; it changes nothing either way.  (The
    // module never makes one: the zone is at least 128k.)
    {
        Ring r(0, 8, 1);
        const auto before = r.snapshot();
        uint64_t seq = 0;
        EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_CORRUPT);
        EXPECT_EQ(cw_ring_pop_through(r.get(), 10), CW_RING_CORRUPT);
        cw_ring_cursor_t cur = cw_ring_begin(r.get());
        cw_ring_record_t rec{};
        EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT);
        EXPECT_EQ(r.snapshot(), before);
    }
    {
        Ring r(8, 8, 1);
        uint64_t seq = 0;
        EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_FULL);
        EXPECT_EQ(cw_ring_pop_through(r.get(), 10), CW_RING_OK);
    }
    Ring r(16, 8, 1);
    uint64_t seq = 0;
    ASSERT_EQ(cw_ring_push(r.get(), 3, nullptr, 0, &seq), CW_RING_OK);
    EXPECT_EQ(r.ix().used, 16u);
    EXPECT_EQ(r.ix().tail, 0u);
    EXPECT_EQ(cw_ring_push(r.get(), 3, nullptr, 0, &seq), CW_RING_FULL);
    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].seq, 1u);
    EXPECT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    EXPECT_EQ(r.ix().used, 0u);
    EXPECT_EQ(cw_ring_push(r.get(), 3, nullptr, 0, &seq), CW_RING_OK);
    EXPECT_EQ(seq, 2u);
}

// ---------------------------------------------------------------------------
// Wrap-around

TEST(RingWrap, RecordThatDoesNotFitAtTheEndGoesToZeroBehindAWrapMarker)
{
    // 1024 bytes, max payload 240.  Four 216-byte records take [0, 864);
    // after popping the first, a fifth cannot fit in the 160 bytes at the
    // end and goes to [0, 216) instead.
    Ring r(1024, 100, 1);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), i, pattern(200, i));
    }
    ASSERT_EQ(r.ix().tail, 864u);
    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    ASSERT_EQ(r.ix().head, 216u);

    EXPECT_EQ(push(r.get(), 5, pattern(200, 5)), 5u);
    EXPECT_EQ(r.header_at(864).len, kWrapMarkerLen)
        << "160 wasted bytes must start with a wrap marker";
    EXPECT_EQ(r.ix().tail, 216u);
    EXPECT_EQ(r.ix().used, 1024u) << "records plus the 160 wasted bytes";

    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 4u);
    const uint64_t offsets[] = {216, 432, 648, 0};
    for (uint32_t i = 0; i < 4; i++) {
        EXPECT_EQ(seen[i].seq, i + 2);
        EXPECT_EQ(seen[i].kind, i + 2);
        EXPECT_EQ(seen[i].bytes, pattern(200, i + 2));
        EXPECT_EQ(seen[i].offset, offsets[i]);
    }

    // Head stops at the marker: the 160 wasted bytes stay counted until
    // the record behind them (seq 5) is popped.
    ASSERT_EQ(cw_ring_pop_through(r.get(), 4), CW_RING_OK);
    EXPECT_EQ(r.ix().count, 1u);
    EXPECT_EQ(r.ix().head, 864u);
    EXPECT_EQ(r.ix().used, 160u + 216u);
    seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].seq, 5u);
    EXPECT_EQ(seen[0].offset, 0u);
    ASSERT_EQ(cw_ring_pop_through(r.get(), 5), CW_RING_OK);
    EXPECT_EQ(r.ix().used, 0u);
}

TEST(RingWrap, FewerThan16BytesAtTheEndWrapWithoutAMarker)
{
    // 264 bytes, max payload 48: four 64-byte records leave 8 bytes at the
    // end, too few for a header, so the reader must wrap on its own.
    Ring r(264, 100, 1);
    ASSERT_EQ(cw_ring_max_record(r.get()), 48u);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), i, pattern(48, i));
    }
    ASSERT_EQ(r.ix().tail, 256u);
    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);

    // Fill the 8 tail bytes with something that looks like nothing in
    // particular: no marker is written there, and the reader must not care.
    std::memset(r->data + 256, 0xC3, 8);
    EXPECT_EQ(push(r.get(), 5, pattern(48, 5)), 5u);
    EXPECT_EQ(r.ix().tail, 64u);
    EXPECT_EQ(r.ix().used, 264u);
    for (int i = 0; i < 8; i++) {
        EXPECT_EQ(r->data[256 + i], 0xC3) << "nothing is written past 256";
    }

    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[3].seq, 5u);
    EXPECT_EQ(seen[3].offset, 0u);
    EXPECT_EQ(seen[3].bytes, pattern(48, 5));

    // Head stops before the 8 wasted bytes; they are freed with seq 5.
    ASSERT_EQ(cw_ring_pop_through(r.get(), 4), CW_RING_OK);
    EXPECT_EQ(r.ix().head, 256u);
    EXPECT_EQ(r.ix().used, 8u + 64u);
    seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].seq, 5u);
    EXPECT_EQ(seen[0].offset, 0u);
    ASSERT_EQ(cw_ring_pop_through(r.get(), 5), CW_RING_OK);
    EXPECT_EQ(r.ix().used, 0u);
    EXPECT_EQ(r.ix().count, 0u);
}

TEST(RingWrap, RecordEndingExactlyAtTheEndPutsTailAtZero)
{
    Ring r(256, 100, 1);
    for (uint32_t i = 1; i <= 3; i++) {
        push(r.get(), 1, pattern(48, i));
    }
    ASSERT_EQ(cw_ring_pop_through(r.get(), 2), CW_RING_OK);
    push(r.get(), 1, pattern(48, 4));  // [192, 256)
    EXPECT_EQ(r.ix().tail, 0u);
    EXPECT_EQ(r.ix().used, 128u);
    push(r.get(), 1, pattern(48, 5));  // [0, 64), no waste
    EXPECT_EQ(r.ix().tail, 64u);
    EXPECT_EQ(r.ix().used, 192u);
    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].offset, 128u);
    EXPECT_EQ(seen[1].offset, 192u);
    EXPECT_EQ(seen[2].offset, 0u);
    EXPECT_EQ(seen[2].bytes, pattern(48, 5));
}

TEST(RingWrap, WrapRefusedWhenHeadLeavesTooLittleRoomAtTheFront)
{
    Ring r(1024, 100, 1);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), 1, pattern(200, i));  // 216 bytes each, tail 864
    }
    // Head moves to 216 only after the pop; before it nothing fits.
    uint64_t seq = 0;
    const auto before = r.snapshot();
    auto p = pattern(200, 5);
    EXPECT_EQ(cw_ring_push(r.get(), 1, p.data(), p.size(), &seq), CW_RING_FULL);
    EXPECT_EQ(r.snapshot(), before) << "no wrap marker on a refused push";
    // A record that fits in the 160 tail bytes is still taken.
    auto small = pattern(144, 6);
    EXPECT_EQ(cw_ring_push(r.get(), 1, small.data(), small.size(), &seq),
              CW_RING_OK);
    EXPECT_EQ(r.ix().tail, 0u);
    EXPECT_EQ(r.ix().used, 1024u);
}

// The randomized test keeps its own model of where records should land,
// written from the contract: a record goes at the tail when it fits before
// the end of the buffer (or before the head once the tail has wrapped);
// otherwise at offset 0 when it fits before the head; otherwise FULL.
// `used` is the circular distance from head to tail, wrap waste included.
struct ModelRecord {
    uint64_t seq;
    uint32_t kind;
    std::vector<unsigned char> bytes;
    uint64_t offset;
};

struct RingModel {
    uint64_t size = 0;
    uint32_t capacity = 0;
    uint64_t max = 0;
    uint64_t head = 0;
    uint64_t tail = 0;
    uint64_t next_seq = 1;
    std::deque<ModelRecord> q;

    uint64_t used() const
    {
        if (q.empty()) {
            return 0;
        }
        if (tail > head) {
            return tail - head;
        }
        return size - head + tail;  // tail == head: exactly full
    }

    // Where a push of len bytes must land, or nullopt for FULL.
    std::optional<uint64_t> place(uint64_t len) const
    {
        if (q.size() >= capacity) {
            return std::nullopt;
        }
        const uint64_t need = record_bytes(len);
        if (q.empty()) {
            return need <= size ? std::optional<uint64_t>(0) : std::nullopt;
        }
        if (tail == head) {
            return std::nullopt;  // full to the byte
        }
        if (tail > head) {
            if (size - tail >= need) {
                return tail;
            }
            if (head >= need) {
                return 0;
            }
            return std::nullopt;
        }
        if (head - tail >= need) {
            return tail;
        }
        return std::nullopt;
    }
};

struct RandomCase {
    size_t data_size;
    uint32_t capacity;
    uint32_t seed;
};

void PrintTo(const RandomCase& c, std::ostream* os)
{
    *os << "{data_size " << c.data_size << ", capacity " << c.capacity
        << ", seed " << c.seed << "}";
}

class RingRandomized : public ::testing::TestWithParam<RandomCase> {};

TEST_P(RingRandomized, ManyPushPopCyclesMatchADequeModel)
{
    const RandomCase c = GetParam();
    Ring r(c.data_size, c.capacity, 0xE90C);
    std::mt19937 rng(c.seed);
    RingModel m;
    m.size = r->data_size;
    m.capacity = c.capacity;
    m.max = cw_ring_max_record(r.get());
    ASSERT_GT(m.max, 0u);

    // How often each interesting path ran: the test is void if a path never
    // ran, so those counts are asserted at the end.
    int pushes = 0, full_count = 0, full_bytes = 0, too_large = 0;
    int wraps_marker = 0, wraps_short = 0, empties = 0, pops = 0, noop_pops = 0;
    int exact_end = 0;
    uint64_t active = r->active;

    auto pick_len = [&]() -> uint64_t {
        uint32_t roll = rng() % 100;
        // Aim at the edges: a record that leaves exactly 8 bytes (no room
        // for a wrap marker) or 0 bytes at the end of the buffer.  Random
        // lengths alone reach these rarely in large rings.
        if (roll < 6 && !m.q.empty() && m.tail > m.head) {
            const uint64_t gap = m.size - m.tail - (roll < 4 ? 8 : 0);
            if (gap >= kHeader && gap - kHeader <= m.max) {
                // Up to 7 bytes shorter still pads to the same size.
                const uint64_t exact = gap - kHeader;
                return exact - std::min<uint64_t>(rng() % 8, exact);
            }
        }
        if (roll < 10) {
            return 0;
        }
        if (roll < 18) {
            return m.max;
        }
        if (roll < 22) {
            return m.max + 1 + rng() % 64;
        }
        return rng() % (m.max + 1);
    };

    auto check_state = [&](int step) {
        ASSERT_EQ(r.ix().count, m.q.size()) << "step " << step;
        ASSERT_EQ(r.ix().used, m.used()) << "step " << step;
        ASSERT_EQ(r.ix().next_seq, m.next_seq) << "step " << step;
        if (m.q.empty()) {
            ASSERT_EQ(r.ix().used, 0u) << "step " << step;
            ASSERT_EQ(r.ix().head, 0u) << "step " << step;
            ASSERT_EQ(r.ix().tail, 0u) << "step " << step;
        } else {
            ASSERT_EQ(r.ix().head, m.head) << "step " << step;
            ASSERT_EQ(r.ix().tail, m.tail) << "step " << step;
        }
        ASSERT_LE(r.ix().used, r->data_size);
    };

    auto check_contents = [&](int step) {
        auto seen = peek_all(r.get());
        ASSERT_EQ(seen.size(), m.q.size()) << "step " << step;
        for (size_t i = 0; i < seen.size(); i++) {
            ASSERT_EQ(seen[i].seq, m.q[i].seq) << "step " << step;
            ASSERT_EQ(seen[i].kind, m.q[i].kind) << "step " << step;
            ASSERT_EQ(seen[i].offset, m.q[i].offset) << "step " << step;
            ASSERT_EQ(seen[i].bytes, m.q[i].bytes) << "step " << step;
        }
    };

    constexpr int kSteps = 20000;
    for (int step = 0; step < kSteps; step++) {
        const bool do_push = m.q.empty() || rng() % 100 < 58;
        if (do_push) {
            const uint64_t len = pick_len();
            std::vector<unsigned char> payload(len);
            for (auto& b : payload) {
                b = static_cast<unsigned char>(rng());
            }
            const uint32_t kind = rng() % 5;
            const auto before = r.snapshot();
            const IndexFields old_index = published(r.get());
            uint64_t seq = 0;
            cw_ring_rc_t rc = cw_ring_push(r.get(), kind, payload.data(),
                                           payload.size(), &seq);
            if (len > m.max) {
                ASSERT_EQ(rc, CW_RING_TOO_LARGE) << "step " << step;
                ASSERT_EQ(r.snapshot(), before) << "step " << step;
                too_large++;
                continue;
            }
            std::optional<uint64_t> at = m.place(len);
            if (!at) {
                ASSERT_EQ(rc, CW_RING_FULL) << "step " << step << " len " << len;
                if (m.q.size() >= m.capacity) {
                    full_count++;
                } else {
                    full_bytes++;
                }
                // A refused push publishes nothing: not even the offsets of
                // an empty ring are rewound, `active` stays, and neither
                // index copy nor the data changes.
                ASSERT_EQ(r.snapshot(), before) << "step " << step;
                check_state(step);
                continue;
            }
            ASSERT_EQ(rc, CW_RING_OK) << "step " << step << " len " << len;
            ASSERT_EQ(seq, m.next_seq) << "step " << step;
            ASSERT_EQ(r->active, active + 1) << "one flip per push";
            active++;
            ASSERT_EQ(fields(r.inactive()), old_index) << "step " << step;
            if (m.q.empty()) {
                m.head = 0;
                m.tail = 0;
            }
            if (*at == 0 && m.tail != 0) {
                const uint64_t waste = m.size - m.tail;
                if (waste >= kHeader) {
                    ASSERT_EQ(r.header_at(m.tail).len, kWrapMarkerLen)
                        << "step " << step;
                    wraps_marker++;
                } else {
                    wraps_short++;
                }
            }
            m.q.push_back({m.next_seq++, kind, std::move(payload), *at});
            m.tail = (*at + record_bytes(len)) % m.size;
            if (m.tail == 0) {
                exact_end++;
            }
            pushes++;
        } else {
            // Pop through a random element, or a seq older than the head.
            const size_t k = rng() % (m.q.size() + 1);
            uint64_t through;
            if (k == 0) {
                through = m.q.front().seq - 1 - rng() % std::min<uint64_t>(
                    m.q.front().seq, 3);
                noop_pops++;
            } else {
                through = m.q[k - 1].seq;
            }
            const IndexFields old_index = published(r.get());
            ASSERT_EQ(cw_ring_pop_through(r.get(), through), CW_RING_OK)
                << "step " << step;
            if (k == 0) {
                // Nothing removed: nothing published.
                ASSERT_EQ(r->active, active) << "no flip for an empty pop";
                ASSERT_EQ(published(r.get()), old_index) << "step " << step;
            } else {
                ASSERT_EQ(r->active, active + 1) << "one flip per pop";
                active++;
                // The index that was current stays whole in the other copy.
                ASSERT_EQ(fields(r.inactive()), old_index) << "step " << step;
            }
            for (size_t i = 0; i < k; i++) {
                const auto& rec = m.q.front();
                m.head = (rec.offset + record_bytes(rec.bytes.size())) % m.size;
                m.q.pop_front();
            }
            if (m.q.empty()) {
                m.head = 0;
                m.tail = 0;
                empties++;
            }
            pops++;
        }
        check_state(step);
        if (step % 7 == 0) {
            check_contents(step);
        }
        if (::testing::Test::HasFatalFailure()) {
            return;
        }
    }
    check_contents(kSteps);

    // Drain: bookkeeping must return to exactly zero.
    ASSERT_EQ(cw_ring_pop_through(r.get(), m.next_seq), CW_RING_OK);
    EXPECT_EQ(r.ix().count, 0u);
    EXPECT_EQ(r.ix().used, 0u);
    EXPECT_EQ(r.ix().head, 0u);
    EXPECT_EQ(r.ix().tail, 0u);

    EXPECT_GT(pushes, 1000);
    EXPECT_GT(pops, 1000);
    EXPECT_GT(too_large, 10);
    EXPECT_GT(full_bytes, 10);
    EXPECT_GT(wraps_marker, 10);
    EXPECT_GT(wraps_short, 10);
    EXPECT_GT(exact_end, 10);
    EXPECT_GT(empties, 10);
    EXPECT_GT(noop_pops, 10);
    if (c.capacity < 20) {
        EXPECT_GT(full_count, 10);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, RingRandomized,
    ::testing::Values(RandomCase{4096, 6, 1}, RandomCase{1000, 1000, 2},
                      RandomCase{520, 6, 3}, RandomCase{8192, 4000, 4}),
    [](const ::testing::TestParamInfo<RandomCase>& info) {
        return "size" + std::to_string(info.param.data_size) + "_cap"
               + std::to_string(info.param.capacity);
    });

// ---------------------------------------------------------------------------
// Crash and corruption

TEST(RingCrash, GarbagePastTheTailFromADeadProducerIsInvisible)
{
    Ring r(1024, 16, 1);
    push(r.get(), 1, bytes_of("one"));
    push(r.get(), 2, bytes_of("two"));
    push(r.get(), 3, bytes_of("three"));
    const uint64_t tail = r.ix().tail;

    // A producer that died after writing its record but before publishing:
    // a plausible header (the seq it would have got) and payload past the
    // tail, then random junk to the end of the buffer.
    r.write_header(tail, RawHeader{r.ix().next_seq, 5, 1});
    std::memcpy(r->data + tail + kHeader, "ghost", 5);
    std::mt19937 rng(7);
    for (uint64_t i = tail + kHeader + 8; i < r->data_size; i++) {
        r->data[i] = static_cast<unsigned char>(rng());
    }

    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].bytes, bytes_of("one"));
    EXPECT_EQ(seen[1].bytes, bytes_of("two"));
    EXPECT_EQ(seen[2].bytes, bytes_of("three"));
    EXPECT_EQ(r.ix().next_seq, 4u);

    // The next push takes the same spot and the same seq; the ghost is gone.
    EXPECT_EQ(push(r.get(), 4, bytes_of("four!")), 4u);
    seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[3].seq, 4u);
    EXPECT_EQ(seen[3].kind, 4u);
    EXPECT_EQ(seen[3].offset, tail);
    EXPECT_EQ(seen[3].bytes, bytes_of("four!"));

    ASSERT_EQ(cw_ring_pop_through(r.get(), 4), CW_RING_OK);
    EXPECT_EQ(r.ix().used, 0u);
}

TEST(RingCrash, DeadProducerMidWrapLeavesPublishedRecordsIntact)
{
    // Tail near the end, head past the front: a dying producer wrote a wrap
    // marker at the tail and a record at 0, then died unpublished.
    Ring r(1024, 100, 1);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), 1, pattern(200, i));
    }
    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    const uint64_t tail = r.ix().tail;  // 864
    r.write_header(tail, RawHeader{0, kWrapMarkerLen, 0});
    r.write_header(0, RawHeader{r.ix().next_seq, 100, 1});
    std::memset(r->data + kHeader, 0xDD, 100);

    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 3u);
    for (uint32_t i = 0; i < 3; i++) {
        EXPECT_EQ(seen[i].seq, i + 2);
        EXPECT_EQ(seen[i].bytes, pattern(200, i + 2));
    }

    // A smaller record that fits at the old tail overwrites the stale marker.
    EXPECT_EQ(push(r.get(), 1, pattern(50, 9)), 5u);
    seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[3].offset, tail);
    EXPECT_EQ(seen[3].bytes, pattern(50, 9));
    ASSERT_EQ(cw_ring_pop_through(r.get(), 5), CW_RING_OK);
    EXPECT_EQ(r.ix().used, 0u);
}

TEST(RingCorrupt, AbsurdLengthInAPublishedHeaderIsCorruptNotAnOverread)
{
    Ring r(1024, 16, 1);
    push(r.get(), 1, bytes_of("aaaa"));
    push(r.get(), 1, bytes_of("bbbb"));
    push(r.get(), 1, bytes_of("cccc"));
    const uint64_t second = record_bytes(4);

    RawHeader h = r.header_at(second);
    h.len = 0x7FFFFFF0;
    r.write_header(second, h);

    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    cw_ring_record_t rec{};
    ASSERT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_OK);
    EXPECT_EQ(rec.seq, 1u);
    const cw_ring_cursor_t at_second = cur;
    cw_ring_record_t untouched{};
    untouched.seq = 12345;
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &untouched), CW_RING_CORRUPT);
    EXPECT_EQ(untouched.seq, 12345u) << "no partial record on corruption";
    EXPECT_EQ(cur.offset, at_second.offset);
    EXPECT_EQ(cur.remaining, at_second.remaining);
}

TEST(RingCorrupt, LengthJustOverMaxRecordIsCorrupt)
{
    Ring r(1024, 16, 1);
    push(r.get(), 1, bytes_of("x"));
    RawHeader h = r.header_at(0);
    h.len = static_cast<uint32_t>(cw_ring_max_record(r.get()) + 1);
    r.write_header(0, h);
    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    cw_ring_record_t rec{};
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT);
    EXPECT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_CORRUPT);
    EXPECT_EQ(r.ix().count, 1u) << "a corrupt record is not popped";
}

TEST(RingCorrupt, WrapMarkerLengthAtOffsetZeroIsCorrupt)
{
    // The largest length of all is also the wrap marker: at offset 0 it
    // sends the reader back to offset 0, which must not loop or overread.
    Ring r(1024, 16, 1);
    push(r.get(), 1, bytes_of("x"));
    RawHeader h = r.header_at(0);
    h.len = kWrapMarkerLen;
    r.write_header(0, h);
    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    cw_ring_record_t rec{};
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT);
    EXPECT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_CORRUPT);
}

TEST(RingCorrupt, LengthRunningPastTheEndOfTheBufferIsCorrupt)
{
    // A length within the per-record limit that would still run past the
    // end of data[] from where the record sits.
    Ring r(1024, 100, 1);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), 1, pattern(200, i));  // last one at [648, 864)
    }
    push(r.get(), 1, pattern(80, 5));  // [864, 960)
    RawHeader h = r.header_at(864);
    ASSERT_EQ(h.seq, 5u);
    h.len = 200;  // 864 + 216 > 1024
    r.write_header(864, h);

    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    cw_ring_record_t rec{};
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_OK);
    }
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT);
}

TEST(RingCorrupt, ImpossibleSeqIsCorrupt)
{
    Ring r(1024, 16, 1);
    push(r.get(), 1, bytes_of("x"));
    push(r.get(), 1, bytes_of("y"));
    const uint64_t second = record_bytes(1);

    for (uint64_t bad : {uint64_t{0}, uint64_t{3}, uint64_t{1} << 60}) {
        RawHeader h = r.header_at(second);
        h.seq = bad;  // 0 is never given; 3 and beyond not yet
        r.write_header(second, h);
        cw_ring_cursor_t cur = cw_ring_begin(r.get());
        cw_ring_record_t rec{};
        ASSERT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_OK);
        EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT)
            << "seq " << bad;
    }
}

TEST(RingCorrupt, CursorOffsetOutsideTheBufferIsCorrupt)
{
    Ring r(1024, 16, 1);
    push(r.get(), 1, bytes_of("x"));
    cw_ring_cursor_t cur{r->data_size, 1, 1};
    cw_ring_record_t rec{};
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT);
    cur = {~uint64_t{0}, 1, 1};
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT);
}

TEST(RingCorrupt, PopThroughFreeingMoreThanUsedIsCorrupt)
{
    // A header whose length is legal but larger than what was pushed makes
    // the pop free more bytes than the ring accounts for.
    Ring r(1024, 16, 1);
    push(r.get(), 1, bytes_of("x"));  // 24 bytes used
    RawHeader h = r.header_at(0);
    h.len = 200;
    r.write_header(0, h);
    EXPECT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_CORRUPT);
    EXPECT_EQ(r.ix().count, 1u);
    EXPECT_EQ(r.ix().used, 24u);
}

// ---------------------------------------------------------------------------
// Corrupt index: head, tail, used or count scribbled over in shared memory.
//
// Every operation checks the published index before it uses an offset from
// it, so a head or tail at or past data_size is reported as CORRUPT and
// nothing is read or written out of bounds.  (These were KNOWN_BUG tests
// against the ring before the index was validated: pop_through read, and
// push wrote, outside data[].)  To keep stray accesses deterministic even
// without ASan, the ring sits at the start of a larger allocation, so they
// would land in a guard area the test owns and inspects.

class GuardedRing {
public:
    static constexpr size_t kGuard = 1024;

    GuardedRing(size_t data_size, uint32_t capacity)
        : mem_((cw_ring_footprint(data_size) + kGuard) / sizeof(uint64_t))
    {
        cw_ring_init(get(), data_size, capacity, 1);
        std::memset(guard(), 0x5A, kGuard);
    }

    cw_ring_t* get() { return reinterpret_cast<cw_ring_t*>(mem_.data()); }
    unsigned char* guard() { return get()->data + get()->data_size; }

    // The published index, writable, to corrupt it.
    cw_ring_index_t& scribble()
    {
        return const_cast<cw_ring_index_t&>(*cw_ring_current(get()));
    }

    std::vector<unsigned char> data()
    {
        return {get()->data, get()->data + get()->data_size};
    }

    // Every byte: ring header, both index copies, data and guard.
    std::vector<unsigned char> snapshot() const
    {
        const auto* p = reinterpret_cast<const unsigned char*>(mem_.data());
        return {p, p + mem_.size() * sizeof(uint64_t)};
    }

    bool guard_intact()
    {
        return std::all_of(guard(), guard() + kGuard,
                           [](unsigned char b) { return b == 0x5A; });
    }

private:
    std::vector<uint64_t> mem_;
};

TEST(RingCorruptIndex, PopThroughWithHeadPastTheBufferIsCorrupt)
{
    GuardedRing g(1024, 16);
    cw_ring_t* r = g.get();
    push(r, 1, bytes_of("aaaa"));
    push(r, 1, bytes_of("bbbb"));
    // A plausible record header in the guard area, where the broken head
    // points: a pop that read it would "succeed".
    const uint64_t bad_head = r->data_size + 64;
    RawHeader fake{1, 4, 1};
    std::memcpy(r->data + bad_head, &fake, sizeof fake);
    g.scribble().head = bad_head;

    const auto before = g.snapshot();
    const auto data_before = g.data();
    const IndexFields index_before = published(r);
    const uint64_t active_before = r->active;

    // The peek side refuses this head...
    cw_ring_cursor_t cur = cw_ring_begin(r);
    cw_ring_record_t rec{};
    rec.seq = 4242;
    EXPECT_EQ(cw_ring_next(r, &cur, &rec), CW_RING_CORRUPT);
    EXPECT_EQ(rec.seq, 4242u);
    // ...and so does the pop side, without touching anything.
    EXPECT_EQ(cw_ring_pop_through(r, 1), CW_RING_CORRUPT);
    EXPECT_EQ(cw_ring_pop_through(r, 0), CW_RING_CORRUPT);
    // And the push side.
    uint64_t seq = 777;
    EXPECT_EQ(cw_ring_push(r, 1, nullptr, 0, &seq), CW_RING_CORRUPT);
    EXPECT_EQ(seq, 777u);

    EXPECT_EQ(published(r), index_before);
    EXPECT_EQ(cw_ring_current(r)->head, bad_head);
    EXPECT_EQ(cw_ring_current(r)->count, 2u);
    EXPECT_EQ(cw_ring_current(r)->used, 2 * record_bytes(4));
    EXPECT_EQ(r->active, active_before) << "nothing may be published";
    EXPECT_EQ(g.data(), data_before);
    EXPECT_EQ(g.snapshot(), before);
}

TEST(RingCorruptIndex, PushWithTailPastTheBufferIsCorruptAndWritesNothing)
{
    GuardedRing g(1024, 16);
    cw_ring_t* r = g.get();
    push(r, 1, bytes_of("aaaa"));
    g.scribble().tail = r->data_size + 64;  // broken: tail outside data[]

    const auto before = g.snapshot();
    const auto data_before = g.data();
    const IndexFields index_before = published(r);
    uint64_t seq = 0;
    const auto p = pattern(40, 1);
    EXPECT_EQ(cw_ring_push(r, 1, p.data(), p.size(), &seq), CW_RING_CORRUPT);
    EXPECT_EQ(seq, 0u);
    EXPECT_TRUE(g.guard_intact()) << "cw_ring_push wrote past data[]";
    EXPECT_EQ(published(r), index_before);
    EXPECT_EQ(g.data(), data_before);
    EXPECT_EQ(g.snapshot(), before);
    EXPECT_EQ(cw_ring_pop_through(r, 1), CW_RING_CORRUPT);
    EXPECT_EQ(g.snapshot(), before);
}

TEST(RingCorruptIndex, PushWithHeadPastTheBufferIsCorruptAndWritesNothing)
{
    // tail < head would send push down the "free space is [tail, head)"
    // branch; a head past data_size would let a record run over the end of
    // data[].
    GuardedRing g(1024, 16);
    cw_ring_t* r = g.get();
    for (uint32_t i = 1; i <= 5; i++) {
        push(r, 1, pattern(184, i));  // 200 bytes each, tail at 1000
    }
    ASSERT_EQ(cw_ring_current(r)->tail, 1000u);
    g.scribble().head = r->data_size + 512;

    const auto before = g.snapshot();
    const auto data_before = g.data();
    const IndexFields index_before = published(r);
    uint64_t seq = 0;
    const auto p = pattern(100, 9);  // 120 bytes from offset 1000
    EXPECT_EQ(cw_ring_push(r, 1, p.data(), p.size(), &seq), CW_RING_CORRUPT);
    EXPECT_EQ(seq, 0u);
    EXPECT_TRUE(g.guard_intact()) << "cw_ring_push wrote past data[]";
    EXPECT_EQ(published(r), index_before);
    EXPECT_EQ(g.data(), data_before);
    EXPECT_EQ(g.snapshot(), before);
}

// Each way an index can be out of range or inconsistent, applied to the
// published index of a ring in one of three states:
//   kPlain    head 216, tail 864, used 648, count 3, next_seq 5
//   kWrapped  head 432, tail 216, used 808 (160 of them wrap waste),
//             count 3, next_seq 6
//   kFull     head 216, tail 216, used 1024, count 4, next_seq 6
enum RingState { kPlain, kWrapped, kFull };

void make_state(Ring& r, RingState state)
{
    const uint64_t e = r.ix().epoch;
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), 1, pattern(200, i));  // 216 bytes each
    }
    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    if (state == kPlain) {
        ASSERT_EQ(fields(r.ix()), (IndexFields{e, 5, 216, 864, 648, 3}));
        return;
    }
    push(r.get(), 1, pattern(200, 5));  // wraps to [0, 216)
    if (state == kFull) {
        ASSERT_EQ(fields(r.ix()), (IndexFields{e, 6, 216, 216, 1024, 4}));
        return;
    }
    ASSERT_EQ(cw_ring_pop_through(r.get(), 2), CW_RING_OK);
    ASSERT_EQ(fields(r.ix()), (IndexFields{e, 6, 432, 216, 808, 3}));
}

struct Corruption {
    const char* what;
    RingState state;
    void (*apply)(cw_ring_index_t& ix, uint64_t size);
};

void PrintTo(const Corruption& c, std::ostream* os) { *os << c.what; }

class RingCorruptIndexTable : public ::testing::TestWithParam<Corruption> {};

TEST_P(RingCorruptIndexTable, EveryOperationIsCorruptAndChangesNothing)
{
    const Corruption c = GetParam();
    Ring r(1024, 100, 1);
    make_state(r, c.state);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    c.apply(r.scribble(), r->data_size);

    const auto before = r.snapshot();
    const IndexFields index_before = published(r.get());
    const uint64_t active_before = r->active;

    uint64_t seq = 31337;
    const auto p = pattern(8, 1);
    EXPECT_EQ(cw_ring_push(r.get(), 1, p.data(), p.size(), &seq),
              CW_RING_CORRUPT);
    EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_CORRUPT);
    EXPECT_EQ(seq, 31337u);
    for (uint64_t through : {uint64_t{0}, uint64_t{2}, uint64_t{3},
                             uint64_t{5}, ~uint64_t{0}}) {
        EXPECT_EQ(cw_ring_pop_through(r.get(), through), CW_RING_CORRUPT)
            << "pop through " << through;
    }
    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    cw_ring_record_t rec{};
    rec.seq = 31337;
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT);
    EXPECT_EQ(rec.seq, 31337u) << "no record from a corrupt index";

    EXPECT_EQ(r->active, active_before) << "nothing may be published";
    EXPECT_EQ(published(r.get()), index_before);
    EXPECT_EQ(r.snapshot(), before);

    // The helper's answer, a reset, makes the ring usable again.
    cw_ring_reset(r.get(), 2);
    EXPECT_EQ(r.ix().epoch, 2u);
    EXPECT_EQ(r.ix().count, 0u);
    EXPECT_EQ(cw_ring_push(r.get(), 1, p.data(), p.size(), &seq), CW_RING_OK);
    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].seq, seq);
    EXPECT_EQ(seen[0].bytes, p);
    EXPECT_EQ(seen[0].offset, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Fields, RingCorruptIndexTable,
    ::testing::Values(
        Corruption{"HeadAtDataSize", kPlain,
                   [](cw_ring_index_t& ix, uint64_t size) { ix.head = size; }},
        Corruption{"HeadHuge", kPlain,
                   [](cw_ring_index_t& ix, uint64_t) { ix.head = ~uint64_t{0}; }},
        Corruption{"HeadHugeWrapped", kWrapped,
                   [](cw_ring_index_t& ix, uint64_t) {
                       ix.head = uint64_t{1} << 62;
                   }},
        Corruption{"TailAtDataSize", kPlain,
                   [](cw_ring_index_t& ix, uint64_t size) { ix.tail = size; }},
        Corruption{"TailHuge", kWrapped,
                   [](cw_ring_index_t& ix, uint64_t) { ix.tail = ~uint64_t{0}; }},
        Corruption{"HeadMisalignedSpanStillMatches", kPlain,
                   [](cw_ring_index_t& ix, uint64_t) {
                       ix.head += 4;
                       ix.used -= 4;
                   }},
        Corruption{"TailMisalignedSpanStillMatches", kPlain,
                   [](cw_ring_index_t& ix, uint64_t) {
                       ix.tail += 4;
                       ix.used += 4;
                   }},
        Corruption{"UsedOverDataSize", kFull,
                   [](cw_ring_index_t& ix, uint64_t size) { ix.used = size + 8; }},
        Corruption{"UsedHuge", kPlain,
                   [](cw_ring_index_t& ix, uint64_t) { ix.used = ~uint64_t{0}; }},
        Corruption{"UsedOver8MoreThanSpan", kPlain,
                   [](cw_ring_index_t& ix, uint64_t) { ix.used += 8; }},
        Corruption{"Used8LessThanSpan", kPlain,
                   [](cw_ring_index_t& ix, uint64_t) { ix.used -= 8; }},
        Corruption{"UsedZeroWithRecords", kPlain,
                   [](cw_ring_index_t& ix, uint64_t) { ix.used = 0; }},
        Corruption{"WrappedUsed8MoreThanSpan", kWrapped,
                   [](cw_ring_index_t& ix, uint64_t) { ix.used += 8; }},
        Corruption{"WrappedUsed8LessThanSpan", kWrapped,
                   [](cw_ring_index_t& ix, uint64_t) { ix.used -= 8; }},
        Corruption{"WrappedUsedIsTheUnwrappedDistance", kWrapped,
                   [](cw_ring_index_t& ix, uint64_t) {
                       ix.used = ix.head - ix.tail;
                   }},
        Corruption{"TailEqualsHeadButNotFull", kWrapped,
                   [](cw_ring_index_t& ix, uint64_t) { ix.tail = ix.head; }},
        Corruption{"FullRingUsed8Short", kFull,
                   [](cw_ring_index_t& ix, uint64_t size) { ix.used = size - 8; }},
        Corruption{"FullRingCountZero", kFull,
                   [](cw_ring_index_t& ix, uint64_t) { ix.count = 0; }},
        Corruption{"CountZeroUsedNonzero", kPlain,
                   [](cw_ring_index_t& ix, uint64_t) { ix.count = 0; }},
        Corruption{"NextSeqZero", kPlain,
                   [](cw_ring_index_t& ix, uint64_t) { ix.next_seq = 0; }},
        Corruption{"CountEqualsNextSeq", kPlain,
                   [](cw_ring_index_t& ix, uint64_t) {
                       ix.count = ix.next_seq;
                   }},
        Corruption{"CountHuge", kWrapped,
                   [](cw_ring_index_t& ix, uint64_t) {
                       ix.count = ~uint64_t{0};
                   }}),
    [](const ::testing::TestParamInfo<Corruption>& info) {
        return std::string(info.param.what);
    });

TEST(RingCorruptIndex, EmptyIndexWithStaleOffsetsIsSaneAndRewoundByPush)
{
    // count 0 and used 0 is an empty ring wherever head and tail point
    // (aligned, inside data[]): the next push starts over at 0.
    Ring r(1024, 16, 1);
    r.scribble().head = 512;
    r.scribble().tail = 96;
    uint64_t seq = 0;
    const auto p = pattern(30, 3);
    ASSERT_EQ(cw_ring_push(r.get(), 1, p.data(), p.size(), &seq), CW_RING_OK);
    EXPECT_EQ(seq, 1u);
    EXPECT_EQ(fields(r.ix()), (IndexFields{1, 2, 0, record_bytes(30),
                                           record_bytes(30), 1}));
    EXPECT_EQ(peek_all(r.get()).at(0).bytes, p);

    // A pop of an empty ring with stale offsets: OK, and it writes nothing
    // (the next push rewinds them).
    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    r.scribble().head = 1016;
    r.scribble().tail = 8;
    const uint64_t active = r->active;
    EXPECT_EQ(cw_ring_pop_through(r.get(), 5), CW_RING_OK);
    EXPECT_EQ(r->active, active);
    EXPECT_EQ(fields(r.ix()), (IndexFields{1, 2, 1016, 8, 0, 0}));
    ASSERT_EQ(cw_ring_push(r.get(), 1, p.data(), p.size(), &seq), CW_RING_OK);
    EXPECT_EQ(fields(r.ix()), (IndexFields{1, 3, 0, record_bytes(30),
                                           record_bytes(30), 1}));
}

TEST(RingCorruptIndex, CountBelowTheRecordsHeldIsCaughtByPop)
{
    // A `count` scribbled lower than the records between head and tail
    // (with `used` still matching) would let a pop stop early and drop the
    // rest as if they were gone.  The pop must see the bytes left over.
    Ring r(1024, 16, 1);
    for (uint32_t i = 1; i <= 3; i++) {
        push(r.get(), 1, pattern(10 * i, i));
    }
    r.scribble().count = 2;
    const auto before = r.snapshot();
    EXPECT_EQ(cw_ring_pop_through(r.get(), 3), CW_RING_CORRUPT);
    EXPECT_EQ(r.snapshot(), before);
}

TEST(RingCorruptIndex, CountJustUnderNextSeqIsSane)
{
    // count < next_seq is the bound: with no pops yet, count is next_seq - 1.
    Ring r(1024, 16, 1);
    for (uint32_t i = 1; i <= 3; i++) {
        push(r.get(), 1, pattern(i, i));
    }
    EXPECT_EQ(r.ix().count, 3u);
    EXPECT_EQ(r.ix().next_seq, 4u);
    EXPECT_EQ(peek_all(r.get()).size(), 3u);
    EXPECT_EQ(push(r.get(), 1, pattern(4, 4)), 4u);
}

TEST(RingCorruptIndex, CountLargerThanTheRecordsIsCaughtByTheWalkAndThePop)
{
    // An index whose count claims one record more than the bytes between head
    // and tail hold passes the O(1) check, but the walk and the pop reach
    // the tail (zeroed bytes here, never a valid header) and refuse.
    Ring r(1024, 100, 1);
    make_state(r, kPlain);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    r.scribble().count = 4;  // 4 < next_seq 5: sane as far as index_sane goes
    const auto before = r.snapshot();

    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    EXPECT_EQ(cur.remaining, 4u);
    cw_ring_record_t rec{};
    for (uint64_t s = 2; s <= 4; s++) {
        ASSERT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_OK);
        EXPECT_EQ(rec.seq, s);
    }
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT);
    EXPECT_EQ(cw_ring_pop_through(r.get(), 100), CW_RING_CORRUPT);
    EXPECT_EQ(r.snapshot(), before) << "a failed pop publishes nothing";
    // Popping only the records that are really there still works.
    EXPECT_EQ(cw_ring_pop_through(r.get(), 3), CW_RING_OK);
    EXPECT_EQ(r.ix().count, 2u);
}

TEST(RingCorruptIndex, PopHittingACorruptRecordMidBatchPublishesNothing)
{
    // Records 1 and 2 are fine, 3 is broken: a pop through 4 must not
    // publish the removal of 1 and 2 either.
    Ring r(1024, 16, 1);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), 1, pattern(8, i));
    }
    const uint64_t third = 2 * record_bytes(8);
    RawHeader h = r.header_at(third);
    ASSERT_EQ(h.seq, 3u);
    h.seq = 0;
    r.write_header(third, h);
    const auto before = r.snapshot();
    EXPECT_EQ(cw_ring_pop_through(r.get(), 4), CW_RING_CORRUPT);
    EXPECT_EQ(r.snapshot(), before);
    EXPECT_EQ(r.ix().count, 4u);
    EXPECT_EQ(r.ix().head, 0u);
}

// ---------------------------------------------------------------------------
// Reset

TEST(RingReset, ResetEmptiesChangesEpochAndSeqContinues)
{
    Ring r(1024, 16, 0xAAAA);
    push(r.get(), 1, bytes_of("a"));
    push(r.get(), 1, bytes_of("b"));
    push(r.get(), 1, bytes_of("c"));
    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);

    cw_ring_reset(r.get(), 0xBBBB);
    EXPECT_EQ(r.ix().epoch, 0xBBBBu);
    EXPECT_EQ(r.ix().count, 0u);
    EXPECT_EQ(r.ix().used, 0u);
    EXPECT_EQ(r.ix().head, 0u);
    EXPECT_EQ(r.ix().tail, 0u);
    EXPECT_EQ(r->capacity, 16u);
    EXPECT_EQ(r->data_size, 1024u);
    EXPECT_EQ(r.ix().next_seq, 4u) << "reset keeps counting seqs";

    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    EXPECT_EQ(cur.remaining, 0u);
    cw_ring_record_t rec{};
    EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_END);

    EXPECT_EQ(push(r.get(), 7, bytes_of("after")), 4u);
    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].seq, 4u);
    EXPECT_EQ(seen[0].kind, 7u);
    EXPECT_EQ(seen[0].offset, 0u);
    EXPECT_EQ(seen[0].bytes, bytes_of("after"));
}

TEST(RingReset, ResetRecoversFromCorruption)
{
    Ring r(1024, 16, 1);
    push(r.get(), 1, bytes_of("x"));
    RawHeader h = r.header_at(0);
    h.len = 0x7FFFFFFF;
    r.write_header(0, h);
    cw_ring_cursor_t cur = cw_ring_begin(r.get());
    cw_ring_record_t rec{};
    ASSERT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT);

    cw_ring_reset(r.get(), 2);
    EXPECT_EQ(push(r.get(), 1, bytes_of("fresh")), 2u);
    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].bytes, bytes_of("fresh"));
}


TEST(RingReset, ResetPublishesOnceKeepsTheOldIndexAsideAndLeavesDataAlone)
{
    Ring r(1024, 100, 0xAAAA);
    make_state(r, kFull);  // wrapped and full to the byte
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    const IndexFields old_index = published(r.get());
    const auto data_before = r.data();
    const uint64_t active_before = r->active;

    cw_ring_reset(r.get(), 0xBBBB);
    EXPECT_EQ(r->active, active_before + 1);
    EXPECT_EQ(fields(r.ix()), (IndexFields{0xBBBB, 6, 0, 0, 0, 0}));
    EXPECT_EQ(fields(r.inactive()), old_index)
        << "the index before the reset stays whole in the other copy";
    EXPECT_EQ(r.data(), data_before) << "reset writes no record bytes";
    EXPECT_EQ(r->capacity, 100u);
    EXPECT_EQ(r->data_size, 1024u);
    EXPECT_EQ(peek_all(r.get()).size(), 0u);

    EXPECT_EQ(push(r.get(), 1, pattern(200, 9)), 6u) << "seq continues";
    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].offset, 0u);
    EXPECT_EQ(seen[0].bytes, pattern(200, 9));

    // Each reset publishes once and the latest epoch wins.
    cw_ring_reset(r.get(), 0xCCCC);
    cw_ring_reset(r.get(), 0xDDDD);
    EXPECT_EQ(r->active, active_before + 4);
    EXPECT_EQ(fields(r.ix()), (IndexFields{0xDDDD, 7, 0, 0, 0, 0}));
}

TEST(RingReset, ResetOfAnIndexWithNextSeqZeroStartsSeqAgainAtOne)
{
    Ring r(1024, 16, 1);
    push(r.get(), 1, bytes_of("x"));
    push(r.get(), 1, bytes_of("y"));
    r.scribble().next_seq = 0;
    uint64_t seq = 0;
    ASSERT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_CORRUPT);

    cw_ring_reset(r.get(), 9);
    EXPECT_EQ(fields(r.ix()), (IndexFields{9, 1, 0, 0, 0, 0}));
    EXPECT_EQ(push(r.get(), 1, bytes_of("z")), 1u)
        << "a new epoch makes (epoch, 1) unique again";
}

TEST(RingReset, ResetOfAScribbledIndexKeepsItsNextSeq)
{
    Ring r(1024, 16, 1);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), 1, pattern(i, i));
    }
    r.scribble().head = r->data_size + 8;
    r.scribble().used = ~uint64_t{0};
    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_CORRUPT);

    cw_ring_reset(r.get(), 3);
    EXPECT_EQ(fields(r.ix()), (IndexFields{3, 5, 0, 0, 0, 0}));
    EXPECT_EQ(push(r.get(), 1, bytes_of("z")), 5u);
}

// ---------------------------------------------------------------------------
// Publication: one store to `active` per change, nothing on a refusal

TEST(RingPublish, ActiveFlipsOncePerSuccessfulCallAndNeverOnARefusal)
{
    Ring r(256, 3, 1);
    ASSERT_EQ(cw_ring_max_record(r.get()), 48u);
    uint64_t expect_active = r->active;
    uint64_t seq = 0;

    // Each successful call flips `active` once; the index it replaced stays
    // whole in the other copy, so a crash in the next call cannot hurt it.
    auto published_once = [&](auto call, const char* what) {
        const IndexFields before = published(r.get());
        call();
        expect_active++;
        EXPECT_EQ(r->active, expect_active) << what;
        EXPECT_EQ(fields(r.inactive()), before) << what;
    };
    // A refused call changes no byte: not `active`, not either index copy,
    // not the data.
    auto refused = [&](auto call, const char* what) {
        const auto before = r.snapshot();
        call();
        EXPECT_EQ(r->active, expect_active) << what;
        EXPECT_EQ(r.snapshot(), before) << what;
    };

    const auto p48 = pattern(48, 1);
    const auto p49 = pattern(49, 1);
    published_once([&] {
        EXPECT_EQ(cw_ring_push(r.get(), 1, p48.data(), 48, &seq), CW_RING_OK);
    }, "push");
    refused([&] {
        EXPECT_EQ(cw_ring_push(r.get(), 1, p49.data(), 49, &seq),
                  CW_RING_TOO_LARGE);
    }, "too large");
    published_once([&] {
        EXPECT_EQ(cw_ring_push(r.get(), 1, p48.data(), 48, &seq), CW_RING_OK);
    }, "push 2");
    published_once([&] {
        EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_OK);
    }, "push 3");
    refused([&] {
        EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_FULL);
    }, "full by count");
    refused([&] {
        cw_ring_cursor_t cur = cw_ring_begin(r.get());
        cw_ring_record_t rec{};
        while (cw_ring_next(r.get(), &cur, &rec) == CW_RING_OK) {
        }
    }, "a walk");
    published_once([&] {
        EXPECT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    }, "pop");
    refused([&] {
        EXPECT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    }, "pop of nothing (writes nothing)");
    // Head 64, tail 144, 3 records: full by count.  With a larger capacity
    // one 64-byte record fits at [144, 208); the next leaves 48 bytes of
    // wrap waste and goes to [0, 64), filling the ring to the byte.
    r->capacity = 100;
    published_once([&] {
        EXPECT_EQ(cw_ring_push(r.get(), 1, p48.data(), 48, &seq), CW_RING_OK);
    }, "push 4");
    published_once([&] {
        EXPECT_EQ(cw_ring_push(r.get(), 1, p48.data(), 48, &seq), CW_RING_OK);
    }, "push 5 (wraps)");
    ASSERT_EQ(fields(r.ix()), (IndexFields{1, 6, 64, 64, 256, 4}));
    refused([&] {
        EXPECT_EQ(cw_ring_push(r.get(), 1, p48.data(), 48, &seq),
                  CW_RING_FULL);
    }, "full by bytes");

    // Corrupt: refused by every call; restoring the field makes it usable.
    const uint64_t good_used = r.ix().used;
    r.scribble().used = good_used + 8;
    refused([&] {
        EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_CORRUPT);
    }, "corrupt push");
    refused([&] {
        EXPECT_EQ(cw_ring_pop_through(r.get(), 100), CW_RING_CORRUPT);
    }, "corrupt pop");
    refused([&] {
        cw_ring_cursor_t cur = cw_ring_begin(r.get());
        cw_ring_record_t rec{};
        EXPECT_EQ(cw_ring_next(r.get(), &cur, &rec), CW_RING_CORRUPT);
    }, "corrupt walk");
    r.scribble().used = good_used;

    published_once([&] { cw_ring_reset(r.get(), 2); }, "reset");
    published_once([&] {
        EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_OK);
    }, "push after reset");
    EXPECT_EQ(seq, 6u);
}

// ---------------------------------------------------------------------------
// Crash atomicity: a process killed between writing the inactive index copy
// and the store to `active`.

// Runs op on a copy of the ring, then carries over to r everything the op
// wrote except the flip: the record bytes and the inactive index copy.
// That is exactly what a process killed just before its store to `active`
// leaves behind.  Returns the copy: the state the op would have published.
template <typename Op>
Ring killed_before_flip(Ring& r, Op op)
{
    Ring ghost = r;
    op(ghost);
    EXPECT_EQ(ghost->active, r->active + 1) << "the op must publish";
    std::memcpy(r->data, ghost->data, r->data_size);
    r.inactive() = ghost.ix();
    EXPECT_EQ(fields(r.inactive()), published(ghost.get()));
    return ghost;
}

void expect_same_records(const std::vector<Seen>& a,
                         const std::vector<Seen>& b)
{
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); i++) {
        EXPECT_EQ(a[i].seq, b[i].seq) << "record " << i;
        EXPECT_EQ(a[i].kind, b[i].kind) << "record " << i;
        EXPECT_EQ(a[i].offset, b[i].offset) << "record " << i;
        EXPECT_EQ(a[i].bytes, b[i].bytes) << "record " << i;
    }
}

struct CrashCase {
    const char* what;
    size_t data_size;
    void (*setup)(Ring& r);
    size_t len;  // of the push that dies
};

void PrintTo(const CrashCase& c, std::ostream* os) { *os << c.what; }

class RingProducerKilled : public ::testing::TestWithParam<CrashCase> {};

TEST_P(RingProducerKilled, ConsumerSeesTheOldRecordsAndTheNextPushRedoesIt)
{
    const CrashCase c = GetParam();
    Ring r(c.data_size, 100, 5);
    c.setup(r);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    const IndexFields index_before = published(r.get());
    const uint64_t active_before = r->active;
    const auto records_before = peek_all(r.get());

    Ring ghost = killed_before_flip(r, [&](Ring& g) {
        EXPECT_EQ(push(g.get(), 3, pattern(c.len, 111)),
                  index_before[1]);
    });
    ASSERT_FALSE(::testing::Test::HasFailure());
    const auto ghost_records = peek_all(ghost.get());
    ASSERT_EQ(ghost_records.size(), records_before.size() + 1);
    const Seen& lost = ghost_records.back();

    // The consumer sees exactly the old records; the half-done push is in
    // the inactive copy and the free bytes only.
    EXPECT_EQ(r->active, active_before);
    EXPECT_EQ(published(r.get()), index_before);
    expect_same_records(peek_all(r.get()), records_before);
    EXPECT_EQ(cw_ring_begin(r.get()).remaining, index_before[5]);

    // The next push takes the same seq and the same place, overwrites the
    // unpublished bytes, and publishes what the dead one would have.
    const auto fresh = pattern(c.len, 222);
    EXPECT_EQ(push(r.get(), 4, fresh), index_before[1]);
    EXPECT_EQ(r->active, active_before + 1);
    EXPECT_EQ(published(r.get()), published(ghost.get()));
    EXPECT_EQ(fields(r.inactive()), index_before);
    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), records_before.size() + 1);
    expect_same_records(
        std::vector<Seen>(seen.begin(), seen.end() - 1), records_before);
    EXPECT_EQ(seen.back().seq, lost.seq);
    EXPECT_EQ(seen.back().offset, lost.offset);
    EXPECT_EQ(seen.back().kind, 4u);
    EXPECT_EQ(seen.back().bytes, fresh);

    // And the ring drains to zero.
    ASSERT_EQ(cw_ring_pop_through(r.get(), seen.back().seq), CW_RING_OK);
    EXPECT_EQ(fields(r.ix()),
              (IndexFields{5, index_before[1] + 1, 0, 0, 0, 0}));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RingProducerKilled,
    ::testing::Values(
        CrashCase{"EmptyRing", 1024, [](Ring&) {}, 100},
        CrashCase{"EmptyAfterPops", 1024,
                  [](Ring& r) {
                      for (uint32_t i = 1; i <= 3; i++) {
                          push(r.get(), 1, pattern(50, i));
                      }
                      ASSERT_EQ(cw_ring_pop_through(r.get(), 3), CW_RING_OK);
                  },
                  70},
        CrashCase{"MidBuffer", 1024,
                  [](Ring& r) {
                      push(r.get(), 1, bytes_of("one"));
                      push(r.get(), 2, bytes_of("two"));
                      push(r.get(), 3, bytes_of("three"));
                  },
                  100},
        CrashCase{"WrapBehindAMarker", 1024,
                  [](Ring& r) { make_state(r, kPlain); }, 200},
        CrashCase{"WrapWithoutAMarker", 264,
                  [](Ring& r) {
                      for (uint32_t i = 1; i <= 4; i++) {
                          push(r.get(), 1, pattern(48, i));
                      }
                      ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
                  },
                  48},
        CrashCase{"IntoTheGapBeforeHead", 1024,
                  [](Ring& r) { make_state(r, kWrapped); }, 150},
        CrashCase{"FillingTheRingExactly", 256,
                  [](Ring& r) {
                      for (uint32_t i = 1; i <= 3; i++) {
                          push(r.get(), 1, pattern(48, i));
                      }
                  },
                  48}),
    [](const ::testing::TestParamInfo<CrashCase>& info) {
        return std::string(info.param.what);
    });

TEST(RingCrash, ConsumerKilledBeforeTheFlipLeavesTheRecordsToPopAgain)
{
    struct Case {
        RingState state;
        uint64_t through;
    };
    for (Case c : {Case{kPlain, 3}, Case{kPlain, 4}, Case{kWrapped, 4},
                   Case{kWrapped, 5}, Case{kFull, 2}, Case{kFull, 5}}) {
        SCOPED_TRACE(::testing::Message() << "state " << c.state
                                          << " through " << c.through);
        Ring r(1024, 100, 1);
        make_state(r, c.state);
        ASSERT_FALSE(::testing::Test::HasFatalFailure());
        const IndexFields index_before = published(r.get());
        const uint64_t active_before = r->active;
        const auto records_before = peek_all(r.get());
        const auto data_before = r.data();

        Ring ghost = killed_before_flip(r, [&](Ring& g) {
            EXPECT_EQ(cw_ring_pop_through(g.get(), c.through), CW_RING_OK);
        });
        EXPECT_EQ(r.data(), data_before) << "a pop writes no record bytes";
        EXPECT_NE(fields(r.inactive()), index_before) << "the pop did work";

        // Nothing was popped as far as anyone can see.
        EXPECT_EQ(r->active, active_before);
        EXPECT_EQ(published(r.get()), index_before);
        expect_same_records(peek_all(r.get()), records_before);

        // A producer may come first: its push overwrites the half-done pop.
        uint64_t seq = 0;
        ASSERT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq),
                  c.state == kFull ? CW_RING_FULL : CW_RING_OK);
        // The helper, restarted, pops the same records again.
        ASSERT_EQ(cw_ring_pop_through(r.get(), c.through), CW_RING_OK);
        auto seen = peek_all(r.get());
        auto expect = std::vector<Seen>();
        for (const Seen& s : records_before) {
            if (s.seq > c.through) {
                expect.push_back(s);
            }
        }
        if (c.state != kFull) {
            ASSERT_FALSE(seen.empty());
            EXPECT_EQ(seen.back().seq, seq);
            seen.pop_back();
        } else {
            EXPECT_EQ(published(r.get()), published(ghost.get()))
                << "the redone pop publishes what the dead one would have";
        }
        expect_same_records(seen, expect);
    }
}

TEST(RingCrash, ArbitraryBytesInTheInactiveCopyAreNeverRead)
{
    // A process may die at any point while it fills the inactive copy, so
    // whatever that copy holds must not matter: readers and writers start
    // from the published one.  A reference ring that never saw the garbage
    // must end in the same published state after the same calls.
    std::mt19937_64 rng(99);
    for (int variant = 0; variant < 16; variant++) {
        SCOPED_TRACE(::testing::Message() << "variant " << variant);
        Ring r(1024, 100, 1);
        Ring ref(1024, 100, 1);
        make_state(r, kWrapped);
        make_state(ref, kWrapped);
        ASSERT_FALSE(::testing::Test::HasFatalFailure());
        const auto records_before = peek_all(r.get());
        const uint64_t active_before = r->active;

        cw_ring_index_t& junk = r.inactive();
        switch (variant % 4) {
        case 0:
            std::memset(&junk, 0xFF, sizeof junk);
            break;
        case 1:
            std::memset(&junk, 0, sizeof junk);
            break;
        case 2:  // plausible values that point outside data[]
            junk = r.ix();
            junk.head = r->data_size + 64;
            junk.tail = r->data_size + 512;
            junk.count = 1000;
            junk.next_seq++;
            break;
        default:
            junk = {rng(), rng(), rng(), rng(), rng(), rng()};
            break;
        }
        // The dying producer may also have written into the free bytes,
        // [216, 432) in this state.
        for (uint64_t i = 216; i < 432; i++) {
            r->data[i] = static_cast<unsigned char>(rng());
        }

        EXPECT_EQ(r->active, active_before);
        EXPECT_EQ(published(r.get()), published(ref.get()));
        expect_same_records(peek_all(r.get()), records_before);

        // Then carry on: a pop or a push first, then more of both.
        auto step = [&](Ring& x, int i) {
            const bool pop_first = variant & 1;
            uint64_t seq = 0;
            if ((i == 0) == pop_first) {
                EXPECT_EQ(cw_ring_pop_through(x.get(), 3 + i), CW_RING_OK);
            } else {
                const auto p = pattern(60 + 10 * i, i);
                EXPECT_EQ(cw_ring_push(x.get(), 1, p.data(), p.size(), &seq),
                          CW_RING_OK);
            }
        };
        for (int i = 0; i < 4; i++) {
            step(r, i);
            step(ref, i);
            EXPECT_EQ(published(r.get()), published(ref.get())) << "step " << i;
            EXPECT_EQ(r->active, ref->active) << "step " << i;
        }
        expect_same_records(peek_all(r.get()), peek_all(ref.get()));
    }
}

// ---------------------------------------------------------------------------
// Full to the byte: used == data_size and tail == head is a sane index

TEST(RingFull, FullRingWithTailEqualHeadMidBufferPopsInOrder)
{
    Ring r(256, 100, 1);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), 1, pattern(48, i));  // 64 bytes each
    }
    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    EXPECT_EQ(push(r.get(), 5, pattern(48, 5)), 5u);  // [0, 64)
    EXPECT_EQ(fields(r.ix()), (IndexFields{1, 6, 64, 64, 256, 4}));

    const auto before = r.snapshot();
    uint64_t seq = 0;
    EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_FULL);
    EXPECT_EQ(r.snapshot(), before);

    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 4u);
    const uint64_t offsets[] = {64, 128, 192, 0};
    for (uint32_t i = 0; i < 4; i++) {
        EXPECT_EQ(seen[i].seq, i + 2);
        EXPECT_EQ(seen[i].offset, offsets[i]);
        EXPECT_EQ(seen[i].bytes, pattern(48, i + 2));
    }

    const IndexFields after_each[] = {
        {1, 6, 128, 64, 192, 3},
        {1, 6, 192, 64, 128, 2},
        {1, 6, 0, 64, 64, 1},
        {1, 6, 0, 0, 0, 0},
    };
    for (uint32_t i = 0; i < 4; i++) {
        ASSERT_EQ(cw_ring_pop_through(r.get(), i + 2), CW_RING_OK);
        EXPECT_EQ(fields(r.ix()), after_each[i]) << "after popping " << i + 2;
        auto rest = peek_all(r.get());
        ASSERT_EQ(rest.size(), 3 - i);
        if (!rest.empty()) {
            EXPECT_EQ(rest.front().seq, i + 3);
        }
    }
}

TEST(RingFull, FullRingWithShortWrapWasteIsSaneAndPopsAtOnce)
{
    // 264 bytes: the fifth record wraps leaving 8 unmarked bytes, and the
    // ring is then full to the byte with tail == head == 64.
    Ring r(264, 100, 1);
    for (uint32_t i = 1; i <= 4; i++) {
        push(r.get(), 1, pattern(48, i));
    }
    ASSERT_EQ(cw_ring_pop_through(r.get(), 1), CW_RING_OK);
    EXPECT_EQ(push(r.get(), 1, pattern(48, 5)), 5u);
    EXPECT_EQ(fields(r.ix()), (IndexFields{1, 6, 64, 64, 264, 4}));
    uint64_t seq = 0;
    EXPECT_EQ(cw_ring_push(r.get(), 1, nullptr, 0, &seq), CW_RING_FULL);

    auto seen = peek_all(r.get());
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[3].seq, 5u);
    EXPECT_EQ(seen[3].offset, 0u);
    EXPECT_EQ(seen[3].bytes, pattern(48, 5));

    ASSERT_EQ(cw_ring_pop_through(r.get(), 5), CW_RING_OK);
    EXPECT_EQ(fields(r.ix()), (IndexFields{1, 6, 0, 0, 0, 0}));
}

}  // namespace
