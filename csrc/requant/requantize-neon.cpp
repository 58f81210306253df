// Codes output with NEON: 4 channels per step, the checked single-precision path of requantize.h,
// flagged lanes and the channel tail computed by the contract's operations.
#include <arm_neon.h>

#include <cstring>

#include "requant/requantize.h"

namespace bitconv {

namespace {
template <bool Binary>
void run(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& a, uint8_t* dst,
         int64_t dst_stride) {
  const float32x4_t fzero = vdupq_n_f32(0.0f);
  const uint8x8_t qmax = vdup_n_u8(uint8_t(a.q.qmax));
  const int full = nr / 4 * 4;
  for (int64_t p = 0; p < pixels; ++p) {
    const int32_t* s = src + p * src_stride;
    uint8_t* d = dst + p * dst_stride;
    for (int k = 0; k < full; k += 4) {
      const float32x4_t x = vcvtq_f32_s32(vld1q_s32(s + k));
      const float32x4_t w = vfmaq_f32(vld1q_f32(a.c + k), x, vld1q_f32(a.m + k));
      const float32x4_t t = vld1q_f32(a.t + k);
      uint32x4_t bad;
      uint8x8_t b8;
      if (Binary) {
        bad = vmvnq_u32(vcgtq_f32(vabsq_f32(w), t));  // |w| <= t, or NaN
        const uint16x4_t w16 = vmovn_u32(vandq_u32(vcgtq_f32(w, fzero), vdupq_n_u32(1)));
        b8 = vmovn_u16(vcombine_u16(w16, w16));
      } else {
        const float32x4_t f = vrndmq_f32(w);
        bad = vmvnq_u32(vcgeq_f32(vsubq_f32(w, f), t));  // frac(w) < t, or NaN
        // floor(w) saturated to [0, 255], then clipped to qmax
        const uint16x4_t w16 = vqmovun_s32(vcvtq_s32_f32(f));
        b8 = vmin_u8(vqmovn_u16(vcombine_u16(w16, w16)), qmax);
      }
      const uint32_t four = vget_lane_u32(vreinterpret_u32_u8(b8), 0);
      std::memcpy(d + k, &four, 4);
      if (__builtin_expect(vmaxvq_u32(bad) != 0, 0)) {
        uint32_t flags[4];
        vst1q_u32(flags, bad);
        for (int i = 0; i < 4; ++i)
          if (flags[i]) d[k + i] = requantize_exact(s[k + i], a.scale[k + i], a.bias[k + i], a.q);
      }
    }
    for (int i = full; i < nr; ++i) d[i] = requantize_exact(s[i], a.scale[i], a.bias[i], a.q);
  }
}
}  // namespace

void requantize_neon(const int32_t* src, int64_t src_stride, int64_t pixels, int nr, const RequantArgs& a,
                     uint8_t* dst, int64_t dst_stride) {
  (a.q.binary ? run<true> : run<false>)(src, src_stride, pixels, nr, a, dst, dst_stride);
}

}  // namespace bitconv
