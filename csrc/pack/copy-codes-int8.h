// Activation codes for the int8 kernels (pack.h, CopyCodesInt8Fn): a copy into the packed pixel grid,
// channels padded to whole 32-bit words, with the code-range check. Included by each
// pack-activations-<isa>.cpp inside an anonymous namespace, so that the byte loops are vectorised
// with that file's flags: in the baseline's 16-byte vectors the copy took a quarter of 1x1 int8 layers
// with few channels on large images (32>16 @112, 3x2 bits, 1 thread: 44-45 -> 39-40 us in the AVX-512
// file's vectors).
// Needs <cstdint> and <cstring>.

// d[i] = s[i] for i < n; returns the OR of the bytes. One pass, byte-wide, so the compiler
// vectorises it to plain loads, stores and ORs.
inline uint8_t copy_or(uint8_t* __restrict d, const uint8_t* __restrict s, int64_t n) {
  uint8_t seen = 0;
  for (int64_t i = 0; i < n; ++i) {
    d[i] = s[i];
    seen |= s[i];
  }
  return seen;
}

// The same for short runs (a row window of the 3-channel 3x3 stem is 27 bytes), in 8-byte moves: the
// vectorised loop above does runs shorter than its vector byte by byte (that stem, 8x8 bits, 1
// thread: 158 -> 180 us with AVX2's 32-byte vectors, against 16-byte ones).
inline uint8_t copy_or_short(uint8_t* d, const uint8_t* s, int64_t n) {
  uint64_t seen = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, s + i, 8);
    std::memcpy(d + i, &v, 8);
    seen |= v;
  }
  for (; i < n; ++i) {
    d[i] = s[i];
    seen |= s[i];
  }
  seen |= seen >> 32;
  seen |= seen >> 16;
  seen |= seen >> 8;
  return uint8_t(seen);
}

inline bool copy_codes_int8_generic(const uint8_t* src, int64_t src_pix_stride, int64_t npix, int channels,
                                    int groups, int a_bits, int kc8, uint32_t* dst, int64_t dst_pix_words) {
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
      uint8_t* const dg = d + g * gbytes;
      const uint8_t* const sg = s + int64_t(g) * cg;
      seen |= cg < 64 ? copy_or_short(dg, sg, cg) : copy_or(dg, sg, cg);
      for (int64_t b = cg; b < gbytes; ++b) d[g * gbytes + b] = 0;
    }
  }
  return (seen >> a_bits) != 0;
}
