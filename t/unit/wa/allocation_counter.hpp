// Counts calls of the global operator new in a test binary that links
// allocation_counter.cpp, for tests that a hot path does not allocate.
// Sanitizer builds bring their own operator new: there nothing is counted
// and counts_allocations() is false.
#pragma once

#include <cstddef>

namespace chatwoot::wa::test {

bool counts_allocations();
std::size_t allocation_count();

}  // namespace chatwoot::wa::test
