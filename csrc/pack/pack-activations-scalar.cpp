// Activation bit-plane packing in portable C++ (the fallback and the reference for the SIMD packers),
// and the int8 kernels' codes copied into their pixel grid.
#include <cmath>
#include <cstring>
#include <limits>

#include "pack/pack.h"

namespace {
#include "pack/quantize-row.h"
#include "pack/copy-codes-int8.h"
}  // namespace

namespace bitconv {

bool pack_activations_scalar(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                             int groups, int a_bits, int kw64, uint64_t* dst, int64_t dst_pix_stride,
                             int32_t* rowsum) {
  const int cg = channels / groups;
  unsigned seen = 0;  // OR of every code
  for (int64_t x = 0; x < npix; ++x) {
    const uint8_t* s = src + x * src_pix_stride;
    uint64_t* d = dst + x * dst_pix_stride;
    for (int g = 0; g < groups; ++g) {
      const uint8_t* sg = s + int64_t(g) * cg;
      uint64_t* dg = d + int64_t(g) * a_bits * kw64;
      int32_t sum = 0;
      for (int w = 0; w < kw64; ++w) {  // each 64-channel word built in registers, stored once
        uint64_t plane[8] = {};
        const int end = cg - 64 * w < 64 ? cg - 64 * w : 64;
        for (int c = 0; c < end; ++c) {
          const unsigned q = sg[64 * w + c];
          seen |= q;
          sum += int32_t(q);
          for (int j = 0; j < a_bits; ++j) plane[j] |= uint64_t((q >> j) & 1u) << c;
        }
        for (int j = 0; j < a_bits; ++j) dg[j * kw64 + w] = plane[j];
      }
      rowsum[x * groups + g] = sum;
    }
  }
  return (seen >> a_bits) != 0;
}

PlaneThresholds plane_thresholds(const ActQuant& q, int a_bits) {
  PlaneThresholds t;
  const int qmax = (1 << a_bits) - 1;
  // Monotonic, with code 0 at -Inf and qmax at +Inf (the bisection's ends), for a positive finite
  // scale.
  if (a_bits > 2 || q.qmax != float(qmax) || (!q.binary && !(q.scale > 0.0f && std::isfinite(q.scale)))) return t;
  // Floats in order as unsigned keys (negative ones reversed), -Inf to +Inf with no NaN between.
  auto key = [](float x) {
    uint32_t b;
    std::memcpy(&b, &x, 4);
    return b >> 31 ? ~b : b | 0x80000000u;
  };
  auto value = [](uint32_t k) {
    const uint32_t b = k >> 31 ? k & 0x7fffffffu : ~k;
    float x;
    std::memcpy(&x, &b, 4);
    return x;
  };
  const float inf = std::numeric_limits<float>::infinity();
  for (int k = 1; k <= qmax; ++k) {
    uint32_t lo = key(-inf), hi = key(inf);  // code(lo) < k <= code(hi): bisect to the first float of code >= k
    while (hi - lo > 1) {
      const uint32_t mid = lo + (hi - lo) / 2;
      (quantize_one(value(mid), q) >= k ? hi : lo) = mid;
    }
    t.t[k - 1] = value(hi);
  }
  t.count = qmax;
  return t;
}

bool quantize_row_scalar(const float* src, int64_t sc, int64_t sw, int width, int channels,
                         const ActQuant& q, uint8_t* dst) {
  return quantize_row_generic(src, sc, sw, width, channels, q, dst);
}

void transpose_row_scalar(const uint8_t* src, int64_t sc, int64_t sw, int width, int channels, uint8_t* dst) {
  transpose_row_generic(src, sc, sw, width, channels, dst);
}

void transpose_out_scalar(const int32_t* src, int64_t rows, int cols, int64_t src_stride, int32_t* dst,
                          const int64_t* col_off) {
  for (int n = 0; n < cols; ++n) {
    int32_t* d = dst + col_off[n];
    for (int64_t i = 0; i < rows; ++i) d[i] = src[i * src_stride + n];
  }
}

bool copy_codes_int8_scalar(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                            int groups, int a_bits, int kc8, uint32_t* dst, int64_t dst_pix_words) {
  return copy_codes_int8_generic(src, src_pix_stride, npix, channels, groups, a_bits, kc8, dst, dst_pix_words);
}

}  // namespace bitconv
