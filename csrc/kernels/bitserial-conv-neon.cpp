// Bit-serial conv tile kernels for AArch64 Advanced SIMD (NEON): 4 output channels per 128-bit
// register, popcount by VCNT on bytes then pairwise widening adds to 32-bit lanes. Needs no flags
// beyond the AArch64 baseline (NEON is mandatory there).
#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/microkernel.h"

namespace {

#include "kernels/traits-neon.h"
#include "kernels/bitserial-tile.h"

}  // namespace

namespace bitconv {
KernelInfo bitserial_kernel_neon(int w_bits, int a_bits, int nv) {
  return lookup_kernel(w_bits, a_bits, nv);
}
KernelInfo bitserial_xor_kernel_neon(int nv, bool down) { return lookup_xor_kernel(nv, down); }
}  // namespace bitconv
