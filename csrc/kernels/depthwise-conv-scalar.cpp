// Depthwise conv rows for scalar: channels-last output, exact small integers in float lanes
// (no flags).
#include <cstdint>
#include <cstring>

#include "kernels/depthwise.h"
#include "kernels/microkernel.h"
#include "kernels/popcount-portable.h"

namespace {

#include "kernels/traits-scalar.h"
#include "kernels/depthwise-row.h"

}  // namespace

namespace bitconv {
void depthwise_row_scalar(const DepthwiseArgs& d, int oh) { depthwise_row(d, oh); }
uint8_t depthwise_values_scalar(const uint8_t* q, int64_t pix_stride, int width, int pad, int channels, int mult,
                                float mul, float sub, float* dst, int64_t cpad) {
  return depthwise_values(q, pix_stride, width, pad, channels, mult, mul, sub, dst, cpad);
}
}  // namespace bitconv
