// Portable float32 -> code quantization of one row, included by each pack-activations-<isa>.cpp
// inside an anonymous namespace so that each copy is compiled with its file's flags.
// Needs <cstdint> and pack/pack.h (quantize_one).

inline bool quantize_row_generic(const float* src, int64_t sc, int64_t sw, int width, int channels,
                                 const bitconv::ActQuant& q, uint8_t* dst) {
  bool nan = false;
  for (int w = 0; w < width; ++w)
    for (int c = 0; c < channels; ++c) {
      const float x = src[c * sc + w * sw];
      nan |= x != x;
      dst[int64_t(w) * channels + c] = x != x ? 0 : quantize_one(x, q);
    }
  return nan;
}

inline void transpose_row_generic(const uint8_t* src, int64_t sc, int64_t sw, int width, int channels,
                                  uint8_t* dst) {
  for (int w = 0; w < width; ++w)
    for (int c = 0; c < channels; ++c) dst[int64_t(w) * channels + c] = src[c * sc + w * sw];
}
