// Activation bit-plane packing with AVX2: 32 codes per load; shifting 16-bit lanes left by 7 - j
// brings bit j of every byte to its top bit, and VPMOVMSKB collects them. Needs -mavx2.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "pack/pack.h"

namespace {
#include "pack/quantize-row.h"
}  // namespace

namespace bitconv {

bool pack_activations_avx2(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                           int groups, int a_bits, int kw64, uint64_t* dst, int64_t dst_pix_stride,
                           int32_t* rowsum) {
  const int cg = channels / groups;
  if (cg < 16)
    return pack_activations_scalar(src, src_pix_stride, npix, channels, groups, a_bits, kw64, dst,
                                   dst_pix_stride, rowsum);
  alignas(32) uint8_t tail[32];
  __m256i seen = _mm256_setzero_si256();  // OR of every code
  for (int64_t x = 0; x < npix; ++x) {
    const uint8_t* s = src + x * src_pix_stride;
    uint64_t* d = dst + x * dst_pix_stride;
    for (int g = 0; g < groups; ++g) {
      const uint8_t* sg = s + int64_t(g) * cg;
      uint32_t* dg = reinterpret_cast<uint32_t*>(d + int64_t(g) * a_bits * kw64);
      int64_t sum = 0;
      for (int w = 0; w < 2 * kw64; ++w) {  // 32-channel halves of the 64-bit words
        const int left = cg - 32 * w;
        __m256i q;
        if (left >= 32) {
          q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sg + 32 * w));
        } else {
          std::memset(tail, 0, sizeof tail);
          if (left > 0) std::memcpy(tail, sg + 32 * w, size_t(left));
          q = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
        }
        seen = _mm256_or_si256(seen, q);
        for (int j = 0; j < a_bits; ++j) {
          // Little-endian: 32-bit half w of the plane row is word w / 2, low half first.
          const uint32_t word = uint32_t(_mm256_movemask_epi8(_mm256_sll_epi16(q, _mm_cvtsi32_si128(7 - j))));
          dg[j * 2 * kw64 + w] = word;
          sum += int64_t(_mm_popcnt_u32(word)) << j;  // the code sum, from the plane words
        }
      }
      rowsum[x * groups + g] = int32_t(sum);
    }
  }
  const __m256i high = _mm256_set1_epi8(char(0xff << a_bits));
  return !_mm256_testz_si256(seen, high);
}

bool quantize_row_avx2(const float* src, int64_t sc, int64_t sw, int width, int channels,
                       const ActQuant& q, uint8_t* dst) {
  return quantize_row_generic(src, sc, sw, width, channels, q, dst);
}

void transpose_row_avx2(const uint8_t* src, int64_t sc, int64_t sw, int width, int channels, uint8_t* dst) {
  transpose_row_generic(src, sc, sw, width, channels, dst);
}

}  // namespace bitconv
