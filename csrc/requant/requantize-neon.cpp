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
  const float32x4_t half = vdupq_n_f32(0.5f - 0x1p-14f), fzero = vdupq_n_f32(0.0f);
  const int32x4_t zp = vdupq_n_s32(int(a.q.zero_point)), qmax = vdupq_n_s32(int(a.q.qmax)), zero = vdupq_n_s32(0);
  const int full = nr / 4 * 4;
  for (int64_t p = 0; p < pixels; ++p) {
    const int32_t* s = src + p * src_stride;
    uint8_t* d = dst + p * dst_stride;
    for (int k = 0; k < full; k += 4) {
      const float32x4_t x = vcvtq_f32_s32(vld1q_s32(s + k));
      const float32x4_t v = vfmaq_f32(vld1q_f32(a.c + k), x, vld1q_f32(a.m + k));
      const float32x4_t e = vfmaq_f32(vld1q_f32(a.ec + k), vabsq_f32(x), vld1q_f32(a.em + k));
      uint32x4_t bad;
      int32x4_t q;
      if (Binary) {
        bad = vmvnq_u32(vcgtq_f32(vabsq_f32(v), e));  // |v| <= e, or NaN
        q = vreinterpretq_s32_u32(vandq_u32(vcgtq_f32(v, fzero), vdupq_n_u32(1)));
      } else {
        const float32x4_t r = vrndnq_f32(v);
        bad = vmvnq_u32(vcltq_f32(vaddq_f32(vabsq_f32(vsubq_f32(v, r)), e), half));  // or NaN
        q = vminq_s32(vmaxq_s32(vaddq_s32(vcvtq_s32_f32(r), zp), zero), qmax);
      }
      const uint16x4_t w16 = vmovn_u32(vreinterpretq_u32_s32(q));
      const uint8x8_t b8 = vmovn_u16(vcombine_u16(w16, w16));
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
