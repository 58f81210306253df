// Codes output with AVX-512: 16 channels per step, the checked single-precision path of
// requantize.h, flagged lanes recomputed by the contract's operations.
// Needs -mavx512f -mavx512bw -mavx512vl -mavx512dq.
#include <immintrin.h>

#include "requant/requantize.h"

namespace bitconv {

namespace {

namespace avx512 {
#include "kernels/traits-avx512.h"
}  // namespace avx512

// The contract's operations on 16 lanes (as requantize_exact): the float output (the kernels' own
// float epilogue), float32 division, round half to even, zero point, clip.
inline __m512i exact16(__m512i acc, const double* scale, const double* bias, const ActQuant& q) {
  const __m512 y = avx512::V::to_f32(acc, scale, bias);
  if (q.binary)
    return _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GE_OQ), _mm512_set1_epi32(1));
  const __m512 t = _mm512_div_ps(y, _mm512_set1_ps(q.scale));
  __m512 r = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm512_add_ps(r, _mm512_set1_ps(q.zero_point));
  r = _mm512_min_ps(_mm512_max_ps(r, _mm512_setzero_ps()), _mm512_set1_ps(q.qmax));
  return _mm512_cvttps_epi32(r);
}

// Channel vectors outer, pixels inner: a vector's four constants stay in registers.
template <bool Binary>
void run(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& args, uint8_t* dst,
         int64_t dst_stride) {
  const RequantArgs a = args;  // a local copy: the byte stores could alias *args, forcing reloads
  const __m512 half = _mm512_set1_ps(0.5f - 0x1p-14f), sign = _mm512_set1_ps(-0.0f);
  const __m512i zp = _mm512_set1_epi32(int(a.q.zero_point)), qmax = _mm512_set1_epi32(int(a.q.qmax));
  const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
  for (int k = 0; k < nr; k += 16) {
    const __mmask16 lanes = nr - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (nr - k)) - 1u);
    const __m512 m = _mm512_loadu_ps(a.m + k), c = _mm512_loadu_ps(a.c + k);
    const __m512 em = _mm512_loadu_ps(a.em + k), ec = _mm512_loadu_ps(a.ec + k);
    const int32_t* s = src + k;
    uint8_t* d = dst + k;
    for (int64_t p = 0; p < pixels; ++p, s += src_stride, d += dst_stride) {
      const __m512i acc = _mm512_maskz_loadu_epi32(lanes, s);
      const __m512 x = _mm512_cvtepi32_ps(acc);
      const __m512 v = _mm512_fmadd_ps(x, m, c);
      const __m512 e = _mm512_fmadd_ps(_mm512_andnot_ps(sign, x), em, ec);
      __m512i q;
      __mmask16 bad;
      if (Binary) {
        bad = _mm512_mask_cmp_ps_mask(lanes, _mm512_andnot_ps(sign, v), e, _CMP_NGT_UQ);  // |v| <= e, or NaN
        q = _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), one);
      } else {
        const __m512 r = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m512 dist = _mm512_andnot_ps(sign, _mm512_sub_ps(v, r));
        bad = _mm512_mask_cmp_ps_mask(lanes, _mm512_add_ps(dist, e), half, _CMP_NLT_UQ);  // or NaN
        q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(r), zp), zero), qmax);
      }
      if (__builtin_expect(bad != 0, 0)) q = _mm512_mask_mov_epi32(q, bad, exact16(acc, a.scale + k, a.bias + k, a.q));
      _mm_mask_storeu_epi8(d, lanes, _mm512_cvtepi32_epi8(q));
    }
  }
}
}  // namespace

void requantize_avx512(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& a,
                       uint8_t* dst, int64_t dst_stride) {
  (a.q.binary ? run<true> : run<false>)(src, src_stride, pixels, nr, a, dst, dst_stride);
}

}  // namespace bitconv
