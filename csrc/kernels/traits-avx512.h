// Vector traits for avx512: what the generic kernel bodies (bitserial-tile.h, depthwise-row.h) need
// from an ISA. Included inside an anonymous namespace by each kernel file of this ISA, so every copy
// is compiled with that file's flags. The including file provides <immintrin.h> / <arm_neon.h>.
#pragma once

struct V {
  using reg = __m512i;
  static constexpr int L = 16;
  static constexpr int kRegisters = 32;
  static constexpr int kReserve = 2;
  static constexpr int kMaxMR = 8;
  static constexpr int kMaxNV = 4;
  static reg zero() { return _mm512_setzero_si512(); }
  static reg load(const uint32_t* p) { return _mm512_loadu_si512(p); }
  static reg broadcast(const uint32_t* p) { return _mm512_set1_epi32(int(*p)); }
  static reg popcount_and(reg w, reg a) { return _mm512_popcnt_epi32(_mm512_and_si512(w, a)); }
  static reg mac(reg acc, reg w, reg a) { return add(acc, popcount_and(w, a)); }  // one plane pair
  // The XOR forms' plane pair (bitserial-tile.h): popcount(W XOR A).
  static reg popcount_xor(reg w, reg a) { return _mm512_popcnt_epi32(_mm512_xor_si512(w, a)); }
  static constexpr bool kCodeSums = true;  // the result has a code-sum term (the int8 kernels' has not)
  static constexpr int kSplit = 1;  // no split tiles (bitserial-tile.h)
  static reg add(reg a, reg b) { return _mm512_add_epi32(a, b); }
  // x + x where GCC cannot fold it into earlier arithmetic (the binary W1A1 strip, bitserial-tile.h).
  static reg twice(reg x) {
    asm("" : "+v"(x));
    return add(x, x);
  }
  static reg sub(reg a, reg b) { return _mm512_sub_epi32(a, b); }
  static reg shl(reg a, int s) { return _mm512_sll_epi32(a, _mm_cvtsi32_si128(s)); }
  static __mmask16 mask(int n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1u); }
  static void store_i32(int32_t* dst, reg x, int n) {
    if (n >= 16)
      _mm512_storeu_si512(dst, x);
    else
      _mm512_mask_storeu_epi32(dst, mask(n), x);
  }
  // The float output: same operations as the scalar path, in double: convert, multiply, add, round
  // to float.
  static __m512 to_f32(reg x, const double* scale, const double* bias) {
    const __m512d lo = _mm512_cvtepi32_pd(_mm512_castsi512_si256(x));
    const __m512d hi = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(x, 1));
    const __m512d ylo = _mm512_add_pd(_mm512_mul_pd(lo, _mm512_loadu_pd(scale)), _mm512_loadu_pd(bias));
    const __m512d yhi =
        _mm512_add_pd(_mm512_mul_pd(hi, _mm512_loadu_pd(scale + 8)), _mm512_loadu_pd(bias + 8));
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(ylo)), _mm512_cvtpd_ps(yhi), 1);
  }
  static void store_f32(float* dst, reg x, const double* scale, const double* bias, int n) {
    _mm512_mask_storeu_ps(dst, mask(n), to_f32(x, scale, bias));
  }
  // Stores src[0], src[1], ... at the positions of the set bits of mask (16 positions from dst).
  static void store_window(int32_t* dst, uint32_t mask, const int32_t* src) {
    const __mmask16 k = __mmask16(mask);
    _mm512_mask_storeu_epi32(dst, k, _mm512_maskz_expandloadu_epi32(k, src));
  }
  // Windows permuted from the tile's registers (bitserial-tile.h, store_permuted): lane j of a
  // window takes lane idx[j] of the result vectors (lo, hi) and is stored under mask. window_index:
  // the mask's lanes numbered first, first + 1, ... kPermuteWindows: spread blocks use these hooks
  // (bitserial-tile.h, kPermutedStores), the AVX-512 int8 tiles too (with their asm multiply-add:
  // 64@56 {1, 4} bits A2, interleaved, 190 -> 184 us against the tile buffer).
  static constexpr bool kPermuteWindows = true;
  static reg f32_bits(__m512 f) { return _mm512_castps_si512(f); }
  static reg window_index(uint32_t mask, int first) {
    const reg iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return _mm512_maskz_expand_epi32(__mmask16(mask), _mm512_add_epi32(iota, _mm512_set1_epi32(first)));
  }
  static void store_window_regs(int32_t* dst, uint32_t mask, reg idx, reg lo, reg hi) {
    _mm512_mask_storeu_epi32(dst, __mmask16(mask), _mm512_permutex2var_epi32(lo, idx, hi));
  }
};

// Float lanes for the depthwise kernel (exact small integers, see depthwise-row.h).
struct F {
  using reg = __m512;
  static constexpr int L = V::L;
  static constexpr int kDepthwiseMR = 16;  // pixels per 3x3 depthwise tile: 16 sums + 9 weights fit
  static reg zero() { return _mm512_setzero_ps(); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static V::reg to_int(reg x) { return _mm512_cvttps_epi32(x); }
  // Depthwise value rows: L uint8 codes widened to float lanes, ORed into `seen` on the way (the
  // range check rides on the conversion, no second pass over the input; the caller ORs its bytes).
  using codes = __m128i;
  static codes no_codes() { return _mm_setzero_si128(); }
  static reg from_codes(const uint8_t* p, codes& seen) {
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    seen = _mm_or_si128(seen, c);
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c));
  }
  static reg mul_sub(reg x, float mul, float sub) {
    return _mm512_sub_ps(_mm512_mul_ps(x, _mm512_set1_ps(mul)), _mm512_set1_ps(sub));
  }
  static void store(float* p, reg x) { _mm512_storeu_ps(p, x); }
};
