// Depthwise conv rows for avx2: channels-last output, exact small integers in float lanes
// (same flags as bitserial-conv-avx2.cpp).
#include <immintrin.h>
#include <cstdint>
#include <cstring>

#include "kernels/depthwise.h"
#include "kernels/microkernel.h"

namespace {

#include "kernels/traits-avx2.h"
#include "kernels/depthwise-row.h"

}  // namespace

namespace bitconv {
void depthwise_row_avx2(const DepthwiseArgs& d, int oh) { depthwise_row(d, oh); }
uint8_t depthwise_values_avx2(const uint8_t* q, int64_t pix_stride, int width, int pad, int channels, int mult,
                              float mul, float sub, float* dst, int64_t cpad) {
  return depthwise_values(q, pix_stride, width, pad, channels, mult, mul, sub, dst, cpad);
}
}  // namespace bitconv
