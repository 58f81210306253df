// Probe kernels for AVX2 (no AVX-512 flags, so logic stays VEX-encoded): AND + nibble-lookup
// popcount (VPSHUFB) on a 2x2 register-blocked tile with byte accumulators folded by VPSADBW every
// 8 steps, and VPDPBUSD ymm (AVX-VNNI, VEX-encoded, enabled on that one function).
// Flags: -mavx2 -mfma -mpopcnt -mbmi -mbmi2 (CMakeLists.txt); the VNNI function adds target("avxvnni").
#include <immintrin.h>

#include "probe/probe.h"

namespace bitconv {
namespace probe_kernels {

namespace {
inline uint64_t hsum64(__m256i x) {
  return uint64_t(_mm256_extract_epi64(x, 0)) + uint64_t(_mm256_extract_epi64(x, 1)) +
         uint64_t(_mm256_extract_epi64(x, 2)) + uint64_t(_mm256_extract_epi64(x, 3));
}
constexpr int kFold = 8;  // byte accumulators hold at most 8 * 8 = 64 before the VPSADBW fold
}  // namespace

// One iteration: kFold steps x 4 products x 256 binary MACs.
const double kBinaryAvx2PerIter = double(kFold) * 4.0 * 256.0;

uint64_t binary_avx2(uint64_t iters) {
  __m256i a0 = _mm256_set1_epi64x(0x5555555555555555LL), a1 = _mm256_set1_epi64x(0x0f0f0f0f0f0f0f0fLL);
  __m256i w0 = _mm256_set1_epi64x(0x7777777777777777LL), w1 = _mm256_set1_epi64x(0x0123456789abcdefLL);
  __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3,
                                 1, 2, 2, 3, 2, 3, 3, 4);
  __m256i low = _mm256_set1_epi8(0x0f);
  __m256i s0 = _mm256_setzero_si256(), s1 = s0;
  for (uint64_t it = 0; it < iters; ++it) {
    __m256i b00 = _mm256_setzero_si256(), b01 = b00, b10 = b00, b11 = b00;
#pragma GCC unroll 1
    for (int k = 0; k < kFold; ++k) {
      __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(w0), "+x"(w1), "+x"(lut), "+x"(low));
#define BITCONV_PROBE_STEP(b, a, w)                                                              \
  do {                                                                                           \
    __m256i t = _mm256_and_si256(a, w);                                                          \
    __m256i lo = _mm256_and_si256(t, low), hi = _mm256_and_si256(_mm256_srli_epi16(t, 4), low); \
    b = _mm256_add_epi8(b, _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))); \
  } while (0)
      BITCONV_PROBE_STEP(b00, a0, w0);
      BITCONV_PROBE_STEP(b01, a0, w1);
      BITCONV_PROBE_STEP(b10, a1, w0);
      BITCONV_PROBE_STEP(b11, a1, w1);
#undef BITCONV_PROBE_STEP
    }
    const __m256i z = _mm256_setzero_si256();
    s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(_mm256_add_epi8(b00, b01), z));
    s1 = _mm256_add_epi64(s1, _mm256_sad_epu8(_mm256_add_epi8(b10, b11), z));
  }
  return hsum64(_mm256_add_epi64(s0, s1));
}

#if defined(BITCONV_BUILD_AVX2VNNI)
// One iteration: 12 x VPDPBUSD ymm = 12 * 32 uint8 x int8 MACs.
const double kInt8AvxVnniPerIter = 12.0 * 32.0;

__attribute__((target("avxvnni"))) uint64_t int8_avxvnni(uint64_t iters) {
  __m256i a0 = _mm256_set1_epi8(3), a1 = _mm256_set1_epi8(5), b0 = _mm256_set1_epi8(-7),
          b1 = _mm256_set1_epi8(11);
  // Distinct start values: identical chains would be merged by the compiler.
  __m256i c0 = _mm256_set1_epi32(0), c1 = _mm256_set1_epi32(1), c2 = _mm256_set1_epi32(2),
          c3 = _mm256_set1_epi32(3), c4 = _mm256_set1_epi32(4), c5 = _mm256_set1_epi32(5),
          c6 = _mm256_set1_epi32(6), c7 = _mm256_set1_epi32(7), c8 = _mm256_set1_epi32(8),
          c9 = _mm256_set1_epi32(9), c10 = _mm256_set1_epi32(10), c11 = _mm256_set1_epi32(11);
  for (uint64_t it = 0; it < iters; ++it) {
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(b0), "+x"(b1));
    c0 = _mm256_dpbusd_avx_epi32(c0, a0, b0);
    c1 = _mm256_dpbusd_avx_epi32(c1, a0, b1);
    c2 = _mm256_dpbusd_avx_epi32(c2, a1, b0);
    c3 = _mm256_dpbusd_avx_epi32(c3, a1, b1);
    c4 = _mm256_dpbusd_avx_epi32(c4, a0, b0);
    c5 = _mm256_dpbusd_avx_epi32(c5, a0, b1);
    c6 = _mm256_dpbusd_avx_epi32(c6, a1, b0);
    c7 = _mm256_dpbusd_avx_epi32(c7, a1, b1);
    c8 = _mm256_dpbusd_avx_epi32(c8, a0, b0);
    c9 = _mm256_dpbusd_avx_epi32(c9, a0, b1);
    c10 = _mm256_dpbusd_avx_epi32(c10, a1, b0);
    c11 = _mm256_dpbusd_avx_epi32(c11, a1, b1);
  }
  __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                               _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
  s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_add_epi32(c8, c9), _mm256_add_epi32(c10, c11)));
  return hsum64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(s))) +
         hsum64(_mm256_cvtepu32_epi64(_mm256_extracti128_si256(s, 1)));
}
#endif

}  // namespace probe_kernels
}  // namespace bitconv
