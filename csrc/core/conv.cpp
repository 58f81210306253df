// conv2d driver: activation packing, per-pixel correction terms, tiling, threads.
//
// With u = (qw + offset) / mult the unsigned weight planes and q the activation codes,
//   sum_valid qw * v = alpha * (mult * P - offset * Qsum) - beta * Tap
// where P = sum 2^(i+j) popcount(U_i AND A_j) (the kernel), Qsum the window sum of codes (padding
// codes are zero bits), Tap = sum of qw over the taps that fall inside the input (only differs from
// the full sum at borders), and (alpha, beta) = (1, zero_point) for unsigned activations,
// (2, 1) for binary ones (v = 2q - 1 inside the input, 0 in the padding). Odd 1-bit weights times
// binary activations (XNOR-net panels) instead count D = sum popcount(U XOR A):
//   sum_valid qw * v = taps * cg - 2 D - (Tap - TapFull)      (docs/kernels.md)
// and times unsigned 1-bit codes of zero point 0 (XOR-down panels), with U the count of +1 weights:
//   sum_valid qw * q = U - D
#include "core/conv.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>

#include "core/thread_pool.h"
#include "kernels/depthwise.h"

namespace bitconv {

namespace {

struct EncodingTerms {
  int mult, offset;
};
EncodingTerms weight_terms(int bits, int encoding) {
  if (bits == 1 || encoding == W_ODD) return {2, (1 << bits) - 1};
  return {1, 1 << (bits - 1)};
}

int log2_small(int x) { return x == 1 ? 0 : x == 2 ? 1 : 2; }

// Words past the int8 grid's end: a split tile's last step reads up to 3 words past the last pixel
// (their weights are zero, so the values do not matter, but the reads must stay in the buffer).
constexpr size_t kSplitSlack = 3;

}  // namespace

ConvLayer::ConvLayer(ConvSpec spec, const int16_t* qweight) : spec_(std::move(spec)) {
  const ConvSpec& s = spec_;
  if (s.groups <= 0 || s.cin % s.groups || s.cout % s.groups)
    throw std::invalid_argument("groups must divide cin and cout");
  if (int(s.w_bits.size()) != s.cout || int(s.scale.size()) != s.cout || int(s.bias.size()) != s.cout)
    throw std::invalid_argument("per-channel arrays must have cout entries");
  if (s.a_bits < 1 || s.a_bits > 8) throw std::invalid_argument("a_bits must be in 1..8");
  if (s.kh < 1 || s.kw < 1 || s.kh > 32 || s.kw > 32) throw std::invalid_argument("kernel size must be in 1..32");
  cg_ = s.cin / s.groups;
  cog_ = s.cout / s.groups;
  taps_ = s.kh * s.kw;
  qweight_.assign(qweight, qweight + int64_t(s.cout) * cg_ * taps_);
  // Few input channels (an RGB first layer): one bit per channel and tap would fill a few bits of
  // each 32-bit word. Packing whole kernel-row windows instead (channel index j * cg + c, one packed
  // pixel per input row and output column) leaves kh taps of dense words: 3x7x7 takes 7 words, not
  // 49. Windows span one kernel row only, so each is built once per input row, not per output row.
  const int row_words = s.kh * ((s.kw * cg_ + 31) / 32);
  row_windows_ = s.groups == 1 && s.kw > 1 && 2 * taps_ * ((cg_ + 31) / 32) >= 3 * row_words;
  red_cg_ = row_windows_ ? s.kw * cg_ : cg_;
  red_taps_ = row_windows_ ? s.kh : taps_;
  kw64_ = (red_cg_ + 63) / 64;
  kc32_ = (red_cg_ + 31) / 32;
  kc8_ = (red_cg_ + 3) / 4;
  if (row_windows_) {  // [cout][kw * cg][kh]: channel index j * cg + c, tap i
    qweight_windows_.resize(qweight_.size());
    for (int k = 0; k < s.cout; ++k)
      for (int c = 0; c < cg_; ++c)
        for (int i = 0; i < s.kh; ++i)
          for (int j = 0; j < s.kw; ++j)
            qweight_windows_[(int64_t(k) * red_cg_ + j * cg_ + c) * s.kh + i] =
                qweight_[(int64_t(k) * cg_ + c) * taps_ + i * s.kw + j];
  }
  tapsum_.assign(size_t(s.cout) * taps_, 0);
  act_thresholds_ = plane_thresholds(act_quant(), s.a_bits);
  setup_depthwise();
  for (int k = 0; k < s.cout; ++k)
    for (int c = 0; c < cg_; ++c)
      for (int t = 0; t < taps_; ++t) tapsum_[size_t(k) * taps_ + t] += qweight_[(int64_t(k) * cg_ + c) * taps_ + t];
}

namespace {
// Estimated cycles per output pixel to store a panel's blocks whose channels are not contiguous
// (kernel-wise panels between other panels' channels): per output window (channel_windows) one
// masked store, after a permute from registers where the kernel has them (k.permuted_stores: AVX-512
// bit-serial and int8 blocks but W1A1 ones of 3-4 vectors), else after an expand-load from the tile
// buffer, whose stores (2 cycles per vector) come first. Fitted on 64@56 W1A1 with 1- and 2-bit
// channels interleaved: about 3 cycles per window permuted, 4 through the buffer. A permuted window
// also costs about 4 cycles per tile (its indices, mask and loop), which a 2-pixel tile pays per 2
// pixels: without that term 128@28 A1 with 1- and 2-bit channels interleaved took 4-vector 2-pixel
// tiles for its 2-bit panel, 80 us against 74-75 with 2-vector ones.
double scatter_cost(const std::vector<int>& chans, const KernelInfo& k) {
  const int nr = k.nr();
  double cost = 0;
  for (size_t b = 0; b < chans.size(); b += size_t(nr)) {
    const size_t e = std::min(chans.size(), b + size_t(nr));
    if (chans[e - 1] - chans[b] == int(e - b) - 1) continue;  // contiguous: stored directly
    const int windows = channel_windows(chans.data() + b, int(e - b), 0, nullptr, nullptr, nullptr);
    cost += k.permuted_stores ? (3.0 + 4.0 / k.mr) * windows : 2.0 * k.nv + 4.0 * windows;
  }
  return cost;
}
}  // namespace

// The channel tile for a panel of output channels `chans` (ascending): the variant with the fewest
// estimated cycles per output pixel, counting the lanes wasted on padded channels, the tile's step
// cost (vector ops at 4 per cycle, isa.pair_ops per plane pair, VPDPBUSD at 2, or loads, whichever
// binds), its fixed cost per tile and the stores of blocks whose channels are spread (scatter_cost).
// Tiles that would spill accumulators are not in the table.
KernelInfo ConvLayer::choose_kernel(const IsaImpl& isa, int bits, const std::vector<int>& chans, bool int8,
                                     double* cost) const {
  const int channels = int(chans.size());
  const int A = int8 ? 1 : spec_.a_bits, B = int8 ? 1 : bits;
  const int words = int8 ? kc8_ : kc32_;  // per tap
  // Candidates: the plain tiles by vectors per tile, then (int8) the split tile.
  std::vector<KernelInfo> cands;
  for (int nv = 1; nv <= 8; ++nv) {
    const KernelInfo k = int8 ? isa.int8_kernel(nv) : isa.kernel(bits, A, nv);
    if (!k.fn) break;
    cands.push_back(k);
  }
  const bool has_split = int8 && isa.int8_split_kernel && spec_.force_split >= 0;
  if (has_split) cands.push_back(isa.int8_split_kernel());
  // Tests pin a tile: the split one (force_split > 0, where there is one), else force_nv vectors.
  const bool pin_split = has_split && spec_.force_split > 0;
  KernelInfo best;
  double best_cost = 0;
  for (const KernelInfo& k : cands) {
    const int nv = k.nv, nw = k.nv * k.split;  // result vectors; weight vectors per plane and step
    const double steps = double(red_taps_) * k.steps_per_tap(words);
    const double blocks = double((channels + k.nr() - 1) / k.nr());
    // Per step: AND + popcount + add per plane pair and lane vector, one broadcast per pixel and
    // plane (int8: one VPDPBUSD and one broadcast, both counted at the VNNI pipes' rate of 2 per
    // cycle: fitted to measured tiles on Zen 5, although an isolated VPBROADCASTD + VPDPBUSD pair
    // issues at the rate of VPDPBUSD alone, docs/kernels.md); weight vectors come from L1 (2 per
    // cycle) while a block's panel fits in it, else L2.
    // Split tiles: their 128-bit broadcast counts twice (fitted: 64>16 and 64>32 3x3 @56 on Zen 5
    // ran 0.74x and 1.06x the time of the plain tiles, where one op each predicted 0.68x and 0.90x),
    // and they fold 4 accumulators per result vector in the epilogue (9 ops).
    const double bcst = k.split > 1 ? 2.0 : 1.0;
    const double panel_bytes = steps * B * nw * k.lanes * 4;
    const double ops = int8 ? (k.mr * nw + bcst * k.mr) / 2.0 : (isa.pair_ops * B * A * k.mr * nw + A * k.mr) / 4.0;
    const double loads = B * nw / (panel_bytes <= 32768 ? 2.0 : 0.5) + A * k.mr / 2.0;
    const double fold = k.split > 1 ? 9.0 / 4.0 * k.mr * nv : 0.0;
    const double per_tile = steps * std::max(ops, loads) + 40.0 + 3.0 * k.mr * nv * (B + A) + fold;
    const double c = blocks * per_tile / k.mr + scatter_cost(chans, k);
    if (pin_split ? k.split > 1 : (k.split == 1 && nv == spec_.force_nv)) {
      best = k, best_cost = c;
      break;
    }
    if (!best.fn || c < best_cost) best = k, best_cost = c;
  }
  if (!best.fn) throw std::runtime_error(std::string("no kernel for ") + isa.name);
  *cost = best_cost;
  return best;
}

// Panels of one group: its channels by weight bits (ascending) are split into runs of consecutive
// bit counts, each run one panel at its highest bits (lower-bit weights are exact there: signed and
// odd levels of b bits lie within those of b + 1) on bit-planes or int8, whichever is estimated
// faster. Fewer, wider panels share tiles and broadcasts and store contiguous channels; the split
// minimises the estimated cycles per output pixel.
const std::vector<ConvLayer::Panel>& ConvLayer::panels_for(const IsaImpl& isa) {
  std::lock_guard<std::mutex> lock(pack_mutex_);
  auto it = packed_.find(int(isa.isa));
  if (it != packed_.end()) return *it->second;
  const ConvSpec& s = spec_;
  const int alpha = s.a_encoding == A_BINARY ? 2 : 1;
  const int16_t* qw = row_windows_ ? qweight_windows_.data() : qweight_.data();
  auto panels = std::make_unique<std::vector<Panel>>();
  std::vector<bool> fits_int8(size_t(s.cout), true);  // every weight of the channel in [-128, 127]
  for (size_t e = 0; e < qweight_.size(); ++e)
    if (qweight_[e] < -128 || qweight_[e] > 127) fits_int8[e / (size_t(cg_) * taps_)] = false;
  struct Run {
    int bits = 0;
    bool int8 = false;
    KernelInfo k;
    double cost = 0;
    std::vector<int> chans;
  };
  // The best panel for channels `chans` whose highest weight bits are `bits`.
  auto plan_run = [&](int bits, std::vector<int> chans) {
    std::sort(chans.begin(), chans.end());
    Run r;
    r.bits = bits;
    r.k = choose_kernel(isa, bits, chans, false, &r.cost);
    // The int8 kernels need weights that fit int8 (not 8-bit odd levels) and codes their ISA takes;
    // their result needs no code-sum term.
    bool int8 = isa.int8_kernel && s.force_int8 >= 0 && s.a_bits <= isa.int8_max_a_bits;
    for (size_t i = 0; int8 && i < chans.size(); ++i) int8 = fits_int8[size_t(chans[i])];
    double cost8 = 0;
    KernelInfo k8;
    if (int8) k8 = choose_kernel(isa, bits, chans, true, &cost8);
    // Against int8, bit-serial tiles with several accumulator classes on a multi-tap reduction count
    // 13% more: they walk it as a loop over words inside a loop over taps (bitserial-tile.h), and on
    // ResNet-18's 3x3 layers at W2A3, W3A2, W1A5 and W5A1 the int8 tiles ran 4-16% faster (one 39%)
    // where the op counts called the two even or bit-serial faster; 1x1 and row-window layers, and
    // bit-serial tiles against each other, match the op counts.
    const double vs_int8 = bits + s.a_bits > 2 && red_taps_ > 1 && !row_windows_ ? 1.13 : 1.0;
    if (int8 && (s.force_int8 > 0 || cost8 < r.cost * vs_int8)) r.int8 = true, r.k = k8, r.cost = cost8;
    r.chans = std::move(chans);
    return r;
  };
  for (int g = 0; g < s.groups && !depthwise_; ++g) {  // depthwise layers have their own weights
    std::vector<int> bits_of;                  // distinct bit counts, ascending
    std::vector<std::vector<int>> chans_of;    // their channels
    for (int bits = 1; bits <= 8; ++bits) {
      std::vector<int> chans;
      for (int k = g * cog_; k < (g + 1) * cog_; ++k)
        if (s.w_bits[k] == bits) chans.push_back(k);
      if (!chans.empty()) bits_of.push_back(bits), chans_of.push_back(std::move(chans));
    }
    // best[j]: the cheapest split of the first j bit counts (runs ending at j - 1).
    const int nb = int(bits_of.size());
    std::vector<double> best(size_t(nb) + 1, 0.0);
    std::vector<Run> last(size_t(nb) + 1);
    std::vector<int> from(size_t(nb) + 1, 0);
    for (int j = 1; j <= nb; ++j) {
      std::vector<int> chans;
      for (int i = j; i >= 1; --i) {  // run i-1 .. j-1
        chans.insert(chans.end(), chans_of[size_t(i) - 1].begin(), chans_of[size_t(i) - 1].end());
        Run r = plan_run(bits_of[size_t(j) - 1], chans);
        if (i == j || best[size_t(i) - 1] + r.cost < best[size_t(j)])
          best[size_t(j)] = best[size_t(i) - 1] + r.cost, last[size_t(j)] = std::move(r), from[size_t(j)] = i - 1;
      }
    }
    std::vector<Run> runs;
    for (int j = nb; j > 0; j = from[size_t(j)]) runs.push_back(std::move(last[size_t(j)]));
    for (auto r = runs.rbegin(); r != runs.rend(); ++r) {
      Panel p;
      p.group = g;
      p.bits = r->bits;
      p.int8 = r->int8;
      if (r->int8) {
        p.w = pack_weight_panel_int8(qw, red_cg_, red_taps_, r->chans, kc8_, r->k);
        p.shift = log2_small(alpha);
        p.qcoef = 0;
      } else {
        const EncodingTerms e = weight_terms(r->bits, s.w_encoding);
        // {-1,+1} x {-1,+1}: w v = 1 - 2 [u != q] inside the input. With D = sum popcount(U XOR A)
        // over all taps (padding codes are 0, so a padding tap adds the popcount of U there),
        // sum_valid w v = taps * cg - 2 D - (Tap - TapFull): a constant, no code sums, and no
        // correction where every tap is inside.
        p.xnor = s.a_encoding == A_BINARY && r->bits == 1 && isa.xor_kernel != nullptr;
        // Times {0,1} codes: w q = u - [u != q] inside the input and 0 = u - [u != 0] in the padding,
        // so sum_valid w q = U - D, U the channel's count of +1 weights: no code sums, no corrections.
        p.down = s.a_encoding == A_UNSIGNED && s.a_zero_point == 0 && s.a_bits == 1 && r->bits == 1 &&
                 isa.xor_kernel != nullptr;
        const KernelInfo k = p.xnor || p.down ? isa.xor_kernel(r->k.nv, p.down) : r->k;
        p.w = pack_weight_panel(qw, red_cg_, red_taps_, r->chans, r->bits, e.mult, e.offset, kc32_, k);
        p.shift = p.xnor ? 1 : p.down ? 0 : log2_small(alpha * e.mult);
        p.qcoef = p.xnor || p.down ? 0 : alpha * e.offset;
        if (p.xnor) p.init.assign(size_t(p.w.blocks()) * p.w.kernel.nr(), taps_ * cg_);
        if (p.down) {  // the count of +1 among the +-1 weights: (their sum + their number) / 2
          p.init.assign(size_t(p.w.blocks()) * p.w.kernel.nr(), 0);
          for (size_t i = 0; i < r->chans.size(); ++i)
            p.init[i] = int32_t((tap_total(r->chans[i]) + int64_t(taps_) * cg_) / 2);
        }
      }
      const size_t padded = size_t(p.w.blocks()) * p.w.kernel.nr();
      p.scale.assign(padded, 0.0);
      p.bias.assign(padded, 0.0);
      for (size_t i = 0; i < r->chans.size(); ++i) {
        p.scale[i] = s.scale[size_t(r->chans[i])];
        p.bias[i] = s.bias[size_t(r->chans[i])];
      }
      panels->push_back(std::move(p));
    }
  }
  auto& ref = *panels;
  packed_[int(isa.isa)] = std::move(panels);
  return ref;
}

int64_t ConvLayer::tap_total(int k) const {
  int64_t sum = 0;
  for (int t = 0; t < taps_; ++t) sum += tapsum_[size_t(k) * taps_ + t];
  return sum;
}

int64_t ConvLayer::packed_weight_bytes(const IsaImpl& isa) {
  int64_t bytes = int64_t(dw_weights_.size()) * 4;
  for (const Panel& p : panels_for(isa)) bytes += int64_t(p.w.data.size()) * 4;
  return bytes;
}

namespace {

// One input row (image img, row y) as uint8 codes, channels contiguous: straight from the input
// when it already is channels-last codes, else quantized (float) or transposed (codes) into a
// per-thread buffer. Sets saw_nan when a float input holds NaN.
const uint8_t* codes_row(const IsaImpl& isa, const ConvInput& in, const ActQuant& quant, int64_t img, int64_t y,
                         int w, int cin, int64_t& pix_stride, std::atomic<bool>& saw_nan) {
  const int64_t row_off = img * in.stride[0] + y * in.stride[2];
  if (!in.is_float && in.stride[1] == 1) {
    pix_stride = in.stride[3];
    return static_cast<const uint8_t*>(in.data) + row_off;
  }
  thread_local std::vector<uint8_t> tmp;
  tmp.resize(size_t(w) * cin);
  if (in.is_float) {
    if (isa.quantize_row(static_cast<const float*>(in.data) + row_off, in.stride[1], in.stride[3], w, cin, quant,
                         tmp.data()))
      saw_nan.store(true, std::memory_order_relaxed);
  } else {
    isa.transpose_row(static_cast<const uint8_t*>(in.data) + row_off, in.stride[1], in.stride[3], w, cin, tmp.data());
  }
  pix_stride = cin;
  return tmp.data();
}

// Per-thread scratch that keeps its memory between calls: fresh multi-megabyte allocations would
// be zero-filled and page-faulted on every call. Contents are uninitialised. Slots: 0 bit-planes
// (depthwise: its value rows), 1 column code sums (depthwise: an output row for NCHW or codes
// output), 2 window code sums, 3 a packed row's pixel sums, 4 int8 codes, 5 an output tile (NCHW
// or codes output), 6 a tile's codes.
template <class T>
T* workspace(int slot, size_t count) {
  struct Buffer {
    std::unique_ptr<unsigned char[]> data;
    size_t bytes = 0;
  };
  thread_local Buffer buffers[7];
  Buffer& b = buffers[slot];
  const size_t bytes = count * sizeof(T) + 64;
  if (b.bytes < bytes) {
    b.data.reset(new unsigned char[bytes]);
    b.bytes = bytes;
  }
  const uintptr_t p = reinterpret_cast<uintptr_t>(b.data.get());
  return reinterpret_cast<T*>((p + 63) & ~uintptr_t(63));  // cache-line aligned
}

// Codes output: `pixels` rows of int32 accumulators at src + p * src_stride (channels 0..nr-1) are
// requantized into the image's output pixels p0 + p, dst = img_out + p0 * pix_stride, at
// dst[p * pix_stride + ch_off[n]], or dst[p * pix_stride + n] when ch_off is null, where pix_stride
// is 1 for NCHW output (ch_off then holds channel planes) and cout for NHWC: directly where the
// channels are consecutive, else through a tile of codes that is then scattered (NCHW: transposed
// and copied per channel).
void store_codes(const IsaImpl& isa, const int32_t* src, int64_t src_stride, int64_t pixels, int nr,
                 const RequantArgs& a, uint8_t* img_out, int64_t p0, bool nchw, int64_t cout,
                 const int64_t* ch_off) {
  const int64_t pix_stride = nchw ? 1 : cout;
  uint8_t* const dst = img_out + p0 * pix_stride;
  const int64_t ch0 = ch_off ? ch_off[0] : 0;
  if (!ch_off || ch_off[nr - 1] - ch0 == nr - 1) {
    isa.requantize(src, src_stride, pixels, nr, a, dst + ch0, pix_stride);
    return;
  }
  uint8_t* tile = workspace<uint8_t>(6, 2 * size_t(pixels) * nr);
  isa.requantize(src, src_stride, pixels, nr, a, tile, nr);
  if (nchw) {  // the tile transposed to channel rows (the input's byte transpose), copied out
    uint8_t* rows = tile + size_t(pixels) * nr;
    isa.transpose_row(tile, nr, 1, nr, int(pixels), rows);
    for (int c = 0; c < nr; ++c) std::memcpy(dst + ch_off[c], rows + c * pixels, size_t(pixels));
  } else {
    for (int64_t p = 0; p < pixels; ++p)
      for (int c = 0; c < nr; ++c) dst[p * pix_stride + ch_off[c]] = tile[p * nr + c];
  }
}

// out[x] = sum over i < taps of rows[i * step + x], for x < n: in passes of up to 3 rows, which
// vectorise (a tap loop inside the x loop does not: 5x slower); one pass per row cost about 3% of a
// W1A1 call on 64@56.
void vertical_sums(const int32_t* __restrict rows, int64_t step, int taps, int64_t n, int32_t* __restrict out) {
  const int32_t* __restrict r1 = rows + step;
  const int32_t* __restrict r2 = rows + 2 * step;
  if (taps >= 3)
    for (int64_t x = 0; x < n; ++x) out[x] = rows[x] + r1[x] + r2[x];
  else if (taps == 2)
    for (int64_t x = 0; x < n; ++x) out[x] = rows[x] + r1[x];
  else
    for (int64_t x = 0; x < n; ++x) out[x] = rows[x];
  for (int i = 3; i < taps; i += 2) {
    const int32_t* __restrict a = rows + i * step;
    const int32_t* __restrict b = a + step;
    if (i + 1 < taps)
      for (int64_t x = 0; x < n; ++x) out[x] += a[x] + b[x];
    else
      for (int64_t x = 0; x < n; ++x) out[x] += a[x];
  }
}

// One packed row's code sums over each output column's kw taps, from the packer's per-pixel sums
// (out[ow * G + g]); vertical_sums then adds kh of these rows per output row. A function of plain
// values, so no store can alias a bound and the loops vectorise.
void column_window_sums(const int32_t* __restrict pix, int kw, int sw, int dw, int G, int wo, int32_t* __restrict out) {
  if (sw == 1) {  // tap j of every column is the row shifted by j * dw pixels: a sum of shifted rows
    vertical_sums(pix, int64_t(dw) * G, kw, int64_t(wo) * G, out);
    return;
  }
  if (G == 1) {  // strided: a pass per tap (the loop below, per column, ran 1 us slower on 64>128 3x3/2 @56)
    for (int ow = 0; ow < wo; ++ow) out[ow] = pix[int64_t(ow) * sw];
    for (int j = 1; j < kw; ++j) {
      const int32_t* __restrict c = pix + int64_t(j) * dw;
      for (int ow = 0; ow < wo; ++ow) out[ow] += c[int64_t(ow) * sw];
    }
    return;
  }
  for (int ow = 0; ow < wo; ++ow)
    for (int g = 0; g < G; ++g) {
      int32_t sum = 0;
      for (int j = 0; j < kw; ++j) sum += pix[(int64_t(ow) * sw + int64_t(j) * dw) * G + g];
      out[int64_t(ow) * G + g] = sum;
    }
}

// True if every code of uint8 input row (img, y) is below 2^a_bits.
bool row_codes_fit(const ConvInput& in, int64_t img, int64_t y, int w, int cin, int a_bits) {
  const uint8_t* row = static_cast<const uint8_t*>(in.data) + img * in.stride[0] + y * in.stride[2];
  const int64_t sc = in.stride[1], sx = in.stride[3];
  uint8_t seen = 0;  // byte-wide, so the loops vectorise without widening
  if ((sc == 1 && sx == cin) || (sx == 1 && sc == w)) {  // the row is one dense run of bytes
    for (int64_t i = 0; i < int64_t(w) * cin; ++i) seen |= row[i];
  } else if (sc == 1) {
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < cin; ++c) seen |= row[x * sx + c];
  } else if (sx == 1) {
    for (int c = 0; c < cin; ++c)
      for (int x = 0; x < w; ++x) seen |= row[c * sc + x];
  } else {
    for (int c = 0; c < cin; ++c)
      for (int x = 0; x < w; ++x) seen |= row[c * sc + x * sx];
  }
  return (seen >> a_bits) == 0;
}

// Codes of every input row, for the paths whose packing does not read every code (the packers
// flag the codes they read).
void check_all_codes(const ConvInput& in, int n, int h, int w, int cin, int a_bits, int threads,
                     std::atomic<bool>& bad_code) {
  if (in.is_float) return;
  parallel_for(int64_t(n) * h, threads, [&](int64_t item) {
    if (!row_codes_fit(in, item / h, item % h, w, cin, a_bits)) bad_code.store(true, std::memory_order_relaxed);
  });
}

std::string code_message(int a_bits) {
  return "x holds a uint8 code >= 2^a_bits = " + std::to_string(1 << a_bits) + "; codes must be below it";
}
const char* const kNanMessage = "x contains NaN, which has no quantized code (Inf is allowed and clips)";

}  // namespace

