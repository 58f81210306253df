// Bit-serial conv tile kernels for AVX-512 with VPOPCNTDQ: 16 output channels per zmm register,
// AND + VPOPCNTD + VPADDD per 512 bit pairs. Needs -mavx512f -mavx512bw -mavx512vl -mavx512vpopcntdq.
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/microkernel.h"

namespace {

#include "kernels/traits-avx512.h"
#include "kernels/bitserial-tile.h"

}  // namespace

namespace bitconv {
KernelInfo bitserial_kernel_avx512(int w_bits, int a_bits, int nv) {
  return lookup_kernel(w_bits, a_bits, nv);
}
KernelInfo bitserial_xor_kernel_avx512(int nv, bool down) { return lookup_xor_kernel(nv, down); }
}  // namespace bitconv
