// Ceiling probe driver: times the per-ISA probe kernels (probe-<isa>.cpp) with steady_clock and
// holds the portable scalar kernel (32-bit words, the scalar conv kernels' bit-trick popcount).
#include "probe/probe.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "dispatch/cpu_features.h"
#include "dispatch/registry.h"
#include "kernels/popcount-portable.h"

namespace bitconv {
namespace probe_kernels {

// One iteration: 4 products x 32 binary MACs.
const double kBinaryScalarPerIter = 4.0 * 32.0;

uint64_t binary_scalar(uint64_t iters) {
  uint32_t a0 = 0x55555555u, a1 = 0x0f0f0f0fu, w0 = 0x77777777u, w1 = 0x89abcdefu;
  uint32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
  for (uint64_t it = 0; it < iters; ++it) {
    __asm__ volatile("" : "+r"(a0), "+r"(a1), "+r"(w0), "+r"(w1));
    c0 += popcount32_portable(a0 & w0);
    c1 += popcount32_portable(a0 & w1);
    c2 += popcount32_portable(a1 & w0);
    c3 += popcount32_portable(a1 & w1);
  }
  return uint64_t(c0) + c1 + c2 + c3;
}

}  // namespace probe_kernels

namespace {

using Clock = std::chrono::steady_clock;
using KernelFn = uint64_t (*)(uint64_t);

volatile uint64_t g_sink = 0;

// Operations per second of `fn` (`per_iter` operations per iteration): batches of about
// max(2 ms, seconds / 20) are timed after a warm-up batch; the best batch rate is returned, which
// is the sustained rate with interference from other processes filtered out.
double measure(KernelFn fn, double per_iter, double seconds) {
  const double batch_s = std::max(0.002, seconds / 20.0);
  uint64_t iters = 256;
  double t_batch = 0;
  for (;;) {  // calibrate (doubles as the warm-up: wakes up the wide units, raises the clock)
    const auto t0 = Clock::now();
    g_sink = g_sink + fn(iters);
    t_batch = std::chrono::duration<double>(Clock::now() - t0).count();
    if (t_batch >= batch_s * 0.5 || iters > (uint64_t(1) << 40)) break;
    iters *= 2;
  }
  iters = std::max<uint64_t>(1, uint64_t(double(iters) * batch_s / std::max(t_batch, 1e-9)));
  double best = 0, total = 0;
  int batches = 0;
  while (total < seconds || batches < 3) {
    const auto t0 = Clock::now();
    g_sink = g_sink + fn(iters);
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    total += t;
    ++batches;
    if (t > 0) best = std::max(best, double(iters) * per_iter / t);
  }
  return best;
}

// Core clock: a chain of dependent register adds retires one add per cycle.
constexpr double kAddsPerIter = 64.0;
uint64_t add_chain(uint64_t iters) {
  uint64_t x = 1, y = 3;
  for (uint64_t it = 0; it < iters; ++it) {
#if defined(__x86_64__) || defined(_M_X64)
#define BITCONV_A4 "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
#elif defined(__aarch64__)
#define BITCONV_A4 "add %0, %0, %1\n\tadd %0, %0, %1\n\tadd %0, %0, %1\n\tadd %0, %0, %1\n\t"
#endif
#ifdef BITCONV_A4
#define BITCONV_A16 BITCONV_A4 BITCONV_A4 BITCONV_A4 BITCONV_A4
    __asm__ volatile(BITCONV_A16 BITCONV_A16 BITCONV_A16 BITCONV_A16 : "+r"(x) : "r"(y));
#undef BITCONV_A16
#undef BITCONV_A4
#endif
  }
  return x;
}

}  // namespace

ProbeResult run_probe(const std::string& isa, double seconds) {
  if (!(seconds > 0)) seconds = 0.2;
  const auto t_start = Clock::now();
  const CpuFeatures& f = cpu_features();
  ProbeResult r;
  r.isa = isa;
  // Whether the name exists in this build and this CPU runs it: the registry's answer. The -vnni
  // and -dot ISAs share their base ISA's binary kernels.
  Isa which;
  try {
    which = isa_by_name(isa).isa;
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("probe: ") + e.what());
  }
  KernelFn bin = nullptr;
  double bin_per_iter = 0;
  switch (which) {
    case Isa::Scalar:
      bin = &probe_kernels::binary_scalar;
      bin_per_iter = probe_kernels::kBinaryScalarPerIter;
      r.binary_kernel = "and+popcount(bit tricks)+add 32-bit, 2x2 tile";
      break;
#if defined(BITCONV_BUILD_AVX2)
    case Isa::Avx2:
    case Isa::Avx2Vnni:
      bin = &probe_kernels::binary_avx2;
      bin_per_iter = probe_kernels::kBinaryAvx2PerIter;
      r.binary_kernel = "vpand+vpshufb nibble lookup+vpaddb ymm, vpsadbw fold, 2x2 tile";
      break;
#endif
#if defined(BITCONV_BUILD_AVX512)
    case Isa::Avx512:
    case Isa::Avx512Vnni:
      bin = &probe_kernels::binary_avx512;
      bin_per_iter = probe_kernels::kBinaryAvx512PerIter;
      r.binary_kernel = "vpandq+vpopcntq+vpaddq zmm, 4x4 tile (16 accumulators)";
      break;
#endif
#if defined(BITCONV_BUILD_NEON)
    case Isa::Neon:
    case Isa::NeonDot:
      bin = &probe_kernels::binary_neon;
      bin_per_iter = probe_kernels::kBinaryNeonPerIter;
      r.binary_kernel = "and+cnt+uadalp q, 4x2 tile";
      break;
#endif
    default:
      break;
  }
  if (!bin) throw std::invalid_argument("probe: no probe kernel for ISA '" + isa + "' in this build");

  r.binary_macs_per_second = measure(bin, bin_per_iter, seconds);

  // int8: the best dot-product instruction this CPU has (whatever ISA the binary probe used).
  KernelFn i8 = nullptr;
  double i8_per_iter = 0;
#if defined(BITCONV_BUILD_AVX512)
  if (!i8 && f.avx512_vnni) {
    i8 = &probe_kernels::int8_avx512vnni;
    i8_per_iter = probe_kernels::kInt8Avx512VnniPerIter;
    r.int8_instruction = "vpdpbusd zmm";
  }
#endif
#if defined(BITCONV_BUILD_AVX2VNNI)
  if (!i8 && f.avx_vnni) {
    i8 = &probe_kernels::int8_avxvnni;
    i8_per_iter = probe_kernels::kInt8AvxVnniPerIter;
    r.int8_instruction = "vpdpbusd ymm (avx-vnni)";
  }
#endif
#if defined(BITCONV_BUILD_NEON)
  if (!i8 && f.neon_dot) {
    i8 = &probe_kernels::int8_neon_dot;
    i8_per_iter = probe_kernels::kInt8NeonDotPerIter;
    r.int8_instruction = "sdot q";
  }
#endif
  if (i8) r.int8_macs_per_second = measure(i8, i8_per_iter, seconds);

#if defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__)
  r.cycles_per_second = measure(&add_chain, kAddsPerIter, std::max(0.02, seconds / 2));
#endif
  r.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  return r;
}

}  // namespace bitconv
