// The bit-serial tile kernel body, written once and instantiated per ISA.
//
// Included by each csrc/kernels/bitserial-conv-<isa>.cpp and int8-conv-<isa>.cpp inside an anonymous
// namespace, after that file has defined a vector traits type V (traits-scalar.h lists the members),
// so every ISA gets its own copy compiled with its own flags and the linker cannot merge them.
//
// Vectorised across output channels: one vector holds the same 32-bit input word for V::L output
// channels. Per step (tap, word): load B x NV weight vectors, broadcast one activation word per
// (pixel, plane) and add popcount(W_i AND A_j) into accumulator class i + j (V::mac; the int8 kernels
// define it as a 4-byte dot product and use one plane each). Accumulators stay in registers for
// the whole reduction; classes are combined with shifts once, in the epilogue.
//
// Split tiles (V::kSplit = 4, the AVX-512 int8 tile for narrow panels): each step covers 4
// consecutive words, broadcast as one 128-bit block; a result vector's channels are spread over 4
// weight vectors whose 128-bit lanes hold 4 channels x those 4 words (channel 4q + v in vector v,
// lane q), and V::fold sums each lane's 4 partial sums back into channel order in the epilogue.
// So a 16-channel panel does 4 multiply-adds per broadcast, as a 64-channel one does, not 1.
//
// W1A1 tiles have two more forms (Form, csrc/core/conv.cpp) that count popcount(W XOR A) instead of
// AND and read no code sums, but a per-channel init value: kXor (binary activations) stores init
// minus the shifted count, less the corrections; kXorDown ({0,1} activations) starts each accumulator
// at init, subtracts the counts and stores the result as it is.
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

// What every tile of a run shares, gathered once per run. Copied by value rather than pointing at
// the BlockArgs and RunArgs: reading them through pointers in the tile measured 4-7% slower on
// float NCHW output (64@56, 128@28, W1A1).
struct RunConsts {
  const uint32_t* w;
  const int64_t* step_off;
  int steps, kc;
  int64_t ps;  // activation plane stride
  int nr, shift, out_kind;
  uint32_t qcoef;
  bool direct, full;
  int64_t ch0;
  const double* scale;
  const double* bias;
  const int32_t* init;
  void* out;
  int wo;
  const int32_t* qsum;
  int64_t qsum_stride;
  const int32_t* corr_base;
  const int64_t* corr_row;
  const int64_t* corr_col;
  int inner_oh0, inner_oh1, inner_ow0, inner_ow1;
  int64_t out_off, out_stride;
  // Channels spread over the output row (a kernel-wise panel's channels between other panels'):
  // windows of 16 output positions, each stored under its mask (store_permuted, or V::store_window
  // from the tile buffer).
  int windows;
  int64_t win_off[bitconv::kMaxNR];
  uint32_t win_mask[bitconv::kMaxNR];
  int win_src[bitconv::kMaxNR];
  // store_permuted's windows by source vector and each one's permute indices, made once per run.
  int win_begin[V::kMaxNV + 1];
  alignas(64) int32_t win_idx[bitconv::kMaxNR][16];
};

// store_permuted's tables, once per kernel call. Windows ascend in the block, so those whose first
// channel is in vector v are a run: win_begin[v] .. win_begin[v + 1] - 1. A window holds at most 16
// consecutive channels, so its lanes are in vectors v and v + 1.
template <class VT>
void window_permutes(RunConsts& k) {
  int v = 0;
  for (int i = 0; i < k.windows; ++i) {
    const int v0 = k.win_src[i] / VT::L;
    while (v <= v0) k.win_begin[v++] = i;
    VT::store_i32(k.win_idx[i], VT::window_index(k.win_mask[i], k.win_src[i] - v0 * VT::L), VT::L);
  }
  while (v <= VT::kMaxNV) k.win_begin[v++] = k.windows;
}

// The windows whose first channel is in vector V0, from vectors V0 and V0 + 1 (a loop per vector
// rather than a switch per window, so that x is indexed by constants and stays in registers).
template <class VT, int MR, int NV, int V0>
inline void store_windows_of(const RunConsts& k, int32_t* out, typename VT::reg (&x)[MR][NV],
                             const int64_t* out_at) {
  constexpr int V1 = V0 + 1 < NV ? V0 + 1 : V0;
  for (int i = k.win_begin[V0]; i < k.win_begin[V0 + 1]; ++i) {
    const uint32_t mask = k.win_mask[i];
    const typename VT::reg idx = VT::load(reinterpret_cast<const uint32_t*>(k.win_idx[i]));
    int32_t* const dst = out + k.win_off[i];
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) VT::store_window_regs(dst + out_at[m], mask, idx, x[m][V0], x[m][V1]);
  }
}

