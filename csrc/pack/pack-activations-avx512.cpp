// Activation bit-plane packing with AVX-512BW: 64 codes per load, one VPTESTMB per plane gives the
// 64-bit plane word directly; VPSADBW sums the codes. Needs -mavx512f -mavx512bw.
#include <immintrin.h>

#include <cstring>

#include "pack/pack.h"

namespace bitconv {

void pack_activations_avx512(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                             int groups, int a_bits, int kw64, uint64_t* dst, int64_t dst_pix_stride,
                             int32_t* rowsum) {
  const int cg = channels / groups;
  if (cg < 16) {  // tiny groups (depthwise): per-code work dominates, nothing to vectorise here
    pack_activations_scalar(src, src_pix_stride, npix, channels, groups, a_bits, kw64, dst,
                            dst_pix_stride, rowsum);
    return;
  }
  for (int64_t x = 0; x < npix; ++x) {
    const uint8_t* s = src + x * src_pix_stride;
    uint64_t* d = dst + x * dst_pix_stride;
    for (int g = 0; g < groups; ++g) {
      const uint8_t* sg = s + int64_t(g) * cg;
      uint64_t* dg = d + int64_t(g) * a_bits * kw64;
      __m512i sum = _mm512_setzero_si512();
      for (int w = 0; w < kw64; ++w) {
        const int left = cg - 64 * w;
        const __mmask64 m = left >= 64 ? ~__mmask64(0) : ((__mmask64(1) << left) - 1);
        const __m512i q = _mm512_maskz_loadu_epi8(m, sg + 64 * w);
        sum = _mm512_add_epi64(sum, _mm512_sad_epu8(q, _mm512_setzero_si512()));
        for (int j = 0; j < a_bits; ++j)
          dg[j * kw64 + w] = _mm512_test_epi8_mask(q, _mm512_set1_epi8(char(1 << j)));
      }
      rowsum[x * groups + g] = int32_t(_mm512_reduce_add_epi64(sum));
    }
  }
}

}  // namespace bitconv
