// Activation packing with AVX-512: bit-planes (64 codes per load, one VPTESTMB per plane gives the
// 64-bit plane word; the code sum is the planes' popcounts), float32 rows quantized into
// channels-last codes, uint8 rows transposed to channels-last, output tiles transposed to NCHW, and
// the int8 kernels' codes copied into their pixel grid.
// Needs -mavx512f -mavx512bw -mavx512vl.
#include <immintrin.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "pack/pack.h"

// GCC 12 reports the deliberately undefined pass-through operand inside its own intrinsic wrappers
// (_mm512_undefined_epi32 in _mm512_shuffle_i32x4 and others) as uninitialised once they are
// inlined into the transposes below, dozens of times per build.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace {
#include "pack/lane-masks-avx512.h"
#include "pack/quantize-row.h"
#include "pack/transpose-bytes.h"

// Channels-first rows to channels-last bytes, 16 channels x 16 pixels at a time: row(c, w0, mask)
// gives channel c's codes for pixels w0.. (masked past the row's end) as 16 bytes.
template <class RowFn>
inline void transpose_blocks(int width, int channels, uint8_t* dst, RowFn row) {
  __m128i rows[16], cols[16];
  for (int c0 = 0; c0 < channels; c0 += 16) {
    const int nc = channels - c0 < 16 ? channels - c0 : 16;
    for (int w0 = 0; w0 < width; w0 += 16) {
      const int nw = width - w0 < 16 ? width - w0 : 16;
      const __mmask16 wm = lanes(nw);
      for (int i = 0; i < 16; ++i) rows[i] = i < nc ? row(c0 + i, w0, wm) : _mm_setzero_si128();
      transpose16x16(rows, cols);
      const __mmask16 cm = lanes(nc);
      for (int w = 0; w < nw; ++w) _mm_mask_storeu_epi8(dst + int64_t(w0 + w) * channels + c0, cm, cols[w]);
    }
  }
}

