// A separate file so the replaced operators are not inlined into the
// tests' code (where gcc would see new paired with free).
#include "allocation_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

#if defined(__SANITIZE_ADDRESS__)

namespace chatwoot::wa::test {
bool counts_allocations() { return false; }
std::size_t allocation_count() { return 0; }
}  // namespace chatwoot::wa::test

#else

void* operator new(std::size_t n)
{
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace chatwoot::wa::test {
bool counts_allocations() { return true; }
std::size_t allocation_count() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace chatwoot::wa::test

#endif
