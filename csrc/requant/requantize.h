// Codes output: each int32 accumulator turned into the next layer's activation code, exactly
// quantize(float32(double(acc) * scale[k] + bias[k])) with the next layer's quantizer (docs/contract.md),
// so that conv2d(out="codes") equals quantize(conv2d(out="float")) bit for bit.
//
// That composition costs a double-precision multiply-add and a float32 division per value. The
// vector paths instead compute p = fl32(fl32(acc) * m[k] + c[k]) (one FMA), with m = fl32(scale / S),
// c = fl32(bias / S), S the next layer's float32 scale, and round p. Why that gives the same code:
// both p and the contract's q = fl32(fl32(fl64(fl64(acc) * scale) + bias) / S) are within a few
// roundings (relative 2^-24 each, seven in all, with fl32(acc) inexact above 2^24) of the real
// (acc * scale + bias) / S, so |p - q| < 2^-21.6 * (|acc * scale| + |bias|) / S, which
// e = fl32(|fl32(acc)| * em[k] + ec[k]) bounds from above (em = |m| 2^-20, ec = |c| 2^-20, a margin of
// 3x that covers their own roundings). A value with |p - rint(p)| + e < 0.5 - 2^-14 has no
// half-integer within e of p, so rint(q) == rint(p); binary codes (q >= 0, with S = 1) need |p| > e.
// Values the bound cannot vouch for (near a rounding tie, or |p| beyond about 2^19) are computed by
// the contract's own operations (requantize_exact; on AVX-512 its 16-lane copy for the whole vector).
#pragma once
#include <cstdint>
#include <vector>

#include "pack/pack.h"

namespace bitconv {

// Per-channel constants of one requantization, in the order of the channels being converted.
struct RequantArgs {
  const float* m;        // fl32(scale / S)
  const float* c;        // fl32(bias / S)
  const float* em;       // |m| * 2^-20
  const float* ec;       // |c| * 2^-20
  const double* scale;   // the contract's a_scale * w_scale[k]
  const double* bias;
  ActQuant q;            // the next layer's quantizer
};

// The constants for channels with these scales and biases (n of them), padded with zeros to `padded`.
struct RequantTables {
  std::vector<float> m, c, em, ec;
  RequantTables(const double* scale, const double* bias, int n, int padded, const ActQuant& q);
};

// dst[p * dst_stride + k] = code of src[p * src_stride + k], for p < pixels and k < nr.
using RequantizeFn = void (*)(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& a,
                              uint8_t* dst, int64_t dst_stride);

void requantize_scalar(const int32_t*, int64_t, int64_t, int, const RequantArgs&, uint8_t*, int64_t);
void requantize_avx2(const int32_t*, int64_t, int64_t, int, const RequantArgs&, uint8_t*, int64_t);
void requantize_avx512(const int32_t*, int64_t, int64_t, int, const RequantArgs&, uint8_t*, int64_t);
void requantize_neon(const int32_t*, int64_t, int64_t, int, const RequantArgs&, uint8_t*, int64_t);

// The contract's operations for one value (the build has -ffp-contract=off: no fused multiply-add).
// Static for the reason quantize_one is.
static inline uint8_t requantize_exact(int32_t acc, double scale, double bias, const ActQuant& q) {
  return quantize_one(float(double(acc) * scale + bias), q);
}

}  // namespace bitconv