// The two in-lane unpack stages on 4 vectors: a 4 x 4 transpose within each 128-bit lane (r[m] lane
// L: element m of rows 0..3's lane L).
inline void transpose4x4_lanes(__m512i* r) {
  const __m512i t0 = _mm512_unpacklo_epi32(r[0], r[1]), t1 = _mm512_unpackhi_epi32(r[0], r[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(r[2], r[3]), t3 = _mm512_unpackhi_epi32(r[2], r[3]);
  r[0] = _mm512_unpacklo_epi64(t0, t2);
  r[1] = _mm512_unpackhi_epi64(t0, t2);
  r[2] = _mm512_unpacklo_epi64(t1, t3);
  r[3] = _mm512_unpackhi_epi64(t1, t3);
}

// In-register 16 x 16 transpose of 32-bit elements (r[i] element j -> r[j] element i): the in-lane
// stages (unpacks, 4 per cycle on Zen 5), then two 128-bit lane stages (2 per cycle); VPERMT2D for
// every stage would be 64 of the slower kind.
inline void transpose16x16_epi32(__m512i (&r)[16]) {
  for (int i = 0; i < 4; ++i) transpose4x4_lanes(r + 4 * i);  // r[4a + m], lane L: rows 4a..4a+3 of column 4L + m
  __m512i t[16];
  for (int m = 0; m < 4; ++m) {
    const __m512i a0 = _mm512_shuffle_i32x4(r[m], r[4 + m], 0x88);
    const __m512i a1 = _mm512_shuffle_i32x4(r[m], r[4 + m], 0xdd);
    const __m512i b0 = _mm512_shuffle_i32x4(r[8 + m], r[12 + m], 0x88);
    const __m512i b1 = _mm512_shuffle_i32x4(r[8 + m], r[12 + m], 0xdd);
    t[m] = _mm512_shuffle_i32x4(a0, b0, 0x88);
    t[8 + m] = _mm512_shuffle_i32x4(a0, b0, 0xdd);
    t[4 + m] = _mm512_shuffle_i32x4(a1, b1, 0x88);
    t[12 + m] = _mm512_shuffle_i32x4(a1, b1, 0xdd);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

// ---- Float32 -> code quantization, bit-identical to quantize_one (DESIGN section 2).
//
// VDIVPS zmm issues once per 2.5 cycles on Zen 5, so the fast path multiplies by inv = fl(1/scale)
// and proves, per 64 values, that the result equals the division's; values it cannot vouch for are
// recomputed with the division (quad_exact).
// Rounding: s = fl(x * inv + M) in one FMA (round to nearest even, whatever MXCSR says) with
// M = 1.5 * 2^23. Let p = x * inv (exact, the FMA does not round it). For |p| < 2^22, p + M lies in
// (2^23, 2^24) where the floats are the integers, so s = M + r with r = rint(p) (ties to even, M is
// even), bits(s) = bits(M) + r, and r = s - M exactly. The residual is d = fl(p - r) (a second
// FMA); rounding is monotonic and T = 0.5 - 2^-14 is a float, so |d| < T implies |p - r| < T.
// Why the result equals the division's, u = 2^-24, z = x / scale, q = fl(z):
// inv = (1/scale)(1 + e1) and q = z(1 + e2) with |e1|, |e2| <= u (inv is normal: the fast path
// needs 2^-126 <= |scale| <= 2^126), so p = z(1 + e1) and |p - q| <= 2u|z|.
//  - |p| < 256: |p - q| < 2^-15 * 1.0000001. A lane with |d| < T has p more than 2^-14 from r +- 0.5,
//    the nearest half-integers, so none lies between p and q and rint(q) == r. Lanes with |d| >= T
//    are flagged (1 in 8192 random values).
//  - 256 <= |p| < 2^22: r and rint(q) are both >= 256 or both <= -256, so both clip to the same
//    end (the fast path needs 0 <= zero_point <= 255 and qmax <= 255).
//  - p >= 2^22 (+Inf too): s >= 2^24 and bits(s) - bits(M) >= 2^22 clips to qmax, as q does.
//    -M <= p <= -2^22: 0 <= s <= 2^23, bits(s) - bits(M) <= -2^22 clips to 0, as q does.
//    p < -M: s < 0, whose bits would wrap: its sign bit goes into |d|, so the lane is flagged.
//  - NaN (and Inf - Inf in d when x is infinite): d is NaN, whose bits compare above the threshold's
//    as unsigned integers: flagged. Only the exact path reports NaN.
//  - p subnormal or 0: s = M, r = 0, and |q| < 0.5 too.
// zero_point is added to the int32 after the rounding (bits(s) - (bits(M) - zero_point)), and the
// clip clip(r + zero_point, 0, qmax) is int16 saturation, unsigned byte saturation and a byte min.
struct Quant {
  __m512 inv, scale, magic;
  __m512i magic_zp;  // bits(M) - zero_point
  __m512i zp32;      // zero point (exact path)
  __m512i thr;       // bits of 0.5 - 2^-14, compared unsigned so that NaN and the sign bit count
  __m512i qmax8;     // qmax, bytes
};

// Four int32 vectors of codes before clipping to codes; 128-bit lane L of the result holds lanes
// 4L..4L+3 of i0, then of i1, i2, i3 (the pack instructions work within lanes).
inline __m512i pack4(const Quant& c, __m512i i0, __m512i i1, __m512i i2, __m512i i3) {
  const __m512i v = _mm512_packus_epi16(_mm512_packs_epi32(i0, i1), _mm512_packs_epi32(i2, i3));
  return _mm512_min_epu8(v, c.qmax8);
}

// Q::quad(): codes of four vectors in pack4's order; ok = false sends the 64 values to quad_exact.
struct FastQ {  // x / scale by reciprocal, checked
  static constexpr bool kBinary = false;
  static inline __m512i one(const Quant& c, __m512 x, __m512i& dmax) {
    const __m512 s = _mm512_fmadd_round_ps(x, c.inv, c.magic, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_sub_ps(s, c.magic);
    const __m512 d = _mm512_fmsub_round_ps(x, c.inv, r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    // |d| with the sign bit of s: 0x7fffffff selects d's bits, the sign comes from s.
    const __m512i v = _mm512_ternarylogic_epi32(_mm512_castps_si512(d), _mm512_castps_si512(s),
                                                _mm512_set1_epi32(0x7fffffff), 0xe4);
    dmax = _mm512_max_epu32(dmax, v);
    return _mm512_sub_epi32(_mm512_castps_si512(s), c.magic_zp);  // rint + zero point
  }
  static inline __m512i quad(const Quant& c, __m512 x0, __m512 x1, __m512 x2, __m512 x3, bool& ok) {
    __m512i dmax = _mm512_setzero_si512();
    const __m512i i0 = one(c, x0, dmax), i1 = one(c, x1, dmax), i2 = one(c, x2, dmax), i3 = one(c, x3, dmax);
    ok = _mm512_cmp_epu32_mask(dmax, c.thr, _MM_CMPINT_NLT) == 0;
    return pack4(c, i0, i1, i2, i3);
  }
};
struct BinaryQ {  // x >= 0: the sign of x + 0 (which turns -0 into +0); only NaN needs quad_exact
  static constexpr bool kBinary = true;
  static inline __m512i neg(__m512 x) {
    const __m512 y = _mm512_add_round_ps(x, _mm512_setzero_ps(), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_srai_epi32(_mm512_castps_si512(y), 31);  // -1 or 0
  }
  static inline __m512i quad(const Quant&, __m512 x0, __m512 x1, __m512 x2, __m512 x3, bool& ok) {
    ok = (_mm512_cmp_ps_mask(x0, x1, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(x2, x3, _CMP_UNORD_Q)) == 0;
    const __m512i v = _mm512_packs_epi16(_mm512_packs_epi32(neg(x0), neg(x1)), _mm512_packs_epi32(neg(x2), neg(x3)));
    return _mm512_add_epi8(v, _mm512_set1_epi8(1));
  }
};

// The reference computation: rint(fl(x / scale)) + zero point, clamped above at 2^16 first
// (NaN stays NaN there and converts to INT_MIN, code 0, like -Inf).
template <class Q>
inline __m512i q_exact(const Quant& c, __m512 x, __mmask16& nan) {
  nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  if constexpr (Q::kBinary)
    return _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), _mm512_set1_epi32(1));
  const __m512 t = _mm512_min_ps(_mm512_set1_ps(65536.0f), _mm512_div_ps(x, c.scale));
  return _mm512_add_epi32(_mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), c.zp32);
}
template <class Q>
inline __m512i quad_exact(const Quant& c, __m512 x0, __m512 x1, __m512 x2, __m512 x3, __mmask16& nan) {
  return pack4(c, q_exact<Q>(c, x0, nan), q_exact<Q>(c, x1, nan), q_exact<Q>(c, x2, nan), q_exact<Q>(c, x3, nan));
}
// Q::quad, its 64 values recomputed by quad_exact where it cannot vouch for them.
template <class Q>
inline __m512i codes64(const Quant& c, __m512 x0, __m512 x1, __m512 x2, __m512 x3, __mmask16& nan) {
  bool ok;
  const __m512i r = Q::quad(c, x0, x1, x2, x3, ok);
  return __builtin_expect(!ok, 0) ? quad_exact<Q>(c, x0, x1, x2, x3, nan) : r;
}

// Fast-path requirements (see above); other quantizers go to quantize_row_generic.
inline bool make_quant(const bitconv::ActQuant& q, Quant& c) {
  if (q.binary) {
    c.qmax8 = _mm512_set1_epi8(1);
    return true;
  }
  const float s = std::fabs(q.scale);
  if (!(s >= 0x1p-126f && s <= 0x1p126f)) return false;
  if (!(q.qmax >= 0.0f && q.qmax <= 255.0f && q.qmax == std::floor(q.qmax))) return false;
  if (!(q.zero_point >= 0.0f && q.zero_point <= 255.0f && q.zero_point == std::floor(q.zero_point))) return false;
  c.scale = _mm512_set1_ps(q.scale);
  c.inv = _mm512_set1_ps(1.0f / q.scale);
  c.magic = _mm512_set1_ps(0x1.8p23f);
  c.magic_zp = _mm512_set1_epi32(0x4b400000 - int(q.zero_point));
  c.zp32 = _mm512_set1_epi32(int(q.zero_point));
  c.thr = _mm512_castps_si512(_mm512_set1_ps(0.5f - 0x1p-14f));
  c.qmax8 = _mm512_set1_epi8(char(uint8_t(q.qmax)));
  return true;
}

// Contiguous runs in output order, 64 values at a time.
template <class Q>
void quantize_run(const Quant& cref, const float* s, int64_t n, uint8_t* d, __mmask16& nan) {
  const Quant c = cref;  // a local copy: the byte stores below could alias *cref, forcing reloads
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 x0 = _mm512_loadu_ps(s + i), x1 = _mm512_loadu_ps(s + i + 16);
    const __m512 x2 = _mm512_loadu_ps(s + i + 32), x3 = _mm512_loadu_ps(s + i + 48);
    _mm512_storeu_si512(d + i, _mm512_permutexvar_epi32(order, codes64<Q>(c, x0, x1, x2, x3, nan)));
  }
  if (i < n) {
    const int left = int(n - i);
    __m512 x[4];
    for (int j = 0; j < 4; ++j) x[j] = _mm512_maskz_loadu_ps(lanes(left - 16 * j), s + i + 16 * j);
    const __m512i r = codes64<Q>(c, x[0], x[1], x[2], x[3], nan);
    _mm512_mask_storeu_epi8(d + i, bytes(left), _mm512_permutexvar_epi32(order, r));
  }
}

// Within each 128-bit lane: bytes [a0..a3 b0..b3 c0..c3 d0..d3] -> [a0 b0 c0 d0 a1 b1 ...], so dword
// j of lane L is pixel 4L + j's four channels.
inline __m512i interleave4(__m512i p) {
  const __m512i idx = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  return _mm512_shuffle_epi8(p, idx);
}

// Loads channel rows c..c+3 (zero from `channels` on), pixels w0.. (masked by wm).
template <bool FULL_W, bool FULL_C>
inline void load_quad(const float* src, int64_t sc, int c, int channels, int w0, __mmask16 wm, __m512 (&x)[4]) {
  for (int j = 0; j < 4; ++j) {
    const float* p = src + (c + j) * sc + w0;
    if (!FULL_C && c + j >= channels)
      x[j] = _mm512_setzero_ps();
    else if (FULL_W)
      x[j] = _mm512_loadu_ps(p);
    else
      x[j] = _mm512_maskz_loadu_ps(wm, p);
  }
}

// Recomputes with the division the channel quads whose bit is set in `redo` of one block, storing
// only their bytes (the rare path: values near a tie, NaN, huge negative values).
template <class Q>
__attribute__((noinline)) void redo_quads(const Quant& c, const float* src, int64_t sc, int channels, int c0, int w0,
                                          int nw, uint32_t redo, uint8_t* dst, __mmask16& nan) {
  const int nc = channels - c0 < 64 ? channels - c0 : 64;
  alignas(64) uint8_t tmp[64];
  for (int k = 0; 4 * k < nc; ++k) {
    if (!((redo >> k) & 1u)) continue;
    __m512 x[4];
    load_quad<false, false>(src, sc, c0 + 4 * k, channels, w0, lanes(nw), x);
    _mm512_store_si512(tmp, interleave4(quad_exact<Q>(c, x[0], x[1], x[2], x[3], nan)));
    uint8_t* d = dst + int64_t(w0) * channels + c0 + 4 * k;
    if (nc - 4 * k >= 4)
      for (int p = 0; p < nw; ++p) std::memcpy(d + int64_t(p) * channels, tmp + 4 * p, 4);
    else
      for (int p = 0; p < nw; ++p)
        for (int j = 0; j < nc - 4 * k; ++j) d[int64_t(p) * channels + j] = tmp[4 * p + j];
  }
}

// NCHW rows (sw == 1) with 5 or more channels: 16 pixels x 64 channels per block. Each quad of
// channels packs into one vector whose dword p is pixel p's 4 codes; a 16 x 16 dword transpose
// then gives one 64-byte vector per pixel.
// Returns the quads that need redo_quads. Not inlined: in the caller's loop GCC spills.
template <class Q, bool FULL_W, bool FULL_C>
__attribute__((noinline)) uint32_t nchw_block(const Quant& c, const float* src, int64_t sc, int channels, int c0,
                                              int w0, int nw, uint8_t* dst) {
  const int nc = FULL_C ? 64 : (channels - c0 < 64 ? channels - c0 : 64);
  const __mmask16 wm = lanes(nw);
  __m512i g[16];
  uint32_t redo = 0;
#pragma GCC unroll 16
  for (int k = 0; k < 16; ++k) {
    if (!FULL_C && 4 * k >= nc) {
      g[k] = _mm512_setzero_si512();
      continue;
    }
    __m512 x[4];
    load_quad<FULL_W, FULL_C>(src, sc, c0 + 4 * k, channels, w0, wm, x);
    // 64 rows are more streams than the hardware prefetchers follow: ask for the data 4 blocks
    // ahead (with contiguous image rows, the next row's start). Input from L3: 15 -> 11 us.
    for (int j = 0; j < 4; ++j)
      if (FULL_C || c0 + 4 * k + j < channels)
        _mm_prefetch(reinterpret_cast<const char*>(src + (c0 + 4 * k + j) * sc + w0 + 64), _MM_HINT_T0);
    bool ok;
    g[k] = interleave4(Q::quad(c, x[0], x[1], x[2], x[3], ok));
    redo |= uint32_t(!ok) << k;
  }
  transpose16x16_epi32(g);
  uint8_t* d = dst + int64_t(w0) * channels + c0;
  if (FULL_W && FULL_C) {
#pragma GCC unroll 16
    for (int p = 0; p < 16; ++p) _mm512_storeu_si512(d + int64_t(p) * channels, g[p]);
  } else {
    for (int p = 0; p < nw; ++p) _mm512_mask_storeu_epi8(d + int64_t(p) * channels, bytes(nc), g[p]);
  }
  return redo;
}

// A row's last block when it has at most 8 pixels and 64 channels: one vector holds 8 pixels of
// channel c and 8 of channel c + 16, so the block costs half of a full one (a 56-pixel row is
// 3.5 blocks). After the in-lane stages of the transpose, vector 4a + m holds pixels m and 4 + m
// for channels 32a..32a+31, so one 128-bit shuffle per output pixel remains.
template <class Q>
__attribute__((noinline)) uint32_t nchw_half_block(const Quant& c, const float* src, int64_t sc, int channels, int c0,
                                                   int w0, int nw, uint8_t* dst) {
  const __mmask8 wm = first8(nw);
  __m512i g[8];
  uint32_t redo = 0;
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {
    const int lo = c0 + 32 * (k / 4) + 4 * (k % 4);  // channels lo.. in lanes 0-1, lo + 16.. in lanes 2-3
    __m512 x[4];
    for (int j = 0; j < 4; ++j) {
      const float* p = src + (lo + j) * sc + w0;
      const __m256 a = _mm256_maskz_loadu_ps(wm, p), b = _mm256_maskz_loadu_ps(wm, p + 16 * sc);
      x[j] = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(a)), _mm256_castps_pd(b), 1));
    }
    bool ok;
    g[k] = interleave4(Q::quad(c, x[0], x[1], x[2], x[3], ok));
    redo |= uint32_t(!ok) * (0x11u << (lo - c0) / 4);  // quads lo and lo + 16
  }
  transpose4x4_lanes(g);
  transpose4x4_lanes(g + 4);
  uint8_t* d = dst + int64_t(w0) * channels + c0;
  for (int m = 0; m < 4; ++m) {
    if (m < nw) _mm512_storeu_si512(d + int64_t(m) * channels, _mm512_shuffle_i32x4(g[m], g[4 + m], 0x88));
    if (4 + m < nw) _mm512_storeu_si512(d + int64_t(4 + m) * channels, _mm512_shuffle_i32x4(g[m], g[4 + m], 0xdd));
  }
  return redo;
}

template <class Q>
void quantize_nchw(const Quant& c, const float* src, int64_t sc, int width, int channels, uint8_t* dst,
                   __mmask16& nan) {
  // Blocks to redo are done after the loop: a call inside it would make GCC keep the constants in
  // memory (every ZMM register is call-clobbered). After 16 of them, every block is redone.
  struct Redo {
    int c0, w0;
    uint32_t quads;
  } redo[16];
  int nredo = 0;
  auto note = [&](int c0, int w0, uint32_t quads) {
    if (__builtin_expect(quads != 0, 0)) {
      if (nredo < 16) redo[nredo] = {c0, w0, quads};
      ++nredo;
    }
  };
  for (int c0 = 0; c0 < channels; c0 += 64) {
    int w0 = 0;
    if (channels - c0 >= 64) {
      for (; w0 + 16 <= width; w0 += 16) note(c0, w0, nchw_block<Q, true, true>(c, src, sc, channels, c0, w0, 16, dst));
      if (width - w0 > 8)
        note(c0, w0, nchw_block<Q, false, true>(c, src, sc, channels, c0, w0, width - w0, dst));
      else if (w0 < width)
        note(c0, w0, nchw_half_block<Q>(c, src, sc, channels, c0, w0, width - w0, dst));
    } else {
      for (; w0 < width; w0 += 16)
        note(c0, w0, nchw_block<Q, false, false>(c, src, sc, channels, c0, w0, width - w0 < 16 ? width - w0 : 16, dst));
    }
  }
  if (nredo > 16) {
    for (int c0 = 0; c0 < channels; c0 += 64)
      for (int w0 = 0; w0 < width; w0 += 16)
        redo_quads<Q>(c, src, sc, channels, c0, w0, width - w0 < 16 ? width - w0 : 16, 0xffff, dst, nan);
  } else {
    for (int i = 0; i < nredo; ++i) {
      const int w0 = redo[i].w0;
      redo_quads<Q>(c, src, sc, channels, redo[i].c0, w0, width - w0 < 16 ? width - w0 : 16, redo[i].quads, dst,
                 nan);
    }
  }
}

// NCHW rows with 1..4 channels (image stems): one quad per 16 pixels, compacted in registers.
template <class Q>
void quantize_nchw_small(const Quant& cref, const float* src, int64_t sc, int width, int channels,
                         uint8_t* dst, __mmask16& nan) {
  const Quant c = cref;  // see quantize_run
  alignas(64) int8_t shuf[16];
  alignas(64) int32_t perm[16];
  for (int i = 0; i < 16; ++i) shuf[i] = -1;  // byte j*ch + k of a lane <- channel k, pixel j = byte 4k + j
  for (int j = 0; j < 4; ++j)
    for (int k = 0; k < channels; ++k) shuf[j * channels + k] = int8_t(4 * k + j);
  for (int i = 0; i < 16; ++i) perm[i] = 0;  // lane L's first `channels` dwords, lanes back to back
  for (int L = 0; L < 4; ++L)
    for (int m = 0; m < channels; ++m) perm[L * channels + m] = 4 * L + m;
  const __m512i sidx = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(shuf)));
  const __m512i pidx = _mm512_load_si512(perm);
  for (int w0 = 0; w0 < width; w0 += 16) {
    const int nw = width - w0 < 16 ? width - w0 : 16;
    __m512 x[4];
    load_quad<false, false>(src, sc, 0, channels, w0, lanes(nw), x);
    const __m512i q = codes64<Q>(c, x[0], x[1], x[2], x[3], nan);
    const __m512i r = _mm512_permutexvar_epi32(pidx, _mm512_shuffle_epi8(q, sidx));
    _mm512_mask_storeu_epi8(dst + int64_t(w0) * channels, bytes(nw * channels), r);
  }
}

