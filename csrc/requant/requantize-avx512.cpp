// Codes output with AVX-512: 16 channels per step, the checked single-precision path of
// requantize.h (one FMA, a floor and a clip per value), flagged lanes recomputed by the contract's
// operations.
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

// Channel vectors outer, pixels inner: a vector's three constants stay in registers.
template <bool Binary>
void run(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& args, uint8_t* dst,
         int64_t dst_stride) {
  const RequantArgs a = args;  // a local copy: the byte stores could alias *args, forcing reloads
  const __m512i sign = _mm512_set1_epi32(INT32_MIN), zero = _mm512_setzero_si512();
  const __m128i one = _mm_set1_epi8(1), qmax = _mm_set1_epi8(char(uint8_t(a.q.qmax)));
  for (int k = 0; k < nr; k += 16) {
    const __mmask16 lanes = avx512::V::mask(nr - k);
    const __m512 m = _mm512_loadu_ps(a.m + k), c = _mm512_loadu_ps(a.c + k);
    const __m512i t = _mm512_loadu_si512(a.t + k);  // t >= +0: compared as bits
    const int32_t* s = src + k;
    uint8_t* d = dst + k;
    for (int64_t p = 0; p < pixels; ++p, s += src_stride, d += dst_stride) {
      const __m512i acc = _mm512_maskz_loadu_epi32(lanes, s);
      const __m512 w = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), m, c);
      // Compares on the float bits (integer compares, which leave the float ports to the
      // conversions): frac(w) >= +0 and |w| order as their bits do.
      const __m512i wb = _mm512_castps_si512(w);
      __m128i q;
      __mmask16 bad;
      if (Binary) {
        bad = _mm512_mask_cmple_epi32_mask(lanes, _mm512_andnot_si512(sign, wb), t);  // |w| <= t
        q = _mm_maskz_mov_epi8(_mm512_cmpgt_epi32_mask(wb, zero), one);               // w > +0
      } else {
        const __m512 frac = _mm512_reduce_ps(w, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);  // w - floor(w), exact
        bad = _mm512_mask_cmplt_epi32_mask(lanes, _mm512_castps_si512(frac), t);
        // floor(w) clipped to [0, qmax] (unsigned saturation to 255, then qmax)
        const __m512i f = _mm512_cvt_roundps_epi32(w, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        q = _mm_min_epu8(_mm512_cvtusepi32_epi8(_mm512_max_epi32(f, zero)), qmax);
      }
      if (__builtin_expect(bad != 0, 0))
        q = _mm_mask_mov_epi8(q, bad, _mm512_cvtepi32_epi8(exact16(acc, a.scale + k, a.bias + k, a.q)));
      _mm_mask_storeu_epi8(d, lanes, q);
    }
  }
}
}  // namespace

void requantize_avx512(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& a,
                       uint8_t* dst, int64_t dst_stride) {
  (a.q.binary ? run<true> : run<false>)(src, src_stride, pixels, nr, a, dst, dst_stride);
}

}  // namespace bitconv
