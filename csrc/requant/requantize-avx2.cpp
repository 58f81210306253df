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
  const __m256 sign = _mm256_set1_ps(-0.0f), fzero = _mm256_setzero_ps();
  const __m256i one = _mm256_set1_epi32(1);
  const __m128i qmax = _mm_set1_epi8(char(uint8_t(a.q.qmax)));
  const int full = nr / 8 * 8;
  for (int64_t p = 0; p < pixels; ++p) {
    const int32_t* s = src + p * src_stride;
    uint8_t* d = dst + p * dst_stride;
    for (int k = 0; k < full; k += 8) {
      const __m256 x = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + k)));
      const __m256 w = _mm256_fmadd_ps(x, _mm256_loadu_ps(a.m + k), _mm256_loadu_ps(a.c + k));
      const __m256 t = _mm256_loadu_ps(a.t + k);
      __m256i q;
      int bad;
      if (Binary) {
        bad = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, w), t, _CMP_NGT_UQ));  // |w| <= t, or NaN
        q = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(w, fzero, _CMP_GT_OQ)), one);
      } else {
        const __m256 f = _mm256_floor_ps(w);
        bad = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(w, f), t, _CMP_NGE_UQ));  // frac(w) < t, or NaN
        q = _mm256_cvttps_epi32(f);
      }
      // 8 int32 to 8 bytes, saturated to int16, then to [0, 255], then clipped to qmax
      const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(d + k), _mm_min_epu8(_mm_packus_epi16(w16, w16), qmax));
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
