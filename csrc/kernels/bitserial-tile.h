// The bit-serial tile kernel body, written once and instantiated per ISA.
//
// Included by each csrc/kernels/bitserial-conv-<isa>.cpp inside an anonymous namespace, after that
// file has defined a vector traits type V (see bitserial-conv-scalar.cpp for the list of members),
// so every ISA gets its own copy compiled with its own flags and the linker cannot merge them.
//
// Vectorised across output channels: one vector holds the same 32-bit input word for V::L output
// channels. Per step (tap, word): load B x NV weight vectors, broadcast one activation word per
// (pixel, plane) and add popcount(W_i AND A_j) into accumulator class i + j. Accumulators stay in
// registers for the whole reduction; classes are combined with shifts once, in the epilogue.
//
// Requires: microkernel.h included, V defined.

// Largest pixel tile MR for B weight planes, A activation planes and NV vectors of output
// channels with R vector registers: accumulators ((B+A-1) per tile entry), held weights (B per
// vector) and `reserve` scratch registers must fit (at least 1 even if they do not: then spills).
constexpr int choose_mr(int B, int A, int NV, int R, int reserve, int max_mr) {
  int mr = 1;
  while (mr < max_mr && (B + A - 1) * (mr + 1) * NV + B * NV + reserve <= R) ++mr;
  return mr;
}

template <int B, int A, int MR, int NV>
void bitserial_tile(const bitconv::BlockArgs& b, const bitconv::TileArgs& t) {
  using R = typename V::reg;
  constexpr int C = B + A - 1;   // shift classes i + j
  constexpr int L = V::L;
  R acc[C][MR][NV];
  for (int s = 0; s < C; ++s)
    for (int m = 0; m < MR; ++m)
      for (int v = 0; v < NV; ++v) acc[s][m][v] = V::zero();

  const uint32_t* a_ptr[MR];
  for (int m = 0; m < MR; ++m) a_ptr[m] = t.a[m];
  const int64_t ps = b.a_plane_stride;
  const uint32_t* w = b.w;
  for (int tap = 0; tap < b.taps; ++tap) {
    const int64_t off = b.tap_off[tap];
    for (int c = 0; c < b.kc; ++c) {
      R wv[B][NV];
      for (int i = 0; i < B; ++i)
        for (int v = 0; v < NV; ++v) wv[i][v] = V::load(w + (i * NV + v) * L);
      w += B * NV * L;
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        const uint32_t* ap = a_ptr[m] + off + c;
#pragma GCC unroll 8
        for (int j = 0; j < A; ++j) {
          const R av = V::broadcast(ap + j * ps);
#pragma GCC unroll 8
          for (int i = 0; i < B; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v)
              acc[i + j][m][v] = V::add(acc[i + j][m][v], V::popcount_and(wv[i][v], av));
        }
      }
    }
  }

  // Combine classes: P = sum_s acc[s] << s (Horner), then the epilogue.
  // Channels-last output with consecutive channels is stored straight from registers; any other
  // layout (NCHW, permuted channels of a kernel-wise panel) goes through a small tile buffer.
  alignas(64) int32_t buf[MR][NV * L];
  const bool direct = b.ch_contiguous;
  // Fully unrolled with guards instead of early exits, so acc[][][] never needs a memory copy.
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    if (m >= t.mr) continue;
    const uint32_t qterm = uint32_t(b.qcoef) * uint32_t(t.qsum[m]);
    const R q = V::broadcast(&qterm);
    const int32_t* corr = t.corr[m];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int valid = b.nr - v * L;
      if (valid <= 0) continue;
      R x = acc[C - 1][m][v];