// Stores a whole pixel tile of a block whose channels are spread over the output row (where
// V::kPermuteWindows asks for it; V then has window_index, store_window_regs, to_f32 and f32_bits):
// per window, its lanes permuted out of two of the pixel's result vectors (one two-source permute)
// and stored under its mask. Runs in a tile variant of its own (bitserial_tile<..., true>): as a
// branch of the common tile it slowed uniform-bit layers by 4-9% (W1A2 on 64@56 and 128@28), and
// out of line the results went through memory and the gain was lost. Blocks of 3-4 vectors too: the
// tile buffer's expand-loads read what the tile stored just before (in a standalone loop, 4 windows
// per pixel took 32 TSC ticks through a buffer against 4 permuted). A template, so that ISAs without
// the hooks never instantiate it.
template <class VT, int MR, int NV>
inline void store_permuted(const RunConsts& k, typename VT::reg (&x)[MR][NV], const int64_t* out_at) {
  if (k.out_kind != bitconv::OUT_INT32)
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) x[m][v] = VT::f32_bits(VT::to_f32(x[m][v], k.scale + v * VT::L, k.bias + v * VT::L));
  int32_t* const out = static_cast<int32_t*>(k.out);
  store_windows_of<VT, MR, NV, 0>(k, out, x, out_at);
  if constexpr (NV > 1) store_windows_of<VT, MR, NV, 1>(k, out, x, out_at);
  if constexpr (NV > 2) store_windows_of<VT, MR, NV, 2>(k, out, x, out_at);
  if constexpr (NV > 3) store_windows_of<VT, MR, NV, 3>(k, out, x, out_at);
  static_assert(NV <= 4, "store_permuted takes blocks of up to 4 vectors");
}

// A result vector from its S accumulators (split tiles: V::fold; a template, so that traits without
// split tiles need no fold).
template <class VT, int S>
inline typename VT::reg fold_split(typename VT::reg x0, typename VT::reg x1, typename VT::reg x2,
                                   typename VT::reg x3) {
  static_assert(S == 1 || S == 4, "split tiles fold 4 accumulators per result vector");
  if constexpr (S == 1)
    return x0;
  else
    return VT::fold(x0, x1, x2, x3);
}

// The plane-pair forms of a tile (file comment above): AND + popcount, and the two XOR forms.
enum TileForm : int { kAnd = 0, kXor = 1, kXorDown = 2 };

// One step (tap, word) of a tile's reduction: B x NW weight vectors from w, and for each pixel m and
// activation plane j one broadcast word of a_ptr[m] + off + j * ps, paired with each weight plane
// i into accumulator class i + j. Inlined, so that acc stays in registers.
template <int B, int A, int MR, int NW, int Form>
__attribute__((always_inline)) inline void tile_step(typename V::reg (&acc)[B + A - 1][MR][NW], const uint32_t* w,
                                                     const uint32_t* const (&a_ptr)[MR], int64_t off, int64_t ps) {
  using R = typename V::reg;
  constexpr int L = V::L;
  R wv[B][NW];
  for (int i = 0; i < B; ++i)
    for (int v = 0; v < NW; ++v) wv[i][v] = V::load(w + (i * NW + v) * L);
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    const uint32_t* ap = a_ptr[m] + off;
#pragma GCC unroll 8
    for (int j = 0; j < A; ++j) {
      const R av = V::broadcast(ap + j * ps);
#pragma GCC unroll 8
      for (int i = 0; i < B; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NW; ++v)
          acc[i + j][m][v] = Form == kXor       ? V::add(acc[i + j][m][v], V::popcount_xor(wv[i][v], av))
                             : Form == kXorDown ? V::sub(acc[i + j][m][v], V::popcount_xor(wv[i][v], av))
                                                : V::mac(acc[i + j][m][v], wv[i][v], av);
    }
  }
}

// Tiles that take strips (bitserial_run): one-class tiles, W1A1 and int8. A call per tile cost them
// a setup of about as many instructions as a short reduction's (its arguments, pointers, correction
// rows, a frame): strips ran 1x1 int8 layers faster (16>96 @112 3x2 bits 89.5-91 -> 74.5-76.5 us,
// 24>144 @56 41.5-41.9 -> 35.6-35.8, 64>384 @14 2x2 14.2-14.6 -> 13.8-14.0) and W1A1 64@56 by 0.5-5%
// (unsigned 55.3-56.0 -> 54.3-55.0 us, binary 56.9-57.0 -> 54.3-55.7). Multi-class tiles keep one
// tile per call: with the strip loop GCC 12 allocated their reductions worse (W2A2 64@56 187 -> 254
// us, W1A2 64@56 95-97 -> 149-168).
template <int B, int A>
constexpr bool kStrips = B + A == 2;

