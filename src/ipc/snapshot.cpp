// The snapshot area (see include/chatwoot_snapshot.h for the contract): a
// seqlock over two buffers.  Every access to the buffers and the generation
// is atomic, a word at a time, so that the copy a reader makes while the
// writer works is no data race in the C++ memory model; what keeps the copy
// whole is the generation check, fenced on both sides.

#include "snapshot.hpp"

#include <atomic>
#include <cstring>

namespace {

static_assert(sizeof(cw_snapshot_t) % sizeof(uint64_t) == 0,
              "the snapshot must be whole words");
static_assert(sizeof(cw_snapshot_device_t) % 8 == 0);
static_assert(sizeof(cw_snapshot_import_t) % 8 == 0);
static_assert(sizeof(cw_snapshot_command_t) % 8 == 0);
static_assert(CW_SNAPSHOT_ID_SIZE >= CW_COMMAND_ID_SIZE);

// The buffer readers are sent to by generation g: while g is odd the
// writer is writing the other one.
unsigned published_buffer(uint64_t g)
{
    return static_cast<unsigned>((g >> 1) & 1);
}

// Strings and counts as a reader may trust them: whatever the buffer held,
// no string runs past its array and no count past its table.
void make_safe(cw_snapshot_t* s)
{
    auto end = [](char* a, size_t n) { a[n - 1] = '\0'; };
    if (s->devices_n > CW_SNAPSHOT_DEVICES) {
        s->devices_n = CW_SNAPSHOT_DEVICES;
    }
    if (s->imports_n > CW_SNAPSHOT_IMPORTS) {
        s->imports_n = CW_SNAPSHOT_IMPORTS;
    }
    if (s->commands_n > CW_SNAPSHOT_COMMANDS) {
        s->commands_n = CW_SNAPSHOT_COMMANDS;
    }
    for (cw_snapshot_device_t& d : s->devices) {
        end(d.name, sizeof d.name);
        end(d.inbox, sizeof d.inbox);
        end(d.error, sizeof d.error);
        end(d.pn_jid, sizeof d.pn_jid);
        end(d.lid, sizeof d.lid);
        end(d.push_name, sizeof d.push_name);
        end(d.qr, sizeof d.qr);
        end(d.pair_code, sizeof d.pair_code);
    }
    for (cw_snapshot_import_t& i : s->imports) {
        end(i.id, sizeof i.id);
        end(i.inbox, sizeof i.inbox);
        end(i.error, sizeof i.error);
    }
    for (cw_snapshot_command_t& c : s->commands) {
        end(c.id, sizeof c.id);
        end(c.reason, sizeof c.reason);
    }
}

}  // namespace

namespace chatwoot::ipc {

size_t copy_text(char* dst, size_t size, std::string_view text) noexcept
{
    if (size == 0) {
        return 0;
    }
    size_t n = text.size();
    if (n > size - 1) {
        n = size - 1;
        // Back off continuation bytes (10xxxxxx) so the cut falls before a
        // lead byte: the character it starts is dropped whole.
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) {
            n--;
        }
    }
    std::memcpy(dst, text.data(), n);
    dst[n] = '\0';
    return n;
}

}  // namespace chatwoot::ipc

// Word copies, atomics and comparisons only: nothing here throws.
extern "C" {

cw_snapshot_rc_t cw_snapshot_read(const cw_snapshot_area_t* area,
                                  cw_snapshot_t* out) noexcept
{
    for (int attempt = 0; attempt < CW_SNAPSHOT_READ_TRIES; attempt++) {
        const uint64_t g1 = __atomic_load_n(&area->generation, __ATOMIC_ACQUIRE);
        const uint64_t* words = area->buffer[published_buffer(g1)];
        for (size_t i = 0; i < CW_SNAPSHOT_WORDS; i++) {
            const uint64_t w = __atomic_load_n(&words[i], __ATOMIC_RELAXED);
            std::memcpy(reinterpret_cast<unsigned char*>(out) + i * sizeof w, &w,
                        sizeof w);
        }
        // Whatever the copy read was written before the generation this
        // load returns (or is older): the writer bumps the generation
        // before it touches a buffer.
        std::atomic_thread_fence(std::memory_order_acquire);
        const uint64_t g2 = __atomic_load_n(&area->generation, __ATOMIC_RELAXED);
        // The buffer read is next written under generation (g1 | 1) + 2,
        // once the writer has published the other one in between.
        if (g2 - (g1 & ~uint64_t{1}) <= 2) {
            make_safe(out);
            return CW_SNAPSHOT_OK;
        }
    }
    return CW_SNAPSHOT_BUSY;
}

void cw_snapshot_publish(cw_snapshot_area_t* area, const cw_snapshot_t* snap) noexcept
{
    uint64_t g = __atomic_load_n(&area->generation, __ATOMIC_RELAXED);
    if ((g & 1) == 0) {
        // Odd: "writing the spare".  An odd generation found here is a
        // writer that died writing; its spare is ours to write again.
        g++;
        __atomic_store_n(&area->generation, g, __ATOMIC_RELAXED);
    }
    // The odd generation is visible before any word of the spare changes.
    std::atomic_thread_fence(std::memory_order_release);
    uint64_t* words = area->buffer[published_buffer(g) ^ 1];
    for (size_t i = 0; i < CW_SNAPSHOT_WORDS; i++) {
        uint64_t w;
        std::memcpy(&w, reinterpret_cast<const unsigned char*>(snap) + i * sizeof w,
                    sizeof w);
        __atomic_store_n(&words[i], w, __ATOMIC_RELAXED);
    }
    // Publishing: the words above are visible before the even generation.
    __atomic_store_n(&area->generation, g + 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&area->publishes, 1, __ATOMIC_RELAXED);
}

const char* cw_device_state_name(uint64_t state) noexcept
{
    switch (state) {
    case CW_DEVICE_UNPAIRED:
        return "unpaired";
    case CW_DEVICE_PAIRING_QR:
        return "pairing_qr";
    case CW_DEVICE_PAIRING_CODE:
        return "pairing_code";
    case CW_DEVICE_CONNECTING:
        return "connecting";
    case CW_DEVICE_CONNECTED:
        return "connected";
    case CW_DEVICE_LOGGED_OUT:
        return "logged_out";
    case CW_DEVICE_ERROR:
        return "error";
    case CW_DEVICE_PASSKEY:
        return "passkey";
    default:
        return "unknown";
    }
}

const char* cw_import_state_name(uint64_t state) noexcept
{
    switch (state) {
    case CW_IMPORT_QUEUED:
        return "queued";
    case CW_IMPORT_RUNNING:
        return "running";
    case CW_IMPORT_PAUSED:
        return "paused";
    case CW_IMPORT_COMPLETED:
        return "completed";
    case CW_IMPORT_FAILED:
        return "failed";
    default:
        return "unknown";
    }
}

const char* cw_command_state_name(uint64_t state) noexcept
{
    switch (state) {
    case CW_COMMAND_PENDING:
        return "pending";
    case CW_COMMAND_DONE:
        return "done";
    case CW_COMMAND_FAILED:
        return "failed";
    default:
        return "unknown";
    }
}

}  // extern "C"
