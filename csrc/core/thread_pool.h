// A persistent pool of worker threads for splitting kernel work; callers block until done.
#pragma once
#include <cstdint>
#include <functional>

namespace bitconv {

// Runs fn(i) for i in [0, n) on up to `threads` threads (the caller is one of them).
// threads <= 0 means hardware_threads(). Exceptions from fn are rethrown in the caller.
// Threads take `chunk` items at a time; 0 picks about four chunks per thread (for many small items).
void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn, int64_t chunk = 0);

// CPUs this process may run on (its affinity mask where the OS has one), counted at first use.
int hardware_threads();

}  // namespace bitconv