// One tile: pixels p0 .. p0 + mr - 1 of the run (the first at output row oh0, column ow0), whose
// window bases are a_ptr (entries past mr repeat a valid one); or a strip of `tiles` whole tiles,
// each one's pointers a_step words after the last's. Kept out of line so the run loop's scalars are
// not live through the reduction: they would spill into vector registers and push accumulators out
// of them.
template <int B, int A, int MR, int NV, bool Permuted = false, int Form = kAnd>
__attribute__((noinline)) void bitserial_tile(const RunConsts& k, const uint32_t* const* a_in, int mr, int64_t p0,
                                              int oh0, int ow0, int64_t tiles, int64_t a_step) {
  using R = typename V::reg;
  constexpr int C = B + A - 1;   // shift classes i + j
  constexpr int L = V::L;
  constexpr int S = V::kSplit;   // accumulator vectors per result vector (folded in the epilogue)
  constexpr int NW = NV * S;     // weight vectors per plane and step
  constexpr bool kInt8Tile = !V::kCodeSums && C == 1;
  // Copied to locals first: vector stores may alias any memory, so fields read through k would be
  // reloaded after every store.
  const uint32_t* a_ptr[MR];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) a_ptr[m] = a_in[m];
  const int64_t* const step_off = k.step_off;
  const int steps = k.steps;
  const int64_t ps = k.ps;
  const int nr = k.nr, shift = k.shift, out_kind = k.out_kind;
  const bool direct = k.direct, full = k.full;
  const double* const scale = k.scale;
  const double* const bias = k.bias;
  void* const out_base = k.out;
  // Int8 tiles without corrections (unsigned codes of zero point 0) store int32 accumulators as they
  // are, without result()'s shift and per-pixel correction tests: 64>384 @14 2x2 bits 11.1-11.5 ->
  // 10.7-10.9 us (the native call, 1 thread, builds alternated); with one correction row for every
  // pixel and no shift, they subtract it and skip the shift (zero point 2: 11.8-12.0 -> 11.5-11.9,
  // 24>144 @56 3x2 bits 30.5-33.4 -> 29.8-30.6). Starting the accumulators at the negated row
  // instead, or loading zeros to start them, cost as much as the shift and subtraction together.
  const bool plain = kInt8Tile && !k.corr_base && shift == 0;

  for (;;) {  // once per tile of the strip (see bitserial_run)
    R acc[C][MR][NW];
    for (int s = 0; s < C; ++s)
      for (int m = 0; m < MR; ++m)
        for (int v = 0; v < NW; ++v)
          acc[s][m][v] = Form == kXorDown ? V::load(reinterpret_cast<const uint32_t*>(k.init) + v * L) : V::zero();
    const uint32_t* w = k.w;
    // One loop over all steps for one accumulator class (W1A1), which saves the inner loop's
    // overhead on short 64-channel reductions; with more classes GCC allocates that form worse
    // (accumulators spill), so those keep a loop over words inside a loop over taps.
    const int kc = C == 1 ? steps : k.kc;
    for (int st = 0; st < steps; st += kc) {
      for (int c = 0; c < kc; ++c) {
        const int64_t off = C == 1 ? step_off[c] : step_off[st] + c;
        tile_step<B, A, MR, NW, Form>(acc, w, a_ptr, off, ps);
        w += B * NW * L;
      }
    }

    // Class s of pixel m, result vector v: acc[s][m][v], or (split tiles) its S accumulators folded
    // into one; values, not a pointer into acc (an address taken kept the accumulators in memory), and
    // a macro, not a lambda (one changed the W1A1 tile's register allocation).
    constexpr int S1 = S > 1 ? 1 : 0, S2 = S > 1 ? 2 : 0, S3 = S > 1 ? 3 : 0;
#define BITCONV_CLASS_SUM(s, m, v) \
    fold_split<V, S>(acc[s][m][(v) * S], acc[s][m][(v) * S + S1], acc[s][m][(v) * S + S2], acc[s][m][(v) * S + S3])
    // Classes combined (P = sum_s acc[s] << s, Horner): in multi-class bit-serial tiles as soon as the
    // reduction ends, so that only MR x NV values, not the C x MR x NW accumulators, live through the
    // epilogue's branches. With the accumulators live there, GCC 12 zeroed them in memory and stored
    // them again after the loop (35-60 vector stores per tile on AVX-512) in every such tile but one:
    // the 2 x 1 bit, 2-pixel, 4-vector tile, whose loop the early combine allocates worse (a spill and 8
    // moves per step; 128@28 W2A1 0.090 -> 0.107 ms). That one and one-class tiles (W1A1, int8, split
    // tiles) combine late, in result(), as before.
    constexpr bool late = C == 1 || (B == 2 && A == 1 && MR == 2 && NV == 4);
    R psum[late ? 1 : MR][late ? 1 : NV];
    if constexpr (!late)
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          R x = BITCONV_CLASS_SUM(C - 1, m, v);
#pragma GCC unroll 16
          for (int s = C - 2; s >= 0; --s) x = V::add(V::add(x, x), BITCONV_CLASS_SUM(s, m, v));
          psum[m][v] = x;
        }

    // The epilogue. Consecutive channels (the output, or the driver's NCHW and codes scratch) are
    // stored straight from registers; spread channels of a kernel-wise panel by store_permuted (the
    // Permuted variant) or through a small tile buffer.
    const int32_t* corr[MR];
    // One correction row for every pixel (a zero point, no window meets padding; null otherwise).
    // Int8 tiles (one class, no code-sum term) hold it in registers in their common case below;
    // bit-serial tiles read it per pixel like a border row (not measured with it in registers: a
    // value lambda shared by both forms moved the W1A1 tile's accumulators to memory, 64@56 55 -> 80
    // us, and their value has the code-sum term and, in multi-class tiles, the early class sum).
    const int32_t* const corr1 = k.corr_row ? nullptr : k.corr_base;
    const int64_t out0 = k.out_off + p0 * k.out_stride + k.ch0;  // output offset of the tile's first pixel
    int64_t out_at[MR];
    uint32_t qterm[MR];
    {
      // Addresses advanced by adding strides, not multiplied per pixel: this setup is most of a
      // tile's fixed cost, which short reductions (1x1 layers of few channels) pay per few steps.
      const uint32_t qcoef = k.qcoef;
      const int32_t* const qsum = k.qsum;  // null for int8 panels: offsets, not pointers, walk it
      const int64_t qsum_stride = k.qsum_stride, out_stride = k.out_stride;
      int64_t qo = p0 * qsum_stride, at = out0;
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        if (V::kCodeSums && Form == kAnd) qterm[m] = m < mr ? qcoef * uint32_t(qsum[qo]) : 0;
        out_at[m] = at;
        qo += qsum_stride;
        at += out_stride;
      }
      const int32_t* const corr_base = k.corr_base;
      if (corr_base && k.corr_row && mr == MR && oh0 >= k.inner_oh0 && oh0 < k.inner_oh1 && ow0 >= k.inner_ow0 &&
          ow0 + MR <= k.inner_ow1) {  // a whole tile inside (one output row) where the rows are zero
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) corr[m] = nullptr;
      } else if (corr_base && k.corr_row) {  // border corrections (zero point, binary codes): rows and columns walked
        const int64_t* const corr_row = k.corr_row;
        const int64_t* const corr_col = k.corr_col;
        const int wo = k.wo;
        int oh = oh0, ow = ow0;
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
          corr[m] = m < mr ? corr_base + corr_row[oh] + corr_col[ow] : nullptr;
          if (++ow == wo) ow = 0, ++oh;
        }
      } else if (corr_base) {  // one row for every pixel
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) corr[m] = corr_base;
      } else {
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) corr[m] = nullptr;
      }
    }
    // kXor: the init vectors, loaded once per tile before its stores (loaded after one, they would
    // be read again for every store: the stores may alias them).
    R init[Form == kXor ? NV : 1];
    if constexpr (Form == kXor)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) init[v] = V::load(reinterpret_cast<const uint32_t*>(k.init) + v * L);
    // The value of pixel m, vector v: classes combined, corrections applied.
    auto result = [&](int m, int v) {
      R x;
      if constexpr (late) {
        x = BITCONV_CLASS_SUM(C - 1, m, v);
#pragma GCC unroll 16
        for (int s = C - 2; s >= 0; --s) x = V::add(V::add(x, x), BITCONV_CLASS_SUM(s, m, v));
      } else {
        x = psum[m][v];
      }
      if constexpr (Form == kXorDown) return x;
      x = V::shl(x, shift);
      if constexpr (Form == kXor)
        x = V::sub(init[v], x);
      else if (V::kCodeSums)
        x = V::sub(x, V::broadcast(&qterm[m]));
      if (corr[m]) x = V::sub(x, V::load(reinterpret_cast<const uint32_t*>(corr[m]) + v * L));
      return x;
    };
    if (direct && full && mr == MR) {  // the common cases, no guards
      // Int8 tiles walk the output address here: with the address array that the other paths use,
      // this path ran 1x1 int8 layers 8-17% slower (24>144 @56 3x2 bits 43-44 us against 37-39, with
      // and without a zero point); bit-serial tiles measured 1-3% slower with the walk and keep the array.
      if constexpr (kInt8Tile) {
        const int64_t ostr = k.out_stride;
        R c[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
          c[v] = corr1 ? V::load(reinterpret_cast<const uint32_t*>(corr1) + v * L) : V::zero();
#define BITCONV_VALUE(m, v) (corr1 ? V::sub(V::shl(BITCONV_CLASS_SUM(0, m, v), shift), c[v]) : result(m, v))
        if (out_kind == bitconv::OUT_INT32) {
          int32_t* dst = static_cast<int32_t*>(out_base) + out0;
          if (plain) {
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m, dst += ostr)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v) V::store_i32(dst + v * L, BITCONV_CLASS_SUM(0, m, v), L);
          } else if (corr1 && shift == 0) {
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m, dst += ostr)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v) V::store_i32(dst + v * L, V::sub(BITCONV_CLASS_SUM(0, m, v), c[v]), L);
          } else {
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m, dst += ostr)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v) V::store_i32(dst + v * L, BITCONV_VALUE(m, v), L);
          }
        } else {
          float* dst = static_cast<float*>(out_base) + out0;
#pragma GCC unroll 8
          for (int m = 0; m < MR; ++m, dst += ostr)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) V::store_f32(dst + v * L, BITCONV_VALUE(m, v), scale + v * L, bias + v * L, L);
        }
