// UTF-8 validation for the webhook path, header-only.
//
// The verdict is RapidJSON's UTF8<>::Validate over the whole string (RFC
// 3629: no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF, no
// truncated sequence at the end), which t/unit/webhook_event_test.cpp
// checks byte sequence by byte sequence; only faster, because ASCII, the
// usual case, is checked eight bytes at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace chatwoot::webhook {

inline constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// True when no byte has its high bit set (ASCII is always valid UTF-8).
inline bool is_ascii(const char* s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, s + i, sizeof w);
        if ((w & kHighBits) != 0) {
            return false;
        }
    }
    unsigned char any = 0;
    for (; i < n; i++) {
        any |= static_cast<unsigned char>(s[i]);
    }
    return (any & 0x80) == 0;
}

inline bool valid_utf8(const char* s, size_t n)
{
    const auto* p = reinterpret_cast<const unsigned char*>(s);
    const auto* const end = p + n;
    while (p < end) {
        if (end - p >= 8) {
            uint64_t w;
            std::memcpy(&w, p, sizeof w);
            if ((w & kHighBits) == 0) {
                p += 8;
                continue;
            }
        }
        const unsigned char c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        // Continuation bytes after the lead: how many, and the range the
        // first of them must be in (it excludes overlong forms, surrogates
        // and code points above U+10FFFF).
        ptrdiff_t need;
        unsigned char lo = 0x80;
        unsigned char hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c == 0xE0) {
            need = 2;
            lo = 0xA0;
        } else if (c == 0xED) {
            need = 2;
            hi = 0x9F;
        } else if (c >= 0xE1 && c <= 0xEF) {
            need = 2;
        } else if (c == 0xF0) {
            need = 3;
            lo = 0x90;
        } else if (c == 0xF4) {
            need = 3;
            hi = 0x8F;
        } else if (c >= 0xF1 && c <= 0xF3) {
            need = 3;
        } else {
            return false;  // 0x80-0xC1 (stray continuation, overlong), 0xF5-0xFF
        }
        if (end - p <= need) {
            return false;  // truncated
        }
        if (p[1] < lo || p[1] > hi) {
            return false;
        }
        for (ptrdiff_t k = 2; k <= need; k++) {
            if (p[k] < 0x80 || p[k] > 0xBF) {
                return false;
            }
        }
        p += need + 1;
    }
    return true;
}

}  // namespace chatwoot::webhook
