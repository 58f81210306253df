// Probe kernels for AVX-512: AND + VPOPCNTQ + VPADDQ on a 4x4 register-blocked tile (16
// independent accumulators, operands pinned in zmm registers, no loads in the loop), and VPDPBUSD
// zmm (AVX512-VNNI, enabled on that one function). Flags: -mavx512f -mavx512bw -mavx512vl
// -mavx512dq -mavx512vpopcntdq (CMakeLists.txt); the VNNI function adds target("avx512vnni").
#include <immintrin.h>

#include "probe/probe.h"

namespace bitconv {
namespace probe_kernels {

namespace {
// Through memory: GCC 12's _mm512_reduce_add_* warns about an uninitialised temporary.
inline uint64_t hsum64(__m512i x) {
  alignas(64) uint64_t v[8];
  _mm512_store_si512(v, x);
  return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}
}  // namespace

// One iteration: 16 x (512-bit AND, VPOPCNTQ, VPADDQ) = 16 * 512 binary MACs.
const double kBinaryAvx512PerIter = 16.0 * 512.0;

uint64_t binary_avx512(uint64_t iters) {
  __m512i a0 = _mm512_set1_epi64(0x5555555555555555LL), a1 = _mm512_set1_epi64(0x3333333333333333LL);
  __m512i a2 = _mm512_set1_epi64(0x0f0f0f0f0f0f0f0fLL), a3 = _mm512_set1_epi64(0x00ff00ff00ff00ffLL);
  __m512i w0 = _mm512_set1_epi64(0x7777777777777777LL), w1 = _mm512_set1_epi64(0x1111111111111111LL);
  __m512i w2 = _mm512_set1_epi64(-1LL), w3 = _mm512_set1_epi64(0x0123456789abcdefLL);
  __m512i c00 = _mm512_setzero_si512(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00,
          c12 = c00, c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00,
          c32 = c00, c33 = c00;
#define BITCONV_PROBE_STEP(c, a, w) c = _mm512_add_epi64(c, _mm512_popcnt_epi64(_mm512_and_si512(a, w)))
  for (uint64_t it = 0; it < iters; ++it) {
    // Opaque to the compiler: the operands "change" every iteration, so nothing is hoisted, and
    // they stay in registers (no memory operands).
    __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(w0), "+v"(w1), "+v"(w2), "+v"(w3));
    BITCONV_PROBE_STEP(c00, a0, w0); BITCONV_PROBE_STEP(c01, a0, w1);
    BITCONV_PROBE_STEP(c02, a0, w2); BITCONV_PROBE_STEP(c03, a0, w3);
    BITCONV_PROBE_STEP(c10, a1, w0); BITCONV_PROBE_STEP(c11, a1, w1);
    BITCONV_PROBE_STEP(c12, a1, w2); BITCONV_PROBE_STEP(c13, a1, w3);
    BITCONV_PROBE_STEP(c20, a2, w0); BITCONV_PROBE_STEP(c21, a2, w1);
    BITCONV_PROBE_STEP(c22, a2, w2); BITCONV_PROBE_STEP(c23, a2, w3);
    BITCONV_PROBE_STEP(c30, a3, w0); BITCONV_PROBE_STEP(c31, a3, w1);
    BITCONV_PROBE_STEP(c32, a3, w2); BITCONV_PROBE_STEP(c33, a3, w3);
  }
#undef BITCONV_PROBE_STEP
  __m512i s = _mm512_add_epi64(_mm512_add_epi64(_mm512_add_epi64(c00, c01), _mm512_add_epi64(c02, c03)),
                               _mm512_add_epi64(_mm512_add_epi64(c10, c11), _mm512_add_epi64(c12, c13)));
  __m512i t = _mm512_add_epi64(_mm512_add_epi64(_mm512_add_epi64(c20, c21), _mm512_add_epi64(c22, c23)),
                               _mm512_add_epi64(_mm512_add_epi64(c30, c31), _mm512_add_epi64(c32, c33)));
  return hsum64(_mm512_add_epi64(s, t));
}

// One iteration: 12 x VPDPBUSD zmm = 12 * 64 uint8 x int8 MACs.
const double kInt8Avx512VnniPerIter = 12.0 * 64.0;

__attribute__((target("avx512vnni"))) uint64_t int8_avx512vnni(uint64_t iters) {
  __m512i a0 = _mm512_set1_epi8(3), a1 = _mm512_set1_epi8(5), b0 = _mm512_set1_epi8(-7),
          b1 = _mm512_set1_epi8(11);
  // Distinct start values: identical chains would be merged by the compiler.
  __m512i c0 = _mm512_set1_epi32(0), c1 = _mm512_set1_epi32(1), c2 = _mm512_set1_epi32(2),
          c3 = _mm512_set1_epi32(3), c4 = _mm512_set1_epi32(4), c5 = _mm512_set1_epi32(5),
          c6 = _mm512_set1_epi32(6), c7 = _mm512_set1_epi32(7), c8 = _mm512_set1_epi32(8),
          c9 = _mm512_set1_epi32(9), c10 = _mm512_set1_epi32(10), c11 = _mm512_set1_epi32(11);
  for (uint64_t it = 0; it < iters; ++it) {
    __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(b0), "+v"(b1));
    c0 = _mm512_dpbusd_epi32(c0, a0, b0);
    c1 = _mm512_dpbusd_epi32(c1, a0, b1);
    c2 = _mm512_dpbusd_epi32(c2, a1, b0);
    c3 = _mm512_dpbusd_epi32(c3, a1, b1);
    c4 = _mm512_dpbusd_epi32(c4, a0, b0);
    c5 = _mm512_dpbusd_epi32(c5, a0, b1);
    c6 = _mm512_dpbusd_epi32(c6, a1, b0);
    c7 = _mm512_dpbusd_epi32(c7, a1, b1);
    c8 = _mm512_dpbusd_epi32(c8, a0, b0);
    c9 = _mm512_dpbusd_epi32(c9, a0, b1);
    c10 = _mm512_dpbusd_epi32(c10, a1, b0);
    c11 = _mm512_dpbusd_epi32(c11, a1, b1);
  }
  __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                               _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
  s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11)));
  alignas(64) uint32_t v[16];
  _mm512_store_si512(v, s);
  uint64_t sum = 0;
  for (uint32_t x : v) sum += x;
  return sum;
}

}  // namespace probe_kernels
}  // namespace bitconv
