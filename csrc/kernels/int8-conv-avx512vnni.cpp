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
  static reg mac(reg acc, reg w, reg a) { return _mm512_dpbusd_epi32(acc, a, w); }
  // Spread channels go through the tile buffer: in the permuting tile variant GCC 12 keeps the
  // accumulators of this tied-operand multiply-add apart from their registers (a copy per VPDPBUSD
  // and two spilled through the stack in the reduction loop), which ran a 32-channel int8 panel
  // spread over 48 outputs (64@56 A2) in 212 us against 125 through the buffer.
  static constexpr bool kPermuteWindows = false;
};

#include "kernels/bitserial-tile.h"

}  // namespace

namespace bitconv {
KernelInfo int8_kernel_avx512vnni(int nv) { return lookup_int8_kernel(nv); }
}  // namespace bitconv
