// Float32 NCHW rows straight to bit-planes, for quantizers of 1 or 3 thresholds (1- and 2-bit,
// binary): quantize, transpose and pack in one pass, with no codes in between.
//
// Per 16 pixels and 64 channels: one compare per threshold and channel gives a 16-bit mask per
// threshold (pixel p at bit p; a plane is one threshold's masks, or for 2 bits plane 0 the XOR of
// three); the 64 masks of a plane, 128 bytes, are then a bit matrix transposed in
// registers: VPERMT2B gathers each 8 x 8 bit block (8 channels x 8 pixels) into a qword,
// GF2P8AFFINEQB with that qword as its matrix transposes the block, and VPERMB puts each pixel's 8
// channel bytes together. The codes path spends 6 vector ops per 16 values on quantizing alone, then
// transposes bytes and packs them again; here each threshold is one compare.
// Needs the AVX-512 flags plus -mgfni -mavx512vbmi (run only where cpu_features reports both).
#include <immintrin.h>

#include <cstdint>

#include "pack/pack.h"

namespace {
#include "pack/lane-masks-avx512.h"

struct Tables {
  __m512i gather[2];  // VPERMT2B: byte 8i + d of block b <- byte 2 (8i + 7 - d) + b of the 128 mask bytes
  __m512i spread;     // VPERMB: byte 8r + i <- byte 8i + r
  __m512i unit;       // byte r of every qword = 1 << r: GF2P8AFFINEQB then reads the matrix's bit r
  Tables() {
    alignas(64) uint8_t g[2][64], s[64];
    for (int i = 0; i < 8; ++i)
      for (int d = 0; d < 8; ++d) {
        for (int b = 0; b < 2; ++b) g[b][8 * i + d] = uint8_t(2 * (8 * i + 7 - d) + b);
        s[8 * d + i] = uint8_t(8 * i + d);
      }
    gather[0] = _mm512_load_si512(g[0]);
    gather[1] = _mm512_load_si512(g[1]);
    spread = _mm512_load_si512(s);
    unit = _mm512_set1_epi64(0x8040201008040201LL);
  }
};

// Planes of 16 pixels of a 64-channel word from the 16-bit masks m[c] (channel c, pixel p at bit p):
// out[b] qword r = pixel 8b + r's word, channel c at bit c. With Y = the block qwords, byte 8i + d =
// mask byte b of channel 8i + 7 - d, GF2P8AFFINEQB(unit, Y) gives at byte r of qword i the bits of
// pixel 8b + r for channels 8i..8i+7 (bit i' of result byte r = bit r of matrix byte 7 - i').
inline void transpose_masks(const Tables& k, __m512i lo, __m512i hi, __m512i (&out)[2]) {
  for (int b = 0; b < 2; ++b) {
    const __m512i y = _mm512_permutex2var_epi8(lo, k.gather[b], hi);
    out[b] = _mm512_permutexvar_epi8(k.spread, _mm512_gf2p8affine_epi64_epi8(k.unit, y, 0));
  }
}

// NT thresholds (1 or 3), planes 1 or 2; blocks of 16 pixels and one 64-channel word.
template <int NT>
bool pack_rows(const float* src, int64_t sc, int width, int channels, const bitconv::PlaneThresholds& th, int kw64,
               uint64_t* dst, int64_t dst_pix_stride, int32_t* rowsum) {
  constexpr int P = NT == 1 ? 1 : 2;
  static const Tables tables;
  const Tables k = tables;  // in registers: the stores below could alias a static
  const __m512 t0 = _mm512_set1_ps(th.t[0]), t1 = _mm512_set1_ps(th.t[1]), t2 = _mm512_set1_ps(th.t[2]);
  alignas(64) uint16_t masks[NT][64];  // per threshold: the planes are XORs of these (plane_thresholds)
  // NaN: |x| above Inf's bits, as unsigned integers. Vector ops, not a compare per vector: the
  // opmask instructions (compares, their stores) are this loop's bottleneck.
  const __m512i abs_bits = _mm512_set1_epi32(0x7fffffff);
  __m512i top = _mm512_setzero_si512();
  for (int w = 0; w < kw64; ++w) {
    const int c0 = 64 * w, nc = channels - c0 < 64 ? channels - c0 : 64;
    for (int j = 0; j < NT; ++j)
      for (int c = nc; c < 64; ++c) masks[j][c] = 0;  // channels past the end: zero bits
    for (int x0 = 0; x0 < width; x0 += 16) {
      const int nx = width - x0 < 16 ? width - x0 : 16;
      const __mmask16 xm = lanes(nx);
      const float* s = src + c0 * sc + x0;
      for (int c = 0; c < nc; ++c, s += sc) {
        // No software prefetch: of the next row or 2-4 rows on, both measured slower.
        const __m512 v = _mm512_maskz_loadu_ps(xm, s);
        top = _mm512_max_epu32(top, _mm512_and_si512(_mm512_castps_si512(v), abs_bits));
        masks[0][c] = _mm512_cmp_ps_mask(v, t0, _CMP_GE_OQ);
        if (NT == 3) {  // the XOR for plane 0 is done on whole vectors below: fewer opmask instructions
          masks[1][c] = _mm512_cmp_ps_mask(v, t1, _CMP_GE_OQ);
          masks[2][c] = _mm512_cmp_ps_mask(v, t2, _CMP_GE_OQ);
        }
      }
      __m512i sum[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
      for (int j = 0; j < P; ++j) {
        // plane 0: masks 0 (and ^ 1 ^ 2 for three thresholds); plane 1: masks 1
        const uint16_t* m = masks[j];
        __m512i lo = _mm512_load_si512(m), hi = _mm512_load_si512(m + 32);
        if (NT == 3 && j == 0) {
          lo = _mm512_ternarylogic_epi32(lo, _mm512_load_si512(masks[1]), _mm512_load_si512(masks[2]), 0x96);
          hi = _mm512_ternarylogic_epi32(hi, _mm512_load_si512(masks[1] + 32), _mm512_load_si512(masks[2] + 32), 0x96);
        }
        __m512i planes[2];
        transpose_masks(k, lo, hi, planes);
        for (int b = 0; b < 2; ++b) {
          const int n = nx - 8 * b;
          if (n <= 0) break;
          sum[b] = _mm512_add_epi64(sum[b], _mm512_slli_epi64(_mm512_popcnt_epi64(planes[b]), j));
          uint64_t* d = dst + int64_t(x0 + 8 * b) * dst_pix_stride + j * kw64 + w;
          if (dst_pix_stride == 1) {
            _mm512_mask_storeu_epi64(d, first8(n), planes[b]);
          } else {
            alignas(64) uint64_t tmp[8];
            _mm512_store_si512(tmp, planes[b]);
            for (int r = 0; r < n; ++r) d[r * dst_pix_stride] = tmp[r];
          }
        }
      }
      for (int b = 0; b < 2; ++b) {
        const int n = nx - 8 * b;
        if (n <= 0) break;
        int32_t* rs = rowsum + x0 + 8 * b;
        __m256i v = _mm512_cvtepi64_epi32(sum[b]);
        if (w > 0) v = _mm256_add_epi32(v, _mm256_maskz_loadu_epi32(first8(n), rs));
        _mm256_mask_storeu_epi32(rs, first8(n), v);
      }
    }
  }
  return _mm512_cmpgt_epu32_mask(top, _mm512_set1_epi32(0x7f800000)) != 0;
}

}  // namespace

namespace bitconv {

bool pack_float_planes_avx512(const float* src, int64_t sc, int width, int channels, const PlaneThresholds& t,
                              int kw64, uint64_t* dst, int64_t dst_pix_stride, int32_t* rowsum) {
  return t.count == 1 ? pack_rows<1>(src, sc, width, channels, t, kw64, dst, dst_pix_stride, rowsum)
                      : pack_rows<3>(src, sc, width, channels, t, kw64, dst, dst_pix_stride, rowsum);
}

}  // namespace bitconv
