// Codes output: each int32 accumulator turned into the next layer's activation code, exactly
// quantize(float32(double(acc) * scale[k] + bias[k])) with the next layer's quantizer (docs/contract.md),
// so that conv2d(out="codes") equals quantize(conv2d(out="float")) bit for bit.
//
// That composition costs a double-precision multiply-add and a float32 division per value. The
// vector paths instead compute one float32 FMA per value, w = fl32(fl32(acc) * m[k] + c[k]), with
// m = fl32(scale / S), S the next layer's float32 scale, and c = fl32(bias / S + zp + 1/2 + E[k]):
// the zero point, the rounding's half and a margin E are folded in, so that the code is floor(w),
// clipped to [0, qmax].
//
// Why floor(w) is the contract's code. Let c~ = bias / S (real), Q = q + zp + 1/2 with the
// contract's q = fl32(fl32(fl64(fl64(acc) * scale) + bias) / S); rint(q) + zp = floor(Q) unless Q is
// an integer (a tie). Each rounding is relative 2^-24 at most (2^-53 in double), so
//   |q - (acc*scale + bias)/S| <= 2^-22.9 (|acc m~| + |c~|)   (three roundings), and
//   |w - (acc*scale + bias)/S - zp - 1/2 - E| <= 2^-23 |acc m~| + 2^-23.9 (|c~| + 257) + 2^-24 |w|
// (fl32(acc), m, c, the FMA). While |w| <= 2^9, |acc m~| <= 2^9 + |c~| + 257 (up to 2^-22 relative),
// and with zp <= 255 the two add up to |w - Q - E| < 2^-12 + 2^-21.1 |c~|. E = 2^-11 + 2^-20 |c~| is
// twice that; tables require |c~| <= 2^16, so E < 0.07. Then if frac(w) >= 2E, Q lies strictly
// between floor(w) and floor(w) + 1 and the code is floor(w), clipped; lanes with frac(w) < 2E (the
// threshold t[k] = 2E) are recomputed by the contract's operations (requantize_exact; on AVX-512 its
// 16-lane copy). Where |w| > 2^9 the clip decides alone: the error is then below 2^-21 |w| + 2^-4,
// so Q and w are on the same side of [0, qmax + 1] and clipping floor(w) gives the contract's code
// (lanes with |w| >= 2^23 are integers, frac 0, so they are flagged: the floor never overflows).
// Binary codes (y >= 0, S = 1, no zp, half or E folded in: c = fl32(c~)) are the sign of w wherever
// |w| > t[k] = E. Constants outside the ranges the bound assumes (m not 0 and outside
// [2^-100, 2^90], |c~| > 2^16, NaN) get t[k] = the NaN of bits 0x7fffffff, above every frac(w) and
// |w| compared as bits, and failing every float compare: each lane of the channel is recomputed,
// even where w is Inf or NaN.
#pragma once
#include <cstdint>
#include <vector>

#include "memory/line-vector.h"
#include "pack/pack.h"

namespace bitconv {

// Per-channel constants of one requantization, in the order of the channels being converted.
struct RequantArgs {
  const float* m;        // fl32(scale / S)
  const float* c;        // fl32(bias / S + zp + 1/2 + E), binary: fl32(bias)
  const float* t;        // threshold: lanes with frac(w) < t (binary: |w| <= t) are recomputed
  const double* scale;   // the contract's a_scale * w_scale[k]
  const double* bias;
  ActQuant q;            // the next layer's quantizer
};

// The constants for n channels with these scales and biases. Callers pass their padded channel
// arrays (whole vectors: the vector paths load whole vectors of constants).
struct RequantTables {
  LineVector<float> m, c, t;
  RequantTables(const double* scale, const double* bias, int n, const ActQuant& q);
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
