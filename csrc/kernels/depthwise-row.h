// The depthwise row body, written once and instantiated per ISA (see depthwise.h for the maths).
// Included inside an anonymous namespace after the ISA's traits V (int lanes) and F (float lanes).

inline void depthwise_row(const bitconv::DepthwiseArgs& d, int oh) {
  using FR = typename F::reg;
  constexpr int L = F::L;
  constexpr int MR = 8;  // output pixels in flight: independent multiply-add chains
  const int64_t cp = d.cpad;
  for (int c0 = 0; c0 < d.channels; c0 += L) {
    const int n_valid = d.channels - c0 < L ? d.channels - c0 : L;
    for (int ow0 = 0; ow0 < d.wo; ow0 += MR) {
      const int mr = d.wo - ow0 < MR ? d.wo - ow0 : MR;
      FR acc[MR];
      int64_t aoff[MR];  // input offset of each pixel; past the row end repeat the last (not stored)
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        acc[m] = F::zero();
        aoff[m] = int64_t(ow0 + (m < mr ? m : mr - 1)) * d.sw * cp;
      }
      for (int i = 0; i < d.kh; ++i) {
        const float* row = d.act + (int64_t(oh) * d.sh + int64_t(i) * d.dh - d.row0) * d.wp * cp + c0;
        for (int j = 0; j < d.kw; ++j) {
          const FR wv = F::load(d.w + int64_t(i * d.kw + j) * cp + c0);
          const float* a = row + int64_t(j) * d.dw * cp;
#pragma GCC unroll 8
          for (int m = 0; m < MR; ++m) acc[m] = F::fma(wv, F::load(a + aoff[m]), acc[m]);
        }
      }
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        if (m >= mr) continue;
        const typename V::reg x = F::to_int(acc[m]);
        const int64_t off = int64_t(ow0 + m) * d.out_pix_stride + c0;
        if (d.out_kind == bitconv::OUT_INT32)
          V::store_i32(static_cast<int32_t*>(d.out) + off, x, n_valid);
        else
          V::store_f32(static_cast<float*>(d.out) + off, x, d.scale + c0, d.bias + c0, n_valid);
      }
    }
  }
}

inline void depthwise_values(const uint8_t* q, int64_t pix_stride, int width, int channels, int mult, float mul,
                             float sub, float* dst, int64_t cpad) {
  if (mult == 1 && pix_stride == channels && cpad == channels) {  // dense rows: one vectorised loop
    const int64_t n = int64_t(width) * channels;
    for (int64_t i = 0; i < n; ++i) dst[i] = mul * float(q[i]) - sub;
    return;
  }
  for (int x = 0; x < width; ++x) {
    const uint8_t* qx = q + x * pix_stride;
    float* d = dst + x * cpad;
    if (mult == 1) {
      for (int k = 0; k < channels; ++k) d[k] = mul * float(qx[k]) - sub;  // exact small integers
    } else {
      for (int k = 0; k < channels; ++k) d[k] = mul * float(qx[k / mult]) - sub;
    }
    for (int64_t k = channels; k < cpad; ++k) d[k] = 0.0f;
  }
}
