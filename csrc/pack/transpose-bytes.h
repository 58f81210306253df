// SSE2 byte transpose shared by the pack-activations-<isa>.cpp files, included by each inside an
// anonymous namespace so that each copy is compiled with its file's flags. Needs <immintrin.h>.

// 16 x 16 byte transpose: a[c] holds 16 bytes (pixels) of channel c; returns out[w] = 16 channels.
inline void transpose16x16(const __m128i a[16], __m128i out[16]) {
  __m128i b[16], c[4][4], d[2][8];
  for (int i = 0; i < 8; ++i) {  // pairs of channels, pixels 0..7 then 8..15
    b[2 * i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
    b[2 * i + 1] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
  }
  for (int q = 0; q < 4; ++q) {  // quads of channels, 4 pixels each
    c[q][0] = _mm_unpacklo_epi16(b[4 * q], b[4 * q + 2]);
    c[q][1] = _mm_unpackhi_epi16(b[4 * q], b[4 * q + 2]);
    c[q][2] = _mm_unpacklo_epi16(b[4 * q + 1], b[4 * q + 3]);
    c[q][3] = _mm_unpackhi_epi16(b[4 * q + 1], b[4 * q + 3]);
  }
  for (int o = 0; o < 2; ++o)  // octets of channels, 2 pixels each
    for (int r = 0; r < 4; ++r) {
      d[o][2 * r] = _mm_unpacklo_epi32(c[2 * o][r], c[2 * o + 1][r]);
      d[o][2 * r + 1] = _mm_unpackhi_epi32(c[2 * o][r], c[2 * o + 1][r]);
    }
  for (int s = 0; s < 8; ++s) {
    out[2 * s] = _mm_unpacklo_epi64(d[0][s], d[1][s]);
    out[2 * s + 1] = _mm_unpackhi_epi64(d[0][s], d[1][s]);
  }
}