#undef BITCONV_VALUE
        goto next_tile;
      }
      if (out_kind == bitconv::OUT_INT32) {
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v)
            V::store_i32(static_cast<int32_t*>(out_base) + out_at[m] + v * L, result(m, v), L);
      } else {
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v)
            V::store_f32(static_cast<float*>(out_base) + out_at[m] + v * L, result(m, v), scale + v * L, bias + v * L,
                         L);
      }
      goto next_tile;
    }
#undef BITCONV_CLASS_SUM
    if constexpr (Permuted) {  // a whole tile of spread channels permuted from registers
      R x[MR][NV];
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) x[m][v] = result(m, v);
      store_permuted<V, MR, NV>(k, x, out_at);
      return;
    }
    {  // a block: the common path's goto above skips these declarations
      alignas(64) int32_t buf[MR][NV * L];
      // Fully unrolled with guards instead of early exits, so acc[][][] never needs a memory copy.
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        if (m >= mr) continue;
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          const int valid = nr - v * L;
          if (valid <= 0) continue;
          const R x = result(m, v);
          const int n_valid = valid < L ? valid : L;
          if (direct) {
            if (out_kind == bitconv::OUT_INT32)
              V::store_i32(static_cast<int32_t*>(out_base) + out_at[m] + v * L, x, n_valid);
            else
              V::store_f32(static_cast<float*>(out_base) + out_at[m] + v * L, x, scale + v * L, bias + v * L, n_valid);
          } else if (out_kind == bitconv::OUT_INT32) {
            V::store_i32(buf[m] + v * L, x, L);
          } else {
            V::store_f32(reinterpret_cast<float*>(buf[m]) + v * L, x, scale + v * L, bias + v * L, L);
          }
        }
      }
      if (direct) goto next_tile;
      // 4-byte values of either type are copied by bit pattern.
      const int windows = k.windows;
      for (int m = 0; m < MR; ++m) {
        if (m >= mr) continue;
        int32_t* dst = static_cast<int32_t*>(out_base) + out_at[m];
        for (int i = 0; i < windows; ++i) V::store_window(dst + k.win_off[i], k.win_mask[i], buf[m] + k.win_src[i]);
      }
      return;
    }
    // This tile's stores are done (the common path, or a partial block's guarded ones): the strip's
    // next tile, if any.
    next_tile:
    if (!kStrips<B, A> || --tiles == 0) return;
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) a_ptr[m] += a_step;
    p0 += MR;
    ow0 += MR;
    while (ow0 >= k.wo) ow0 -= k.wo, ++oh0;
  }
}

