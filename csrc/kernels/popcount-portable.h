// Portable 32-bit popcount (bit tricks): baseline x86-64 has no POPCNT instruction, and GCC turns
// __builtin_popcount into a libgcc call there. Shared by the scalar kernels and the scalar probe,
// so the probe measures the operation the kernels run.
#pragma once
#include <cstdint>

inline uint32_t popcount32_portable(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0fu;
  return (x * 0x01010101u) >> 24;
}
