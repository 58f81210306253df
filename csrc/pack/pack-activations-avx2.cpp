// Activation bit-plane packing with AVX2: 32 codes per load; shifting 16-bit lanes left by 7 - j
// brings bit j of every byte to its top bit, and VPMOVMSKB collects them. Also float32 rows quantized
// into channels-last codes, uint8 NCHW rows transposed to channels-last, output tiles transposed to
// NCHW, and the int8 kernels' codes copied into their pixel grid. Needs -mavx2.
#include <immintrin.h>

#include <cstring>

#include "pack/pack.h"

namespace {
#include "pack/quantize-row.h"
#include "pack/transpose-bytes.h"
#include "pack/copy-codes-int8.h"
}  // namespace

namespace bitconv {

bool pack_activations_avx2(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                           int groups, int a_bits, int kw64, uint64_t* dst, int64_t dst_pix_stride,
                           int32_t* rowsum) {
  const int cg = channels / groups;
  if (cg < 16)
    return pack_activations_scalar(src, src_pix_stride, npix, channels, groups, a_bits, kw64, dst,
                                   dst_pix_stride, rowsum);
  alignas(32) uint8_t tail[32];
  __m256i seen = _mm256_setzero_si256();  // OR of every code
  for (int64_t x = 0; x < npix; ++x) {
    const uint8_t* s = src + x * src_pix_stride;
    uint64_t* d = dst + x * dst_pix_stride;
    for (int g = 0; g < groups; ++g) {
      const uint8_t* sg = s + int64_t(g) * cg;
      uint32_t* dg = reinterpret_cast<uint32_t*>(d + int64_t(g) * a_bits * kw64);
      int64_t sum = 0;
      for (int w = 0; w < 2 * kw64; ++w) {  // 32-channel halves of the 64-bit words
        const int left = cg - 32 * w;
        __m256i q;
        if (left >= 32) {
          q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sg + 32 * w));
        } else {
          std::memset(tail, 0, sizeof tail);
          if (left > 0) std::memcpy(tail, sg + 32 * w, size_t(left));
          q = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
        }
        seen = _mm256_or_si256(seen, q);
        for (int j = 0; j < a_bits; ++j) {
          // Little-endian: 32-bit half w of the plane row is word w / 2, low half first.
          const uint32_t word = uint32_t(_mm256_movemask_epi8(_mm256_sll_epi16(q, _mm_cvtsi32_si128(7 - j))));
          dg[j * 2 * kw64 + w] = word;
          sum += int64_t(_mm_popcnt_u32(word)) << j;  // the code sum, from the plane words
        }
      }
      rowsum[x * groups + g] = int32_t(sum);
    }
  }
  const __m256i high = _mm256_set1_epi8(char(0xff << a_bits));
  return !_mm256_testz_si256(seen, high);
}

// Eight values at a time with the contract's float32 operations: the division, round to nearest
// even, + zero point, clip (NaN gives 0 through the max, and is reported).
bool quantize_row_avx2(const float* src, int64_t sc, int64_t sw, int width, int channels,
                       const ActQuant& q, uint8_t* dst) {
  if (sc != 1 && sw != 1) return quantize_row_generic(src, sc, sw, width, channels, q, dst);
  const __m256 scale = _mm256_set1_ps(q.scale), zp = _mm256_set1_ps(q.zero_point), qmax = _mm256_set1_ps(q.qmax),
               zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  __m256 nan = zero;
  bool nan_tail = false;  // the scalar tails
  auto codes = [&](__m256 x) {  // int32 codes of 8 values
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    __m256 r;
    if (q.binary) {
      r = _mm256_and_ps(_mm256_cmp_ps(x, zero, _CMP_GE_OQ), one);
    } else {
      r = _mm256_round_ps(_mm256_div_ps(x, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      r = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, zp), zero), qmax);  // max(NaN, 0) is 0
    }
    return _mm256_cvttps_epi32(r);
  };
  alignas(32) int32_t c8[8];
  if (sc == 1) {  // channels-last: contiguous codes out
    for (int w = 0; w < width; ++w) {
      const float* s = src + w * sw;
      uint8_t* d = dst + int64_t(w) * channels;
      int c = 0;
      for (; c + 8 <= channels; c += 8) {
        const __m256i v = codes(_mm256_loadu_ps(s + c));
        const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(d + c), _mm_packus_epi16(p16, p16));
      }
      for (; c < channels; ++c) {
        const float x = s[c];
        nan_tail |= x != x;
        d[c] = x != x ? 0 : quantize_one(x, q);
      }
    }
  } else {  // NCHW rows: eight pixels of one channel, stored channels-last one byte each
    for (int c = 0; c < channels; ++c) {
      const float* s = src + c * sc;
      int w = 0;
      for (; w + 8 <= width; w += 8) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(c8), codes(_mm256_loadu_ps(s + w)));
        for (int i = 0; i < 8; ++i) dst[int64_t(w + i) * channels + c] = uint8_t(c8[i]);
      }
      for (; w < width; ++w) {
        const float x = s[w];
        nan_tail |= x != x;
        dst[int64_t(w) * channels + c] = x != x ? 0 : quantize_one(x, q);
      }
    }
  }
  return nan_tail || _mm256_movemask_ps(nan) != 0;
}

