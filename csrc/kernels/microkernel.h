// The micro-kernel contract shared by the driver (csrc/core) and every ISA's kernels.
//
// A micro-kernel computes one tile of up to MR output pixels x NR output channels of a
// bit-serial convolution, for one group of channels that share the weight bit count B, with
// A activation planes. It reads:
//   - packed activations: for each pixel of the tile a base pointer (the window's top-left input
//     pixel, tap 0). Tap t of that pixel starts at base + tap_off[t]. At each tap, activation plane
//     j (0..A-1) is a row of 32-bit words starting at + j * a_plane_stride; the kernel reads words
//     0..kc-1 of each row. Bit b of word c is channel 32*c + b of the group.
//   - a packed weight block (see pack/pack_weights.h): for each (tap t, word c, weight plane i,
//     vector v) one vector of L lanes, lane l being output channel v*L + l of the block:
//         w[(((t * kc + c) * B + i) * NV + v) * L + l]
//     Weight planes are the bits of the unsigned offset form u of the weight (qw = mult*u - offset).
// and accumulates P = sum_(i,j) 2^(i+j) popcount(W_i AND A_j) per (pixel, channel) in 32-bit
// lanes (wrapping arithmetic is exact because the plan checks that the final value fits int32).
//
// Epilogue, per pixel m < mr and channel n < nr of the tile:
//     acc = (P << shift) - qcoef * qsum[m] - (corr[m] ? corr[m][n] : 0)
//     out_kind == OUT_INT32: dst = acc
//     out_kind == OUT_FLOAT: dst = float( double(acc) * scale[n] + bias[n] )   (no FMA)
// where dst is element out_off[m] + ch_off[n] of the output array (int32 or float32).
#pragma once
#include <cstdint>
#include <cstddef>

namespace bitconv {

constexpr int kMaxMR = 8;      // largest pixel tile any kernel uses
constexpr int kMaxNR = 64;     // largest channel tile any kernel uses

enum OutKind : int { OUT_INT32 = 0, OUT_FLOAT = 1 };

// Constant for one channel block of one weight panel.
struct BlockArgs {
  const uint32_t* w;         // packed weight block, layout above
  const int64_t* tap_off;    // [taps] in 32-bit words
  int taps;
  int kc;                    // 32-bit words per tap per plane
  int64_t a_plane_stride;    // 32-bit words between activation planes
  int nr;                    // valid channels in this block (1..NR)
  const int64_t* ch_off;     // [nr] element offset of each channel in the output
  bool ch_contiguous;        // ch_off[n] == ch_off[0] + n for all n
  int shift;                 // 0..2: log2 of the constant factor on P
  int32_t qcoef;             // factor on the window code sum
  const double* scale;       // [NR] (float output only)
  const double* bias;        // [NR] (float output only)
  int out_kind;
  void* out;
};

// One tile of output pixels.
struct TileArgs {
  const uint32_t* a[kMaxMR];   // base pointer per pixel (entries >= mr repeat a valid pointer)
  int64_t out_off[kMaxMR];     // output element offset per pixel
  int32_t qsum[kMaxMR];        // window code sum per pixel
  const int32_t* corr[kMaxMR]; // per-pixel border correction row over the block's channels, or null
  int mr;                      // valid pixels (1..MR)
};

using TileKernelFn = void (*)(const BlockArgs&, const TileArgs&);

// What a kernel needs from the packing and the driver.
struct KernelInfo {
  TileKernelFn fn = nullptr;
  int mr = 0;      // pixels per tile
  int nv = 0;      // vectors per tile
  int lanes = 0;   // 32-bit lanes per vector
  int nr() const { return nv * lanes; }
};

// Per-ISA tables, defined in csrc/kernels/bitserial-conv-<isa>.cpp (only those that were built):
// the kernel for (w_bits, a_bits) with nv vectors of output channels, fn == nullptr past the
// ISA's widest tile.
KernelInfo bitserial_kernel_scalar(int w_bits, int a_bits, int nv);
KernelInfo bitserial_kernel_avx2(int w_bits, int a_bits, int nv);
KernelInfo bitserial_kernel_avx512(int w_bits, int a_bits, int nv);
KernelInfo bitserial_kernel_neon(int w_bits, int a_bits, int nv);

}  // namespace bitconv