// Tiles of NV vectors whose spread channels store_permuted stores (the cost model reads it from
// KernelInfo::permuted_stores); the others go through the tile buffer. Bit-serial one-class tiles
// (W1A1) of 3-4 vectors keep the buffer: in their permuting variant GCC 12 kept the accumulators in
// memory through the reduction (128@28 A1, 1- and 2-bit channels interleaved: 76 -> 85 us).
template <int B, int A, int NV>
constexpr bool kPermutedStores =
    V::kPermuteWindows && NV <= 4 && (NV <= 2 || B + A > 2 || !V::kCodeSums);

// Int8 tiles end a run of fewer than MR pixels with a tile of exactly that many (M = mr), not with a
// whole tile of which only mr pixels are stored: on 7x7 layers (49 pixels, 8 tiles of 6 and one of 1)
// that last tile cost as much as a whole one (160>960 @7 2x2 bits: 16.9 us, 15.3 on 48 pixels).
// Int8 tiles are one table of a few short blocks; the bit-serial tables (8 x 8 bit pairs) would grow
// by a copy per pixel count.
template <int B, int A, int NV, int Form, int M>
inline void tail_tile(const RunConsts& k, const uint32_t* const* a_ptr, int mr, int64_t p, int oh0, int ow0) {
  if (mr == M)
    bitserial_tile<B, A, M, NV, false, Form>(k, a_ptr, M, p, oh0, ow0, 1, 0);
  else if constexpr (M > 1)
    tail_tile<B, A, NV, Form, M - 1>(k, a_ptr, mr, p, oh0, ow0);
}

// One-class strips (int8 tiles; W1A1 tiles of the kXorDown form, which need no code sums and no
// corrections; binary W1A1 kXor tiles where no correction applies) stored in place (the block's
// channels consecutive) with at most one correction row (no border walk): a loop of its own around
// the reduction. In the common tile, every tile of a strip still paid the general epilogue's setup
// (pixel addresses and correction pointers and tests, spilled to the stack), about as many
// instructions as 8 steps of a 16-channel int8 tile (docs/kernels.md). E: the epilogue, chosen once
// per strip: kStore (the sum as it is), kSub (less the correction row) or kShiftSub (shifted, less
// the row or zero), plus kFloat for float output; Full: every vector's channels in the block (else
// the last ones are stored under a mask or not).
enum StripEpilogue : int { kStore = 0, kSub = 1, kShiftSub = 2, kFloat = 4 };
alignas(64) inline constexpr int32_t kZeroRow[bitconv::kMaxNR] = {};

template <int MR, int NV, int E, bool Full, int Form = kAnd>
__attribute__((noinline)) void one_class_strip(const RunConsts& k, const uint32_t* a0, int64_t col_step,
                                               int64_t tiles, int64_t p0) {
  using R = typename V::reg;
  constexpr int L = V::L;
  constexpr int S = V::kSplit;
  constexpr int NW = NV * S;
  constexpr int S1 = S > 1 ? 1 : 0, S2 = S > 1 ? 2 : 0, S3 = S > 1 ? 3 : 0;
  const uint32_t* a_ptr[MR];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) a_ptr[m] = a0 + m * col_step;
  const int64_t a_step = MR * col_step;
  const int64_t* const step_off = k.step_off;
  const uint32_t* const w0 = k.w;
  const int steps = k.steps;
  const int shift = k.shift;
  const int64_t ostr = k.out_stride;
  const int32_t* const corr = k.corr_base ? k.corr_base : kZeroRow;
  const double* const scale = k.scale;
  const double* const bias = k.bias;
  char* dst = static_cast<char*>(k.out) + 4 * (k.out_off + p0 * ostr + k.ch0);
  const int64_t dst_step = 4 * ostr;
  int valid[NV];  // channels of the block in each result vector (a block may have fewer than the tile)
  for (int v = 0; v < NV; ++v) valid[v] = k.nr - v * L;
  // kXor: init - 2P as 2 (init / 2 - P), init being taps x cg (even) for every channel: the
  // accumulators start at the half, as kXorDown's start at init, and are doubled by V::twice. With
  // init less twice the count in the epilogue, or a plain doubling, GCC 12 kept the accumulators on
  // the stack (docs/kernels.md).
  alignas(64) uint32_t half[Form == kXor ? L : 1];
  if constexpr (Form == kXor)
    for (int i = 0; i < L; ++i) half[i] = uint32_t(k.init[0]) / 2;
  for (int64_t t = 0; t < tiles; ++t) {
    R acc[MR][NW];
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 16
      for (int v = 0; v < NW; ++v)
        acc[m][v] = Form == kXorDown ? V::load(reinterpret_cast<const uint32_t*>(k.init) + v * L)
                    : Form == kXor   ? V::load(half)
                                     : V::zero();
    const uint32_t* w = w0;
    for (int st = 0; st < steps; ++st) {
      const int64_t off = step_off[st];
      R wv[NW];
#pragma GCC unroll 16
      for (int v = 0; v < NW; ++v) wv[v] = V::load(w + v * L);
      w += NW * L;
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        const R av = V::broadcast(a_ptr[m] + off);
#pragma GCC unroll 16
        for (int v = 0; v < NW; ++v)
          acc[m][v] = Form != kAnd ? V::sub(acc[m][v], V::popcount_xor(wv[v], av)) : V::mac(acc[m][v], wv[v], av);
      }
    }
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m, dst += dst_step)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        R x = fold_split<V, S>(acc[m][v * S], acc[m][v * S + S1], acc[m][v * S + S2], acc[m][v * S + S3]);
        if constexpr ((E & 3) == kSub) x = V::sub(x, V::load(reinterpret_cast<const uint32_t*>(corr) + v * L));
        if constexpr ((E & 3) == kShiftSub)
          x = V::sub(V::shl(x, shift), V::load(reinterpret_cast<const uint32_t*>(corr) + v * L));
        if constexpr (Form == kXor) x = V::twice(x);
        const int n = Full ? L : valid[v];
        if (!Full && n <= 0) continue;
        if constexpr ((E & kFloat) != 0)
          V::store_f32(reinterpret_cast<float*>(dst) + v * L, x, scale + v * L, bias + v * L, n);
        else
          V::store_i32(reinterpret_cast<int32_t*>(dst) + v * L, x, n);
      }
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) a_ptr[m] += a_step;
  }
}

