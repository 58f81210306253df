// Weight packing: signed/odd integer weights into unsigned bit-planes laid out for one kernel.
#include "pack/pack.h"

namespace bitconv {

WeightPanel pack_weight_panel(const int16_t* qweight, int cg, int taps, const std::vector<int>& channels,
                              int w_bits, int mult, int offset, int kc32, const KernelInfo& kernel) {
  WeightPanel p;
  p.channels = channels;
  p.kernel = kernel;
  const int L = kernel.lanes, NV = kernel.nv, NR = kernel.nr();
  p.block_words = int64_t(taps) * kc32 * w_bits * NV * L;
  p.data.assign(size_t(p.blocks()) * size_t(p.block_words), 0u);
  for (size_t pos = 0; pos < channels.size(); ++pos) {
    const int blk = int(pos / NR), n = int(pos % NR), v = n / L, l = n % L;
    uint32_t* base = p.data.data() + blk * p.block_words;
    const int16_t* wk = qweight + int64_t(channels[pos]) * cg * taps;
    for (int c = 0; c < cg; ++c) {
      for (int t = 0; t < taps; ++t) {
        const unsigned u = unsigned((int(wk[c * taps + t]) + offset) / mult);
        const int word = c >> 5, bit = c & 31;
        for (int i = 0; i < w_bits; ++i) {
          if ((u >> i) & 1u) {
            const int64_t idx = (((int64_t(t) * kc32 + word) * w_bits + i) * NV + v) * L + l;
            base[idx] |= 1u << bit;
          }
        }
      }
    }
  }
  return p;
}

WeightPanel pack_weight_panel_int8(const int16_t* qweight, int cg, int taps, const std::vector<int>& channels,
                                   int kc8, const KernelInfo& kernel) {
  WeightPanel p;
  p.channels = channels;
  p.kernel = kernel;
  const int L = kernel.lanes, NV = kernel.nv, NR = kernel.nr(), S = kernel.split;
  const int ks = kernel.steps_per_tap(kc8);  // a split tile's words past kc8 stay zero
  p.block_words = int64_t(taps) * ks * NV * S * L;
  p.data.assign(size_t(p.blocks()) * size_t(p.block_words), 0u);
  for (size_t pos = 0; pos < channels.size(); ++pos) {
    const int blk = int(pos / NR), n = int(pos % NR), v = n / L, l = n % L;
    uint32_t* base = p.data.data() + blk * p.block_words;
    const int16_t* wk = qweight + int64_t(channels[pos]) * cg * taps;
    for (int c = 0; c < cg; ++c)
      for (int t = 0; t < taps; ++t) {
        const uint32_t byte = uint8_t(int8_t(wk[c * taps + t]));
        const int word = c / 4;
        // Channel l = S q + u of vector v in vector v S + u, lane S q + the word's place in its step
        // (split tiles, bitserial-tile.h; with S = 1 simply vector v, lane l).
        const int64_t vec = v * S + l % S;
        const int lane = l / S * S + word % S;
        base[((int64_t(t) * ks + word / S) * NV * S + vec) * L + lane] |= byte << (8 * (c % 4));
      }
  }
  return p;
}

}  // namespace bitconv
