// The shared-memory record ring (see include/chatwoot_ring.h for the
// contract).  Plain arithmetic on offsets: no pointers are stored in shared
// memory, because each process maps the zone on its own.

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
// header, or an explicit wrap marker.
bool at_wrap(const cw_ring_t* ring, uint64_t offset)
{
    if (ring->data_size - offset < sizeof(RecordHeader)) {
        return true;
    }
    return read_header(ring, offset).len == kWrapMarker;
}

}  // namespace

extern "C" {

size_t cw_ring_footprint(size_t data_size) noexcept
{
    return sizeof(cw_ring_t) + align8(data_size);
}

void cw_ring_init(cw_ring_t* ring, size_t data_size, uint32_t capacity,
                  uint64_t epoch) noexcept
{
    ring->data_size = data_size & ~size_t{7};
    ring->capacity = capacity;
    ring->next_seq = 1;
    cw_ring_reset(ring, epoch);
}

void cw_ring_reset(cw_ring_t* ring, uint64_t epoch) noexcept
{
    ring->epoch = epoch;
    ring->count = 0;
    ring->head = 0;
    ring->tail = 0;
    ring->used = 0;
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
    if (len > cw_ring_max_record(ring)) {
        return CW_RING_TOO_LARGE;
    }
    if (ring->count >= ring->capacity) {
        return CW_RING_FULL;
    }
    if (ring->count == 0) {
        // Empty: start over at 0 so the whole block is contiguous again.
        ring->head = ring->tail = ring->used = 0;
    }

    const uint64_t need = record_size(len);
    const uint64_t size = ring->data_size;
    uint64_t at = ring->tail;
    uint64_t waste = 0;

    if (ring->used == size) {
        return CW_RING_FULL;
    }
    if (ring->tail >= ring->head) {
        // Free space is [tail, size) and then [0, head).
        if (size - ring->tail < need) {
            if (ring->head < need) {
                return CW_RING_FULL;
            }
            waste = size - ring->tail;
            at = 0;
        }
    } else if (ring->head - ring->tail < need) {
        return CW_RING_FULL;
    }

    if (waste >= sizeof(RecordHeader)) {
        RecordHeader marker{0, kWrapMarker, 0};
        std::memcpy(ring->data + ring->tail, &marker, sizeof marker);
    }

    RecordHeader h{ring->next_seq, static_cast<uint32_t>(len), kind};
    std::memcpy(ring->data + at, &h, sizeof h);
    if (len > 0) {
        std::memcpy(ring->data + at + sizeof h, data, len);
    }

    // Publish last: a producer that dies before this line changed nothing
    // the consumer looks at.
    *seq = ring->next_seq++;
    ring->tail = (at + need) % size;
    ring->used += waste + need;
    ring->count++;
    return CW_RING_OK;
}

cw_ring_cursor_t cw_ring_begin(const cw_ring_t* ring) noexcept
{
    return cw_ring_cursor_t{ring->head, ring->count};
}

cw_ring_rc_t cw_ring_next(const cw_ring_t* ring, cw_ring_cursor_t* cursor,
                          cw_ring_record_t* record) noexcept
{
    if (cursor->remaining == 0) {
        return CW_RING_END;
    }
    uint64_t at = cursor->offset;
    if (at >= ring->data_size) {
        return CW_RING_CORRUPT;
    }
    if (at_wrap(ring, at)) {
        at = 0;
    }
    RecordHeader h = read_header(ring, at);
    if (h.len > cw_ring_max_record(ring)
        || at + record_size(h.len) > ring->data_size
        || h.seq == 0 || h.seq >= ring->next_seq)
    {
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
    while (ring->count > 0) {
        uint64_t at = ring->head;
        uint64_t waste = 0;
        if (at_wrap(ring, at)) {
            waste = ring->data_size - at;
            at = 0;
        }
        RecordHeader h = read_header(ring, at);
        if (h.len > cw_ring_max_record(ring)) {
            return CW_RING_CORRUPT;
        }
        if (h.seq > seq) {
            break;
        }
        uint64_t freed = waste + record_size(h.len);
        if (freed > ring->used) {
            return CW_RING_CORRUPT;
        }
        ring->head = (at + record_size(h.len)) % ring->data_size;
        ring->used -= freed;
        ring->count--;
    }
    if (ring->count == 0) {
        ring->head = ring->tail = ring->used = 0;
    }
    return CW_RING_OK;
}

}  // extern "C"
