// Bit-serial conv tile kernels in portable C++ (no ISA flags): the fallback on any CPU and the
// reference the SIMD kernels are tested against. One "vector" is one 32-bit lane.
#include <cstdint>
#include <utility>

#include "kernels/microkernel.h"
#include "kernels/popcount-portable.h"

namespace {

#include "kernels/traits-scalar.h"
#include "kernels/bitserial-tile.h"

}  // namespace

namespace bitconv {
KernelInfo bitserial_kernel_scalar(int w_bits, int a_bits, int nv) {
  return lookup_kernel(w_bits, a_bits, nv);
}
KernelInfo bitserial_xor_kernel_scalar(int nv, bool down) { return lookup_xor_kernel(nv, down); }
}  // namespace bitconv
