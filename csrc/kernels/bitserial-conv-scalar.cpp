// Bit-serial conv tile kernels in portable C++ (no ISA flags): the fallback on any CPU and the
// reference the SIMD kernels are tested against. One "vector" is one 32-bit lane.
#include <cstdint>
#include <utility>

#include "kernels/microkernel.h"

namespace {

// Vector traits: what bitserial-tile.h needs from an ISA.
struct V {
  using reg = uint32_t;
  static constexpr int L = 1;            // 32-bit lanes per vector
  static constexpr int kRegisters = 14;  // registers the tile may use
  static constexpr int kReserve = 2;     // scratch registers besides accumulators and weights
  static constexpr int kMaxMR = 4;
  static constexpr int kMaxNV = 4;
  static reg zero() { return 0; }
  static reg load(const uint32_t* p) { return *p; }
  static reg broadcast(const uint32_t* p) { return *p; }
  static reg popcount_and(reg w, reg a) {
    uint32_t x = w & a;  // portable popcount: baseline x86-64 has no POPCNT instruction
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0fu;
    return (x * 0x01010101u) >> 24;
  }
  static reg add(reg a, reg b) { return a + b; }
  static reg sub(reg a, reg b) { return a - b; }
  static reg shl(reg a, int s) { return a << s; }
  static void store_i32(int32_t* dst, reg x, int n) {
    if (n > 0) *dst = int32_t(x);
  }
  static void store_f32(float* dst, reg x, const double* scale, const double* bias, int n) {
    if (n > 0) *dst = float(double(int32_t(x)) * scale[0] + bias[0]);
  }
};

#include "kernels/bitserial-tile.h"

}  // namespace

namespace bitconv {
KernelInfo bitserial_kernel_scalar(int w_bits, int a_bits) { return lookup_kernel(w_bits, a_bits); }
}  // namespace bitconv
