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

#include <algorithm>
#include <cstdint>

#include "memory/line-vector.h"
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

// NT thresholds (1 or 3), planes 1 or 2. Consecutive rows (sr == width) are read as one run of
// rows * width values per channel, other rows as a run each (channel-major: one sequential stream at
// a time; 64 x 56 x 56 read a row of every channel at a time took 6.1-6.5 us from L2, as one run per
// channel 3.4-4.3), in blocks of 16 pixels of a run (only a run's last one partial), whose 16 pixel
// words are then stored in place row by row.
template <int NT, bool kRowRuns>
bool pack_rows(const float* src, int64_t sc, int64_t sr, int rows, int width, int channels,
               const bitconv::PlaneThresholds& th, int kw64, uint64_t* dst, int64_t dst_pix_stride,
               int64_t dst_row_stride, int32_t* rowsum, int64_t rowsum_row_stride) {
  constexpr int P = NT == 1 ? 1 : 2;
  static const Tables tables;
  const Tables k = tables;  // in registers: the stores below could alias a static
  const __m512 t0 = _mm512_set1_ps(th.t[0]), t1 = _mm512_set1_ps(th.t[1]), t2 = _mm512_set1_ps(th.t[2]);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i iota64 = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  // Runs of `run` pixels, `runs` of them sr values apart; bpr blocks of 16 pixels per run.
  constexpr bool one_run = !kRowRuns;
  const int64_t run = one_run ? int64_t(rows) * width : width, runs = one_run ? 1 : rows;
  const int64_t bpr = (run + 15) / 16, nblocks = runs * bpr;
  const __mmask16 last = lanes(int(run - 16 * (bpr - 1)));  // a run's last block
  // The masks of a batch of blocks: [block][threshold][channel], 16 bits each (the planes are XORs
  // of the thresholds' masks, see plane_thresholds), at most 64 KB. All of a batch's compares come
  // before its first transpose, so the transposes' vector loads find the narrow mask stores in the
  // cache: loaded right after them (a block at a time) they waited for the stores to complete, and
  // 64 x 56 x 56 took 6.6 us with data in L1, against 3.3 with those loads reading other memory.
  constexpr int64_t kBlockMasks = NT * 64;
  const int64_t batch = std::min<int64_t>(nblocks, (int64_t(1) << 15) / kBlockMasks);
  thread_local bitconv::LineVector<uint16_t> store;
  if (store.size() < size_t(batch * kBlockMasks)) store.resize(size_t(batch * kBlockMasks));
  uint16_t* const masks = store.data();
  // NaN: |x| above Inf's bits, as unsigned integers. Vector ops, not a compare per vector: the
  // opmask instructions (compares, their stores) cost more. Two running maxima, each taking the
  // maximum of two blocks: VPMAXUD's 2-cycle latency (Zen 5) made one running maximum the limit.
  const __m512i abs_bits = _mm512_set1_epi32(0x7fffffff);
  __m512i top[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
  auto abs_max = [&](__m512 u, __m512 v) {
    return _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(u), abs_bits),
                            _mm512_and_si512(_mm512_castps_si512(v), abs_bits));
  };
  for (int w = 0; w < kw64; ++w) {
    const int c0 = 64 * w, nc = channels - c0 < 64 ? channels - c0 : 64;
    for (int64_t b0 = 0; b0 < nblocks; b0 += batch) {
      const int64_t blocks = std::min(batch, nblocks - b0);
      // Block b0 is block b0_block of run b0_run (one run: no division).
      const int64_t b0_run = one_run ? 0 : b0 / bpr, b0_block = one_run ? b0 : b0 % bpr;
      const int64_t full = b0 + blocks == bpr && run % 16 ? blocks - 1 : blocks;  // one run: whole blocks
      // Channel c's mask of block b; the XOR for plane 0 of three thresholds is done on whole
      // vectors below (fewer opmask instructions).
      auto compare = [&](int64_t b, int c, __m512 v) {
        uint16_t* m = masks + b * kBlockMasks + c;
        m[0] = _mm512_cmp_ps_mask(v, t0, _CMP_GE_OQ);
        if (NT == 3) {
          m[64] = _mm512_cmp_ps_mask(v, t1, _CMP_GE_OQ);
          m[128] = _mm512_cmp_ps_mask(v, t2, _CMP_GE_OQ);
        }
      };
      for (int c = 0; c < 64; ++c) {
        if (c >= nc) {  // channels past the end: zero bits
          for (int64_t b = 0; b < blocks; ++b)
            for (int j = 0; j < NT; ++j) masks[b * kBlockMasks + 64 * j + c] = 0;
          continue;
        }
        const float* const cs = src + int64_t(c0 + c) * sc;
        int64_t b = 0;
        // One run: plain loads at a pointer step, only the run's last block masked (the rows-apart
        // loader below, walking a block index for every block, made 64 x 56 x 56 7.7-7.8 us against
        // 5.6-5.9).
        if constexpr (one_run) {
          const float* s = cs + 16 * b0;
          for (; b + 4 <= full; b += 4) {
            const __m512 v0 = _mm512_loadu_ps(s + 16 * b), v1 = _mm512_loadu_ps(s + 16 * b + 16);
            const __m512 v2 = _mm512_loadu_ps(s + 16 * b + 32), v3 = _mm512_loadu_ps(s + 16 * b + 48);
            top[0] = _mm512_max_epu32(top[0], abs_max(v0, v1));
            top[1] = _mm512_max_epu32(top[1], abs_max(v2, v3));
            compare(b, c, v0), compare(b + 1, c, v1), compare(b + 2, c, v2), compare(b + 3, c, v3);
          }
          for (; b + 2 <= full; b += 2) {
            const __m512 v0 = _mm512_loadu_ps(s + 16 * b), v1 = _mm512_loadu_ps(s + 16 * b + 16);
            top[1] = _mm512_max_epu32(top[1], abs_max(v0, v1));
            compare(b, c, v0), compare(b + 1, c, v1);
          }
          for (; b < blocks; ++b) {
            const __m512 v = _mm512_maskz_loadu_ps(lanes(int(std::min<int64_t>(16, run - 16 * (b0 + b)))), s + 16 * b);
            top[0] = _mm512_max_epu32(top[0], abs_max(v, v));
            compare(b, c, v);
          }
        } else {  // a run per row: every block under its lane mask, the row and block walked
          const float* row = cs + b0_run * sr;
          int64_t jb = b0_block;
          auto load = [&]() {
            const __m512 v = _mm512_maskz_loadu_ps(jb == bpr - 1 ? last : __mmask16(0xffff), row + 16 * jb);
            if (++jb == bpr) jb = 0, row += sr;
            return v;
          };
          for (; b + 4 <= blocks; b += 4) {
            const __m512 v0 = load(), v1 = load(), v2 = load(), v3 = load();
            top[0] = _mm512_max_epu32(top[0], abs_max(v0, v1));
            top[1] = _mm512_max_epu32(top[1], abs_max(v2, v3));
            compare(b, c, v0), compare(b + 1, c, v1), compare(b + 2, c, v2), compare(b + 3, c, v3);
          }
          for (; b < blocks; ++b) {
            const __m512 v = load();
            top[0] = _mm512_max_epu32(top[0], abs_max(v, v));
            compare(b, c, v);
          }
        }
      }
      // Each block's planes and code sums, stored row by row: pixel words i.. of a block go to
      // (row, x) from a VPERMT2Q of its two plane vectors. (row, x) is walked, not divided per
      // block; rows apart, block b is block jb of its run.
      int64_t jb = b0_block;
      int64_t row = one_run ? 16 * jb / width : b0_run, x = one_run ? 16 * jb % width : 16 * jb;
      for (int64_t b = 0; b < blocks; ++b) {
        const uint16_t* m = masks + b * kBlockMasks;
        const int64_t x0 = 16 * (one_run ? b0 + b : jb);  // the block's first pixel in its run
        const int n = int(std::min<int64_t>(16, run - x0));
        if (!one_run && ++jb == bpr) jb = 0;
        __m512i planes[P][2];
        __m512i sum[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
        for (int j = 0; j < P; ++j) {
          // plane 0: masks 0 (and ^ 1 ^ 2 for three thresholds); plane 1: masks 1
          __m512i lo = _mm512_load_si512(m + 64 * j), hi = _mm512_load_si512(m + 64 * j + 32);
          if (NT == 3 && j == 0) {
            lo = _mm512_ternarylogic_epi32(lo, _mm512_load_si512(m + 64), _mm512_load_si512(m + 128), 0x96);
            hi = _mm512_ternarylogic_epi32(hi, _mm512_load_si512(m + 96), _mm512_load_si512(m + 160), 0x96);
          }
          transpose_masks(k, lo, hi, planes[j]);
          for (int h = 0; h < 2; ++h)
            sum[h] = _mm512_add_epi64(sum[h], _mm512_slli_epi64(_mm512_popcnt_epi64(planes[j][h]), j));
        }
        // The 16 sums as dwords: pixel i at lane i.
        const __m512i sums = _mm512_inserti64x4(_mm512_zextsi256_si512(_mm512_cvtepi64_epi32(sum[0])),
                                                _mm512_cvtepi64_epi32(sum[1]), 1);
        // Pixel words apart in dst (2 planes, or more than 64 channels): stored one by one from here.
        alignas(64) uint64_t words[P][16];
        if (dst_pix_stride != 1)
          for (int j = 0; j < P; ++j) {
            _mm512_store_si512(words[j], planes[j][0]);
            _mm512_store_si512(words[j] + 8, planes[j][1]);
          }
        for (int i = 0; i < n;) {  // pixels i .. i + len of the block lie in one row
          const int len = int(std::min<int64_t>(n - i, width - x));
          uint64_t* d = dst + row * dst_row_stride + x * dst_pix_stride + w;
          for (int j = 0; j < P; ++j) {
            if (dst_pix_stride == 1) {
              for (int q = 0; q < len; q += 8) {
                const __m512i from = _mm512_add_epi64(iota64, _mm512_set1_epi64(i + q));  // past 15: masked off
                _mm512_mask_storeu_epi64(d + j * kw64 + q, first8(len - q),
                                         _mm512_permutex2var_epi64(planes[j][0], from, planes[j][1]));
              }
            } else {
              for (int q = 0; q < len; ++q) d[q * dst_pix_stride + j * kw64] = words[j][i + q];
            }
          }
          int32_t* rs = rowsum + row * rowsum_row_stride + x;
          __m512i v = _mm512_permutexvar_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32(i)), sums);
          if (w > 0) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(lanes(len), rs));
          _mm512_mask_storeu_epi32(rs, lanes(len), v);
          i += len, x += len;
          if (x == width) x = 0, ++row;  // rows apart: the next block starts the next run
        }
      }
    }
  }
  const __m512i inf = _mm512_set1_epi32(0x7f800000);
  return (_mm512_cmpgt_epu32_mask(top[0], inf) | _mm512_cmpgt_epu32_mask(top[1], inf)) != 0;
}

}  // namespace

namespace bitconv {

bool pack_float_planes_avx512(const float* src, int64_t sc, int64_t sr, int rows, int width, int channels,
                              const PlaneThresholds& t, int kw64, uint64_t* dst, int64_t dst_pix_stride,
                              int64_t dst_row_stride, int32_t* rowsum, int64_t rowsum_row_stride) {
  // Consecutive rows as one run, other rows a run each: separate copies, as the row walk's code in
  // the same function slowed the one-run loop (512 x 7 x 7: 2.2 -> 2.6 us).
  const bool one_run = sr == width || rows == 1;
  auto pack = t.count == 1 ? (one_run ? &pack_rows<1, false> : &pack_rows<1, true>)
                           : (one_run ? &pack_rows<3, false> : &pack_rows<3, true>);
  return pack(src, sc, sr, rows, width, channels, t, kw64, dst, dst_pix_stride, dst_row_stride, rowsum,
              rowsum_row_stride);
}

}  // namespace bitconv
