// Depthwise conv (one input channel per group) on exact small integers held in float32 lanes.
//
// Activation values v (q - zero_point, or 2q - 1) and weights are integers; when
// taps * max|qw| * max|v| < 2^24 every product and partial sum is an integer float32 represents
// exactly, so multiply-adds give the exact integer accumulator whatever their rounding mode or
// fusion. One vector holds the same pixel for L channels (values in channel blocks of L, output
// channels-last); padding is zero values.
#pragma once
#include <cstdint>

namespace bitconv {

struct DepthwiseArgs {
  const float* act;      // padded value rows [row - row0][cpad / L][wp][L] (channel blocks of the ISA's
                         // L lanes, so a block's pass streams contiguous pixels), input expanded to Cout
  int64_t row0;          // padded input row held at act
  int64_t wp, cpad;      // padded width; channels padded to a multiple of 16 (a value row is wp * cpad)
  int channels;          // Cout
  int kh, kw, sh, sw, dh, dw;
  int wo;
  const float* w;        // [kh * kw][cpad] weights, zero past Cout
  int out_kind;          // OUT_INT32 or OUT_FLOAT
  void* out;             // output element (oh, ow = 0, channel 0) of this row
  int64_t out_pix_stride;  // elements between consecutive output pixels (channels are contiguous)
  const double* scale;   // [cpad] (float output)
  const double* bias;    // [cpad]
};

using DepthwiseRowFn = void (*)(const DepthwiseArgs& d, int oh);

// One padded row of values for the kernel, [cpad / L][wp][L]: padded pixel pad + x, channel k holds
// mul * q[x * pix_stride + k / mult] - sub for x < width, k < channels (Cout = mult * Cin); the
// pad pixels on either side and channels..cpad-1 hold zero. Returns the OR of every code it read.
using DepthwiseValuesFn = uint8_t (*)(const uint8_t* q, int64_t pix_stride, int width, int pad, int channels,
                                      int mult, float mul, float sub, float* dst, int64_t cpad);

uint8_t depthwise_values_scalar(const uint8_t*, int64_t, int, int, int, int, float, float, float*, int64_t);
uint8_t depthwise_values_avx2(const uint8_t*, int64_t, int, int, int, int, float, float, float*, int64_t);
uint8_t depthwise_values_avx512(const uint8_t*, int64_t, int, int, int, int, float, float, float*, int64_t);
uint8_t depthwise_values_neon(const uint8_t*, int64_t, int, int, int, int, float, float, float*, int64_t);
void depthwise_row_scalar(const DepthwiseArgs& d, int oh);
void depthwise_row_avx2(const DepthwiseArgs& d, int oh);
void depthwise_row_avx512(const DepthwiseArgs& d, int oh);
void depthwise_row_neon(const DepthwiseArgs& d, int oh);

}  // namespace bitconv
