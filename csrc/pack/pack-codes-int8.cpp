// Activation codes for the int8 kernels: a copy into the packed pixel grid, channels padded to whole
// 32-bit words, with the code-range check. Memory-bound, so written once for every ISA.
#include "pack/pack.h"

namespace bitconv {

namespace {
// d[i] = s[i] for i < n; returns the OR of the bytes. One pass, byte-wide, so the compiler
// vectorises it to plain loads, stores and ORs.
uint8_t copy_or(uint8_t* __restrict d, const uint8_t* __restrict s, int64_t n) {
  uint8_t seen = 0;
  for (int64_t i = 0; i < n; ++i) {
    d[i] = s[i];
    seen |= s[i];
  }
  return seen;
}
}  // namespace

bool copy_codes_int8(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels, int groups,
                     int a_bits, int kc8, uint32_t* dst, int64_t dst_pix_words) {
  const int cg = channels / groups;
  const int64_t gbytes = int64_t(kc8) * 4;
  uint8_t* out = reinterpret_cast<uint8_t*>(dst);
  const int64_t out_pix = dst_pix_words * 4;
  unsigned seen = 0;
  if (groups == 1 && gbytes == cg && out_pix == cg && src_pix_stride == cg)  // dense rows: one copy
    return (copy_or(out, src, npix * cg) >> a_bits) != 0;
  for (int64_t x = 0; x < npix; ++x) {
    const uint8_t* s = src + x * src_pix_stride;
    uint8_t* d = out + x * out_pix;
    for (int g = 0; g < groups; ++g) {
      seen |= copy_or(d + g * gbytes, s + int64_t(g) * cg, cg);
      for (int64_t b = cg; b < gbytes; ++b) d[g * gbytes + b] = 0;
    }
  }
  return (seen >> a_bits) != 0;
}

}  // namespace bitconv
