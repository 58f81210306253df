// Bit-serial conv tile kernels for AVX2: 8 output channels per ymm register, popcount by nibble
// lookup (VPSHUFB) summed to 32-bit lanes. Needs -mavx2 only (no AVX-512 encodings).
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/microkernel.h"

namespace {

#include "kernels/traits-avx2.h"
#include "kernels/bitserial-tile.h"

}  // namespace

namespace bitconv {
KernelInfo bitserial_kernel_avx2(int w_bits, int a_bits, int nv) {
  return lookup_kernel(w_bits, a_bits, nv);
}
KernelInfo bitserial_xor_kernel_avx2(int nv, bool down) { return lookup_xor_kernel(nv, down); }
}  // namespace bitconv
