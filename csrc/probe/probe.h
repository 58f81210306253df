// The ceiling probe: this CPU's sustained AND + popcount rate and int8 dot-product rate.
#pragma once
#include <cstdint>
#include <string>

namespace bitconv {

struct ProbeResult {
  double binary_macs_per_second = 0;  // AND+popcount+add, register-blocked, one core
  double int8_macs_per_second = 0;    // int8 dot product (VPDPBUSD), 0 where the CPU has none
  std::string isa;                    // ISA whose kernel was measured
  std::string int8_instruction;       // e.g. "vpdpbusd zmm", "" if none
  std::string binary_kernel;          // what the binary loop runs, e.g. "vpandq+vpopcntq+vpaddq zmm"
  double cycles_per_second = 0;       // core clock estimated from a dependent-add chain (0: unknown)
  double seconds = 0;                 // wall time the probe took
};

// Runs each measurement for about `seconds` on the calling thread. `isa` is an ISA name of the
// registry (isa_by_name); throws std::invalid_argument if it was not built or the CPU cannot run it.
ProbeResult run_probe(const std::string& isa, double seconds);

// Probe kernels, one per ISA file. Each runs `iters` iterations of a register-blocked loop and
// returns a value derived from its accumulators (so the work cannot be optimised away). The
// matching k*PerIter constant is the number of MACs one iteration performs.
namespace probe_kernels {
uint64_t binary_scalar(uint64_t iters);
extern const double kBinaryScalarPerIter;
uint64_t binary_avx2(uint64_t iters);
extern const double kBinaryAvx2PerIter;
uint64_t binary_avx512(uint64_t iters);
extern const double kBinaryAvx512PerIter;
uint64_t int8_avx512vnni(uint64_t iters);   // vpdpbusd zmm, needs AVX512-VNNI
extern const double kInt8Avx512VnniPerIter;
// Built where the compiler takes -mavxvnni (CMake's check, which also builds the avx2-vnni kernels).
#if defined(BITCONV_BUILD_AVX2VNNI)
uint64_t int8_avxvnni(uint64_t iters);      // vpdpbusd ymm (VEX), needs AVX-VNNI
extern const double kInt8AvxVnniPerIter;
#endif
uint64_t binary_neon(uint64_t iters);
extern const double kBinaryNeonPerIter;
uint64_t int8_neon_dot(uint64_t iters);     // sdot, needs the dot-product extension
extern const double kInt8NeonDotPerIter;
}  // namespace probe_kernels

}  // namespace bitconv
