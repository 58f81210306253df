// Packing: weights into kernel panels (once per plan and ISA); per call, activation codes into
// bit-planes or int8 words (shared by all output channels), float rows quantized, uint8 rows and
// output tiles transposed between channels-first and channels-last. Kept apart from the kernels.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "memory/line-vector.h"
#include "kernels/microkernel.h"

namespace bitconv {

// Activation bit-planes, NHWC. Pixel x of a run starts at dst + x * dst_pix_stride (64-bit words);
// within a pixel, group g's plane j is a row of kw64 words at + (g * a_bits + j) * kw64, bit b of
// word c holding channel 64 * c + b of the group (zero past the group's channels). Also writes
// rowsum[x * groups + g] = sum of the group's codes at that pixel.
// src: codes of pixel x at src + x * src_pix_stride, channels contiguous. Returns true if a code
// was >= 2^a_bits (the caller refuses the call; the planes hold only the low a_bits bits).
using PackActivationsFn = bool (*)(const uint8_t* src, int64_t src_pix_stride, int64_t npix,
                                   int channels, int groups, int a_bits, int kw64, uint64_t* dst,
                                   int64_t dst_pix_stride, int32_t* rowsum);

bool pack_activations_scalar(const uint8_t*, int64_t, int64_t, int, int, int, int, uint64_t*, int64_t,
                             int32_t*);
bool pack_activations_avx2(const uint8_t*, int64_t, int64_t, int, int, int, int, uint64_t*, int64_t,
                           int32_t*);
bool pack_activations_avx512(const uint8_t*, int64_t, int64_t, int, int, int, int, uint64_t*, int64_t,
                             int32_t*);

// The activation quantizer of DESIGN section 2 in float32: q = clip(rint(x / scale) + zero_point,
// 0, qmax), or q = (x >= 0) when binary.
struct ActQuant {
  float scale;
  float zero_point;
  float qmax;
  bool binary;
};

// The quantizer for one value. Internal linkage (static): files built with different ISA flags
// each keep their own copy, which the linker cannot swap for another file's.
static inline uint8_t quantize_one(float x, const ActQuant& q) {
  if (q.binary) return x >= 0.0f ? 1 : 0;
  float r = std::nearbyint(x / q.scale) + q.zero_point;  // float32 ops, round half to even
  r = r < 0.0f ? 0.0f : r;
  r = r > q.qmax ? q.qmax : r;
  return uint8_t(r);
}

// Quantizes one input row of float32 activations into codes dst[w * channels + c] (channels
// contiguous, ready for PackActivationsFn). Element (c, w) is at src + c * sc + w * sw.
// Returns true if any input was NaN (the caller refuses the call).
using QuantizeRowFn = bool (*)(const float* src, int64_t sc, int64_t sw, int width, int channels,
                               const ActQuant& q, uint8_t* dst);

bool quantize_row_scalar(const float*, int64_t, int64_t, int, int, const ActQuant&, uint8_t*);
bool quantize_row_avx2(const float*, int64_t, int64_t, int, int, const ActQuant&, uint8_t*);
bool quantize_row_avx512(const float*, int64_t, int64_t, int, int, const ActQuant&, uint8_t*);

// A quantizer of at most 3 codes above 0 (1- and 2-bit, binary) as thresholds: quantize_one(x) >= k
// exactly when x >= t[k - 1] (x not NaN), as quantize_one is monotonic. Its planes are then compares:
// plane 0 = [x >= t0] for one threshold, [x >= t0] ^ [x >= t1] ^ [x >= t2] for three, plane 1 = [x >= t1]
// (bit j of a code k flips at the multiples of 2^j).
struct PlaneThresholds {
  int count = 0;  // 0: not representable (more bits, or a quantizer this cannot vouch for)
  float t[3] = {0.0f, 0.0f, 0.0f};
};
PlaneThresholds plane_thresholds(const ActQuant& q, int a_bits);

// Float32 rows of one group, quantized by thresholds straight into the bit-planes and code sums of
// PackActivationsFn (groups = 1, planes = 1 or 2 for 1 or 3 thresholds). Channel c of pixel x of
// row r at src[c * sc + r * sr + x] (NCHW; sr == width: consecutive rows); the planes of pixel
// (r, x) go to dst + r * dst_row_stride + x * dst_pix_stride, its code sum to
// rowsum[r * rowsum_row_stride + x]. Returns true if any input was NaN. Null where the ISA has none.
using PackFloatPlanesFn = bool (*)(const float* src, int64_t sc, int64_t sr, int rows, int width, int channels,
                                   const PlaneThresholds& t, int kw64, uint64_t* dst, int64_t dst_pix_stride,
                                   int64_t dst_row_stride, int32_t* rowsum, int64_t rowsum_row_stride);

bool pack_float_planes_avx512(const float*, int64_t, int64_t, int, int, int, const PlaneThresholds&, int, uint64_t*,
                              int64_t, int64_t, int32_t*, int64_t);

// Copies one input row of uint8 codes to channels-last dst[w * channels + c]; element (c, w) is at
// src + c * sc + w * sw.
using TransposeRowFn = void (*)(const uint8_t* src, int64_t sc, int64_t sw, int width, int channels,
                                uint8_t* dst);

void transpose_row_scalar(const uint8_t*, int64_t, int64_t, int, int, uint8_t*);
void transpose_row_avx2(const uint8_t*, int64_t, int64_t, int, int, uint8_t*);
void transpose_row_avx512(const uint8_t*, int64_t, int64_t, int, int, uint8_t*);

// Output tile transpose (channels-last tile to NCHW): dst[col_off[n] + i] = src[i * src_stride + n]
// for i < rows, n < cols; 32-bit values of either type.
using TransposeOutFn = void (*)(const int32_t* src, int64_t rows, int cols, int64_t src_stride, int32_t* dst,
                                const int64_t* col_off);

void transpose_out_scalar(const int32_t*, int64_t, int, int64_t, int32_t*, const int64_t*);
void transpose_out_avx2(const int32_t*, int64_t, int, int64_t, int32_t*, const int64_t*);
void transpose_out_avx512(const int32_t*, int64_t, int, int64_t, int32_t*, const int64_t*);

// Weight panel for channels `channels` (indices into qweight's first axis) that share `w_bits`.
// qweight: int16 [cout][cg][kh*kw] (tap-major per channel); u = (qw + offset) / mult are the planes.
// Layout: blocks of k.nr() channels; block b holds taps x kc32 x w_bits x nv x lanes 32-bit words
// (see microkernel.h), channels past the end of the list are zero.
struct WeightPanel {
  std::vector<int> channels;      // output channel (within the layer) of each panel position
  KernelInfo kernel;
  int64_t block_words = 0;        // 32-bit words per block
  // All blocks, on whole cache lines (memory/line-vector.h): with malloc's placement the harness read
  // MobileNetV2's 64>384 @14 (2x2 bits, int8) at 52.7-53.2% of the ceiling, on lines 54.6-56.0%.
  LineVector<uint32_t> data;
  int blocks() const { return int((channels.size() + kernel.nr() - 1) / kernel.nr()); }
};

WeightPanel pack_weight_panel(const int16_t* qweight, int cg, int taps, const std::vector<int>& channels,
                              int w_bits, int mult, int offset, int kc32, const KernelInfo& kernel);

// Int8 weight panel for int8_kernel_*: the layout above with one plane and kc8 words per tap, byte b
// of word c holding int8 weight qw of input channel 4 * c + b (zero past cg); for a split kernel
// (kernel.split = 4) steps of 4 words, channel 4q + u's 4 words in 128-bit lane q of vector u
// (kernels/bitserial-tile.h). Every qw of the listed channels must be in [-128, 127].
WeightPanel pack_weight_panel_int8(const int16_t* qweight, int cg, int taps, const std::vector<int>& channels,
                                   int kc8, const KernelInfo& kernel);

// Activation codes for the int8 kernels: pixel x (src + x * src_pix_stride, `channels` codes) into
// dst + x * dst_pix_words as `groups` groups of kc8 32-bit words, each group's codes followed by zero
// bytes. Returns true if a code was >= 2^a_bits.
using CopyCodesInt8Fn = bool (*)(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                                 int groups, int a_bits, int kc8, uint32_t* dst, int64_t dst_pix_words);

bool copy_codes_int8_scalar(const uint8_t*, int64_t, int64_t, int, int, int, int, uint32_t*, int64_t);
bool copy_codes_int8_avx2(const uint8_t*, int64_t, int64_t, int, int, int, int, uint32_t*, int64_t);
bool copy_codes_int8_avx512(const uint8_t*, int64_t, int64_t, int, int, int, int, uint32_t*, int64_t);

}  // namespace bitconv
