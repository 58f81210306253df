// Persistent worker threads fed by a shared atomic counter: no thread creation per call.
//
// A conv2d call runs a few short parallel regions (packing, window sums, kernels) of tens of
// microseconds each, so waking sleeping threads through a condition variable for each (tens of
// microseconds on its own) would cost more than it saves. Workers therefore spin on the region
// counter for a while after each region, as OpenMP runtimes do, and only then sleep.
#include "core/thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <pthread.h>
#if defined(__linux__)
#include <sched.h>
#endif
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define BITCONV_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define BITCONV_PAUSE() __asm__ __volatile__("yield")
#else
#define BITCONV_PAUSE() ((void)0)
#endif

namespace bitconv {

// Counted once: std::thread::hardware_concurrency() reads /sys on every call (glibc), which cost
// about 10 us per conv2d call with the default thread count. The process's CPU affinity mask
// (taskset, a container's cpuset) is what it may run on; the machine's count would oversubscribe it.
int hardware_threads() {
  static const int count = [] {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return int(CPU_COUNT(&set));
#endif
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : int(n);
  }();
  return count;
}

namespace {

constexpr auto kSpin = std::chrono::microseconds(200);  // how long an idle worker stays awake

class Pool;
std::atomic<Pool*> g_pool{nullptr};
std::once_flag g_atfork_once;

class Pool {
 public:
  static Pool& instance() {
    // A forked child has none of the parent's worker threads: it starts a fresh pool.
    std::call_once(g_atfork_once, [] { pthread_atfork(nullptr, nullptr, [] { g_pool.store(nullptr); }); });
    Pool* p = g_pool.load(std::memory_order_acquire);
    if (!p) {
      static std::mutex create;
      std::lock_guard<std::mutex> lock(create);
      p = g_pool.load(std::memory_order_acquire);
      if (!p) {
        p = new Pool();  // never destroyed: workers may outlive static destructors
        g_pool.store(p, std::memory_order_release);
      }
    }
    return *p;
  }

  void run(int64_t n, int threads, const std::function<void(int64_t)>& fn, int64_t chunk) {
    std::lock_guard<std::mutex> call_lock(call_mutex_);  // one parallel region at a time
    const int helpers = threads - 1;
    ensure_workers(helpers);
    fn_ = &fn;
    n_ = n;
    // Items are taken in chunks, about four per thread: a shared counter bounced between cores
    // costs about as much as one packed row, so taking rows one by one ran slower than one thread.
    chunk_ = chunk > 0 ? chunk : (n + 4 * int64_t(threads) - 1) / (4 * int64_t(threads));
    next_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    wanted_ = helpers;
    active_.store(helpers, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(m_);
      generation_.fetch_add(1, std::memory_order_release);  // spinning workers start here
    }
    cv_.notify_all();  // sleeping ones here
    work();
    while (active_.load(std::memory_order_acquire) != 0) BITCONV_PAUSE();
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void ensure_workers(int count) {
    while (int(workers_.size()) < count) {
      const int id = int(workers_.size());
      // The generation before this region's: a worker still starting up when the region is
      // posted must not take it for an old one.
      const uint64_t seen = generation_.load(std::memory_order_acquire);
      workers_.emplace_back([this, id, seen] { loop(id, seen); });
      workers_.back().detach();
    }
  }

  void work() {
    for (;;) {
      const int64_t begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
      if (begin >= n_) break;
      const int64_t end = begin + chunk_ < n_ ? begin + chunk_ : n_;
      try {
        for (int64_t i = begin; i < end; ++i) (*fn_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(error_mutex_);
        if (!error_) error_ = std::current_exception();
        next_.store(n_);
      }
    }
  }

  void loop(int id, uint64_t seen) {
    for (;;) {
      // Spin for a while, then sleep until the next region.
      const auto until = std::chrono::steady_clock::now() + kSpin;
      uint64_t g;
      int polls = 0;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) {
        BITCONV_PAUSE();
        if (++polls % 256 == 0 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lk(m_);
          cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        }
      }
      seen = g;
      if (id >= wanted_) continue;
      work();
      active_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::mutex call_mutex_, m_, error_mutex_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t n_ = 0, chunk_ = 1;
  std::atomic<int64_t> next_{0};
  std::exception_ptr error_;
  std::atomic<int> active_{0};
  int wanted_ = 0;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace

void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn, int64_t chunk) {
  if (threads <= 0) threads = hardware_threads();
  if (n <= 0) return;
  if (threads > n) threads = int(n);
  if (threads <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  Pool::instance().run(n, threads, fn, chunk);
}

}  // namespace bitconv
