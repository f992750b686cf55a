// RAII for libsignal-protocol-c's C objects.
//
// libsignal hands out two kinds of objects.  Most (keys, records, messages,
// bundles) are reference counted: a creating call gives us one reference,
// which SIGNAL_UNREF drops; a getter lends a pointer without a reference.
// The rest (ciphers, builders, the store context, signal_buffer) have a
// plain free function.  SignalRef<T> owns one reference, SignalBuffer owns
// a buffer (wiped on free: buffers carry keys and plaintext), and Owned<T, F>
// owns anything freed by F.
//
// This header includes libsignal's C headers; only the signal/ layer's own
// sources and tests include it.
#pragma once

#include <signal_protocol.h>

#include <memory>

#include "wa/bytes.hpp"

namespace chatwoot::wa::signal {

struct SignalUnref {
    template <class T>
    void operator()(T* object) const noexcept
    {
        SIGNAL_UNREF(object);
    }
};

// One counted reference to a libsignal object.
template <class T>
using SignalRef = std::unique_ptr<T, SignalUnref>;

// Takes a reference of our own to an object a getter only lent us, so it
// stays valid after its owner goes.
template <class T>
SignalRef<T> share_ref(T* object)
{
    if (object) SIGNAL_REF(object);
    return SignalRef<T>(object);
}

struct BufferFree {
    void operator()(signal_buffer* buffer) const noexcept { signal_buffer_bzero_free(buffer); }
};

using SignalBuffer = std::unique_ptr<signal_buffer, BufferFree>;

// Objects libsignal frees with a function of their own.
template <auto Free>
struct FreeWith {
    template <class T>
    void operator()(T* object) const noexcept
    {
        Free(object);
    }
};

template <class T, auto Free>
using Owned = std::unique_ptr<T, FreeWith<Free>>;

// The bytes of a buffer, borrowed; empty for a null buffer.
inline ByteView buffer_view(const signal_buffer* buffer)
{
    if (!buffer) return {};
    return {signal_buffer_const_data(buffer), signal_buffer_len(buffer)};
}

inline Bytes buffer_bytes(const signal_buffer* buffer)
{
    ByteView v = buffer_view(buffer);
    return Bytes(v.begin(), v.end());
}

}  // namespace chatwoot::wa::signal