// Strips of multi-class bit-serial tiles over one-tap reductions (1x1 layers; blocks as
// one_class_strip's): the reduction, the classes combined right after it, and an epilogue of only the
// shift, the code-sum term, the one correction row (or zero) and the stores, without the common
// tile's setup (144>24 @56 W2A2: 39-40 -> 35 us, docs/kernels.md). A call per tile: in a strip
// loop like one_class_strip's, GCC 12 kept the accumulators on the stack (1x1 layers 9-15% slower
// than the common tile). Multi-tap layers keep the common tile (here 64@56 3x3 W2A1 ran 5% slower).
template <int B, int A, int MR, int NV, bool Float>
__attribute__((noinline)) void multi_class_tile(const RunConsts& k, const uint32_t* a0, int64_t col_step,
                                                int32_t* dst, const int32_t* qsum) {
  using R = typename V::reg;
  constexpr int C = B + A - 1;
  constexpr int L = V::L;
  const uint32_t* a_ptr[MR];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) a_ptr[m] = a0 + m * col_step;
  const int64_t* const step_off = k.step_off;
  const int steps = k.steps, kc = k.kc;
  const int64_t ps = k.ps;
  R acc[C][MR][NV];
  for (int s = 0; s < C; ++s)
    for (int m = 0; m < MR; ++m)
      for (int v = 0; v < NV; ++v) acc[s][m][v] = V::zero();
  const uint32_t* w = k.w;
  for (int st = 0; st < steps; st += kc)
    for (int c = 0; c < kc; ++c) {
      tile_step<B, A, MR, NV, kAnd>(acc, w, a_ptr, step_off[st] + c, ps);
      w += B * NV * L;
    }
  R psum[MR][NV];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      R x = acc[C - 1][m][v];
#pragma GCC unroll 16
      for (int s = C - 2; s >= 0; --s) x = V::add(V::add(x, x), acc[s][m][v]);
      psum[m][v] = x;
    }
  // Read into locals before the stores, which may alias k.
  const int shift = k.shift, nr = k.nr;
  const uint32_t qcoef = k.qcoef;
  const int64_t qsum_stride = k.qsum_stride, ostr = k.out_stride;
  const int32_t* const corr = k.corr_base ? k.corr_base : kZeroRow;
  const double* const scale = k.scale;
  const double* const bias = k.bias;
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m, dst += ostr) {
    const uint32_t qterm = qcoef * uint32_t(qsum[m * qsum_stride]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int n = nr - v * L;
      if (n <= 0) continue;
      R x = V::sub(V::shl(psum[m][v], shift), V::broadcast(&qterm));
      x = V::sub(x, V::load(reinterpret_cast<const uint32_t*>(corr) + v * L));
      if constexpr (Float)
        V::store_f32(reinterpret_cast<float*>(dst) + v * L, x, scale + v * L, bias + v * L, n);
      else
        V::store_i32(dst + v * L, x, n);
    }
  }
}

template <int B, int A, int MR, int NV, bool Float>
void multi_class_strip(const RunConsts& k, const uint32_t* a0, int64_t col_step, int64_t tiles, int64_t p0) {
  int32_t* dst = static_cast<int32_t*>(k.out) + (k.out_off + p0 * k.out_stride + k.ch0);
  const int32_t* qsum = k.qsum + p0 * k.qsum_stride;
  for (int64_t t = 0; t < tiles; ++t) {
    multi_class_tile<B, A, MR, NV, Float>(k, a0, col_step, dst, qsum);
    a0 += MR * col_step;
    dst += MR * k.out_stride;
    qsum += MR * k.qsum_stride;
  }
}

