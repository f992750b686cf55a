// The helper's side of the snapshot area (include/chatwoot_snapshot.h):
// filling the fixed char arrays of a snapshot from strings.
#pragma once

#include "chatwoot_snapshot.h"

#include <cstddef>
#include <string_view>

namespace chatwoot::ipc {

// Copies as much of text as fits in dst[0..size - 1), cut at a UTF-8
// character boundary so that the array never ends in half a character,
// then NUL-terminates.  Returns the bytes copied.
size_t copy_text(char* dst, size_t size, std::string_view text) noexcept;

template <size_t N>
size_t copy_text(char (&dst)[N], std::string_view text) noexcept
{
    return copy_text(dst, N, text);
}

}  // namespace chatwoot::ipc
