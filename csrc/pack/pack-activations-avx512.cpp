// Activation bit-plane packing with AVX-512BW: 64 codes per load, one VPTESTMB per plane gives the
// 64-bit plane word directly; the code sum is the planes' popcounts. Needs -mavx512f -mavx512bw.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "pack/pack.h"

namespace {
#include "pack/quantize-row.h"

// 16 x 16 byte transpose: a[c] holds 16 bytes (pixels) of channel c; returns out[w] = 16 channels.
inline void transpose16x16(const __m128i a[16], __m128i out[16]) {
  __m128i b[16], c[4][4], d[2][8];
  for (int i = 0; i < 8; ++i) {  // pairs of channels, pixels 0..7 then 8..15
    b[2 * i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
    b[2 * i + 1] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
  }
  for (int q = 0; q < 4; ++q) {  // quads of channels, 4 pixels each
    c[q][0] = _mm_unpacklo_epi16(b[4 * q], b[4 * q + 2]);
    c[q][1] = _mm_unpackhi_epi16(b[4 * q], b[4 * q + 2]);
    c[q][2] = _mm_unpacklo_epi16(b[4 * q + 1], b[4 * q + 3]);
    c[q][3] = _mm_unpackhi_epi16(b[4 * q + 1], b[4 * q + 3]);
  }
  for (int o = 0; o < 2; ++o)  // octets of channels, 2 pixels each
    for (int r = 0; r < 4; ++r) {
      d[o][2 * r] = _mm_unpacklo_epi32(c[2 * o][r], c[2 * o + 1][r]);
      d[o][2 * r + 1] = _mm_unpackhi_epi32(c[2 * o][r], c[2 * o + 1][r]);
    }
  for (int s = 0; s < 8; ++s) {
    out[2 * s] = _mm_unpacklo_epi64(d[0][s], d[1][s]);
    out[2 * s + 1] = _mm_unpackhi_epi64(d[0][s], d[1][s]);
  }
}
// Channels-first rows to channels-last bytes, 16 channels x 16 pixels at a time: row(c, w0, mask)
// gives channel c's codes for pixels w0.. (masked past the row's end) as 16 bytes.
template <class RowFn>
inline void transpose_blocks(int width, int channels, uint8_t* dst, RowFn row) {
  __m128i rows[16], cols[16];
  for (int c0 = 0; c0 < channels; c0 += 16) {
    const int nc = channels - c0 < 16 ? channels - c0 : 16;
    for (int w0 = 0; w0 < width; w0 += 16) {
      const int nw = width - w0 < 16 ? width - w0 : 16;
      const __mmask16 wm = __mmask16((1u << nw) - 1u);
      for (int i = 0; i < 16; ++i) rows[i] = i < nc ? row(c0 + i, w0, wm) : _mm_setzero_si128();
      transpose16x16(rows, cols);
      const __mmask16 cm = __mmask16((1u << nc) - 1u);
      for (int w = 0; w < nw; ++w) _mm_mask_storeu_epi8(dst + int64_t(w0 + w) * channels + c0, cm, cols[w]);
    }
  }
}
}  // namespace

namespace bitconv {

bool pack_activations_avx512(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                             int groups, int a_bits, int kw64, uint64_t* dst, int64_t dst_pix_stride,
                             int32_t* rowsum) {
  const int cg = channels / groups;
  if (cg < 16)  // tiny groups (depthwise): per-code work dominates, nothing to vectorise here
    return pack_activations_scalar(src, src_pix_stride, npix, channels, groups, a_bits, kw64, dst,
                                   dst_pix_stride, rowsum);
  const __m512i high = _mm512_set1_epi8(char(0xff << a_bits));
  __mmask64 seen = 0;  // codes with bits at or above a_bits
  // The code sum comes from the plane words themselves: sum_j 2^j popcount(plane j).
  __m512i bit[8];
  for (int j = 0; j < 8; ++j) bit[j] = _mm512_set1_epi8(char(1 << j));
  if (groups == 1 && kw64 == 1) {  // the common case (<= 64 channels per pixel), kept tight
    const __mmask64 m = cg >= 64 ? ~__mmask64(0) : ((__mmask64(1) << cg) - 1);
    for (int64_t x = 0; x < npix; ++x) {
      const __m512i q = _mm512_maskz_loadu_epi8(m, src + x * src_pix_stride);
      seen |= _mm512_test_epi8_mask(q, high);
      uint64_t* d = dst + x * dst_pix_stride;
      int64_t sum = 0;
      for (int j = 0; j < a_bits; ++j) {
        const __mmask64 word = _mm512_test_epi8_mask(q, bit[j]);
        _store_mask64(reinterpret_cast<__mmask64*>(d + j), word);
        sum += int64_t(_mm_popcnt_u64(word)) << j;
      }
      rowsum[x] = int32_t(sum);
    }
    return seen != 0;
  }
  for (int64_t x = 0; x < npix; ++x) {
    const uint8_t* s = src + x * src_pix_stride;
    uint64_t* d = dst + x * dst_pix_stride;
    for (int g = 0; g < groups; ++g) {
      const uint8_t* sg = s + int64_t(g) * cg;
      uint64_t* dg = d + int64_t(g) * a_bits * kw64;
      int64_t sum = 0;
      for (int w = 0; w < kw64; ++w) {
        const int left = cg - 64 * w;
        const __mmask64 m = left >= 64 ? ~__mmask64(0) : ((__mmask64(1) << left) - 1);
        const __m512i q = _mm512_maskz_loadu_epi8(m, sg + 64 * w);
        seen |= _mm512_test_epi8_mask(q, high);
        for (int j = 0; j < a_bits; ++j) {
          const uint64_t word = _mm512_test_epi8_mask(q, bit[j]);
          dg[j * kw64 + w] = word;
          sum += int64_t(_mm_popcnt_u64(word)) << j;
        }
      }
      rowsum[x * groups + g] = int32_t(sum);
    }
  }
  return seen != 0;
}

bool quantize_row_avx512(const float* src, int64_t sc, int64_t sw, int width, int channels,
                         const ActQuant& q, uint8_t* dst) {
  const __m512 scale = _mm512_set1_ps(q.scale), zp = _mm512_set1_ps(q.zero_point),
               qmax = _mm512_set1_ps(q.qmax), zero = _mm512_setzero_ps();
  const __m512i one = _mm512_set1_epi32(1);
  __mmask16 nan = 0;
  auto codes = [&](__m512 x, __mmask16 m) {
    nan |= _mm512_mask_cmp_ps_mask(m, x, x, _CMP_UNORD_Q);
    if (q.binary) return _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(x, zero, _CMP_GE_OQ), one));
    __m512 r = _mm512_roundscale_ps(_mm512_div_ps(x, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, zp), zero), qmax);  // NaN -> 0 (refused anyway)
    return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(r));
  };
  if (sc == 1) {  // channels-last: no transpose
    for (int w = 0; w < width; ++w)
      for (int c0 = 0; c0 < channels; c0 += 16) {
        const __mmask16 m = channels - c0 >= 16 ? __mmask16(0xffff) : __mmask16((1u << (channels - c0)) - 1u);
        _mm_mask_storeu_epi8(dst + int64_t(w) * channels + c0, m, codes(_mm512_maskz_loadu_ps(m, src + w * sw + c0), m));
      }
    return nan != 0;
  }
  if (sw != 1) return quantize_row_generic(src, sc, sw, width, channels, q, dst);
  transpose_blocks(width, channels, dst, [&](int c, int w0, __mmask16 wm) {
    return codes(_mm512_maskz_loadu_ps(wm, src + c * sc + w0), wm);
  });
  return nan != 0;
}

