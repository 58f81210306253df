// Int8 conv tile kernels for AArch64 with the dot-product extension (SDOT, ARMv8.2 DotProd: most
// cores since Cortex-A76 / Neoverse N1): the int8 form of the tile body as in
// int8-conv-avx512vnni.cpp, 4 output channels per register. SDOT multiplies signed bytes, so the
// driver gives these kernels only layers whose activation codes fit int8 (a_bits <= 7).
// Needs -march=armv8.2-a+dotprod.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/microkernel.h"

namespace {

namespace neon {
#include "kernels/traits-neon.h"
}  // namespace neon

struct V : neon::V {
  static constexpr bool kCodeSums = false;  // the driver sets no code-sum term for int8 panels
  static constexpr int kReserve = 1;  // the broadcast activation word
  // Codes (< 128, so the same as signed bytes) times signed weights, 4 products per lane.
  static reg mac(reg acc, reg w, reg a) {
    return vreinterpretq_u32_s32(
        vdotq_s32(vreinterpretq_s32_u32(acc), vreinterpretq_s8_u32(a), vreinterpretq_s8_u32(w)));
  }
};

#include "kernels/bitserial-tile.h"

}  // namespace

namespace bitconv {
KernelInfo int8_kernel_neondot(int nv) { return lookup_int8_kernel(nv); }
}  // namespace bitconv
