// A bit-serial conv2d layer: weights packed once per ISA, forward() packs activations and runs the
// kernels over output tiles on the thread pool. Computes DESIGN.md section 2 exactly.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "dispatch/registry.h"
#include "memory/line-vector.h"
#include "pack/pack.h"

namespace bitconv {

enum WeightEncoding : int { W_SIGNED = 0, W_ODD = 1 };
enum ActEncoding : int { A_UNSIGNED = 0, A_BINARY = 1 };

struct ConvSpec {
  int cin = 0, cout = 0, groups = 1;
  int kh = 1, kw = 1;
  int sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  std::vector<int> w_bits;     // [cout], 1..8
  int w_encoding = W_SIGNED;   // channels with 1 bit always use the odd encoding
  int a_bits = 8;
  int a_encoding = A_UNSIGNED;
  int a_zero_point = 0;
  double a_scale = 1.0;        // activation quantizer for float input (used in float32)
  std::vector<double> scale;   // [cout] a_scale * w_scale[k]
  std::vector<double> bias;    // [cout]
  int force_nv = 0;            // tests: pin the channel tile (vectors per tile) when the ISA has it
  int force_int8 = 0;          // tests: 1 runs every panel the int8 kernels can take on them, -1 none
  int force_split = 0;         // tests: 1 pins int8 panels to the split tile where the ISA has one, -1 never
};

// The input of one forward call: uint8 codes or float32 activations, any strides.
struct ConvInput {
  const void* data;
  bool is_float;       // float32 activations (quantized on the fly), else uint8 codes
  int64_t stride[4];   // in elements, for the (n, c, h, w) axes
};

struct ConvShape {  // of one forward call
  int n, h, w, ho, wo;
};

class ConvLayer {
 public:
  // qweight: int16 [cout][cin/groups][kh][kw], values already in range for their channel's bits.
  ConvLayer(ConvSpec spec, const int16_t* qweight);

  const ConvSpec& spec() const { return spec_; }
  ConvShape shape_for(int n, int h, int w) const;  // throws std::invalid_argument if too small

  // in: [n][cin][h][w] through its strides; codes must be < 2^a_bits (float input is quantized in
  // the same pass that transposes and packs it; NaN throws std::invalid_argument).
  // out: contiguous int32 (out_kind OUT_INT32) or float32 (OUT_FLOAT) or, when out_quant is given,
  // uint8 codes (the float values quantized with *out_quant, the next layer's quantizer; out_kind is
  // then not read), [n][ho][wo][cout] or, with out_nchw, [n][cout][ho][wo].
  void forward(const ConvInput& in, int n, int h, int w, void* out, int out_kind, bool out_nchw,
               int threads, const ActQuant* out_quant = nullptr);

  // Packed weights for an ISA (packed on first use, then cached).
  struct Panel {
    int group;
    int bits;   // weight bits the panel runs at (its channels' highest)
    bool int8;  // runs on the ISA's int8 kernels (codes and weights as bytes), not on bit-planes
    WeightPanel w;
    // The XOR forms of odd 1-bit weights (conv.cpp), whose tiles count popcount(U XOR A) and read no
    // code sums: times binary activations (xnor) they store init[n] - (P << shift) - corr, init being
    // taps * cg; times {0,1} activations (down) init[n] - P, init[n] the channel's count of +1 weights.
    bool xnor = false, down = false;
    LineVector<int32_t> init;  // XOR forms: padded to blocks * NR
    bool code_sums() const { return !int8 && !xnor && !down; }
    int shift;
    int32_t qcoef;
    LineVector<double> scale, bias;  // padded to blocks * NR
  };
  const std::vector<Panel>& panels_for(const IsaImpl& isa);
  // The fastest channel tile by estimated cycles per output pixel (*cost), for `bits`-bit weights on
  // bit-planes or, with int8, on the ISA's int8 kernels.
  KernelInfo choose_kernel(const IsaImpl& isa, int bits, const std::vector<int>& chans, bool int8, double* cost) const;
  ActQuant act_quant() const;  // the activation quantizer in float32, for float input
  int64_t packed_weight_bytes(const IsaImpl& isa);
  bool is_depthwise() const { return depthwise_; }

 private:
  ConvSpec spec_;
  int cg_, cog_, taps_;
  // The reduction as the kernels see it: per packed pixel red_cg_ channels and red_taps_ taps
  // (cg_ and taps_, or kw * cg_ and kh when kernel-row windows are packed whole, row_windows_).
  bool row_windows_ = false;
  int red_cg_, red_taps_, kw64_, kc32_;
  int kc8_;  // 32-bit words of 4 codes per packed pixel and group, for the int8 kernels
  PlaneThresholds act_thresholds_;  // the activation quantizer as compares, where it has 1 or 3
  std::vector<int16_t> qweight_;
  std::vector<int16_t> qweight_windows_;  // [cout][kw][cg][kh] when row_windows_
  std::vector<int64_t> tapsum_;  // [cout][taps] sum over input channels of qw
  int64_t tap_total(int k) const;  // channel k's sum of qw over all taps
  // Depthwise layers whose sums are exact in float32 take their own kernel (conv.cpp).
  void setup_depthwise();
  void forward_depthwise(const IsaImpl& isa, const ConvInput& in, const ConvShape& sh, void* out, int out_kind,
                         bool out_nchw, int threads, const ActQuant* out_quant);
  bool depthwise_ = false;
  int64_t dw_cpad_ = 0;
  LineVector<float> dw_weights_;         // [taps][dw_cpad_]
  LineVector<double> dw_scale_, dw_bias_;
  std::mutex pack_mutex_;
  std::map<int, std::unique_ptr<std::vector<Panel>>> packed_;
  // Per input size: border corrections and offsets (conv.cpp).
  struct ShapeTables {
    std::vector<LineVector<int32_t>> corr;  // [panel][border class][padded position]
    std::vector<std::vector<int64_t>> corr_row, corr_col;  // [panel][oh], [panel][ow]
    // Output rows [inner_oh0, inner_oh1) and columns [inner_ow0, inner_ow1): the windows that meet
    // no padding (XNOR-net panels need no correction there).
    int inner_oh0 = 0, inner_oh1 = 0, inner_ow0 = 0, inner_ow1 = 0;
    std::vector<std::vector<int64_t>> ch_off[2];            // [NHWC, NCHW output][panel][pos]
    std::vector<int64_t> step_off, step_off8, step_off8s;  // bit-planes, int8, int8 split tiles (every 4th word)
  };
  std::shared_ptr<const ShapeTables> shape_tables(const IsaImpl& isa, const std::vector<Panel>& panels,
                                                  const ConvShape& sh);
  std::mutex tables_mutex_;
  std::map<std::array<int64_t, 3>, std::shared_ptr<const ShapeTables>> tables_;
  // Codes output: requantization constants per (ISA, next quantizer), one table per panel (depthwise:
  // one for all channels); built once, as their divisions cost microseconds on wide layers.
  using RequantSet = std::vector<RequantTables>;
  std::shared_ptr<const RequantSet> requant_tables(const IsaImpl& isa, const ActQuant& q);
  std::mutex requant_mutex_;
  std::map<std::array<uint32_t, 5>, std::shared_ptr<const RequantSet>> requant_;
};

}  // namespace bitconv
