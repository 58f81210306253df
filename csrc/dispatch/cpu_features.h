// Which instruction sets this CPU and OS can run (CPUID + XGETBV on x86-64).
#pragma once

namespace bitconv {

struct CpuFeatures {
  bool popcnt = false;
  bool avx2 = false;             // AVX2 + FMA + BMI1/2 + POPCNT and the OS saves YMM state
  bool avx512_vpopcntdq = false; // AVX-512 F/BW/VL/DQ/VPOPCNTDQ and the OS saves ZMM + opmask state
  bool avx512_vnni = false;
  bool gfni = false;
  bool neon = false;
};

const CpuFeatures& cpu_features();

}  // namespace bitconv