ActQuant ConvLayer::act_quant() const {
  const ConvSpec& s = spec_;
  return ActQuant{float(s.a_scale), float(s.a_zero_point), float((1 << s.a_bits) - 1), s.a_encoding == A_BINARY};
}

ConvShape ConvLayer::shape_for(int n, int h, int w) const {
  const ConvSpec& s = spec_;
  const int64_t eh = int64_t(s.dh) * (s.kh - 1) + 1, ew = int64_t(s.dw) * (s.kw - 1) + 1;
  const int64_t hp = int64_t(h) + 2 * s.ph, wp = int64_t(w) + 2 * s.pw;
  if (hp < eh || wp < ew) throw std::invalid_argument("kernel larger than the padded input");
  return ConvShape{n, h, w, int((hp - eh) / s.sh + 1), int((wp - ew) / s.sw + 1)};
}

// The tables forward() needs for one input size: border classes and their correction rows, the
// kernels' reduction steps, output channel offsets (both layouts). Cached per (ISA, h, w): with a zero
// point, a 512-channel 3x3 layer spent 20 us of each call building its corrections.
std::shared_ptr<const ConvLayer::ShapeTables> ConvLayer::shape_tables(const IsaImpl& isa,
                                                                      const std::vector<Panel>& panels,
                                                                      const ConvShape& sh) {
  const std::array<int64_t, 3> key{int64_t(isa.isa), sh.h, sh.w};
  {
    std::lock_guard<std::mutex> lock(tables_mutex_);
    auto it = tables_.find(key);
    if (it != tables_.end()) return it->second;
  }
  const ConvSpec& s = spec_;
  const int h = sh.h, w = sh.w;
  const int64_t wp = w + 2 * s.pw, howo = int64_t(sh.ho) * sh.wo;
  const int64_t pix32 = int64_t(s.groups) * s.a_bits * kw64_ * 2, pix8 = int64_t(s.groups) * kc8_;
  auto t = std::make_shared<ShapeTables>();

  // Border corrections: beta * (sum of qw over the taps inside the input), by border class.
  const int beta = s.a_encoding == A_BINARY ? 1 : s.a_zero_point;
  std::vector<int> row_cls(static_cast<size_t>(sh.ho)), col_cls(static_cast<size_t>(sh.wo));
  std::vector<uint32_t> row_masks, col_masks;  // valid-tap masks of each class (kh, kw <= 32 checked)
  auto classify = [](int count, int stride, int pad, int dil, int taps, int size, std::vector<int>& cls,
                     std::vector<uint32_t>& masks) {
    for (int o = 0; o < count; ++o) {
      uint32_t m = 0;
      for (int i = 0; i < taps; ++i) {
        const int64_t x = int64_t(o) * stride - pad + int64_t(i) * dil;
        if (x >= 0 && x < size) m |= 1u << i;
      }
      auto it = std::find(masks.begin(), masks.end(), m);
      cls[size_t(o)] = int(it - masks.begin());
      if (it == masks.end()) masks.push_back(m);
    }
  };
  t->corr.resize(panels.size());  // [panel][class][padded position]
  t->corr_row.resize(panels.size());
  t->corr_col.resize(panels.size());
  if (beta != 0) {
    classify(sh.ho, s.sh, s.ph, s.dh, s.kh, h, row_cls, row_masks);
    classify(sh.wo, s.sw, s.pw, s.dw, s.kw, w, col_cls, col_masks);
    // The outputs whose taps on an axis are all inside, a contiguous range (empty if none).
    auto inner = [](const std::vector<int>& cls, const std::vector<uint32_t>& masks, int taps, int& lo, int& hi) {
      const int full = int(std::find(masks.begin(), masks.end(), (uint32_t(2) << (taps - 1)) - 1u) - masks.begin());
      lo = int(std::find(cls.begin(), cls.end(), full) - cls.begin());
      for (hi = lo; hi < int(cls.size()) && cls[size_t(hi)] == full;) ++hi;
    };
    inner(row_cls, row_masks, s.kh, t->inner_oh0, t->inner_oh1);
    inner(col_cls, col_masks, s.kw, t->inner_ow0, t->inner_ow1);
    std::vector<int> valid;  // the taps inside the input for one class
    for (size_t pi = 0; pi < panels.size(); ++pi) {
      const Panel& p = panels[pi];
      const size_t padded = size_t(p.w.blocks()) * p.w.kernel.nr();
      t->corr[pi].assign(row_masks.size() * col_masks.size() * padded, 0);
      for (size_t rc = 0; rc < row_masks.size(); ++rc)
        for (size_t cc = 0; cc < col_masks.size(); ++cc) {
          valid.clear();
          for (int i = 0; i < s.kh; ++i)
            for (int j = 0; j < s.kw; ++j)
              if (((row_masks[rc] >> i) & 1u) && ((col_masks[cc] >> j) & 1u)) valid.push_back(i * s.kw + j);
          int32_t* row = t->corr[pi].data() + (rc * col_masks.size() + cc) * padded;
          for (size_t pos = 0; pos < p.w.channels.size(); ++pos) {
            const int64_t* ts = tapsum_.data() + size_t(p.w.channels[pos]) * taps_;
            int64_t sum = 0;
            for (int tap : valid) sum += ts[tap];
            if (p.xnor) sum -= tap_total(p.w.channels[pos]);  // Tap - TapFull (panels_for)
            row[pos] = int32_t(uint32_t(uint64_t(sum * beta)));  // wraps like the kernel's lanes
          }
        }
      // An XNOR-net panel whose windows all lie inside the input needs no correction at all.
      if (p.xnor && t->inner_oh0 == 0 && t->inner_oh1 == sh.ho && t->inner_ow0 == 0 && t->inner_ow1 == sh.wo)
        t->corr[pi].clear();
      // A pixel's correction row is corr + corr_row[oh] + corr_col[ow] (+ the block's first channel);
      // with one border class (no padding reaches a window) the tables stay empty, and every pixel
      // takes the one row without the kernels walking the tables.
      if (row_masks.size() == 1 && col_masks.size() == 1) continue;
      for (int oh = 0; oh < sh.ho; ++oh)
        t->corr_row[pi].push_back(row_cls[size_t(oh)] * int64_t(col_masks.size()) * int64_t(padded));
      for (int ow = 0; ow < sh.wo; ++ow) t->corr_col[pi].push_back(col_cls[size_t(ow)] * int64_t(padded));
    }
  }

  // Tap offsets in grid pixels, then the kernels' reduction steps (tap, 32-bit word) for bit-planes
  // (step_off) and for int8 codes (step_off8, and step_off8s for split tiles: steps of 4 words);
  // output channel offsets.
  std::vector<int64_t> tap_off(static_cast<size_t>(red_taps_));
  if (row_windows_) {
    for (int i = 0; i < s.kh; ++i) tap_off[size_t(i)] = int64_t(i) * s.dh * sh.wo;  // grid rows of wo windows
  } else {
    for (int i = 0; i < s.kh; ++i)
      for (int j = 0; j < s.kw; ++j) tap_off[size_t(i * s.kw + j)] = int64_t(i) * s.dh * wp + int64_t(j) * s.dw;
  }
  for (int tap = 0; tap < red_taps_; ++tap) {
    for (int c = 0; c < kc32_; ++c) t->step_off.push_back(tap_off[size_t(tap)] * pix32 + c);
    for (int c = 0; c < kc8_; ++c) t->step_off8.push_back(tap_off[size_t(tap)] * pix8 + c);
    for (int c = 0; c < kc8_; c += 4) t->step_off8s.push_back(tap_off[size_t(tap)] * pix8 + c);
  }
  for (int nchw = 0; nchw < 2; ++nchw) {
    t->ch_off[nchw].resize(panels.size());
    for (size_t pi = 0; pi < panels.size(); ++pi)
      for (int k : panels[pi].w.channels) t->ch_off[nchw][pi].push_back(nchw ? int64_t(k) * howo : k);
  }

  std::lock_guard<std::mutex> lock(tables_mutex_);
  if (tables_.size() >= 16) tables_.clear();  // many input sizes: keep memory bounded
  tables_[key] = t;
  return t;
}

