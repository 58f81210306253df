// Which instruction sets this CPU and OS can run (CPUID + XGETBV on x86-64).
#pragma once

namespace bitconv {

struct CpuFeatures {
  bool popcnt = false;
  bool avx2 = false;             // AVX2 + FMA + BMI1/2 + POPCNT and the OS saves YMM state
  bool avx512_vpopcntdq = false; // AVX-512 F/BW/VL/DQ/VPOPCNTDQ and the OS saves ZMM + opmask state
  bool avx512_vnni = false;      // AVX512-VNNI (VPDPBUSD zmm) with F/BW/VL/DQ and ZMM state (Cascade Lake has it)
  bool avx_vnni = false;         // AVX-VNNI (VPDPBUSD ymm, VEX) with avx2
  bool gfni = false;             // GF2P8AFFINEQB (the float NCHW bit-plane packer; benchmark metadata)
  bool avx512_vbmi = false;      // VPERMB / VPERMT2B with avx512_vpopcntdq (the same packer)
  bool neon = false;
  bool neon_dot = false;         // SDOT/UDOT (ASIMDDP)
};

const CpuFeatures& cpu_features();

}  // namespace bitconv
