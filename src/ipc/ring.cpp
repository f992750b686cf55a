// The shared-memory record ring (see include/chatwoot_ring.h for the
// contract).  Plain arithmetic on offsets: no pointers are stored in shared
// memory, because each process maps the zone on its own.
//
// Every operation reads the published index, checks it, works on a copy and
// publishes the copy with one store: whatever instruction a process dies
// at, the index others see is whole.  Offsets in the index are checked
// before use, so a ring whose index was scribbled over is reported as
// corrupt instead of being read or written out of bounds.

#include "chatwoot_ring.h"

#include <cstring>
#include <limits>

namespace {

// Each record starts with this header; payload follows, padded to 8 bytes.
struct RecordHeader {
    uint64_t seq;
    uint32_t len;
    uint32_t kind;
};
static_assert(sizeof(RecordHeader) == 16);

// A header with this length tells the reader to continue at offset 0.
constexpr uint32_t kWrapMarker = std::numeric_limits<uint32_t>::max();

constexpr uint64_t align8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

uint64_t record_size(uint64_t len) { return align8(sizeof(RecordHeader) + len); }

RecordHeader read_header(const cw_ring_t* ring, uint64_t offset)
{
    RecordHeader h;
    std::memcpy(&h, ring->data + offset, sizeof h);
    return h;
}

// True when the reader at offset must jump to 0: too little room left for a
// header, or an explicit wrap marker.  offset < data_size.
bool at_wrap(const cw_ring_t* ring, uint64_t offset)
{
    if (ring->data_size - offset < sizeof(RecordHeader)) {
        return true;
    }
    return read_header(ring, offset).len == kWrapMarker;
}

// What any index must satisfy before its offsets are used.
bool index_sane(const cw_ring_t* ring, const cw_ring_index_t& ix)
{
    const uint64_t size = ring->data_size;
    if (size == 0 || size % 8 != 0) {
        return false;
    }
    if (ix.head >= size || ix.tail >= size || ix.used > size
        || ix.head % 8 != 0 || ix.tail % 8 != 0 || ix.next_seq == 0)
    {
        return false;
    }
    if (ix.count == 0) {
        return ix.used == 0;
    }
    // Bytes between head and tail, going forward, must be what `used` says.
    uint64_t span = ix.tail > ix.head ? ix.tail - ix.head
                                      : size - ix.head + ix.tail;
    return span == ix.used && ix.count < ix.next_seq;
}

void publish(cw_ring_t* ring, const cw_ring_index_t& next)
{
    uint64_t active = __atomic_load_n(&ring->active, __ATOMIC_ACQUIRE);
    ring->index[(active + 1) & 1] = next;
    __atomic_store_n(&ring->active, active + 1, __ATOMIC_RELEASE);
}

// A record header at `at` that belongs to the ring: seq_limit is the
// next_seq of the index the caller works from.
bool header_sane(const cw_ring_t* ring, uint64_t seq_limit, uint64_t at,
                 const RecordHeader& h)
{
    return h.len <= cw_ring_max_record(ring)
           && at + record_size(h.len) <= ring->data_size && h.seq != 0
           && h.seq < seq_limit;
}

}  // namespace

