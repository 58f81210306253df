// The depthwise row body, written once and instantiated per ISA (see depthwise.h for the maths).
// Included inside an anonymous namespace after the ISA's traits V (int lanes) and F (float lanes),
// with <cstring>.

// Stores output pixel ow's block of channels from c0 (n_valid of them).
inline void depthwise_store(const bitconv::DepthwiseArgs& d, int ow, int c0, int n_valid, typename F::reg acc) {
  const typename V::reg x = F::to_int(acc);
  const int64_t off = int64_t(ow) * d.out_pix_stride + c0;
  if (d.out_kind == bitconv::OUT_INT32)
    V::store_i32(static_cast<int32_t*>(d.out) + off, x, n_valid);
  else
    V::store_f32(static_cast<float*>(d.out) + off, x, d.scale + c0, d.bias + c0, n_valid);
}

// Output pixels [ow_begin, wo) of row oh, channel block c0, any kernel geometry.
inline void depthwise_span(const bitconv::DepthwiseArgs& d, int oh, int c0, int ow_begin) {
  using FR = typename F::reg;
  constexpr int L = F::L;
  constexpr int MR = 8;  // output pixels in flight: independent multiply-add chains
  const int64_t cp = d.cpad, wp = d.wp;
  const int n_valid = d.channels - c0 < L ? d.channels - c0 : L;
  const float* block = d.act + int64_t(c0) * wp;  // this channel block of value row row0
  for (int ow0 = ow_begin; ow0 < d.wo; ow0 += MR) {
    const int mr = d.wo - ow0 < MR ? d.wo - ow0 : MR;
    FR acc[MR];
    int64_t aoff[MR];  // input offset of each pixel; past the row end repeat the last (not stored)
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      acc[m] = F::zero();
      aoff[m] = int64_t(ow0 + (m < mr ? m : mr - 1)) * d.sw * L;
    }
    for (int i = 0; i < d.kh; ++i) {
      const float* row = block + (int64_t(oh) * d.sh + int64_t(i) * d.dh - d.row0) * wp * cp;
      for (int j = 0; j < d.kw; ++j) {
        const FR wv = F::load(d.w + int64_t(i * d.kw + j) * cp + c0);
        const float* a = row + int64_t(j) * d.dw * L;
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) acc[m] = F::fma(wv, F::load(a + aoff[m]), acc[m]);
      }
    }
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
      if (m < mr) depthwise_store(d, ow0 + m, c0, n_valid, acc[m]);
  }
}

// The common 3x3 kernel with column stride SW and dilation 1 (any row stride and dilation): whole
// tiles of MR pixels whose inputs sit at constant offsets, weights loaded once per channel block.
// Returns the first pixel it left to depthwise_span.
template <int SW, int MR>
inline int depthwise_span_3x3(const bitconv::DepthwiseArgs& d, int oh, int c0) {
  using FR = typename F::reg;
  constexpr int L = F::L;
  const int64_t cp = d.cpad, wp = d.wp;
  const int n_valid = d.channels - c0 < L ? d.channels - c0 : L;
  const float* block = d.act + int64_t(c0) * wp;
  const float* rows[3];
  FR wv[9];
  for (int i = 0; i < 3; ++i) rows[i] = block + (int64_t(oh) * d.sh + int64_t(i) * d.dh - d.row0) * wp * cp;
  for (int t = 0; t < 9; ++t) wv[t] = F::load(d.w + int64_t(t) * cp + c0);
  int ow0 = 0;
  for (; ow0 + MR <= d.wo; ow0 += MR) {
    FR acc[MR];
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) acc[m] = F::zero();
#pragma GCC unroll 3
    for (int i = 0; i < 3; ++i) {
      const float* a = rows[i] + int64_t(ow0) * SW * L;
#pragma GCC unroll 3
      for (int j = 0; j < 3; ++j)
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) acc[m] = F::fma(wv[i * 3 + j], F::load(a + (m * SW + j) * L), acc[m]);
    }
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) depthwise_store(d, ow0 + m, c0, n_valid, acc[m]);
  }
  return ow0;
}

