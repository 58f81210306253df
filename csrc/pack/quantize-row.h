// Portable float32 -> code quantization of one row, included by each pack-activations-<isa>.cpp
// inside an anonymous namespace so that each copy is compiled with its file's flags.
// Needs <cmath>, <cstdint> and pack/pack.h.

inline uint8_t quantize_one(float x, const bitconv::ActQuant& q) {
  if (q.binary) return x >= 0.0f ? 1 : 0;
  float r = std::nearbyint(x / q.scale) + q.zero_point;  // float32 ops, round half to even
  r = r < 0.0f ? 0.0f : r;
  r = r > q.qmax ? q.qmax : r;
  return uint8_t(r);
}

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
