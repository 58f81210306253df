// Vector traits for avx2: what the generic kernel bodies (bitserial-tile.h, depthwise-row.h) need
// from an ISA. Included inside an anonymous namespace by each kernel file of this ISA, so every copy
// is compiled with that file's flags. The including file provides <immintrin.h> / <arm_neon.h>.
#pragma once

struct V {
  using reg = __m256i;
  static constexpr int L = 8;
  static constexpr int kRegisters = 16;
  static constexpr int kReserve = 4;  // broadcast, lookup table, nibble mask, scratch
  static constexpr int kMaxMR = 4;
  static constexpr int kMaxNV = 2;
  static reg zero() { return _mm256_setzero_si256(); }
  static reg load(const uint32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static reg broadcast(const uint32_t* p) { return _mm256_set1_epi32(int(*p)); }
  static reg popcount_and(reg w, reg a) { return popcount(_mm256_and_si256(w, a)); }
  static reg popcount(reg x) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i nib = _mm256_set1_epi8(0x0f);
    const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(x, nib));
    const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), nib));
    const __m256i bytes = _mm256_add_epi8(lo, hi);
    // Sum the four byte counts of each 32-bit lane.
    const __m256i pairs = _mm256_maddubs_epi16(bytes, _mm256_set1_epi8(1));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
  }
  static reg mac(reg acc, reg w, reg a) { return add(acc, popcount_and(w, a)); }  // one plane pair
  // The XOR forms' plane pair (bitserial-tile.h): popcount(W XOR A).
  static reg popcount_xor(reg w, reg a) { return popcount(_mm256_xor_si256(w, a)); }
  static constexpr bool kCodeSums = true;  // the result has a code-sum term (the int8 kernels' has not)
  static constexpr int kSplit = 1;  // no split tiles (bitserial-tile.h)
  static reg add(reg a, reg b) { return _mm256_add_epi32(a, b); }
  // x + x where GCC cannot fold it into earlier arithmetic (the binary W1A1 strip, bitserial-tile.h).
  static reg twice(reg x) {
    asm("" : "+x"(x));
    return add(x, x);
  }
  static reg sub(reg a, reg b) { return _mm256_sub_epi32(a, b); }
  static reg shl(reg a, int s) { return _mm256_sll_epi32(a, _mm_cvtsi32_si128(s)); }
  static __m256i mask(int n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
  }
  static void store_i32(int32_t* dst, reg x, int n) {
    if (n >= 8)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), x);
    else
      _mm256_maskstore_epi32(dst, mask(n), x);
  }
  static void store_f32(float* dst, reg x, const double* scale, const double* bias, int n) {
    const __m256d lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(x));
    const __m256d hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256(x, 1));
    const __m256d ylo = _mm256_add_pd(_mm256_mul_pd(lo, _mm256_loadu_pd(scale)), _mm256_loadu_pd(bias));
    const __m256d yhi =
        _mm256_add_pd(_mm256_mul_pd(hi, _mm256_loadu_pd(scale + 4)), _mm256_loadu_pd(bias + 4));
    const __m256 y = _mm256_set_m128(_mm256_cvtpd_ps(yhi), _mm256_cvtpd_ps(ylo));
    if (n >= 8)
      _mm256_storeu_ps(dst, y);
    else
      _mm256_maskstore_ps(dst, mask(n), y);
  }
  static constexpr bool kPermuteWindows = false;  // spread channels through the tile buffer
  static void store_window(int32_t* dst, uint32_t mask, const int32_t* src) {  // microkernel.h
    bitconv::store_window_bytes(dst, mask, src);
  }
};

// Float lanes for the depthwise kernel (exact small integers, see depthwise-row.h).
struct F {
  using reg = __m256;
  static constexpr int L = V::L;
  static constexpr int kDepthwiseMR = 8;  // pixels per 3x3 depthwise tile (16 registers: weights reload from L1)
  static reg zero() { return _mm256_setzero_ps(); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static V::reg to_int(reg x) { return _mm256_cvttps_epi32(x); }
  // Depthwise value rows: L uint8 codes widened to float lanes, ORed into `seen` on the way (the
  // range check rides on the conversion, no second pass over the input; the caller ORs its bytes).
  using codes = __m128i;
  static codes no_codes() { return _mm_setzero_si128(); }
  static reg from_codes(const uint8_t* p, codes& seen) {
    const __m128i c = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    seen = _mm_or_si128(seen, c);
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c));
  }
  static reg mul_sub(reg x, float mul, float sub) {
    return _mm256_sub_ps(_mm256_mul_ps(x, _mm256_set1_ps(mul)), _mm256_set1_ps(sub));
  }
  static void store(float* p, reg x) { _mm256_storeu_ps(p, x); }
};