extern "C" {

size_t cw_ring_footprint(size_t data_size) noexcept
{
    return sizeof(cw_ring_t) + align8(data_size);
}

void cw_ring_init(cw_ring_t* ring, size_t data_size, uint64_t capacity,
                  uint64_t epoch) noexcept
{
    ring->data_size = data_size & ~size_t{7};
    ring->capacity = capacity;
    ring->closed = 0;
    ring->active = 0;
    ring->index[0] = cw_ring_index_t{epoch, 1, 0, 0, 0, 0};
    ring->index[1] = ring->index[0];
}

void cw_ring_reset(cw_ring_t* ring, uint64_t epoch) noexcept
{
    cw_ring_index_t next = *cw_ring_current(ring);
    if (next.next_seq == 0) {
        next.next_seq = 1;
    }
    next.epoch = epoch;
    next.head = next.tail = next.used = next.count = 0;
    publish(ring, next);
}

void cw_ring_set_closed(cw_ring_t* ring, int closed) noexcept
{
    ring->closed = closed ? 1 : 0;
}

size_t cw_ring_max_record(const cw_ring_t* ring) noexcept
{
    // A quarter of the ring, so one large record cannot starve the rest and
    // wrap waste can never make a single record unplaceable.
    uint64_t quarter = (ring->data_size / 4) & ~uint64_t{7};
    if (quarter <= sizeof(RecordHeader)) {
        return 0;
    }
    uint64_t limit = quarter - sizeof(RecordHeader);
    return limit > kWrapMarker - 1 ? kWrapMarker - 1 : limit;
}

cw_ring_rc_t cw_ring_push(cw_ring_t* ring, uint32_t kind,
                          const unsigned char* data, size_t len,
                          uint64_t* seq) noexcept
{
    if (ring->closed) {
        return CW_RING_CLOSED;
    }
    if (len > cw_ring_max_record(ring)) {
        return CW_RING_TOO_LARGE;
    }
    cw_ring_index_t ix = *cw_ring_current(ring);
    if (!index_sane(ring, ix)) {
        return CW_RING_CORRUPT;
    }
    if (ix.count >= ring->capacity) {
        return CW_RING_FULL;
    }
    if (ix.count == 0) {
        // Empty: start over at 0 so the whole block is contiguous again.
        ix.head = ix.tail = ix.used = 0;
    }

    const uint64_t need = record_size(len);
    const uint64_t size = ring->data_size;
    uint64_t at = ix.tail;
    uint64_t waste = 0;

    if (ix.used == size) {
        return CW_RING_FULL;
    }
    if (ix.tail >= ix.head) {
        // Free space is [tail, size) and then [0, head).
        if (size - ix.tail < need) {
            if (ix.head < need) {
                return CW_RING_FULL;
            }
            waste = size - ix.tail;
            at = 0;
        }
    } else if (ix.head - ix.tail < need) {
        return CW_RING_FULL;
    }

    if (waste >= sizeof(RecordHeader)) {
        RecordHeader marker{0, kWrapMarker, 0};
        std::memcpy(ring->data + ix.tail, &marker, sizeof marker);
    }

    RecordHeader h{ix.next_seq, static_cast<uint32_t>(len), kind};
    std::memcpy(ring->data + at, &h, sizeof h);
    if (len > 0) {
        std::memcpy(ring->data + at + sizeof h, data, len);
    }

    *seq = ix.next_seq++;
    ix.tail = (at + need) % size;
    ix.used += waste + need;
    ix.count++;
    publish(ring, ix);
    return CW_RING_OK;
}

cw_ring_cursor_t cw_ring_begin(const cw_ring_t* ring) noexcept
{
    const cw_ring_index_t& ix = *cw_ring_current(ring);
    if (!index_sane(ring, ix)) {
        // A cursor past the end makes cw_ring_next report the corruption.
        return cw_ring_cursor_t{ring->data_size, 1, 0};
    }
    return cw_ring_cursor_t{ix.head, ix.count, ix.next_seq};
}

cw_ring_rc_t cw_ring_next(const cw_ring_t* ring, cw_ring_cursor_t* cursor,
                          cw_ring_record_t* record) noexcept
{
    if (cursor->remaining == 0) {
        return CW_RING_END;
    }
    uint64_t at = cursor->offset;
    if (at >= ring->data_size || at % 8 != 0) {
        return CW_RING_CORRUPT;
    }
    if (at_wrap(ring, at)) {
        at = 0;
    }
    RecordHeader h = read_header(ring, at);
    if (!header_sane(ring, cursor->seq_limit, at, h)) {
        return CW_RING_CORRUPT;
    }
    record->seq = h.seq;
    record->kind = h.kind;
    record->len = h.len;
    record->data = ring->data + at + sizeof(RecordHeader);
    cursor->offset = (at + record_size(h.len)) % ring->data_size;
    cursor->remaining--;
    return CW_RING_OK;
}

cw_ring_rc_t cw_ring_pop_through(cw_ring_t* ring, uint64_t seq) noexcept
{
    cw_ring_index_t ix = *cw_ring_current(ring);
    if (!index_sane(ring, ix)) {
        return CW_RING_CORRUPT;
    }
    const uint64_t count_before = ix.count;
    while (ix.count > 0) {
        uint64_t at = ix.head;
        uint64_t waste = 0;
        if (at_wrap(ring, at)) {
            waste = ring->data_size - at;
            at = 0;
        }
        RecordHeader h = read_header(ring, at);
        if (!header_sane(ring, ix.next_seq, at, h)) {
            return CW_RING_CORRUPT;  // nothing published: the ring is as it was
        }
        if (h.seq > seq) {
            break;
        }
        uint64_t freed = waste + record_size(h.len);
        if (freed > ix.used) {
            return CW_RING_CORRUPT;
        }
        ix.head = (at + record_size(h.len)) % ring->data_size;
        ix.used -= freed;
        ix.count--;
    }
    if (ix.count == 0) {
        // The last record ends at the tail: any bytes left means `count`
        // undercounted the records, and dropping them would lose them.
        if (ix.used != 0) {
            return CW_RING_CORRUPT;
        }
        ix.head = ix.tail = 0;
    }
    if (ix.count != count_before) {
        publish(ring, ix);
    }
    return CW_RING_OK;
}

}  // extern "C"
