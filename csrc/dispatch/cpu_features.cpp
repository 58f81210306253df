// CPUID + XGETBV: a feature counts only if the CPU has it and the OS saves the registers it uses.
#include "dispatch/cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#include <cstdint>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace bitconv {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.popcnt = (c >> 23) & 1;
  const bool osxsave = (c >> 27) & 1;
  const bool avx = (c >> 28) & 1;
  const bool fma = (c >> 12) & 1;
  uint64_t xcr0 = 0;
  if (osxsave) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (uint64_t(hi) << 32) | lo;
  }
  const bool ymm_os = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
  const bool zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0; // opmask + ZMM_Hi256 + Hi16_ZMM
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = (b >> 5) & 1;
  const bool bmi1 = (b >> 3) & 1, bmi2 = (b >> 8) & 1;
  const bool avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1,
             avx512vl = (b >> 31) & 1;
  const bool vpopcntdq = (c >> 14) & 1;
  f.gfni = (c >> 8) & 1;
  const bool vbmi = (c >> 1) & 1;
  f.avx512_vnni = (c >> 11) & 1;
  f.avx2 = avx && avx2 && fma && bmi1 && bmi2 && f.popcnt && ymm_os;
  f.avx512_vpopcntdq = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl && vpopcntdq;
  f.avx512_vbmi = f.avx512_vpopcntdq && vbmi;
  // Not tied to VPOPCNTDQ: Cascade and Cooper Lake have VNNI without it.
  f.avx512_vnni = f.avx512_vnni && f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
  __cpuid_count(7, 1, a, b, c, d);
  f.avx_vnni = f.avx2 && ((a >> 4) & 1);
#elif defined(__aarch64__)
  f.neon = true;  // Advanced SIMD is mandatory on AArch64
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
  f.neon_dot = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
  f.neon_dot = true;
#endif
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace bitconv