std::shared_ptr<const ConvLayer::RequantSet> ConvLayer::requant_tables(const IsaImpl& isa, const ActQuant& q) {
  std::array<uint32_t, 5> key{uint32_t(isa.isa), 0, 0, 0, uint32_t(q.binary)};
  std::memcpy(&key[1], &q.scale, 4);  // the floats by their bits: every value its own tables
  std::memcpy(&key[2], &q.zero_point, 4);
  std::memcpy(&key[3], &q.qmax, 4);
  {
    std::lock_guard<std::mutex> lock(requant_mutex_);
    auto it = requant_.find(key);
    if (it != requant_.end()) return it->second;
  }
  auto set = std::make_shared<RequantSet>();
  if (depthwise_) {
    set->emplace_back(dw_scale_.data(), dw_bias_.data(), int(dw_cpad_), q);
  } else {
    for (const Panel& p : panels_for(isa))
      set->emplace_back(p.scale.data(), p.bias.data(), int(p.scale.size()), q);
  }
  std::lock_guard<std::mutex> lock(requant_mutex_);
  if (requant_.size() >= 16) requant_.clear();  // many quantizers: keep memory bounded
  requant_[key] = set;
  return set;
}

void ConvLayer::forward(const ConvInput& in, int n, int h, int w, void* out, int out_kind,
                        bool out_nchw, int threads, const ActQuant* out_quant) {
  const ConvSpec& s = spec_;
  const ConvShape sh = shape_for(n, h, w);
  const IsaImpl& isa = active_isa();
  const bool codes_out = out_quant != nullptr;
  if (codes_out) out_kind = OUT_INT32;  // codes: the kernels' accumulators go to the requantizer
  if (depthwise_) {
    forward_depthwise(isa, in, sh, out, out_kind, out_nchw, threads, out_quant);
    return;
  }
  const std::vector<Panel>& panels = panels_for(isa);
  const int A = s.a_bits, G = s.groups;
  const int64_t hp = h + 2 * s.ph, wp = w + 2 * s.pw;
  const int64_t pix_words = int64_t(G) * A * kw64_;  // 64-bit words per packed pixel
  const int64_t pix8 = int64_t(G) * kc8_;            // 32-bit words per int8 grid pixel
  const int64_t howo = int64_t(sh.ho) * sh.wo;
  const ActQuant quant = act_quant();
  std::atomic<bool> saw_nan{false}, bad_code{false};
  // Packing and window sums of small inputs run on the calling thread: waking a second thread and
  // waiting for it cost more than it saved below about 64K input codes, and 128K window-sum terms
  // (pixels x groups x kernel rows) (2 threads, 512@7: 0.95 against 0.59 us packing; window sums
  // 0.5 against 0.11 us).
  const int nthreads = threads <= 0 ? hardware_threads() : threads;
  const int pack_threads = int64_t(n) * h * w * s.cin < (int64_t(1) << 16) ? 1 : nthreads;
  const int sum_threads = int64_t(n) * howo * G * s.kh < (int64_t(1) << 17) ? 1 : nthreads;
  // Bit-planes for the bit-serial panels, codes as bytes for the int8 ones (both for a kernel-wise
  // layer that has both), on the same pixel grid.
  bool planes = false, int8 = false;
  for (const Panel& p : panels) (p.int8 ? int8 : planes) = true;
  bool sums = false;  // code sums: int8 panels and the XOR forms read none
  for (const Panel& p : panels) sums |= p.code_sums();
  uint64_t* act = nullptr;
  uint32_t* act8 = nullptr;
  // Packed pixel grid the kernels walk: the padded input, (row windows) padded input rows by
  // output columns, or (strided 1x1) just the input pixels the output reads. Steps in pixels.
  int64_t grid_h = hp, grid_w, grid_row_step, grid_col_step;
  // Code sums per grid row and output column: [img][grid row][ow][group]; a pixel's window code
  // sum is csum_taps of these rows, csum_tap_step apart (added up in step 2).
  int32_t* csum = workspace<int32_t>(1, size_t(n) * hp * sh.wo * G);
  int64_t csum_row_step, csum_tap_step;
  int csum_taps;

  if (taps_ == 1 && (s.sh > 1 || s.sw > 1)) {
    // 1''. A strided 1x1 convolution reads one input pixel in sh * sw: pack only those, as a grid
    // of output size; each grid pixel's code sum is its Qsum. The codes it skips are checked apart.
    check_all_codes(in, n, h, w, s.cin, A, pack_threads, bad_code);
    grid_h = sh.ho;
    grid_w = sh.wo;
    if (planes) act = workspace<uint64_t>(0, size_t(n) * howo * pix_words);
    if (int8) act8 = workspace<uint32_t>(4, size_t(n) * howo * pix8 + kSplitSlack);
    parallel_for(int64_t(n) * sh.ho, pack_threads, [&](int64_t item) {
      const int64_t img = item / sh.ho, oh = item % sh.ho;
      uint64_t* drow = planes ? act + item * sh.wo * pix_words : nullptr;
      uint32_t* drow8 = int8 ? act8 + item * sh.wo * pix8 : nullptr;
      int32_t* qrow = csum + item * sh.wo * G;
      const int64_t y = oh * s.sh - s.ph;
      // Output columns whose input column is inside: ow in [first, last); all others are zero.
      int64_t first = std::min<int64_t>(sh.wo, (s.pw + s.sw - 1) / s.sw);
      int64_t last = std::max<int64_t>(first, std::min<int64_t>(sh.wo, (w - 1 + s.pw) / s.sw + 1));
      if (y < 0 || y >= h) first = last = sh.wo;
      if (planes) {
        std::memset(drow, 0, sizeof(uint64_t) * first * pix_words);
        std::memset(drow + last * pix_words, 0, sizeof(uint64_t) * (sh.wo - last) * pix_words);
        std::memset(qrow, 0, sizeof(int32_t) * first * G);
        std::memset(qrow + last * G, 0, sizeof(int32_t) * (sh.wo - last) * G);
      }
      if (int8) {
        std::memset(drow8, 0, sizeof(uint32_t) * first * pix8);
        std::memset(drow8 + last * pix8, 0, sizeof(uint32_t) * (sh.wo - last) * pix8);
      }
      if (last == first) return;
      int64_t ps;
      const uint8_t* src = codes_row(isa, in, quant, img, y, w, s.cin, ps, saw_nan);
      src += (first * s.sw - s.pw) * ps;
      if (planes)
        isa.pack_activations(src, ps * s.sw, last - first, s.cin, G, A, kw64_, drow + first * pix_words, pix_words,
                             qrow + first * G);
      if (int8) isa.copy_codes_int8(src, ps * s.sw, last - first, s.cin, G, A, kc8_, drow8 + first * pix8, pix8);
    });
    grid_row_step = grid_w;
    grid_col_step = 1;
    csum_row_step = sh.wo * G;
    csum_tap_step = 0;
    csum_taps = 1;
  } else if (row_windows_) {
    // 1'. Each input row once as zero-padded channels-last codes, then the kernel-row window of
    // every output column gathered from it and packed; rowsum is then each window's code sum.
    // Windows need not cover every code (stride > kernel width), so codes are checked apart: a
    // check inside the row copy below measured 2-4% slower on the 224x224 stem than this pass.
    check_all_codes(in, n, h, w, s.cin, A, pack_threads, bad_code);
    const int64_t win = red_cg_;
    grid_w = sh.wo;
    if (planes) act = workspace<uint64_t>(0, size_t(n) * hp * grid_w * pix_words);
    if (int8) act8 = workspace<uint32_t>(4, size_t(n) * hp * grid_w * pix8 + kSplitSlack);
    int32_t* rowsum = csum;  // a row window's code sum is already its column sum
    parallel_for(int64_t(n) * hp, pack_threads, [&](int64_t item) {
      const int64_t img = item / hp, r = item % hp;
      uint64_t* drow = planes ? act + (img * hp + r) * grid_w * pix_words : nullptr;
      uint32_t* drow8 = int8 ? act8 + (img * hp + r) * grid_w * pix8 : nullptr;
      int32_t* srow = rowsum + (img * hp + r) * grid_w;
      if (r < s.ph || r >= s.ph + h) {
        if (planes) std::memset(drow, 0, sizeof(uint64_t) * grid_w * pix_words);
        if (int8) std::memset(drow8, 0, sizeof(uint32_t) * grid_w * pix8);
        if (planes) std::memset(srow, 0, sizeof(int32_t) * grid_w);
        return;
      }
      int64_t ps;
      const uint8_t* src = codes_row(isa, in, quant, img, r - s.ph, w, s.cin, ps, saw_nan);
      thread_local std::vector<uint8_t> padded, windows;
      padded.assign(size_t(wp) * cg_ + 8, 0);  // + 8: the chunked copy below may read past the end
      if (ps == cg_)
        std::memcpy(padded.data() + s.pw * cg_, src, size_t(w) * cg_);
      else
        for (int x = 0; x < w; ++x)
          for (int c = 0; c < cg_; ++c) padded[(s.pw + x) * cg_ + c] = src[x * ps + c];
      // Window ow starts at from + ow * stride: in place in the padded row when contiguous there,
      // else gathered.
      const uint8_t* from = padded.data();
      int64_t stride = int64_t(s.sw) * cg_;
      if (s.dw != 1) {
        windows.resize(size_t(grid_w) * win + 8);
        for (int ow = 0; ow < sh.wo; ++ow)
          for (int j = 0; j < s.kw; ++j) {
            const uint8_t* at = padded.data() + (int64_t(ow) * s.sw + int64_t(j) * s.dw) * cg_;
            for (int b = 0; b < cg_; b += 8)  // 8-byte moves, spilling into the next slot or the slack
              std::memcpy(windows.data() + ow * win + j * cg_ + b, at + b, 8);
          }
        from = windows.data();
        stride = win;
      }
      if (planes) isa.pack_activations(from, stride, sh.wo, int(win), 1, A, kw64_, drow, pix_words, srow);
      if (int8) isa.copy_codes_int8(from, stride, sh.wo, int(win), 1, A, kc8_, drow8, pix8);
    });
    grid_row_step = int64_t(s.sh) * grid_w;
    grid_col_step = 1;
    csum_row_step = int64_t(s.sh) * grid_w;
    csum_tap_step = int64_t(s.dh) * grid_w;
    csum_taps = s.kh;
  } else {
    // 1. Activation bit-planes with explicit zero padding, and per-pixel code sums, summed over
    // each output column's taps while they are in cache. Float input is quantized and transposed to
    // channels-last one row at a time, in cache, then packed (or, below, compared into the planes).
    if (planes) act = workspace<uint64_t>(0, size_t(n) * hp * wp * pix_words);
    if (int8) act8 = workspace<uint32_t>(4, size_t(n) * hp * wp * pix8 + kSplitSlack);
    // Padded row r of image img: zero in the planes, the int8 codes and the column sums if it is a
    // padding row, else its padding columns in the planes and codes. Returns whether it is an input row.
    auto pad_row = [&](int64_t img, int64_t r) {
      uint64_t* drow = planes ? act + (img * hp + r) * wp * pix_words : nullptr;
      uint32_t* drow8 = int8 ? act8 + (img * hp + r) * wp * pix8 : nullptr;
      if (r < s.ph || r >= s.ph + h) {
        if (planes) std::memset(drow, 0, sizeof(uint64_t) * wp * pix_words);
        if (int8) std::memset(drow8, 0, sizeof(uint32_t) * wp * pix8);
        if (planes) std::memset(csum + (img * hp + r) * sh.wo * G, 0, sizeof(int32_t) * sh.wo * G);
        return false;
      }
      if (planes) {
        std::memset(drow, 0, sizeof(uint64_t) * s.pw * pix_words);
        std::memset(drow + (s.pw + w) * pix_words, 0, sizeof(uint64_t) * s.pw * pix_words);
      }
      if (int8) {
        std::memset(drow8, 0, sizeof(uint32_t) * s.pw * pix8);
        std::memset(drow8 + (s.pw + w) * pix8, 0, sizeof(uint32_t) * s.pw * pix8);
      }
      return true;
    };
    // Float NCHW of a 1- or 2-bit quantizer, pixels consecutive in each row: compares straight into
    // the planes, no codes between, each channel's rows of a range of rows read as one run (rows
    // consecutive in memory) or a run per row.
    const bool fused = planes && !int8 && in.is_float && in.stride[3] == 1 && G == 1 && act_thresholds_.count > 0 &&
                       isa.pack_float_planes != nullptr;
    const int64_t parts = std::min<int64_t>(hp, pack_threads);  // fused: one range of padded rows per image and thread
    if (fused) parallel_for(int64_t(n) * parts, pack_threads, [&](int64_t item) {
      const int64_t img = item / parts, part = item % parts;
      const int64_t r0 = hp * part / parts, r1 = hp * (part + 1) / parts;  // padded rows
      const int64_t y0 = std::clamp<int64_t>(r0 - s.ph, 0, h), y1 = std::clamp<int64_t>(r1 - s.ph, 0, h);  // input rows
      for (int64_t r = r0; r < r1; ++r) pad_row(img, r);
      if (y1 == y0) return;
      int32_t* srows = workspace<int32_t>(3, size_t(y1 - y0) * wp);  // code sums of the padded rows
      for (int64_t y = 0; y < y1 - y0; ++y) {
        std::memset(srows + y * wp, 0, sizeof(int32_t) * s.pw);
        std::memset(srows + y * wp + s.pw + w, 0, sizeof(int32_t) * s.pw);
      }
      const float* src = static_cast<const float*>(in.data) + img * in.stride[0] + y0 * in.stride[2];
      if (isa.pack_float_planes(src, in.stride[1], in.stride[2], int(y1 - y0), w, s.cin, act_thresholds_, kw64_,
                                act + (img * hp + y0 + s.ph) * wp * pix_words + s.pw * pix_words, pix_words,
                                wp * pix_words, srows + s.pw, wp))
        saw_nan.store(true, std::memory_order_relaxed);
      if (sums)
        for (int64_t y = y0; y < y1; ++y)
          column_window_sums(srows + (y - y0) * wp, s.kw, s.sw, s.dw, 1, sh.wo, csum + (img * hp + y + s.ph) * sh.wo);
    });
    else parallel_for(int64_t(n) * hp, pack_threads, [&](int64_t item) {
      const int64_t img = item / hp, r = item % hp;
      if (!pad_row(img, r)) return;
      uint64_t* drow = planes ? act + (img * hp + r) * wp * pix_words : nullptr;
      uint32_t* drow8 = int8 ? act8 + (img * hp + r) * wp * pix8 : nullptr;
      int32_t* crow = csum + (img * hp + r) * sh.wo * G;
      int64_t src_pix_stride;
      const uint8_t* src = codes_row(isa, in, quant, img, r - s.ph, w, s.cin, src_pix_stride, saw_nan);
      if (int8 && isa.copy_codes_int8(src, src_pix_stride, w, s.cin, G, A, kc8_, drow8 + s.pw * pix8, pix8))
        bad_code.store(true, std::memory_order_relaxed);
      if (!planes) return;  // no code sums either: the int8 kernels do not use them
      int32_t* srow = workspace<int32_t>(3, size_t(wp) * G);  // code sums, zero in the padding columns
      std::memset(srow, 0, sizeof(int32_t) * s.pw * G);
      std::memset(srow + (s.pw + w) * G, 0, sizeof(int32_t) * s.pw * G);
      if (isa.pack_activations(src, src_pix_stride, w, s.cin, G, A, kw64_, drow + s.pw * pix_words, pix_words,
                               srow + s.pw * G))
        bad_code.store(true, std::memory_order_relaxed);
      if (sums) column_window_sums(srow, s.kw, s.sw, s.dw, G, sh.wo, crow);
    });
    grid_w = wp;
    grid_row_step = int64_t(s.sh) * wp;
    grid_col_step = s.sw;
    csum_row_step = int64_t(s.sh) * sh.wo * G;
    csum_tap_step = int64_t(s.dh) * sh.wo * G;
    csum_taps = s.kh;
  }
  if (saw_nan.load()) throw std::invalid_argument(kNanMessage);
  if (bad_code.load()) throw std::invalid_argument(code_message(A));

  // 2. Window code sums per output pixel: csum_taps rows of column sums each (the strided 1x1
  // grid already has one row per output row).
  int32_t* qsum = csum;
  const int64_t row = int64_t(sh.wo) * G;
  if (!sums) {
    qsum = nullptr;
  } else if (csum_taps > 1 || csum_row_step != row) {
    qsum = workspace<int32_t>(2, size_t(n) * howo * G);
    parallel_for(int64_t(n) * sh.ho, sum_threads, [&](int64_t item) {
      const int64_t img = item / sh.ho, oh = item % sh.ho;
      vertical_sums(csum + img * grid_h * row + oh * csum_row_step, csum_tap_step, csum_taps, row, qsum + item * row);
    });
  }

  // 3, 4. Border corrections and offsets, built once per input size (see ShapeTables).
  const int64_t pix32 = pix_words * 2;  // 32-bit words per bit-plane grid pixel
  const std::shared_ptr<const ShapeTables> tables = shape_tables(isa, panels, sh);
  const std::vector<LineVector<int32_t>>& corr = tables->corr;
  const std::vector<std::vector<int64_t>>& corr_row = tables->corr_row;
  const std::vector<std::vector<int64_t>>& corr_col = tables->corr_col;
  const std::vector<std::vector<int64_t>>& ch_off = tables->ch_off[out_nchw];
  const std::vector<int64_t>& step_off = tables->step_off;
  const std::vector<int64_t>& step_off8 = tables->step_off8;
  const std::vector<int64_t>& step_off8s = tables->step_off8s;

  // Codes output: the requantization constants of each panel's channels (padded for whole vectors).
  const std::shared_ptr<const RequantSet> requant = codes_out ? requant_tables(isa, *out_quant) : nullptr;
  const bool tile = out_nchw || codes_out;  // output through a per-thread int32 tile

  // 5. Work items: (image, panel block, range of pixel tiles).
  struct Item {
    int img, panel, block;
    int64_t tile_begin, tile_end;
  };
  std::vector<Item> items;
  for (int img = 0; img < n; ++img)
    for (size_t pi = 0; pi < panels.size(); ++pi) {
      const KernelInfo& k = panels[pi].w.kernel;
      const int64_t tiles = (howo + k.mr - 1) / k.mr;
      // One range of pixel tiles per thread and block. Finer items measured slower on 2 threads
      // (W1A1, 1 and 2 threads alternated: 4 per thread and block gave 1.77-1.80x the 1-thread speed
      // on 128@28 and 1.75-1.83x on 512@7, 1 gave 1.84-1.85x and 1.86-1.87x).
      const int64_t per = (tiles + nthreads - 1) / nthreads;
      for (int b = 0; b < panels[pi].w.blocks(); ++b)
        for (int64_t t0 = 0; t0 < tiles; t0 += per) items.push_back({img, int(pi), b, t0, std::min(tiles, t0 + per)});
    }

  const uint32_t* act32 = reinterpret_cast<const uint32_t*>(act);
  parallel_for(int64_t(items.size()), threads, [&](int64_t ii) {
    const Item& it = items[ii];
    const Panel& p = panels[it.panel];
    const KernelInfo& k = p.w.kernel;
    const int NR = k.nr();
    const int64_t pos0 = int64_t(it.block) * NR;
    static const std::vector<int64_t> iota = [] {
      std::vector<int64_t> v(kMaxNR);
      for (int i = 0; i < kMaxNR; ++i) v[i] = i;
      return v;
    }();
    const int64_t pix_begin = it.tile_begin * k.mr;
    const int64_t pix_end = std::min(howo, it.tile_end * k.mr);
    BlockArgs b;
    b.w = p.w.data.data() + it.block * p.w.block_words;
    const std::vector<int64_t>& steps = !p.int8 ? step_off : k.split > 1 ? step_off8s : step_off8;
    b.step_off = steps.data();
    b.steps = int(steps.size());
    b.kc = p.int8 ? k.steps_per_tap(kc8_) : kc32_;
    b.a_plane_stride = p.int8 ? 0 : 2 * int64_t(kw64_);
    b.nr = int(std::min<int64_t>(NR, int64_t(p.w.channels.size()) - pos0));
    b.shift = p.shift;
    b.qcoef = p.qcoef;
    b.scale = p.scale.data() + pos0;
    b.bias = p.bias.data() + pos0;
    b.init = p.init.empty() ? nullptr : p.init.data() + pos0;
    b.out_kind = out_kind;
    // Pixel words and the group's first word on the panel's grid.
    const int64_t pw32 = p.int8 ? pix8 : pix32;
    const int64_t group_off = p.int8 ? int64_t(p.group) * kc8_ : int64_t(p.group) * A * kw64_ * 2;
    RunArgs r;
    r.act = (p.int8 ? act8 : act32) + int64_t(it.img) * grid_h * grid_w * pw32 + group_off;
    r.row_step = grid_row_step * pw32;
    r.col_step = grid_col_step * pw32;
    r.wo = sh.wo;
    r.pix_begin = pix_begin;
    r.pix_end = pix_end;
    r.qsum = qsum && p.code_sums() ? qsum + int64_t(it.img) * howo * G + p.group : nullptr;
    r.qsum_stride = G;
    r.corr_base = corr[it.panel].empty() ? nullptr : corr[it.panel].data() + pos0;  // empty: no zero point
    r.corr_row = corr_row[it.panel].empty() ? nullptr : corr_row[it.panel].data();  // empty: one class
    r.corr_col = corr_col[it.panel].empty() ? nullptr : corr_col[it.panel].data();
    // XNOR-net panels: whole tiles in the interior skip the correction (their rows are zero there).
    r.inner_oh0 = r.inner_oh1 = r.inner_ow0 = r.inner_ow1 = 0;
    if (p.xnor) {
      r.inner_oh0 = tables->inner_oh0, r.inner_oh1 = tables->inner_oh1;
      r.inner_ow0 = tables->inner_ow0, r.inner_ow1 = tables->inner_ow1;
    }
    const int64_t* const block_off = ch_off[it.panel].data() + pos0;
    if (!tile) {  // channels-last int32 or float: stored in place
      b.out = out;
      b.ch_off = block_off;
      // Panel channels ascend, so a block is contiguous when its first and last are nr - 1 apart.
      b.ch_contiguous = p.w.channels[pos0 + b.nr - 1] - p.w.channels[pos0] == b.nr - 1;
      r.out_off = int64_t(it.img) * howo * s.cout;
      r.out_stride = s.cout;
      k.fn(b, r);
      return;
    }
    // NCHW or codes output: tiles are written channels-last into a per-thread scratch (cache-line
    // aligned, so transpose_out reads whole lines), in the smallest chunks whose ends are multiples
    // of the tile height and of 16 (tiles stay whole, transposed blocks aligned), each transposed or
    // requantized while in cache (NCHW chunks in L1): 2-6% faster than one transpose per item on
    // 64x56x56 and 128x28x28 (W1A1, NCHW), larger chunks between.
    int64_t chunk = std::lcm<int64_t>(k.mr, 16);
    // Codes: chunks of at least 128 pixels (a 32 KB int32 tile at 64 channels). NCHW codes end in
    // one copy per channel and chunk: 16>96@112 (4x4 bits) 350 -> 224 us, 24>144@56 140 -> 95;
    // channels-last, fewer and longer requantization loops: 176-180 -> 159-162 us, 73 -> 70-72.
    if (codes_out) chunk *= (128 + chunk - 1) / chunk;
    int32_t* const scratch = workspace<int32_t>(5, size_t(std::min(chunk, pix_end - pix_begin)) * NR);
    b.out = scratch;
    b.ch_off = iota.data();
    b.ch_contiguous = true;
    r.out_stride = NR;
    RequantArgs ra{};
    if (codes_out) {
      const RequantTables& t = (*requant)[size_t(it.panel)];
      ra = RequantArgs{t.m.data() + pos0, t.c.data() + pos0, t.t.data() + pos0, b.scale, b.bias, *out_quant};
    }
    const int64_t img_base = int64_t(it.img) * s.cout * howo;
    for (int64_t c0 = pix_begin; c0 < pix_end;) {
      const int64_t c1 = std::min(pix_end, (c0 / chunk + 1) * chunk);
      r.pix_begin = c0;
      r.pix_end = c1;
      r.out_off = -c0 * NR;
      k.fn(b, r);
      if (codes_out)
        store_codes(isa, scratch, NR, c1 - c0, b.nr, ra, static_cast<uint8_t*>(out) + img_base, c0, out_nchw,
                    s.cout, block_off);
      else
        isa.transpose_out(scratch, c1 - c0, b.nr, NR, static_cast<int32_t*>(out) + img_base + c0, block_off);
      c0 = c1;
    }
  }, 1);  // items are already sized for balance: one at a time
}

}  // namespace bitconv