inline void depthwise_row(const bitconv::DepthwiseArgs& d, int oh) {
  constexpr int MR = F::kDepthwiseMR;
  const bool k3 = d.kh == 3 && d.kw == 3 && d.dw == 1 && (d.sw == 1 || d.sw == 2);
  const bool wide = d.wo >= 2 * MR;  // else a half-width tile wastes fewer pixels
  if (!k3 || d.wo < MR / 2) {
    for (int c0 = 0; c0 < d.channels; c0 += F::L) depthwise_span(d, oh, c0, 0);
    return;
  }
  for (int c0 = 0; c0 < d.channels; c0 += F::L) {
    const int ow = d.sw == 1 ? (wide ? depthwise_span_3x3<1, MR>(d, oh, c0) : depthwise_span_3x3<1, MR / 2>(d, oh, c0))
                     : (wide ? depthwise_span_3x3<2, MR>(d, oh, c0) : depthwise_span_3x3<2, MR / 2>(d, oh, c0));
    depthwise_span(d, oh, c0, ow);
  }
}

// L values from L codes at p (widened and converted; mul * code - sub unless PLAIN), ORing the
// codes into `seen`.
template <bool PLAIN>
inline typename F::reg code_values(const uint8_t* p, typename F::codes& seen, float mul, float sub) {
  const typename F::reg v = F::from_codes(p, seen);
  return PLAIN ? v : F::mul_sub(v, mul, sub);
}

// Whole blocks of channels with one output channel per input channel ([0, full)), L codes in and L
// values out per pixel and block: block by block when there are few blocks (long contiguous runs
// out), else pixel by pixel (the codes read once, in order).
template <bool PLAIN>
inline void full_blocks(const uint8_t* __restrict q, int64_t pix_stride, int width, int full, int64_t wp,
                        float mul, float sub, float* __restrict dst, typename F::codes& seen) {
  constexpr int L = F::L;
  if (full <= 4 * L) {
    for (int c0 = 0; c0 < full; c0 += L)
      for (int x = 0; x < width; ++x)
        F::store(dst + c0 * wp + x * L, code_values<PLAIN>(q + x * pix_stride + c0, seen, mul, sub));
  } else {
    for (int x = 0; x < width; ++x)
      for (int c0 = 0; c0 < full; c0 += L)
        F::store(dst + c0 * wp + x * L, code_values<PLAIN>(q + x * pix_stride + c0, seen, mul, sub));
  }
}

inline uint8_t depthwise_values(const uint8_t* __restrict q, int64_t pix_stride, int width, int pad, int channels,
                                int mult, float mul, float sub, float* __restrict dst, int64_t cpad) {
  constexpr int L = F::L;
  const int64_t wp = int64_t(width) + 2 * pad;
  for (int64_t c0 = 0; c0 < cpad; c0 += L)  // zero padding pixels of every block
    for (int64_t e = 0; e < pad * L; ++e) dst[c0 * wp + e] = 0.0f, dst[c0 * wp + (pad + width) * L + e] = 0.0f;
  // Every code read is ORed into `seen`: the caller's range check, without a second pass over the
  // input. mul = 1, sub = 0 (unsigned codes, zero point 0): the codes are the values.
  typename F::codes seen = F::no_codes();
  const int full = mult == 1 ? channels / L * L : 0;
  if (mul == 1.0f && sub == 0.0f)
    full_blocks<true>(q, pix_stride, width, full, wp, mul, sub, dst + int64_t(pad) * L, seen);
  else
    full_blocks<false>(q, pix_stride, width, full, wp, mul, sub, dst + int64_t(pad) * L, seen);
  uint8_t any = 0;
  for (int64_t c0 = full; c0 < cpad; c0 += L) {  // the rest: a partial block, channel multipliers
    float* __restrict d = dst + c0 * wp + int64_t(pad) * L;
    int src[L];  // input channel of each lane, -1 past the channels
    for (int l = 0; l < L; ++l) src[l] = c0 + l < channels ? int(c0 + l) / mult : -1;
    for (int x = 0; x < width; ++x)
      for (int l = 0; l < L; ++l) {
        const uint8_t c = src[l] >= 0 ? q[x * pix_stride + src[l]] : 0;
        any |= c;
        d[x * L + l] = src[l] >= 0 ? mul * float(c) - sub : 0.0f;
      }
  }
  uint8_t bytes[sizeof seen];  // the vector's bytes, whatever the ISA's type
  std::memcpy(bytes, &seen, sizeof seen);
  for (uint8_t b : bytes) any |= b;
  return any;
}
