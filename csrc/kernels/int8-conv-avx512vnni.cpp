// Int8 conv tile kernels for AVX-512 VNNI: the bit-serial tile body (bitserial-tile.h) with a single
// "plane" on each side, whose 32-bit words hold 4 uint8 activation codes and 4 int8 weights, and
// VPDPBUSD as the multiply-accumulate (64 MACs per instruction). conv.cpp picks them over the
// bit-serial kernels for panels with many plane pairs (DESIGN.md: int8 wins from w x a of about 5.3).
// Needs -mavx512f -mavx512bw -mavx512vl -mavx512vpopcntdq -mavx512vnni.
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/microkernel.h"

namespace {

namespace avx512 {
#include "kernels/traits-avx512.h"
}  // namespace avx512

struct V : avx512::V {
  static constexpr bool kCodeSums = false;  // the driver sets no code-sum term for int8 panels
  // Unsigned codes (the broadcast activation word) times signed weights, 4 products per lane.
  // In asm: with the intrinsic, GCC 12 kept the tied accumulators of the split tile and of the
  // permuting variant apart from their registers (a copy per VPDPBUSD, some on the stack through the
  // reduction loop; 64>16 3x3 @56 split 153 us against 68, a 32-channel panel spread over 48 outputs
  // permuted 212 against 125 through the tile buffer).
  static reg mac(reg acc, reg w, reg a) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
    return acc;
  }
};

#include "kernels/bitserial-tile.h"

// The split tile for narrow panels (bitserial-tile.h): 16 channels from 4 weight vectors per step of
// 4 words, one 128-bit broadcast per pixel. A 16-channel panel of the plain tile does one VPDPBUSD
// per broadcast (and per weight load among them): 64>16 3x3 @56 ran at 0.6x the rate of a
// 64-channel panel.
using Int8V = V;
namespace split {
struct V : Int8V {
  static constexpr int kSplit = 4;
  static constexpr int kMaxNV = 1;  // 16 channels (4 accumulators per pixel)
  // Words c .. c + 3 of the pixel into every 128-bit lane (lane p: word c + p).
  static reg broadcast(const uint32_t* p) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  // Lane 4q + v of the result: the sum of lane q's 4 partial sums in x_v.
  static reg fold(reg x0, reg x1, reg x2, reg x3) {
    const reg s01 = add(_mm512_unpacklo_epi32(x0, x1), _mm512_unpackhi_epi32(x0, x1));
    const reg s23 = add(_mm512_unpacklo_epi32(x2, x3), _mm512_unpackhi_epi32(x2, x3));
    return add(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
  }
};
#include "kernels/bitserial-tile.h"
}  // namespace split

}  // namespace

namespace bitconv {
KernelInfo int8_kernel_avx512vnni(int nv) { return lookup_int8_kernel(nv); }
KernelInfo int8_split_kernel_avx512vnni() { return split::lookup_int8_kernel(1); }
}  // namespace bitconv
