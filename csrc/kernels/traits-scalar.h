// Vector traits for scalar: what the generic kernel bodies (bitserial-tile.h, depthwise-row.h) need
// from an ISA. Included inside an anonymous namespace by each kernel file of this ISA, so every copy
// is compiled with that file's flags. The including file provides kernels/popcount-portable.h.
#pragma once

struct V {
  using reg = uint32_t;
  static constexpr int L = 1;            // 32-bit lanes per vector
  static constexpr int kRegisters = 14;  // registers the tile may use
  static constexpr int kReserve = 2;     // scratch registers besides accumulators and weights
  static constexpr int kMaxMR = 4;
  static constexpr int kMaxNV = 4;
  static reg zero() { return 0; }
  static reg load(const uint32_t* p) { return *p; }
  static reg broadcast(const uint32_t* p) { return *p; }
  static reg popcount_and(reg w, reg a) { return popcount32_portable(w & a); }
  static reg mac(reg acc, reg w, reg a) { return add(acc, popcount_and(w, a)); }  // one plane pair
  // The XOR forms' plane pair (bitserial-tile.h): popcount(W XOR A).
  static reg popcount_xor(reg w, reg a) { return popcount32_portable(w ^ a); }
  static constexpr bool kCodeSums = true;  // the result has a code-sum term (the int8 kernels' has not)
  static constexpr int kSplit = 1;  // no split tiles (bitserial-tile.h)
  static reg add(reg a, reg b) { return a + b; }
  static reg twice(reg x) { return x + x; }  // x + x (the binary W1A1 strip, bitserial-tile.h)
  static reg sub(reg a, reg b) { return a - b; }
  static reg shl(reg a, int s) { return a << s; }
  static void store_i32(int32_t* dst, reg x, int n) {
    if (n > 0) *dst = int32_t(x);
  }
  static void store_f32(float* dst, reg x, const double* scale, const double* bias, int n) {
    if (n > 0) *dst = float(double(int32_t(x)) * scale[0] + bias[0]);
  }
  static constexpr bool kPermuteWindows = false;  // spread channels through the tile buffer
  static void store_window(int32_t* dst, uint32_t mask, const int32_t* src) {  // microkernel.h
    bitconv::store_window_bytes(dst, mask, src);
  }
};

// Float lanes for the depthwise kernel (exact small integers, see depthwise-row.h).
struct F {
  using reg = float;
  static constexpr int L = V::L;
  static constexpr int kDepthwiseMR = 8;  // pixels per 3x3 depthwise tile (plain floats)
  static reg zero() { return 0.0f; }
  static reg load(const float* p) { return *p; }
  static reg fma(reg a, reg b, reg c) { return a * b + c; }  // exact: integers below 2^24
  static V::reg to_int(reg x) { return uint32_t(int32_t(x)); }
  // Depthwise value rows: L uint8 codes widened to float lanes, ORed into `seen` on the way (the
  // range check rides on the conversion, no second pass over the input; the caller ORs its bytes).
  using codes = uint8_t;
  static codes no_codes() { return 0; }
  static reg from_codes(const uint8_t* p, codes& seen) {
    seen = uint8_t(seen | *p);
    return float(*p);
  }
  static reg mul_sub(reg x, float mul, float sub) { return mul * x - sub; }
  static void store(float* p, reg x) { *p = x; }
};