template <int MR, int NV, bool Full, int Form = kAnd>
inline void one_class_strip_run(const RunConsts& k, const uint32_t* a0, int64_t col_step, int64_t tiles,
                                int64_t p0) {
  const bool fl = k.out_kind != bitconv::OUT_INT32;
  if constexpr (Form == kXorDown || Form == kXor) {  // the accumulators are the result
    if (fl) return one_class_strip<MR, NV, kFloat + kStore, Full, Form>(k, a0, col_step, tiles, p0);
    return one_class_strip<MR, NV, kStore, Full, Form>(k, a0, col_step, tiles, p0);
  }
  const int mode = k.shift != 0 ? kShiftSub : k.corr_base ? kSub : kStore;
  switch (mode + (fl ? kFloat : 0)) {
    case kStore: return one_class_strip<MR, NV, kStore, Full, Form>(k, a0, col_step, tiles, p0);
    case kSub: return one_class_strip<MR, NV, kSub, Full, Form>(k, a0, col_step, tiles, p0);
    case kShiftSub: return one_class_strip<MR, NV, kShiftSub, Full, Form>(k, a0, col_step, tiles, p0);
    case kFloat + kStore: return one_class_strip<MR, NV, kFloat + kStore, Full, Form>(k, a0, col_step, tiles, p0);
    case kFloat + kSub: return one_class_strip<MR, NV, kFloat + kSub, Full, Form>(k, a0, col_step, tiles, p0);
    default: return one_class_strip<MR, NV, kFloat + kShiftSub, Full, Form>(k, a0, col_step, tiles, p0);
  }
}

// The kernel: walks the run in tiles of MR pixels.
template <int B, int A, int MR, int NV, int Form = kAnd>
void bitserial_run(const bitconv::BlockArgs& b, const bitconv::RunArgs& r) {
  // RunConsts' window tables and the driver's NCHW channel offsets hold kMaxNR channels.
  static_assert(V::kMaxNV * V::L <= bitconv::kMaxNR && V::kMaxMR <= bitconv::kMaxMR, "tile exceeds kMaxNR/kMaxMR");
  RunConsts k;
  k.w = b.w;
  k.step_off = b.step_off;
  k.steps = b.steps;
  k.kc = b.kc;
  k.ps = b.a_plane_stride;
  k.nr = b.nr;
  k.shift = b.shift;
  k.out_kind = b.out_kind;
  k.qcoef = uint32_t(b.qcoef);
  k.direct = b.ch_contiguous;
  k.full = b.nr == NV * V::L;
  k.ch0 = b.ch_off[0];
  k.scale = b.scale;
  k.bias = b.bias;
  k.init = b.init;
  k.out = b.out;
  k.wo = r.wo;
  k.qsum = r.qsum;
  k.qsum_stride = r.qsum_stride;
  k.corr_base = r.corr_base;
  k.corr_row = r.corr_row;
  k.corr_col = r.corr_col;
  k.inner_oh0 = r.inner_oh0, k.inner_oh1 = r.inner_oh1;
  k.inner_ow0 = r.inner_ow0, k.inner_ow1 = r.inner_ow1;
  k.out_off = r.out_off;
  k.out_stride = r.out_stride;
  k.windows = k.direct ? 0 : bitconv::channel_windows(b.ch_off, b.nr, k.ch0, k.win_off, k.win_mask, k.win_src);
  if constexpr (kPermutedStores<B, A, NV>) window_permutes<V>(k);
  const uint32_t* const act = r.act;
  const int64_t row_step = r.row_step, col_step = r.col_step, pix_end = r.pix_end;
  const int wo = r.wo;
  const bool rows_contiguous = row_step == wo * col_step;  // pixel p at act + p * col_step
  constexpr bool kTails = !V::kCodeSums && MR > 1;  // int8 tiles (the traits without code sums): tail_tile
  // Strips with a loop of their own (above), for blocks stored in place without a border walk:
  // multi-class bit-serial tiles of one-tap reductions (multi_class_strip); one-class tiles
  // (one_class_strip): int8, W1A1 kXorDown (no corrections), binary W1A1 kXor (whole tiles inside
  // the input, below; init, taps x cg for every channel, even).
  constexpr bool kMultiClass = V::kCodeSums && B + A > 2 && Form == kAnd;
  constexpr bool kOneClass = (kTails && Form == kAnd) || (V::kCodeSums && B + A == 2 && Form != kAnd);
  const bool own_loop = k.direct && !k.corr_row;
  const bool multi_class = kMultiClass && own_loop && k.qsum && k.steps == k.kc;
  const bool xor_half = Form == kXor && k.shift == 1 && k.init[0] % 2 == 0;
  const bool one_class = kOneClass && own_loop && (Form == kAnd || (!k.corr_base && (Form == kXorDown || xor_half)));
  // Binary W1A1 layers with border corrections: only their tiles inside the input qualify.
  const bool xor_inner = xor_half && k.direct && k.corr_row;
  int64_t p = r.pix_begin;
  int oh = int(p / wo), ow = int(p % wo);  // walked forward, no division per pixel
  while (p < pix_end) {
    const int64_t left = pix_end - p;
    // Int8 runs that would end in a tail of fewer than MR / 2 pixels end in two tails instead, of
    // about half of MR + that many each: a tile of one or two pixels has too few accumulators to
    // hide VPDPBUSD's latency. The last whole tile before such a tail is the first of the two.
    const bool short_tail = kTails && left % MR != 0 && left % MR < MR / 2;
    const int mr = left < MR ? int(left) : short_tail && left < 2 * MR ? int(left + 1) / 2 : MR;
    const int oh0 = oh, ow0 = ow;
    const uint32_t* a_ptr[MR];
    if (mr == MR && ow + MR <= wo) {  // a whole tile inside one output row: pointers a step apart
      const uint32_t* a = act + oh * row_step + ow * col_step;
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) a_ptr[m] = a + m * col_step;
      if ((ow += MR) == wo) ow = 0, ++oh;
    } else {
      for (int m = 0; m < MR; ++m) {
        if (m < mr) {
          a_ptr[m] = act + oh * row_step + ow * col_step;
          if (++ow == wo) ow = 0, ++oh;
        } else {  // past the run's end: repeat a valid pixel, results are not stored
          a_ptr[m] = a_ptr[0];
        }
      }
    }
    if constexpr (kPermutedStores<B, A, NV>) {  // spread channels, whole tiles: store_permuted
      if (!k.direct && mr == MR) {
        bitserial_tile<B, A, MR, NV, true, Form>(k, a_ptr, mr, p, oh0, ow0, 1, 0);
        p += mr;
        continue;
      }
    }
    if constexpr (kTails) {  // int8 tiles: a tail tile (above)
      if (mr < MR) {
        tail_tile<B, A, NV, Form, MR - 1>(k, a_ptr, mr, p, oh0, ow0);
        p += mr;
        continue;
      }
    }
    // A strip: whole tiles whose pixels all lie a column step apart (one output row, or every row
    // when the grid has no gap between rows), run by one call that only advances the pointers.
    int64_t tiles = 1;
    if ((kStrips<B, A> || multi_class) && k.direct && mr == MR && ow0 + MR <= wo) {
      const int64_t whole = left / MR - short_tail;
      const int64_t in_row = (wo - ow0) / MR;
      tiles = rows_contiguous || whole < in_row ? whole : in_row;
      // Binary W1A1 with corrections: a strip of whole tiles inside the input, cut at the inner
      // columns' end, runs in the own loop; the other tiles take the common tile.
      bool inner = false;
      if (xor_inner && oh0 >= k.inner_oh0 && oh0 < k.inner_oh1 && ow0 >= k.inner_ow0 && ow0 + MR <= k.inner_ow1) {
        const int64_t in_cols = (k.inner_ow1 - ow0) / MR;
        if (tiles > in_cols) tiles = in_cols;
        inner = true;
      }
      if (tiles > 1 || inner) {
        const int64_t q = ow0 + tiles * MR;  // the walk past the first tile, done above
        oh = oh0 + int(q / wo), ow = int(q % wo);
      }
      if constexpr (kMultiClass) {
        if (multi_class) {
          if (k.out_kind != bitconv::OUT_INT32)
            multi_class_strip<B, A, MR, NV, true>(k, a_ptr[0], col_step, tiles, p);
          else
            multi_class_strip<B, A, MR, NV, false>(k, a_ptr[0], col_step, tiles, p);
          p += tiles * mr;
          continue;
        }
      }
      if constexpr (kOneClass) {
        if (one_class || inner) {
          if (k.full)
            one_class_strip_run<MR, NV, true, Form>(k, a_ptr[0], col_step, tiles, p);
          else
            one_class_strip_run<MR, NV, false, Form>(k, a_ptr[0], col_step, tiles, p);
          p += tiles * mr;
          continue;
        }
      }
    }
    bitserial_tile<B, A, MR, NV, false, Form>(k, a_ptr, mr, p, oh0, ow0, tiles, MR * col_step);
    p += tiles * mr;
  }
}