template <class Q>
bool quantize_row_impl(const Quant& c, const float* src, int64_t sc, int64_t sw, int width,
                       int channels, uint8_t* dst) {
  __mmask16 nan = 0;
  if ((sc == 1 || channels == 1) && (sw == channels || width == 1)) {  // one run, already in output order
    quantize_run<Q>(c, src, int64_t(width) * channels, dst, nan);
  } else if (sc == 1) {  // channels-last pixels with gaps between them (channels >= 16, see below)
    for (int w = 0; w < width; ++w)
      quantize_run<Q>(c, src + w * sw, channels, dst + int64_t(w) * channels, nan);
  } else if (channels <= 4) {
    quantize_nchw_small<Q>(c, src, sc, width, channels, dst, nan);
  } else {
    quantize_nchw<Q>(c, src, sc, width, channels, dst, nan);
  }
  return nan != 0;
}

// 16 x 16 block of transpose_out from a full 16-row, 16-column source block.
inline void out_block(const int32_t* s, int64_t ss, int32_t* d, const int64_t* off) {
  __m512i r[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_si512(s + i * ss);
  transpose16x16_epi32(r);
#pragma GCC unroll 16
  for (int n = 0; n < 16; ++n) _mm512_storeu_si512(d + off[n], r[n]);
}
// Partial block: ni rows (1..16), nc columns (1..16).
inline void out_block_part(const int32_t* s, int64_t ss, int ni, int nc, int32_t* d, const int64_t* off) {
  __m512i r[16];
  const __mmask16 cm = lanes(nc), im = lanes(ni);
  for (int i = 0; i < 16; ++i) r[i] = i < ni ? _mm512_maskz_loadu_epi32(cm, s + i * ss) : _mm512_setzero_si512();
  transpose16x16_epi32(r);
  for (int n = 0; n < nc; ++n) _mm512_mask_storeu_epi32(d + off[n], im, r[n]);
}

// One group of cg channels per pixel (kw64 words per plane) with a compile-time plane count, and
// word count KW when it is not 0: the loops unrolled. Run-time counts measured slower: 3364
// 64-channel pixels, A = 1: 4.2 against 2.4 us (1.75x); 144-channel rows, 1 plane: 7.0 against 3.2 (2.2x).
// Pixels of one word take the code sum from the plane words' popcounts and test each word's codes
// for the range; wider ones (Sad) take the sum by VPSADBW on the codes, summed across the pixel's
// words and then across lanes, and OR the codes for one test at the end: the mask-register moves and
// tests bind the packer there. The packing phase of 1x1 layers, 2 planes, 1 thread: 192 channels,
// 784 pixels 2.4 -> 2.1 us; 144 channels, 3136 pixels 8.6 -> 7.6; 384 channels 1.6 -> 1.2; 960
// channels 0.94 -> 0.69. Pixels of one word ran slower that way (64 channels, 1 plane, 3x3: 3.9 -> 4.4 us).
template <int A, int KW, bool Sad>
bool pack_pixels(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int cg, int kw64_run, uint64_t* dst,
                 int64_t dst_pix_stride, int32_t* rowsum) {
  const int kw64 = KW ? KW : kw64_run;
  const __m512i high = _mm512_set1_epi8(char(0xff << A));
  const __mmask64 last = bytes(cg - 64 * (kw64 - 1));
  __mmask64 seen = 0;
  __m512i seen_codes = _mm512_setzero_si512();
  for (int64_t x = 0; x < npix; ++x) {
    const uint8_t* s = src + x * src_pix_stride;
    uint64_t* d = dst + x * dst_pix_stride;
    int64_t sum = 0;
    __m512i sums = _mm512_setzero_si512();
    for (int w = 0; w < kw64; ++w) {
      const __m512i q = _mm512_maskz_loadu_epi8(w < kw64 - 1 ? ~__mmask64(0) : last, s + 64 * w);
      if constexpr (Sad) {
        seen_codes = _mm512_or_si512(seen_codes, q);
        sums = _mm512_add_epi64(sums, _mm512_sad_epu8(q, _mm512_setzero_si512()));
      } else {
        seen |= _mm512_test_epi8_mask(q, high);
      }
#pragma GCC unroll 8
      for (int j = 0; j < A; ++j) {
        const __mmask64 word = _mm512_test_epi8_mask(q, _mm512_set1_epi8(char(1 << j)));
        _store_mask64(reinterpret_cast<__mmask64*>(d + j * kw64 + w), word);
        if constexpr (!Sad) sum += int64_t(_mm_popcnt_u64(word)) << j;
      }
    }
    rowsum[x] = int32_t(Sad ? _mm512_reduce_add_epi64(sums) : sum);
  }
  return Sad ? _mm512_test_epi8_mask(seen_codes, high) != 0 : seen != 0;
}

template <int A, int KW>
bool pack_group(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int cg, int kw64_run, uint64_t* dst,
                int64_t dst_pix_stride, int32_t* rowsum) {
  if constexpr (KW != 1)
    if ((KW ? KW : kw64_run) > 1)
      return pack_pixels<A, KW, true>(src, src_pix_stride, npix, cg, kw64_run, dst, dst_pix_stride, rowsum);
  return pack_pixels<A, KW, false>(src, src_pix_stride, npix, cg, kw64_run, dst, dst_pix_stride, rowsum);
}

using Packer = bool (*)(const uint8_t*, int64_t, int64_t, int, int, uint64_t*, int64_t, int32_t*);
template <int KW, int... As>
constexpr std::array<Packer, 8> group_packers(std::integer_sequence<int, As...>) {
  return {&pack_group<As + 1, KW>...};
}
template <int KW>
constexpr std::array<Packer, 8> group_packers() {
  return group_packers<KW>(std::make_integer_sequence<int, 8>{});
}
#include "pack/copy-codes-int8.h"
}  // namespace

