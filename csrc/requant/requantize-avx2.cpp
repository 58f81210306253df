// Codes output with AVX2: 8 channels per step, the checked single-precision path of requantize.h,
// flagged lanes and the channel tail computed by the contract's operations.
// Needs -mavx2 -mfma.
#include <immintrin.h>

#include "requant/requantize.h"

namespace bitconv {

namespace {
template <bool Binary>
void run(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& a, uint8_t* dst,
         int64_t dst_stride) {
  const __m256 half = _mm256_set1_ps(0.5f - 0x1p-14f), sign = _mm256_set1_ps(-0.0f), fzero = _mm256_setzero_ps();
  const __m256i zp = _mm256_set1_epi32(int(a.q.zero_point)), qmax = _mm256_set1_epi32(int(a.q.qmax));
  const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
  const int full = nr / 8 * 8;
  for (int64_t p = 0; p < pixels; ++p) {
    const int32_t* s = src + p * src_stride;
    uint8_t* d = dst + p * dst_stride;
    for (int k = 0; k < full; k += 8) {
      const __m256 x = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + k)));
      const __m256 v = _mm256_fmadd_ps(x, _mm256_loadu_ps(a.m + k), _mm256_loadu_ps(a.c + k));
      const __m256 e = _mm256_fmadd_ps(_mm256_andnot_ps(sign, x), _mm256_loadu_ps(a.em + k), _mm256_loadu_ps(a.ec + k));
      __m256i q;
      int bad;
      if (Binary) {
        bad = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), e, _CMP_NGT_UQ));  // |v| <= e, or NaN
        q = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(v, fzero, _CMP_GT_OQ)), one);
      } else {
        const __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256 dist = _mm256_andnot_ps(sign, _mm256_sub_ps(v, r));
        bad = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_add_ps(dist, e), half, _CMP_NLT_UQ));  // or NaN
        q = _mm256_add_epi32(_mm256_cvtps_epi32(r), zp);
        q = _mm256_min_epi32(_mm256_max_epi32(q, zero), qmax);
      }
      // 8 int32 in [0, 255] to 8 bytes
      const __m128i w16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(d + k), _mm_packus_epi16(w16, w16));
      if (__builtin_expect(bad != 0, 0))
        for (unsigned b = unsigned(bad); b; b &= b - 1) {
          const int i = k + __builtin_ctz(b);
          d[i] = requantize_exact(s[i], a.scale[i], a.bias[i], a.q);
        }
    }
    for (int i = full; i < nr; ++i) d[i] = requantize_exact(s[i], a.scale[i], a.bias[i], a.q);
  }
}
}  // namespace

void requantize_avx2(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& a,
                     uint8_t* dst, int64_t dst_stride) {
  (a.q.binary ? run<true> : run<false>)(src, src_stride, pixels, nr, a, dst, dst_stride);
}

}  // namespace bitconv
