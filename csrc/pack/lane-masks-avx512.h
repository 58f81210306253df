// Masks of the first n lanes (none for n <= 0, all from the vector's width on) for the AVX-512
// packers, included by each inside an anonymous namespace so that each copy is compiled with its
// file's flags. Needs <immintrin.h>.

inline __mmask8 first8(int n) { return n >= 8 ? __mmask8(0xff) : n <= 0 ? __mmask8(0) : __mmask8((1u << n) - 1u); }
inline __mmask16 lanes(int n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
}
inline __mmask64 bytes(int n) { return n >= 64 ? ~__mmask64(0) : n <= 0 ? __mmask64(0) : (__mmask64(1) << n) - 1; }
