// Codes output, portable: the contract's operations for every value, and the per-channel constants
// of the vector paths (requantize.h).
#include "requant/requantize.h"

#include <cmath>

namespace bitconv {

RequantTables::RequantTables(const double* scale, const double* bias, int n, int padded, const ActQuant& q)
    : m(size_t(padded), 0.0f), c(size_t(padded), 0.0f), em(size_t(padded), 0.0f), ec(size_t(padded), 0.0f) {
  const double s = q.binary ? 1.0 : double(q.scale);
  for (int k = 0; k < n; ++k) {
    m[size_t(k)] = float(scale[k] / s);
    c[size_t(k)] = float(bias[k] / s);
    em[size_t(k)] = std::ldexp(std::fabs(m[size_t(k)]), -20);
    ec[size_t(k)] = std::ldexp(std::fabs(c[size_t(k)]), -20);
    // The bound assumes normal, finite constants: otherwise e is +Inf or NaN and every value of
    // the channel takes the exact path.
    auto usable = [](float v) { return v == 0.0f || (std::isfinite(v) && std::fabs(v) >= 0x1p-100f); };
    if (!usable(m[size_t(k)]) || !usable(c[size_t(k)])) ec[size_t(k)] = INFINITY;
  }
}

void requantize_scalar(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& a,
                       uint8_t* dst, int64_t dst_stride) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int k = 0; k < nr; ++k)
      dst[p * dst_stride + k] = requantize_exact(src[p * src_stride + k], a.scale[k], a.bias[k], a.q);
}

}  // namespace bitconv
