// Activation codes for the int8 kernels: a copy into the packed pixel grid, channels padded to whole
// 32-bit words, with the code-range check. Memory-bound, so written once for every ISA.
#include <cstring>

#include "pack/pack.h"

namespace bitconv {

namespace {
// OR of n bytes (vectorised by the compiler): the caller tests its bits at and above a_bits.
unsigned or_bytes(const uint8_t* __restrict p, int64_t n) {
  unsigned seen = 0;
  for (int64_t i = 0; i < n; ++i) seen |= p[i];
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
  if (groups == 1 && gbytes == cg && out_pix == cg && src_pix_stride == cg) {  // dense rows: one copy
    std::memcpy(out, src, size_t(npix * cg));
    seen = or_bytes(src, npix * cg);
  } else {
    for (int64_t x = 0; x < npix; ++x) {
      const uint8_t* s = src + x * src_pix_stride;
      uint8_t* d = out + x * out_pix;
      for (int g = 0; g < groups; ++g) {
        std::memcpy(d + g * gbytes, s + int64_t(g) * cg, size_t(cg));
        std::memset(d + g * gbytes + cg, 0, size_t(gbytes - cg));
      }
      seen |= or_bytes(s, channels);
    }
  }
  return (seen >> a_bits) != 0;
}

}  // namespace bitconv
