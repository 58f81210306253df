// The micro-kernel contract shared by the driver (csrc/core) and every ISA's kernels.
//
// A micro-kernel computes a run of output pixels x NR output channels of a bit-serial
// convolution, for one group of channels that share the weight bit count B, with A activation
// planes, in tiles of MR pixels. Walking the run inside the kernel keeps the per-tile cost (pointer
// set-up, epilogue set-up) low: a 64-channel 3x3 tile is only 18 steps long.
// It reads:
//   - packed activations: pixel (oh, ow) of the run has its window's top-left input pixel (tap 0)
//     at act + oh * row_step + ow * col_step. The reduction runs over steps s = t * kc + c (tap t,
//     32-bit word c < kc): step s reads, for each activation plane j (0..A-1), the word at
//     base + step_off[s] + j * a_plane_stride, i.e. word c of tap t's plane row (step_off[s] =
//     tap t's offset + c). Bit b of word c is channel 32*c + b of the group.
//   - a packed weight block (csrc/pack/pack.h, pack-weights.cpp): for each (tap t, word c, weight plane i,
//     vector v) one vector of L lanes, lane l being output channel v*L + l of the block:
//         w[(((t * kc + c) * B + i) * NV + v) * L + l]
//     Weight planes are the bits of the unsigned offset form u of the weight (qw = mult*u - offset).
// and accumulates P = sum_(i,j) 2^(i+j) popcount(W_i AND A_j) per (pixel, channel) in 32-bit
// lanes (wrapping arithmetic is exact because the plan checks that the final value fits int32).
//
// Epilogue, per pixel p = oh * wo + ow of the run and channel n < nr of the block:
//     corr = corr_base ? corr_base + (corr_row ? corr_row[oh] + corr_col[ow] : 0) : null
//     (null also for whole tiles inside the inner_* rectangle, see RunArgs)
//     acc = (P << shift) - qcoef * qsum[p * qsum_stride] - (corr ? corr[n] : 0)
//     (the XOR forms, bitserial_xor_kernel_*, with P = sum popcount(W XOR A) and no code sums:
//     init[n] - (P << shift) - corr, or init[n] - P)
//     out_kind == OUT_INT32: dst = acc
//     out_kind == OUT_FLOAT: dst = float( double(acc) * scale[n] + bias[n] )   (no FMA)
// where dst is element out_off + p * out_stride + ch_off[n] of the output array (int32 or float32).
#pragma once
#include <cstdint>
#include <cstddef>