// The table of all (B, A) in 1..8 x 1..8 and NV in 1..kMaxNV for this ISA's traits. The driver
// picks NV per layer (csrc/core/conv.cpp: fewer padded channels against more reuse per tile).
template <int B, int A, int NV, int Form = kAnd>
constexpr bitconv::KernelInfo make_info() {
  constexpr int NW = NV * V::kSplit;  // accumulator and weight vectors per pixel and class
  constexpr int mr = choose_mr(B, A, NW, V::kRegisters, V::kReserve, V::kMaxMR);
  bitconv::KernelInfo k;
  // A channel tile whose one-pixel tile already spills is not offered (NV = 1 always is).
  if (NV > 1 && (B + A - 1) * NW + B * NW + V::kReserve > V::kRegisters) return k;
  k.fn = &bitserial_run<B, A, mr, NV, Form>;
  k.mr = mr;
  k.nv = NV;
  k.lanes = V::L;
  k.split = V::kSplit;
  k.permuted_stores = kPermutedStores<B, A, NV>;
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

// The XOR forms' tables: W1A1 tiles of kXor (odd 1-bit weights times binary activations) and
// kXorDown (times {0,1} activations), NV in 1..V::kMaxNV (conv.cpp).
template <int Form, int... NVs>
constexpr void fill_xor(bitconv::KernelInfo* cell, std::integer_sequence<int, NVs...>) {
  ((cell[NVs] = make_info<1, 1, NVs + 1, Form>()), ...);
}

inline bitconv::KernelInfo lookup_xor_kernel(int nv, bool down) {
  static const auto table = [] {
    struct T { bitconv::KernelInfo k[2][V::kMaxNV]; } t{};
    fill_xor<kXor>(t.k[0], std::make_integer_sequence<int, V::kMaxNV>{});
    fill_xor<kXorDown>(t.k[1], std::make_integer_sequence<int, V::kMaxNV>{});
    return t;
  }();
  if (nv < 1 || nv > V::kMaxNV) return bitconv::KernelInfo{};
  return table.k[down ? 1 : 0][nv - 1];
}

// The int8 kernels' table (V::mac a 4-byte dot product): one plane each side, NV in 1..V::kMaxNV.
// Only this one is instantiated by the int8-conv-<isa>.cpp files, not the 8 x 8 bit-serial table.
inline bitconv::KernelInfo lookup_int8_kernel(int nv) {
  static const auto table = [] {
    struct T { bitconv::KernelInfo k[V::kMaxNV]; } t{};
    fill_nv<1, 1>(t.k, std::make_integer_sequence<int, V::kMaxNV>{});
    return t;
  }();
  if (nv < 1 || nv > V::kMaxNV) return bitconv::KernelInfo{};
  return table.k[nv - 1];
}
