// Probe kernels for AArch64 NEON (compiled only on AArch64, baseline flags): AND + VCNT + VPADAL
// on a 4x2 register-blocked tile, and SDOT (dot-product extension, enabled on that one function).
#include <arm_neon.h>

#include "probe/probe.h"

namespace bitconv {
namespace probe_kernels {

// One iteration: 8 products x 128 binary MACs.
const double kBinaryNeonPerIter = 8.0 * 128.0;

uint64_t binary_neon(uint64_t iters) {
  uint8x16_t a0 = vdupq_n_u8(0x55), a1 = vdupq_n_u8(0x0f), a2 = vdupq_n_u8(0x33), a3 = vdupq_n_u8(0xff);
  uint8x16_t w0 = vdupq_n_u8(0x77), w1 = vdupq_n_u8(0x1d);
  uint16x8_t c0 = vdupq_n_u16(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  for (uint64_t it = 0; it < iters; ++it) {
    __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3), "+w"(w0), "+w"(w1));
    c0 = vpadalq_u8(c0, vcntq_u8(vandq_u8(a0, w0)));
    c1 = vpadalq_u8(c1, vcntq_u8(vandq_u8(a0, w1)));
    c2 = vpadalq_u8(c2, vcntq_u8(vandq_u8(a1, w0)));
    c3 = vpadalq_u8(c3, vcntq_u8(vandq_u8(a1, w1)));
    c4 = vpadalq_u8(c4, vcntq_u8(vandq_u8(a2, w0)));
    c5 = vpadalq_u8(c5, vcntq_u8(vandq_u8(a2, w1)));
    c6 = vpadalq_u8(c6, vcntq_u8(vandq_u8(a3, w0)));
    c7 = vpadalq_u8(c7, vcntq_u8(vandq_u8(a3, w1)));
  }
  uint16x8_t s = vaddq_u16(vaddq_u16(vaddq_u16(c0, c1), vaddq_u16(c2, c3)),
                           vaddq_u16(vaddq_u16(c4, c5), vaddq_u16(c6, c7)));
  return vaddlvq_u16(s);
}

// One iteration: 8 x SDOT (16 int8 MACs each).
const double kInt8NeonDotPerIter = 8.0 * 16.0;

__attribute__((target("arch=armv8.2-a+dotprod"))) uint64_t int8_neon_dot(uint64_t iters) {
  int8x16_t a0 = vdupq_n_s8(3), a1 = vdupq_n_s8(5), b0 = vdupq_n_s8(-7), b1 = vdupq_n_s8(11);
  // Distinct start values: identical chains would be merged by the compiler.
  int32x4_t c0 = vdupq_n_s32(0), c1 = vdupq_n_s32(1), c2 = vdupq_n_s32(2), c3 = vdupq_n_s32(3),
            c4 = vdupq_n_s32(4), c5 = vdupq_n_s32(5), c6 = vdupq_n_s32(6), c7 = vdupq_n_s32(7);
  for (uint64_t it = 0; it < iters; ++it) {
    __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(b0), "+w"(b1));
    c0 = vdotq_s32(c0, a0, b0);
    c1 = vdotq_s32(c1, a0, b1);
    c2 = vdotq_s32(c2, a1, b0);
    c3 = vdotq_s32(c3, a1, b1);
    c4 = vdotq_s32(c4, a0, b0);
    c5 = vdotq_s32(c5, a0, b1);
    c6 = vdotq_s32(c6, a1, b0);
    c7 = vdotq_s32(c7, a1, b1);
  }
  int32x4_t s = vaddq_s32(vaddq_s32(vaddq_s32(c0, c1), vaddq_s32(c2, c3)),
                          vaddq_s32(vaddq_s32(c4, c5), vaddq_s32(c6, c7)));
  return uint64_t(uint32_t(vaddvq_s32(s)));
}

}  // namespace probe_kernels
}  // namespace bitconv