namespace bitconv {

constexpr int kMaxMR = 8;      // largest pixel tile any kernel uses
constexpr int kMaxNR = 64;     // largest channel tile any kernel uses

// What the kernels store. Codes output is the driver's: its kernels store int32 into a tile that it
// then requantizes.
enum OutKind : int { OUT_INT32 = 0, OUT_FLOAT = 1 };

// A tile buffer's window, src[0], src[1], ... at the positions of the set bits of mask (16 positions
// from dst): the traits' store_window where they have no vector form (scalar, AVX2, NEON). Byte
// copies: the values may be float bits in an int32 buffer, bound for a float output, and an int32
// copy of them may be moved before the float stores that wrote them (strict aliasing). Static: each
// kernel file compiles its own copy with its own flags.
static inline void store_window_bytes(int32_t* dst, uint32_t mask, const int32_t* src) {
  for (int k = 0; mask; ++k, mask >>= 1)
    if (mask & 1u) __builtin_memcpy(dst + k, src++, sizeof(int32_t));
}

// Constant for one channel block of one weight panel.
struct BlockArgs {
  const uint32_t* w;         // packed weight block, layout above
  const int64_t* step_off;   // [steps] in 32-bit words, see above
  int steps;                 // taps x kc
  int kc;                    // 32-bit words per tap per plane
  int64_t a_plane_stride;    // 32-bit words between activation planes
  int nr;                    // valid channels in this block (1..NR)
  const int64_t* ch_off;     // [nr] element offset of each channel in the output
  bool ch_contiguous;        // ch_off[n] == ch_off[0] + n for all n
  int shift;                 // 0..2: log2 of the constant factor on P
  int32_t qcoef;             // factor on the window code sum
  const double* scale;       // [NR] (float output only)
  const double* bias;        // [NR] (float output only)
  const int32_t* init;       // [NR] the XOR forms' per-channel constant (bitserial_xor_kernel_*)
  int out_kind;
  void* out;
};

// A run of output pixels [pix_begin, pix_end) of one image, in row-major order (p = oh * wo + ow).
struct RunArgs {
  const uint32_t* act;         // packed activations of the image (and group): pixel (0, 0)'s base
  int64_t row_step, col_step;  // 32-bit words between output rows and between output columns
  int wo;                      // output columns
  int64_t pix_begin, pix_end;
  const int32_t* qsum;         // window code sum per pixel, at qsum[p * qsum_stride] (null for int8, XOR forms)
  int64_t qsum_stride;
  const int32_t* corr_base;    // border corrections over the block's channels, or null
  const int64_t* corr_row;     // [ho] offset into corr_base by output row; null: one row for all
  const int64_t* corr_col;     // [wo] offset into corr_base by output column (null with corr_row)
  // Tiles of pixels all in output rows [inner_oh0, inner_oh1) and columns [inner_ow0, inner_ow1)
  // take no correction (an XNOR-net panel's rows are zero where no window meets padding).
  int inner_oh0, inner_oh1, inner_ow0, inner_ow1;
  int64_t out_off, out_stride; // output element offset of pixel p: out_off + p * out_stride
};

using TileKernelFn = void (*)(const BlockArgs&, const RunArgs&);  // one block over one run

// Output windows of 16 positions that cover a block's ascending output channel offsets ch[0..n):
// window i starts at ch[src[i]] (stored as that minus `origin` in off[i]) and mask[i] has bit
// ch[k] - ch[src[i]] set for each of its channels. A block whose channels are not contiguous is
// stored through these, one masked store per window and pixel; the driver's cost model counts
// them. Returns the number of windows; off, mask and src may be null (count only). Static: the
// kernel files of every ISA instantiate it with their own flags, and the linker must not pick one
// ISA's copy for another's callers.
template <class T>
static inline int channel_windows(const T* ch, int n, int64_t origin, int64_t* off, uint32_t* mask, int* src) {
  int windows = 0;
  for (int i = 0; i < n;) {
    const int64_t base = ch[i];
    uint32_t m = 0;
    int e = i;
    for (; e < n && ch[e] - base < 16; ++e) m |= 1u << (ch[e] - base);
    if (off) off[windows] = base - origin, mask[windows] = m, src[windows] = i;
    ++windows;
    i = e;
  }
  return windows;
}

// What a kernel needs from the packing and the driver.
struct KernelInfo {
  TileKernelFn fn = nullptr;
  int mr = 0;      // pixels per tile
  int nv = 0;      // vectors per tile
  int lanes = 0;   // 32-bit lanes per vector
  bool permuted_stores = false;  // spread channels' whole tiles stored by permutes from registers
  // Words per reduction step (split tiles, bitserial-tile.h: 4; their weights are packed per step of
  // 4 words and step_off lists every 4th word, reading up to 3 words past a pixel's last).
  int split = 1;
  int nr() const { return nv * lanes; }
  int steps_per_tap(int words) const { return (words + split - 1) / split; }
};

// Per-ISA tables, defined in csrc/kernels/bitserial-conv-<isa>.cpp (only those that were built):
// the kernel for (w_bits, a_bits) with nv vectors of output channels, fn == nullptr past the
// ISA's widest tile.
KernelInfo bitserial_kernel_scalar(int w_bits, int a_bits, int nv);
KernelInfo bitserial_kernel_avx2(int w_bits, int a_bits, int nv);
KernelInfo bitserial_kernel_avx512(int w_bits, int a_bits, int nv);
KernelInfo bitserial_kernel_neon(int w_bits, int a_bits, int nv);
// W1A1 tiles of the XOR forms (bitserial-tile.h, csrc/core/conv.cpp), for odd 1-bit weights: times
// binary activations (down = false) P = sum popcount(W XOR A) is stored as init[n] - (P << shift) -
// corr; times {0,1} activations (down = true) as init[n] - P.
KernelInfo bitserial_xor_kernel_scalar(int nv, bool down);
KernelInfo bitserial_xor_kernel_avx2(int nv, bool down);
KernelInfo bitserial_xor_kernel_avx512(int nv, bool down);
KernelInfo bitserial_xor_kernel_neon(int nv, bool down);
// Int8 kernels (csrc/kernels/int8-conv-<isa>.cpp): the same contract with B = A = 1 plane, whose
// 32-bit words hold 4 channels (bytes) of uint8 codes and of int8 weights, and P = sum of products.
KernelInfo int8_kernel_avx512vnni(int nv);
KernelInfo int8_kernel_avx2vnni(int nv);
KernelInfo int8_kernel_neondot(int nv);  // codes < 128 only (signed dot product)
KernelInfo int8_split_kernel_avx512vnni();  // 16 channels, 4 words per step (split = 4)

}  // namespace bitconv