#pragma GCC unroll 16
      for (int s = C - 2; s >= 0; --s) x = V::add(V::add(x, x), acc[s][m][v]);
      x = V::sub(V::shl(x, b.shift), q);
      if (corr) x = V::sub(x, V::load(reinterpret_cast<const uint32_t*>(corr) + v * L));
      const int n_valid = valid < L ? valid : L;
      if (direct) {
        const int64_t off = t.out_off[m] + b.ch_off[v * L];
        if (b.out_kind == bitconv::OUT_INT32)
          V::store_i32(static_cast<int32_t*>(b.out) + off, x, n_valid);
        else
          V::store_f32(static_cast<float*>(b.out) + off, x, b.scale + v * L, b.bias + v * L, n_valid);
      } else if (b.out_kind == bitconv::OUT_INT32) {
        V::store_i32(buf[m] + v * L, x, L);
      } else {
        V::store_f32(reinterpret_cast<float*>(buf[m]) + v * L, x, b.scale + v * L, b.bias + v * L, L);
      }
    }
  }
  if (direct) return;
  // Channels spread over the output row (a kernel-wise panel's channels between other panels'):
  // cut them into windows of 16 output positions once per tile, then store each pixel's values
  // window by window (one masked expand-store per window where the ISA has it). 4-byte values of
  // either type are copied by bit pattern; ch_off ascends.
  int32_t* out = static_cast<int32_t*>(b.out);
  int64_t win_off[bitconv::kMaxNR];
  uint32_t win_mask[bitconv::kMaxNR];
  int win_src[bitconv::kMaxNR];
  int windows = 0;
  for (int n = 0; n < b.nr;) {
    const int64_t base = b.ch_off[n];
    uint32_t mask = 0;
    int e = n;
    for (; e < b.nr && b.ch_off[e] - base < 16; ++e) mask |= 1u << (b.ch_off[e] - base);
    win_off[windows] = base;
    win_mask[windows] = mask;
    win_src[windows] = n;
    ++windows;
    n = e;
  }
  for (int m = 0; m < MR; ++m) {
    if (m >= t.mr) continue;
    int32_t* dst = out + t.out_off[m];
    for (int k = 0; k < windows; ++k) V::store_window(dst + win_off[k], win_mask[k], buf[m] + win_src[k]);
  }
}

// The table of all (B, A) in 1..8 x 1..8 and NV in 1..kMaxNV for this ISA's traits. The driver
// picks NV per layer (csrc/core/conv.cpp: fewer padded channels against more reuse per tile).
template <int B, int A, int NV>
constexpr bitconv::KernelInfo make_info() {
  constexpr int mr = choose_mr(B, A, NV, V::kRegisters, V::kReserve, V::kMaxMR);
  bitconv::KernelInfo k;
  // A channel tile whose one-pixel tile already spills is not offered (NV = 1 always is).
  if (NV > 1 && (B + A - 1) * NV + B * NV + V::kReserve > V::kRegisters) return k;
  k.fn = &bitserial_tile<B, A, mr, NV>;
  k.mr = mr;
  k.nv = NV;
  k.lanes = V::L;
  return k;
}

template <int B, int A, int... NVs>
constexpr void fill_nv(bitconv::KernelInfo* cell, std::integer_sequence<int, NVs...>) {
  ((cell[NVs] = make_info<B, A, NVs + 1>()), ...);
}

template <int B, int... As>
constexpr void fill_row(bitconv::KernelInfo (*row)[V::kMaxNV], std::integer_sequence<int, As...>) {
  ((fill_nv<B, As + 1>(row[As], std::make_integer_sequence<int, V::kMaxNV>{})), ...);
}

template <int... Bs>
constexpr void fill_table(bitconv::KernelInfo (*table)[8][V::kMaxNV], std::integer_sequence<int, Bs...>) {
  ((fill_row<Bs + 1>(table[Bs], std::make_integer_sequence<int, 8>{})), ...);
}

inline bitconv::KernelInfo lookup_kernel(int B, int A, int nv) {
  static const auto table = [] {
    struct T { bitconv::KernelInfo k[8][8][V::kMaxNV]; } t{};
    fill_table(t.k, std::make_integer_sequence<int, 8>{});
    return t;
  }();
  if (B < 1 || B > 8 || A < 1 || A > 8 || nv < 1 || nv > V::kMaxNV) return bitconv::KernelInfo{};
  return table.k[B - 1][A - 1][nv - 1];
}
