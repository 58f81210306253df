// Int8 conv tile kernels for AVX-VNNI (VEX VPDPBUSD on ymm: Alder Lake and later Intel cores, Zen 5):
// the int8 form of the tile body as in int8-conv-avx512vnni.cpp, 8 output channels per register.
// On these CPUs the AVX2 popcount (nibble lookup) makes bit-serial slower than int8 from about two
// plane pairs on. Needs -mavx2 -mfma -mpopcnt -mbmi -mbmi2 -mavxvnni and no AVX-512 flags (which
// would turn the VEX form into EVEX).
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/microkernel.h"

namespace {

namespace avx2 {
#include "kernels/traits-avx2.h"
}  // namespace avx2

struct V : avx2::V {
  static constexpr bool kCodeSums = false;  // the driver sets no code-sum term for int8 panels
  static constexpr int kReserve = 2;  // the broadcast and one scratch: no lookup tables here
  static constexpr int kMaxMR = 6;
  // Unsigned codes (the broadcast activation word) times signed weights, 4 products per lane.
  static reg mac(reg acc, reg w, reg a) { return _mm256_dpbusd_avx_epi32(acc, a, w); }
};

#include "kernels/bitserial-tile.h"

}  // namespace

namespace bitconv {
KernelInfo int8_kernel_avx2vnni(int nv) { return lookup_int8_kernel(nv); }
}  // namespace bitconv