// Output tile to NCHW: 8 x 8 blocks transposed in registers, the edges one value at a time.
void transpose_out_avx2(const int32_t* src, int64_t rows, int cols, int64_t src_stride, int32_t* dst,
                        const int64_t* col_off) {
  const int full_cols = cols & ~7;
  const int64_t full_rows = rows & ~int64_t(7);
  for (int n0 = 0; n0 < full_cols; n0 += 8)
    for (int64_t i0 = 0; i0 < full_rows; i0 += 8) {
      __m256i r[8], t[8];
      for (int i = 0; i < 8; ++i)
        r[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + (i0 + i) * src_stride + n0));
      for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
      }
      for (int i = 0; i < 2; ++i) {  // r[4i + e], 128-bit lane L: rows 4i..4i+3 of column 4L + e
        r[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
      }
      for (int e = 0; e < 4; ++e) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + col_off[n0 + e] + i0),
                            _mm256_permute2x128_si256(r[e], r[4 + e], 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + col_off[n0 + 4 + e] + i0),
                            _mm256_permute2x128_si256(r[e], r[4 + e], 0x31));
      }
    }
  for (int n = 0; n < cols; ++n) {  // edges: the last rows of full columns, and the last columns
    int32_t* d = dst + col_off[n];
    for (int64_t i = n < full_cols ? full_rows : 0; i < rows; ++i) d[i] = src[i * src_stride + n];
  }
}

// uint8 codes with contiguous pixels (NCHW) to channels-last: whole 16 x 16 blocks in registers, the
// edges one code at a time.
void transpose_row_avx2(const uint8_t* src, int64_t sc, int64_t sw, int width, int channels, uint8_t* dst) {
  if (sw != 1) {
    transpose_row_generic(src, sc, sw, width, channels, dst);
    return;
  }
  const int full_c = channels & ~15, full_w = width & ~15;
  __m128i rows[16], cols[16];
  for (int c0 = 0; c0 < full_c; c0 += 16)
    for (int w0 = 0; w0 < full_w; w0 += 16) {
      for (int i = 0; i < 16; ++i) rows[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + (c0 + i) * sc + w0));
      transpose16x16(rows, cols);
      for (int w = 0; w < 16; ++w)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + int64_t(w0 + w) * channels + c0), cols[w]);
    }
  for (int w = 0; w < width; ++w)  // edges: the last pixels of full channel blocks, the last channels
    for (int c = w < full_w ? full_c : 0; c < channels; ++c) dst[int64_t(w) * channels + c] = src[c * sc + w];
}

bool copy_codes_int8_avx2(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                          int groups, int a_bits, int kc8, uint32_t* dst, int64_t dst_pix_words) {
  return copy_codes_int8_generic(src, src_pix_stride, npix, channels, groups, a_bits, kc8, dst, dst_pix_words);
}

}  // namespace bitconv
