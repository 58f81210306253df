// Codes output, portable: the contract's operations for every value, and the per-channel constants
// of the vector paths (requantize.h).
#include "requant/requantize.h"

#include <cmath>
#include <cstring>

namespace bitconv {

RequantTables::RequantTables(const double* scale, const double* bias, int n, const ActQuant& q)
    : m(size_t(n)), c(size_t(n)), t(size_t(n)) {
  const double s = q.binary ? 1.0 : double(q.scale);
  for (int k = 0; k < n; ++k) {
    const double mk = scale[k] / s, ck = bias[k] / s;
    const double e = 0x1p-11 + std::ldexp(std::fabs(ck), -20);  // E of requantize.h
    m[size_t(k)] = float(mk);
    c[size_t(k)] = float(q.binary ? ck : ck + q.zero_point + 0.5 + e);
    t[size_t(k)] = float(q.binary ? e : 2.0 * e);
    const double am = std::fabs(double(m[size_t(k)]));
    const bool usable = (am == 0.0 || (am >= 0x1p-100 && am <= 0x1p90)) && std::fabs(ck) <= 0x1p16;  // false for NaN
    if (!usable) {  // the NaN of largest bits: every lane flagged, even where w is NaN (see requantize.h)
      const uint32_t all = 0x7fffffffu;
      std::memcpy(&t[size_t(k)], &all, 4);
    }
  }
}

void requantize_scalar(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& a,
                       uint8_t* dst, int64_t dst_stride) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int k = 0; k < nr; ++k)
      dst[p * dst_stride + k] = requantize_exact(src[p * src_stride + k], a.scale[k], a.bias[k], a.q);
}

}  // namespace bitconv
