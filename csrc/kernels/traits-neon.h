// Vector traits for neon: what the generic kernel bodies (bitserial-tile.h, depthwise-row.h) need
// from an ISA. Included inside an anonymous namespace by each kernel file of this ISA, so every copy
// is compiled with that file's flags. The including file provides <arm_neon.h> and <cstring>.
#pragma once

struct V {
  using reg = uint32x4_t;
  static constexpr int L = 4;
  static constexpr int kRegisters = 32;
  static constexpr int kReserve = 2;  // broadcast activation word, popcount scratch
  static constexpr int kMaxMR = 8;
  static constexpr int kMaxNV = 4;
  static reg zero() { return vdupq_n_u32(0); }
  static reg load(const uint32_t* p) { return vld1q_u32(p); }
  static reg broadcast(const uint32_t* p) { return vld1q_dup_u32(p); }
  static reg popcount(reg x) {
    const uint8x16_t bytes = vcntq_u8(vreinterpretq_u8_u32(x));
    return vpaddlq_u16(vpaddlq_u8(bytes));  // 16 byte counts -> 8 halfword sums -> 4 word sums
  }
  static reg popcount_and(reg w, reg a) { return popcount(vandq_u32(w, a)); }
  static reg mac(reg acc, reg w, reg a) { return add(acc, popcount_and(w, a)); }  // one plane pair
  // The XOR forms' plane pair (bitserial-tile.h): popcount(W XOR A).
  static reg popcount_xor(reg w, reg a) { return popcount(veorq_u32(w, a)); }
  static constexpr bool kCodeSums = true;  // the result has a code-sum term (the int8 kernels' has not)
  static constexpr int kSplit = 1;  // no split tiles (bitserial-tile.h)
  static reg add(reg a, reg b) { return vaddq_u32(a, b); }
  // x + x where GCC cannot fold it into earlier arithmetic (the binary W1A1 strip, bitserial-tile.h).
  static reg twice(reg x) {
    asm("" : "+w"(x));
    return add(x, x);
  }
  static reg sub(reg a, reg b) { return vsubq_u32(a, b); }
  static reg shl(reg a, int s) { return vshlq_u32(a, vdupq_n_s32(s)); }
  static void store_i32(int32_t* dst, reg x, int n) {
    const int32x4_t y = vreinterpretq_s32_u32(x);
    if (n >= 4) {
      vst1q_s32(dst, y);
      return;
    }
    // Tail: lane stores only, never touching dst[n..3].
    if (n > 0) vst1q_lane_s32(dst + 0, y, 0);
    if (n > 1) vst1q_lane_s32(dst + 1, y, 1);
    if (n > 2) vst1q_lane_s32(dst + 2, y, 2);
  }
  // y = float(double(int32(x)) * scale + bias), rounded once from double to float like the scalar
  // path. The empty asm keeps the product a separate value so no compiler flag can fuse the
  // multiply and add into FMLA (the build also passes -ffp-contract=off).
  static float64x2_t scale_bias(float64x2_t x, const double* scale, const double* bias) {
    float64x2_t prod = vmulq_f64(x, vld1q_f64(scale));
    __asm__("" : "+w"(prod));
    return vaddq_f64(prod, vld1q_f64(bias));
  }
  static void store_f32(float* dst, reg x, const double* scale, const double* bias, int n) {
    const int32x4_t xi = vreinterpretq_s32_u32(x);
    const float64x2_t lo = vcvtq_f64_s64(vmovl_s32(vget_low_s32(xi)));   // exact: |x| < 2^53
    const float64x2_t hi = vcvtq_f64_s64(vmovl_high_s32(xi));
    const float32x4_t y =
        vcvt_high_f32_f64(vcvt_f32_f64(scale_bias(lo, scale, bias)), scale_bias(hi, scale + 2, bias + 2));
    if (n >= 4) {
      vst1q_f32(dst, y);
      return;
    }
    if (n > 0) vst1q_lane_f32(dst + 0, y, 0);
    if (n > 1) vst1q_lane_f32(dst + 1, y, 1);
    if (n > 2) vst1q_lane_f32(dst + 2, y, 2);
  }
  static constexpr bool kPermuteWindows = false;  // spread channels through the tile buffer
  static void store_window(int32_t* dst, uint32_t mask, const int32_t* src) {  // microkernel.h
    bitconv::store_window_bytes(dst, mask, src);
  }
};

// Float lanes for the depthwise kernel (exact small integers, see depthwise-row.h).
struct F {
  using reg = float32x4_t;
  static constexpr int L = V::L;
  static constexpr int kDepthwiseMR = 8;  // pixels per 3x3 depthwise tile (32 registers)
  static reg zero() { return vdupq_n_f32(0.0f); }
  static reg load(const float* p) { return vld1q_f32(p); }
  static reg fma(reg a, reg b, reg c) { return vfmaq_f32(c, a, b); }
  static V::reg to_int(reg x) { return vreinterpretq_u32_s32(vcvtq_s32_f32(x)); }
  // Depthwise value rows: L uint8 codes widened to float lanes, ORed into `seen` on the way (the
  // range check rides on the conversion, no second pass over the input; the caller ORs its bytes).
  using codes = uint8x8_t;
  static codes no_codes() { return vdup_n_u8(0); }
  static reg from_codes(const uint8_t* p, codes& seen) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    const uint8x8_t c = vreinterpret_u8_u32(vdup_n_u32(w));
    seen = vorr_u8(seen, c);
    return vcvtq_f32_u32(vmovl_u16(vget_low_u16(vmovl_u8(c))));
  }
  static reg mul_sub(reg x, float mul, float sub) { return vsubq_f32(vmulq_f32(x, vdupq_n_f32(mul)), vdupq_n_f32(sub)); }
  static void store(float* p, reg x) { vst1q_f32(p, x); }
};