// uint8 codes with contiguous pixels (NCHW) to channels-last, 16 x 16 bytes at a time.
void transpose_row_avx512(const uint8_t* src, int64_t sc, int64_t sw, int width, int channels, uint8_t* dst) {
  if (sw != 1) {
    transpose_row_generic(src, sc, sw, width, channels, dst);
    return;
  }
  transpose_blocks(width, channels, dst, [&](int c, int w0, __mmask16 wm) {
    return _mm_maskz_loadu_epi8(wm, src + c * sc + w0);
  });
}

// One stage of the 16 x 16 transpose: swap the off-diagonal S x S sub-blocks of each 2S x 2S block.
template <int S>
inline void transpose_stage(__m512i (&r)[16]) {
  alignas(64) static const int32_t lo[16] = {
#define BITCONV_LO(c) ((c) % (2 * S) < S ? (c) : 16 + (c) - S)
      BITCONV_LO(0), BITCONV_LO(1), BITCONV_LO(2), BITCONV_LO(3), BITCONV_LO(4), BITCONV_LO(5),
      BITCONV_LO(6), BITCONV_LO(7), BITCONV_LO(8), BITCONV_LO(9), BITCONV_LO(10), BITCONV_LO(11),
      BITCONV_LO(12), BITCONV_LO(13), BITCONV_LO(14), BITCONV_LO(15)};
#undef BITCONV_LO
  const __m512i idx_lo = _mm512_load_si512(lo);
  const __m512i idx_hi = _mm512_add_epi32(idx_lo, _mm512_set1_epi32(S));
  for (int i = 0; i < 16; ++i)
    if ((i % (2 * S)) < S) {
      const __m512i a = r[i], b = r[i + S];
      r[i] = _mm512_permutex2var_epi32(a, idx_lo, b);
      r[i + S] = _mm512_permutex2var_epi32(a, idx_hi, b);
    }
}

// Output tile to NCHW: 16 x 16 blocks transposed in registers.
void transpose_out_avx512(const int32_t* src, int64_t rows, int cols, int64_t src_stride, int32_t* dst,
                          const int64_t* col_off) {
  __m512i r[16];
  for (int n0 = 0; n0 < cols; n0 += 16) {
    const int nc = cols - n0 < 16 ? cols - n0 : 16;
    const __mmask16 cm = __mmask16((1u << nc) - 1u);
    for (int64_t i0 = 0; i0 < rows; i0 += 16) {
      const int ni = rows - i0 < 16 ? int(rows - i0) : 16;
      if (ni == 16) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) r[i] = _mm512_maskz_loadu_epi32(cm, src + (i0 + i) * src_stride + n0);
      } else {
        for (int i = 0; i < 16; ++i)
          r[i] = i < ni ? _mm512_maskz_loadu_epi32(cm, src + (i0 + i) * src_stride + n0) : _mm512_setzero_si512();
      }
      transpose_stage<8>(r);
      transpose_stage<4>(r);
      transpose_stage<2>(r);
      transpose_stage<1>(r);
      const __mmask16 im = __mmask16((1u << ni) - 1u);
#pragma GCC unroll 16
      for (int n = 0; n < 16; ++n)
        if (n < nc) _mm512_mask_storeu_epi32(dst + col_off[n0 + n] + i0, im, r[n]);
    }
  }
}

}  // namespace bitconv