namespace bitconv {

// Depthwise layers (one input channel per group) run on exact integers in float lanes instead of
// bit-planes: a group's single channel would fill one bit of each 32-bit word, and its one or few
// output channels would fill one lane of each vector.
void ConvLayer::setup_depthwise() {
  const ConvSpec& s = spec_;
  if (cg_ != 1) return;
  int max_w = 0;
  for (int16_t q : qweight_) max_w = std::max(max_w, std::abs(int(q)));
  const int max_v = s.a_encoding == A_BINARY ? 1 : std::max(s.a_zero_point, (1 << s.a_bits) - 1 - s.a_zero_point);
  if (int64_t(taps_) * max_w * max_v >= (int64_t(1) << 24)) return;  // not exact in float32: bit-serial path
  depthwise_ = true;
  dw_cpad_ = (s.cout + 15) / 16 * 16;
  dw_weights_.assign(size_t(taps_) * dw_cpad_, 0.0f);
  for (int k = 0; k < s.cout; ++k)
    for (int t = 0; t < taps_; ++t) dw_weights_[size_t(t) * dw_cpad_ + k] = float(qweight_[size_t(k) * taps_ + t]);
  dw_scale_.assign(dw_cpad_, 0.0);
  dw_bias_.assign(dw_cpad_, 0.0);
  for (int k = 0; k < s.cout; ++k) dw_scale_[k] = s.scale[k], dw_bias_[k] = s.bias[k];
}

void ConvLayer::forward_depthwise(const IsaImpl& isa, const ConvInput& in, const ConvShape& sh, void* out,
                                  int out_kind, bool out_nchw, int threads, const ActQuant* out_quant) {
  const bool codes_out = out_quant != nullptr;
  const ConvSpec& s = spec_;
  const int n = sh.n, h = sh.h, w = sh.w;
  const int64_t wp = w + 2 * s.pw, cp = dw_cpad_;
  const int64_t howo = int64_t(sh.ho) * sh.wo;
  const ActQuant quant = act_quant();
  // v = mul * q - sub: (2, 1) for binary codes, (1, zero point) for unsigned ones.
  const float mul = s.a_encoding == A_BINARY ? 2.0f : 1.0f;
  const float sub = s.a_encoding == A_BINARY ? 1.0f : float(s.a_zero_point);
  std::vector<int64_t> col_off(s.cout);
  for (int k = 0; k < s.cout; ++k) col_off[k] = int64_t(k) * howo;

  // Bands of output rows: each converts the input rows it needs to values (zero in the padding,
  // each input channel repeated for its output channels) in a per-thread buffer that stays in
  // cache, then runs the rows. Bands overlap by kh - 1 input rows, converted twice.
  const int band = std::min(sh.ho, 8);
  const int64_t bands = (sh.ho + band - 1) / band;
  std::atomic<bool> saw_nan{false}, bad_code{false};
  const std::shared_ptr<const RequantSet> requant = codes_out ? requant_tables(isa, *out_quant) : nullptr;
  RequantArgs ra{};  // codes output
  if (codes_out) {
    const RequantTables& t = requant->front();
    ra = RequantArgs{t.m.data(), t.c.data(), t.t.data(), dw_scale_.data(), dw_bias_.data(), *out_quant};
  }
  // uint8 codes are range-checked as they are converted (a separate pass over the input first cost
  // 9-30 us on MobileNetV2's larger layers); input rows no band reads (strides larger than the
  // kernel, rows past the last window) are checked here.
  const bool codes = !in.is_float;
  if (codes) {
    const int64_t span = int64_t(s.kh - 1) * s.dh + 1;  // padded rows one output row reads
    std::vector<char> read(size_t(h), 0);
    for (int64_t b = 0; b < bands; ++b) {
      const int64_t r0 = b * band * s.sh, r1 = (std::min<int64_t>(sh.ho, (b + 1) * band) - 1) * s.sh + span;
      for (int64_t r = std::max<int64_t>(r0, s.ph); r < std::min<int64_t>(r1, s.ph + h); ++r) read[r - s.ph] = 1;
    }
    for (int img = 0; img < n; ++img)
      for (int y = 0; y < h; ++y)
        if (!read[y] && !row_codes_fit(in, img, y, w, s.cin, s.a_bits)) bad_code.store(true);
  }
  parallel_for(int64_t(n) * bands, threads, [&](int64_t item) {
    const int64_t img = item / bands, oh0 = (item % bands) * band;
    const int64_t oh1 = std::min<int64_t>(sh.ho, oh0 + band);
    const int64_t row0 = oh0 * s.sh, rows = (oh1 - 1) * s.sh + int64_t(s.kh - 1) * s.dh + 1 - row0;
    float* vals = workspace<float>(0, size_t(rows) * wp * cp);
    for (int64_t rr = 0; rr < rows; ++rr) {
      const int64_t r = row0 + rr;  // padded input row
      float* drow = vals + rr * wp * cp;
      if (r < s.ph || r >= s.ph + h) {
        std::fill(drow, drow + wp * cp, 0.0f);
        continue;
      }
      int64_t pix_stride;
      const uint8_t* src = codes_row(isa, in, quant, img, r - s.ph, w, s.cin, pix_stride, saw_nan);
      const uint8_t seen = isa.depthwise_values(src, pix_stride, w, s.pw, s.cout, cog_, mul, sub, drow, cp);
      if (codes && (seen >> s.a_bits)) bad_code.store(true, std::memory_order_relaxed);
    }
    DepthwiseArgs d;
    d.act = vals;
    d.row0 = row0;
    d.wp = wp;
    d.cpad = cp;
    d.channels = s.cout;
    d.kh = s.kh, d.kw = s.kw, d.sh = s.sh, d.sw = s.sw, d.dh = s.dh, d.dw = s.dw;
    d.wo = sh.wo;
    d.w = dw_weights_.data();
    d.out_kind = out_kind;
    d.scale = dw_scale_.data();
    d.bias = dw_bias_.data();
    const bool tile = out_nchw || codes_out;
    int32_t* scratch = tile ? workspace<int32_t>(1, size_t(sh.wo) * cp) : nullptr;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      if (tile) {  // the row channels-last into scratch, then transposed or quantized into place
        d.out = scratch;
        d.out_pix_stride = cp;
      } else {
        d.out = static_cast<int32_t*>(out) + (img * howo + oh * sh.wo) * s.cout;
        d.out_pix_stride = s.cout;
      }
      isa.depthwise_row(d, int(oh));
      if (codes_out)
        store_codes(isa, scratch, cp, sh.wo, s.cout, ra, static_cast<uint8_t*>(out) + img * s.cout * howo,
                    oh * sh.wo, out_nchw, s.cout, out_nchw ? col_off.data() : nullptr);
      else if (out_nchw)
        isa.transpose_out(scratch, sh.wo, s.cout, cp, static_cast<int32_t*>(out) + img * s.cout * howo + oh * sh.wo,
                          col_off.data());
    }
  });
  if (saw_nan.load()) throw std::invalid_argument(kNanMessage);
  if (bad_code.load()) throw std::invalid_argument(code_message(s.a_bits));
}

}  // namespace bitconv