namespace bitconv {

bool pack_activations_avx512(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                             int groups, int a_bits, int kw64, uint64_t* dst, int64_t dst_pix_stride,
                             int32_t* rowsum) {
  const int cg = channels / groups;
  if (cg < 16)  // tiny groups (depthwise): per-code work dominates, nothing to vectorise here
    return pack_activations_scalar(src, src_pix_stride, npix, channels, groups, a_bits, kw64, dst,
                                   dst_pix_stride, rowsum);
  if (groups == 1) {  // by plane count and words per plane (1-3 fixed: up to 192 channels)
    static constexpr std::array<Packer, 8> packers[4] = {group_packers<0>(), group_packers<1>(),
                                                         group_packers<2>(), group_packers<3>()};
    const Packer pack = packers[kw64 <= 3 ? kw64 : 0][a_bits - 1];
    return pack(src, src_pix_stride, npix, cg, kw64, dst, dst_pix_stride, rowsum);
  }
  const __m512i high = _mm512_set1_epi8(char(0xff << a_bits));
  __mmask64 seen = 0;  // codes with bits at or above a_bits
  // The code sum comes from the plane words themselves: sum_j 2^j popcount(plane j).
  __m512i bit[8];
  for (int j = 0; j < 8; ++j) bit[j] = _mm512_set1_epi8(char(1 << j));
  for (int64_t x = 0; x < npix; ++x) {
    const uint8_t* s = src + x * src_pix_stride;
    uint64_t* d = dst + x * dst_pix_stride;
    for (int g = 0; g < groups; ++g) {
      const uint8_t* sg = s + int64_t(g) * cg;
      uint64_t* dg = d + int64_t(g) * a_bits * kw64;
      int64_t sum = 0;
      for (int w = 0; w < kw64; ++w) {
        const int left = cg - 64 * w;
        const __m512i q = _mm512_maskz_loadu_epi8(bytes(left), sg + 64 * w);
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
  const bool run = (sc == 1 || channels == 1) && (sw == channels || width == 1);
  const bool pixels = sc == 1 && channels >= 16;           // channels-last with gaps
  const bool planes = sc != 1 && (sw == 1 || width == 1);  // NCHW
  Quant c{};  // binary quantizers set only qmax8
  if (!(run || pixels || planes) || !make_quant(q, c))  // other strides or quantizers
    return quantize_row_generic(src, sc, sw, width, channels, q, dst);
  return q.binary ? quantize_row_impl<BinaryQ>(c, src, sc, sw, width, channels, dst)
                  : quantize_row_impl<FastQ>(c, src, sc, sw, width, channels, dst);
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

// Output tile to NCHW: 16 x 16 blocks transposed in registers. Row blocks outside, so the 16 rows
// read are 16 * cols contiguous values and every column's destination advances 64 bytes per step.
// When all columns start at the same offset within a 64-byte line, the row blocks are shifted so
// that the stores are whole lines (split stores cost about 10% when whole work items were
// transposed); calls of fewer than 64 rows skip the shift. The driver's tiles are cache-line aligned
// with whole-vector row strides, so the loads are whole lines too.
void transpose_out_avx512(const int32_t* src, int64_t rows, int cols, int64_t src_stride, int32_t* dst,
                          const int64_t* col_off) {
  const int full_cols = cols & ~15;
  int64_t i0 = 0;
  if (rows >= 64) {
    const int64_t a = int64_t(reinterpret_cast<uintptr_t>(dst + col_off[0]) / 4 % 16);
    bool same = true;
    for (int n = 1; n < cols && same; ++n) same = (col_off[n] - col_off[0]) % 16 == 0;
    if (same && a != 0) {
      i0 = 16 - a;
      for (int n0 = 0; n0 < cols; n0 += 16)
        out_block_part(src + n0, src_stride, int(i0), cols - n0 < 16 ? cols - n0 : 16, dst, col_off + n0);
    }
  }
  for (; i0 + 16 <= rows; i0 += 16) {
    const int32_t* s = src + i0 * src_stride;
    for (int n0 = 0; n0 < full_cols; n0 += 16) out_block(s + n0, src_stride, dst + i0, col_off + n0);
    if (full_cols < cols)
      out_block_part(s + full_cols, src_stride, 16, cols - full_cols, dst + i0, col_off + full_cols);
  }
  if (i0 < rows)
    for (int n0 = 0; n0 < cols; n0 += 16)
      out_block_part(src + i0 * src_stride + n0, src_stride, int(rows - i0), cols - n0 < 16 ? cols - n0 : 16, dst + i0,
                     col_off + n0);
}

bool copy_codes_int8_avx512(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                            int groups, int a_bits, int kc8, uint32_t* dst, int64_t dst_pix_words) {
  return copy_codes_int8_generic(src, src_pix_stride, npix, channels, groups, a_bits, kc8, dst, dst_pix_words);
}

}  // namespace bitconv
