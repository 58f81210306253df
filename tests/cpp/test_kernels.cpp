// C++ kernel tests: every available ISA, forced in turn, against a naive int64 implementation of the
// conv2d contract (DESIGN.md section 2), plus the activation packers against the scalar packer.
//
// Usage: test_kernels [seed]   (exit status 0 iff every check passed; last line "N passed, M failed")
// Cases are random but seeded, so a failure prints everything needed to replay it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "core/conv.h"
#include "dispatch/cpu_features.h"
#include "dispatch/registry.h"
#include "pack/pack.h"

namespace {

// ---------------------------------------------------------------------------------------------------
// Deterministic random numbers (same sequence on every platform and standard library).

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int uniform(int lo, int hi) { return lo + int(next() % uint64_t(hi - lo + 1)); }  // [lo, hi]
  bool coin() { return next() & 1; }
  double real(double lo, double hi) { return lo + (hi - lo) * double(next() >> 11) * 0x1.0p-53; }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[size_t(uniform(0, int(v.size()) - 1))]; }
};

int g_passed = 0, g_failed = 0;
int g_reported = 0;
constexpr int kMaxReports = 30;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
    return;
  }
  ++g_failed;
  if (g_reported++ < kMaxReports) std::printf("FAIL %s\n", what.c_str());
}

// ---------------------------------------------------------------------------------------------------
// One random conv layer and its input.

const char* const kInputNames[] = {"u8-nhwc", "u8-nchw", "f32-nchw", "f32-nhwc"};

struct Case {
  int n = 2, h = 5, w = 5;
  int cin = 8, cout = 8, groups = 1;
  int kh = 3, kw = 3, sh = 1, sw = 1, ph = 1, pw = 1, dh = 1, dw = 1;
  std::vector<int> w_bits;  // [cout]
  int w_encoding = bitconv::W_SIGNED;
  int a_bits = 2, a_encoding = bitconv::A_UNSIGNED, a_zero_point = 0;
  int threads = 1;
  bool cancel_bias = false;  // bias[k] = -(acc * scale[k]) at one output pixel: exposes a fused multiply-add
  int input = 0;  // 0: uint8 codes NHWC, 1: uint8 codes NCHW, 2: float32 NCHW, 3: float32 NHWC
  uint64_t seed = 0;  // for weights, codes, scales
  std::string label;

  std::string describe() const {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "[%s] n=%d h=%d w=%d cin=%d cout=%d groups=%d k=%dx%d s=%d,%d p=%d,%d d=%d,%d "
                  "w_enc=%s a_bits=%d a_enc=%s zp=%d threads=%d cancel_bias=%d input=%s seed=%llu w_bits=",
                  label.c_str(), n, h, w, cin, cout, groups, kh, kw, sh, sw, ph, pw, dh, dw,
                  w_encoding == bitconv::W_ODD ? "odd" : "signed", a_bits,
                  a_encoding == bitconv::A_BINARY ? "binary" : "unsigned", a_zero_point, threads,
                  int(cancel_bias), kInputNames[input], (unsigned long long)seed);
    std::string s = buf;
    bool uniform = true;
    for (int b : w_bits) uniform = uniform && b == w_bits[0];
    if (uniform && !w_bits.empty()) return s + std::to_string(w_bits[0]);
    for (size_t k = 0; k < w_bits.size(); ++k) s += (k ? "," : "") + std::to_string(w_bits[k]);
    return s;
  }
};

// Cases whose float outputs all lie on rounding ties of the codes output's quantizer (step 2^-6).
// High seed bits: the low ones pick the next quantizer's bits and zero point, which ties must meet
// at every value (seed % 4 == 1 meant only 2- and 6-bit quantizers).
bool ties_for_codes(const Case& c) { return (c.seed >> 40) % 4 == 1; }

// A weight value for a channel with `bits` bits in the given encoding (DESIGN.md section 2).
int random_weight(Rng& r, int bits, int encoding) {
  if (bits == 1 || encoding == bitconv::W_ODD) {
    const int top = (1 << bits) - 1;
    return 2 * r.uniform(0, top) - top;
  }
  return r.uniform(-(1 << (bits - 1)), (1 << (bits - 1)) - 1);
}

struct Data {
  std::vector<int16_t> qweight;  // [cout][cg][kh][kw]
  std::vector<uint8_t> codes;   // [n][h][w][cin]
  std::vector<double> scale, bias;
  // The input as forward() gets it: codes or float activations that quantize to exactly `codes`.
  std::vector<uint8_t> in_codes;
  std::vector<float> in_float;
  float a_scale = 1.0f;
  bitconv::ConvInput input{};
};

// Float activations that quantize (DESIGN section 2) to q without depending on rounding details:
// within 0.3 of a level, or far outside the range where the code clips.
float float_for_code(Rng& r, int q, const Case& c, float a_scale) {
  const int qmax = (1 << c.a_bits) - 1;
  if (c.a_encoding == bitconv::A_BINARY) {  // q = (x >= 0)
    const int k = r.uniform(0, 5);
    if (q) return k == 0 ? 0.0f : k == 1 ? -0.0f : float(r.real(1e-6, 50.0));
    return -float(r.real(1e-6, 50.0));
  }
  double level = q - c.a_zero_point + r.real(-0.3, 0.3);
  if (q == 0 && r.coin()) level = -c.a_zero_point - r.real(1.0, 300.0);
  if (q == qmax && r.coin()) level = qmax - c.a_zero_point + r.real(1.0, 300.0);
  return float(level * a_scale);
}

void make_input(const Case& c, Data& d) {
  Rng r(c.seed ^ 0x1a97ull);
  const int64_t N = c.n, C = c.cin, H = c.h, W = c.w;
  const bool nchw = c.input == 1 || c.input == 2;
  int64_t st[4];  // (n, c, h, w)
  if (nchw) {
    st[0] = C * H * W; st[1] = H * W; st[2] = W; st[3] = 1;
  } else {
    st[0] = H * W * C; st[1] = 1; st[2] = W * C; st[3] = C;
  }
  const size_t total = size_t(N * C * H * W);
  d.a_scale = float(r.real(0.01, 4.0));
  if (c.input >= 2) d.in_float.assign(total, 0.0f); else d.in_codes.assign(total, 0);
  for (int64_t img = 0; img < N; ++img)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        for (int64_t ch = 0; ch < C; ++ch) {
          const int q = d.codes[size_t(((img * H + y) * W + x) * C + ch)];
          const size_t at = size_t(img * st[0] + ch * st[1] + y * st[2] + x * st[3]);
          if (c.input >= 2) d.in_float[at] = float_for_code(r, q, c, d.a_scale);
          else d.in_codes[at] = uint8_t(q);
        }
  d.input.is_float = c.input >= 2;
  d.input.data = d.input.is_float ? static_cast<const void*>(d.in_float.data())
                                  : static_cast<const void*>(d.in_codes.data());
  for (int i = 0; i < 4; ++i) d.input.stride[i] = st[i];
}

Data make_data(const Case& c) {
  Rng r(c.seed);
  Data d;
  const int cg = c.cin / c.groups;
  d.qweight.resize(size_t(c.cout) * cg * c.kh * c.kw);
  // Sometimes bias the weights towards the extremes, where sign planes and offsets matter most.
  const bool extremes = r.uniform(0, 3) == 0;
  for (int k = 0; k < c.cout; ++k) {
    const int bits = c.w_bits[size_t(k)];
    for (size_t i = 0; i < size_t(cg) * c.kh * c.kw; ++i) {
      int v = random_weight(r, bits, c.w_encoding);
      if (extremes && r.coin()) {
        const bool odd = bits == 1 || c.w_encoding == bitconv::W_ODD;
        const int lo = odd ? -((1 << bits) - 1) : -(1 << (bits - 1));
        const int hi = odd ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
        v = r.coin() ? lo : hi;
      }
      d.qweight[size_t(k) * cg * c.kh * c.kw + i] = int16_t(v);
    }
  }
  d.codes.resize(size_t(c.n) * c.h * c.w * c.cin);
  const int qmax = (1 << c.a_bits) - 1;
  for (auto& q : d.codes) q = uint8_t(extremes && r.coin() ? (r.coin() ? qmax : 0) : r.uniform(0, qmax));
  d.scale.resize(size_t(c.cout));
  d.bias.resize(size_t(c.cout));
  for (int k = 0; k < c.cout; ++k) {
    d.scale[size_t(k)] = r.real(1e-4, 0.1) * (r.uniform(0, 9) == 0 ? -1.0 : 1.0);
    d.bias[size_t(k)] = r.uniform(0, 4) == 0 ? 0.0 : r.real(-3.0, 3.0);
    if (ties_for_codes(c)) {  // y = (acc + odd / 2) 2^-6: every value a rounding tie of the 2^-6 step
      d.scale[size_t(k)] = 0x1p-6;
      d.bias[size_t(k)] = std::ldexp(2 * r.uniform(-50, 50) + 1, -7);
    }
  }
  return d;
}

// The contract, naively, in int64: acc[n][oh][ow][k].
std::vector<int64_t> reference(const Case& c, const Data& d, int ho, int wo) {
  const int cg = c.cin / c.groups, cog = c.cout / c.groups;
  std::vector<int64_t> acc(size_t(c.n) * ho * wo * c.cout, 0);
  for (int img = 0; img < c.n; ++img)
    for (int oh = 0; oh < ho; ++oh)
      for (int ow = 0; ow < wo; ++ow)
        for (int k = 0; k < c.cout; ++k) {
          const int g = k / cog;
          int64_t sum = 0;
          for (int ci = 0; ci < cg; ++ci)
            for (int i = 0; i < c.kh; ++i)
              for (int j = 0; j < c.kw; ++j) {
                const int64_t y = int64_t(oh) * c.sh - c.ph + int64_t(i) * c.dh;
                const int64_t x = int64_t(ow) * c.sw - c.pw + int64_t(j) * c.dw;
                if (y < 0 || y >= c.h || x < 0 || x >= c.w) continue;  // padding: value 0
                const int64_t q = d.codes[size_t(((img * int64_t(c.h) + y) * c.w + x) * c.cin + g * cg + ci)];
                const int64_t v = c.a_encoding == bitconv::A_BINARY ? 2 * q - 1 : q - c.a_zero_point;
                const int64_t qw = d.qweight[size_t(((int64_t(k) * cg + ci) * c.kh + i) * c.kw + j)];
                sum += qw * v;
              }
          acc[size_t(((int64_t(img) * ho + oh) * wo + ow) * c.cout + k)] = sum;
        }
  return acc;
}

float expected_float(int64_t acc, double scale, double bias) {
  volatile double prod = double(int32_t(acc)) * scale;  // volatile: never fused with the add
  return float(prod + bias);
}

// The next layer's quantizer applied to a float output (DESIGN section 2, float32 division).
uint8_t expected_code(float y, const bitconv::ActQuant& q) {
  if (q.binary) return y >= 0.0f ? 1 : 0;
  volatile float t = y / q.scale;
  const float r = std::nearbyint(float(t)) + q.zero_point;
  return uint8_t(std::min(std::max(r, 0.0f), q.qmax));
}

bool same_float(float a, float b) {
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

// Runs the case on every available ISA in every output kind and layout.
void run_case(const Case& c) {
  Data d = make_data(c);
  make_input(c, d);
  const int ho = (c.h + 2 * c.ph - c.dh * (c.kh - 1) - 1) / c.sh + 1;
  const int wo = (c.w + 2 * c.pw - c.dw * (c.kw - 1) - 1) / c.sw + 1;
  const std::vector<int64_t> ref = reference(c, d, ho, wo);
  if (c.cancel_bias && !ties_for_codes(c)) {  // (tie cases keep their tie biases)
    // With bias = -round(acc * scale) at one pixel, mul-then-add gives exactly 0 there while a fused
    // multiply-add gives the product's rounding error: float output then tells the two apart.
    const size_t pix = size_t(Rng(c.seed ^ 0xb1a5ull).uniform(0, c.n * ho * wo - 1));
    for (int k = 0; k < c.cout; ++k) {
      volatile double prod = double(int32_t(ref[pix * size_t(c.cout) + size_t(k)])) * d.scale[size_t(k)];
      d.bias[size_t(k)] = -prod;
    }
  }
  bitconv::ConvSpec spec;
  spec.cin = c.cin;
  spec.cout = c.cout;
  spec.groups = c.groups;
  spec.kh = c.kh;
  spec.kw = c.kw;
  spec.sh = c.sh;
  spec.sw = c.sw;
  spec.ph = c.ph;
  spec.pw = c.pw;
  spec.dh = c.dh;
  spec.dw = c.dw;
  spec.w_bits = c.w_bits;
  spec.w_encoding = c.w_encoding;
  spec.a_bits = c.a_bits;
  spec.a_encoding = c.a_encoding;
  spec.a_zero_point = c.a_zero_point;
  spec.a_scale = d.a_scale;
  spec.scale = d.scale;
  spec.bias = d.bias;
  spec.force_nv = int(c.seed % 5);  // every channel-tile variant, not only the ones chosen by cost
  // Int8 kernels (ISAs that have them) for every bit width, none, or as chosen by cost.
  spec.force_int8 = int((c.seed / 5) % 3) - 1;
  // The split int8 tile (AVX-512 VNNI) for every int8 panel, never, or as chosen by cost.
  spec.force_split = int((c.seed / 15) % 3) - 1;

  std::unique_ptr<bitconv::ConvLayer> layer;
  bitconv::ConvShape sh{};
  try {
    layer.reset(new bitconv::ConvLayer(spec, d.qweight.data()));
    sh = layer->shape_for(c.n, c.h, c.w);
  } catch (const std::exception& e) {
    check(false, c.describe() + ": layer construction threw: " + e.what());
    return;
  }
  if (sh.ho != ho || sh.wo != wo) {
    check(false, c.describe() + ": shape_for gives " + std::to_string(sh.ho) + "x" + std::to_string(sh.wo) +
                     ", want " + std::to_string(ho) + "x" + std::to_string(wo));
    return;
  }
  const size_t total = ref.size();
  // Codes output: a next-layer quantizer whose power-of-two step spreads this case's float values
  // over its codes (the largest ones clip); binary for some seeds.
  bitconv::ActQuant next{};
  {
    double top = 0;
    for (size_t ri = 0; ri < total; ++ri) {
      const size_t k = ri % size_t(c.cout);
      top = std::max(top, std::fabs(double(expected_float(ref[ri], d.scale[k], d.bias[k]))));
    }
    const int bits = 1 + int(c.seed % 8);
    next.binary = c.seed % 7 == 3;
    next.qmax = float((1 << bits) - 1);
    next.zero_point = next.binary ? 0.0f : float((c.seed / 8) % uint64_t(1 << bits));  // in 0..qmax
    next.scale = ties_for_codes(c) ? 0x1p-6f : std::ldexp(1.0f, std::ilogb(std::max(top, 1e-6)) - bits + 2);
  }
  const char* kind_names[] = {" int32", " float", " codes"};
  const int kCodes = 2;  // forward() with the next layer's quantizer

  for (const bitconv::IsaImpl& isa : bitconv::available_isas()) {
    bitconv::set_active_isa(isa.name);
    for (int kind : {int(bitconv::OUT_INT32), int(bitconv::OUT_FLOAT), kCodes}) {
      for (bool nchw : {false, true}) {
        // Sentinel-filled output, one guard element past the end (codes: bytes, guard byte `total`).
        std::vector<uint32_t> out(total + 1, 0xdeadbeefu);
        const uint8_t* out8 = reinterpret_cast<const uint8_t*>(out.data());
        std::string what = c.describe() + " isa=" + isa.name + kind_names[kind] + (nchw ? " NCHW" : " NHWC");
        try {
          layer->forward(d.input, c.n, c.h, c.w, out.data(), kind == kCodes ? bitconv::OUT_INT32 : kind, nchw,
                         c.threads, kind == kCodes ? &next : nullptr);
        } catch (const std::exception& e) {
          check(false, what + ": forward threw: " + e.what());
          continue;
        }
        size_t bad = 0, first = total;
        for (int img = 0; img < c.n; ++img)
          for (int oh = 0; oh < sh.ho; ++oh)
            for (int ow = 0; ow < sh.wo; ++ow)
              for (int k = 0; k < c.cout; ++k) {
                const size_t ri = size_t(((int64_t(img) * sh.ho + oh) * sh.wo + ow) * c.cout + k);
                const size_t oi = nchw ? size_t(((int64_t(img) * c.cout + k) * sh.ho + oh) * sh.wo + ow) : ri;
                bool ok;
                if (kind == bitconv::OUT_INT32) {
                  ok = int32_t(out[oi]) == ref[ri];
                } else if (kind == kCodes) {
                  ok = out8[oi] == expected_code(expected_float(ref[ri], d.scale[size_t(k)], d.bias[size_t(k)]), next);
                } else {
                  float got;
                  std::memcpy(&got, &out[oi], 4);
                  ok = same_float(got, expected_float(ref[ri], d.scale[size_t(k)], d.bias[size_t(k)]));
                }
                if (!ok && bad++ == 0) first = ri;
              }
        // Codes are bytes in the uint32 buffer: every byte after them keeps the sentinel (little-endian).
        bool past = false;
        if (kind == kCodes) {
          for (size_t i = total; i < 4 * (total + 1); ++i) past |= out8[i] != uint8_t(0xdeadbeefu >> (8 * (i % 4)));
        } else {
          past = out[total] != 0xdeadbeefu;
        }
        if (past) {
          check(false, what + ": wrote past the end of the output");
          continue;
        }
        if (bad) {
          const size_t k = first % size_t(c.cout), pix = first / size_t(c.cout);
          const size_t ow = pix % size_t(sh.wo), oh = (pix / size_t(sh.wo)) % size_t(sh.ho),
                       img = pix / (size_t(sh.wo) * size_t(sh.ho));
          const size_t oi = nchw ? ((img * size_t(c.cout) + k) * size_t(sh.ho) + oh) * size_t(sh.wo) + ow : first;
          char buf[256];
          if (kind == bitconv::OUT_INT32)
            std::snprintf(buf, sizeof buf, ": %zu of %zu wrong, first at n=%zu oh=%zu ow=%zu k=%zu: got %d want %lld",
                          bad, total, img, oh, ow, k, int32_t(out[oi]), (long long)ref[first]);
          else if (kind == kCodes)
            std::snprintf(buf, sizeof buf, ": %zu of %zu wrong, first at n=%zu oh=%zu ow=%zu k=%zu: got code %d want %d",
                          bad, total, img, oh, ow, k, int(out8[oi]),
                          int(expected_code(expected_float(ref[first], d.scale[k], d.bias[k]), next)));
          else {
            float got;
            std::memcpy(&got, &out[oi], 4);
            std::snprintf(buf, sizeof buf, ": %zu of %zu wrong, first at n=%zu oh=%zu ow=%zu k=%zu: got %.9g want %.9g",
                          bad, total, img, oh, ow, k, double(got),
                          double(expected_float(ref[first], d.scale[k], d.bias[k])));
          }
          check(false, what + buf);
        } else {
          check(true, what);
        }
      }
    }
  }
  bitconv::set_active_isa("auto");
}

// ---------------------------------------------------------------------------------------------------
// Case generators.

// Fills geometry with small random values; the image is just large enough plus a little.
void random_geometry(Rng& r, Case& c, int max_k, int max_s, int max_p, int max_d) {
  c.kh = r.uniform(1, max_k);
  c.kw = r.coin() ? c.kh : r.uniform(1, max_k);
  c.sh = r.uniform(1, max_s);
  c.sw = r.coin() ? c.sh : r.uniform(1, max_s);
  c.ph = r.uniform(0, max_p);
  c.pw = r.coin() ? c.ph : r.uniform(0, max_p);
  c.dh = r.uniform(1, max_d);
  c.dw = r.coin() ? c.dh : r.uniform(1, max_d);
  const int eh = c.dh * (c.kh - 1) + 1, ew = c.dw * (c.kw - 1) + 1;
  c.h = std::max(1, eh - 2 * c.ph) + r.uniform(0, 5);
  c.w = std::max(1, ew - 2 * c.pw) + r.uniform(0, 5);
}

void random_activations(Rng& r, Case& c, int a_bits) {
  c.a_bits = a_bits;
  c.a_encoding = bitconv::A_UNSIGNED;
  c.a_zero_point = 0;
  if (a_bits == 1 && r.coin()) {
    c.a_encoding = bitconv::A_BINARY;
  } else if (r.uniform(0, 2) != 0) {
    const int top = (1 << a_bits) - 1;
    c.a_zero_point = r.uniform(0, 3) == 0 ? top : r.uniform(0, top);
  }
}

void uniform_bits(Case& c, int bits) { c.w_bits.assign(size_t(c.cout), bits); }

// Channel counts divisible by the groups, output counts too.
void random_groups(Rng& r, Case& c) {
  std::vector<int> divs;
  for (int g = 1; g <= c.cin; ++g)
    if (c.cin % g == 0) divs.push_back(g);
  c.groups = r.pick(divs);
  const int per = std::max(1, c.cout / c.groups);
  c.cout = per * c.groups;
}

std::vector<Case> make_cases(uint64_t seed) {
  Rng r(seed);
  std::vector<Case> cases;
  auto base = [&](const char* label) {
    Case c;
    c.label = label;
    c.seed = r.next();
    c.n = r.uniform(0, 3) == 0 ? 1 : 2;
    c.threads = r.uniform(1, 2);
    c.w_encoding = r.coin() ? bitconv::W_ODD : bitconv::W_SIGNED;
    c.cancel_bias = r.uniform(0, 2) == 0;
    c.input = r.uniform(0, 3);
    return c;
  };
  // Random geometry within the limits, random activation and uniform weight bits, then queued.
  auto finish = [&](Case& c, int max_k, int max_s, int max_p, int max_d) {
    random_geometry(r, c, max_k, max_s, max_p, max_d);
    random_activations(r, c, r.uniform(1, 8));
    uniform_bits(c, r.uniform(1, 8));
    cases.push_back(c);
  };

  // 1. Every (w_bits, a_bits), three times, moderate shapes.
  for (int B = 1; B <= 8; ++B)
    for (int A = 1; A <= 8; ++A)
      for (int rep = 0; rep < 3; ++rep) {
        Case c = base("bits");
        c.cin = r.pick(std::vector<int>{1, 3, 16, 31, 32, 33, 64, 65});
        c.cout = r.uniform(1, 40);
        random_geometry(r, c, 3, 2, 1, 1);
        random_activations(r, c, A);
        uniform_bits(c, B);
        cases.push_back(c);
      }

  // 2. Input channel counts around the 32- and 64-bit word sizes.
  for (int cin : {1, 31, 32, 33, 63, 64, 65, 129})
    for (int rep = 0; rep < 4; ++rep) {
      Case c = base("cin");
      c.cin = cin;
      c.cout = r.uniform(1, 24);
      finish(c, 3, 2, 1, 2);
    }

  // 3. Output channel counts around the tile widths (4/8/16 lanes x 1..4 vectors).
  std::vector<int> couts;
  for (int k = 1; k <= 17; ++k) couts.push_back(k);
  for (int k : {31, 32, 33, 47, 48, 49, 63, 64, 65}) couts.push_back(k);
  for (int cout : couts)
    for (int rep = 0; rep < 2; ++rep) {
      Case c = base("cout");
      c.cin = r.pick(std::vector<int>{1, 7, 32, 33, 64});
      c.cout = cout;
      finish(c, 3, 1, 1, 1);
    }

  // 4. Geometry: strides 1-3, padding 0-2, dilation 1-3, kernels up to 5, non-square.
  for (int rep = 0; rep < 60; ++rep) {
    Case c = base("geometry");
    c.cin = r.uniform(1, 70);
    c.cout = r.uniform(1, 20);
    finish(c, 5, 3, 2, 3);
  }

  // 5. Groups, including depthwise (groups == cin) with channel multipliers 1..3.
  for (int rep = 0; rep < 40; ++rep) {
    Case c = base(rep % 2 ? "groups" : "depthwise");
    if (rep % 2) {
      c.cin = r.pick(std::vector<int>{2, 4, 6, 12, 64, 66, 96, 128, 130});
      c.cout = r.uniform(1, 48);
      random_groups(r, c);
    } else {
      c.cin = r.pick(std::vector<int>{1, 3, 8, 17, 32, 33, 64});
      c.groups = c.cin;
      c.cout = c.cin * r.uniform(1, 3);
    }
    finish(c, 3, 2, 1, 2);
  }

  // 6. Per-output-channel bits: all values mixed, or two values interleaved; sometimes grouped.
  for (int rep = 0; rep < 40; ++rep) {
    Case c = base("per-channel");
    c.cin = r.pick(std::vector<int>{1, 5, 32, 33, 64, 65});
    c.cout = r.pick(std::vector<int>{2, 9, 17, 33, 48, 65, 100});
    if (r.uniform(0, 3) == 0) random_groups(r, c);
    random_geometry(r, c, 3, 2, 1, 1);
    random_activations(r, c, r.uniform(1, 8));
    c.w_bits.resize(size_t(c.cout));
    const int b0 = r.uniform(1, 8), b1 = r.uniform(1, 8);
    const bool two = r.coin();
    for (auto& b : c.w_bits) b = two ? (r.coin() ? b0 : b1) : r.uniform(1, 8);
    cases.push_back(c);
  }

  // 7. A few larger images so the pixel tiles and thread split see many tiles.
  for (int rep = 0; rep < 8; ++rep) {
    Case c = base("large");
    c.cin = r.pick(std::vector<int>{32, 64, 96});
    c.cout = r.pick(std::vector<int>{16, 33, 64});
    random_geometry(r, c, 3, 2, 1, 1);
    c.h += 10;
    c.w += 9;
    c.threads = 2;
    random_activations(r, c, r.uniform(1, 4));
    uniform_bits(c, r.uniform(1, 4));
    cases.push_back(c);
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------------
// The kernel tables and the activation packers.

void test_tables() {
  for (const bitconv::IsaImpl& isa : bitconv::available_isas())
    for (int B = 1; B <= 8; ++B)
      for (int A = 1; A <= 8; ++A) {
        // nv = 1 always exists; wider channel tiles up to the ISA's limit, then none.
        bool ended = false;
        for (int nv = 1; nv <= 8; ++nv) {
          const bitconv::KernelInfo k = isa.kernel(B, A, nv);
          char buf[160];
          std::snprintf(buf, sizeof buf, "table isa=%s B=%d A=%d nv=%d: fn=%p mr=%d nv=%d lanes=%d", isa.name, B, A,
                        nv, reinterpret_cast<void*>(k.fn), k.mr, k.nv, k.lanes);
          if (!k.fn) {
            check(nv > 1, buf);
            ended = true;
            continue;
          }
          check(!ended && k.mr >= 1 && k.mr <= bitconv::kMaxMR && k.nv == nv && k.lanes >= 1 &&
                    k.nr() <= bitconv::kMaxNR,
                buf);
        }
      }
}

// LineVector storage starts on a 64-byte line (memory/line-vector.h), and so do packed weight panels:
// the kernels load them as whole vectors at multiples of 64 bytes from the start. Many sizes, so
// that a 16-byte aligned allocator would leave some of them off a line. (The layers' per-channel
// tables are LineVectors by their declared types in conv.h and requantize.h.)
void test_panels_aligned() {
  for (size_t n = 1; n < 300; n += 7) {
    const bitconv::LineVector<double> d(n);
    const bitconv::LineVector<float> f(n);
    char buf[80];
    std::snprintf(buf, sizeof buf, "LineVector alignment n=%zu: %p %p", n, static_cast<const void*>(d.data()),
                  static_cast<const void*>(f.data()));
    check(reinterpret_cast<uintptr_t>(d.data()) % 64 == 0 && reinterpret_cast<uintptr_t>(f.data()) % 64 == 0, buf);
  }
  for (const bitconv::IsaImpl& isa : bitconv::available_isas()) {
    const bitconv::KernelInfo k = isa.kernel(2, 2, 1);
    for (int cg = 3; cg <= 200; cg += 13)
      for (int cout = 1; cout <= 40; cout += 7) {
        const std::vector<int16_t> qw(size_t(cout) * cg, 1);
        std::vector<int> chans(static_cast<size_t>(cout));
        for (int c = 0; c < cout; ++c) chans[size_t(c)] = c;
        const bitconv::WeightPanel p = bitconv::pack_weight_panel(qw.data(), cg, 1, chans, 2, 1, 2, (cg + 31) / 32, k);
        char buf[120];
        std::snprintf(buf, sizeof buf, "panel alignment isa=%s cg=%d cout=%d: %p", isa.name, cg, cout,
                      static_cast<const void*>(p.data.data()));
        check(reinterpret_cast<uintptr_t>(p.data.data()) % 64 == 0, buf);
        if (isa.int8_kernel) {
          const bitconv::WeightPanel p8 = bitconv::pack_weight_panel_int8(qw.data(), cg, 1, chans, (cg + 3) / 4,
                                                                          isa.int8_kernel(1));
          std::snprintf(buf, sizeof buf, "int8 panel alignment isa=%s cg=%d cout=%d: %p", isa.name, cg, cout,
                        static_cast<const void*>(p8.data.data()));
          check(reinterpret_cast<uintptr_t>(p8.data.data()) % 64 == 0, buf);
        }
      }
  }
}

void test_packers(uint64_t seed) {
  Rng r(seed ^ 0x5eedull);
  for (int rep = 0; rep < 200; ++rep) {
    // Up to 330 channels: more than 192 per group (4-6 words a plane) is the AVX-512 packer's one
    // run-time word count.
    const int channels = rep < 100 ? rep + 1 : rep < 150 ? r.uniform(1, 200) : r.uniform(193, 330);
    std::vector<int> divs;
    for (int g = 1; g <= channels; ++g)
      if (channels % g == 0) divs.push_back(g);
    const int groups = r.uniform(0, 2) == 0 ? 1 : r.pick(divs);
    const int a_bits = r.uniform(1, 8);
    const int kw64 = (channels / groups + 63) / 64;
    const int64_t npix = r.uniform(1, 19);
    const int64_t src_stride = channels + (r.uniform(0, 3) == 0 ? r.uniform(1, 9) : 0);
    const int64_t need = int64_t(groups) * a_bits * kw64;
    const int64_t dst_stride = need + (r.uniform(0, 3) == 0 ? r.uniform(1, 3) : 0);
    std::vector<uint8_t> src(size_t(npix * src_stride));
    const int qmax = (1 << a_bits) - 1;
    for (auto& q : src) q = uint8_t(r.uniform(0, 4) == 0 ? qmax : r.uniform(0, qmax));

    // The expected planes straight from the bits (not from another packer: the scalar one is the
    // NEON build's and the small-group fallback of the SIMD ones).
    const int cg = channels / groups;
    std::vector<uint64_t> want(size_t(npix * dst_stride + 1), 0xa5a5a5a5a5a5a5a5ull);
    std::vector<int32_t> want_sum(size_t(npix * groups + 1), -7);
    for (int64_t x = 0; x < npix; ++x) {
      std::fill(want.begin() + x * dst_stride, want.begin() + x * dst_stride + need, 0);
      for (int g = 0; g < groups; ++g) {
        int32_t sum = 0;
        for (int c = 0; c < cg; ++c) {
          const unsigned q = src[size_t(x * src_stride + g * cg + c)];
          sum += int32_t(q);
          for (int j = 0; j < a_bits; ++j)
            want[size_t(x * dst_stride + (g * a_bits + j) * kw64 + c / 64)] |= uint64_t((q >> j) & 1u) << (c % 64);
        }
        want_sum[size_t(x * groups + g)] = sum;
      }
    }
    // The same codes with one out of range (a_bits < 8): every packer must flag it.
    std::vector<uint8_t> bad_src = src;
    if (a_bits < 8) {
      const int64_t x = r.uniform(0, int(npix) - 1);
      bad_src[size_t(x * src_stride + r.uniform(0, channels - 1))] = uint8_t(r.uniform(qmax + 1, 255));
    }
    for (const bitconv::IsaImpl& isa : bitconv::available_isas()) {
      std::vector<uint64_t> got(want.size(), 0xa5a5a5a5a5a5a5a5ull);
      std::vector<int32_t> got_sum(want_sum.size(), -7);
      const bool flagged = isa.pack_activations(src.data(), src_stride, npix, channels, groups, a_bits, kw64,
                                                got.data(), dst_stride, got_sum.data());
      // Compare the packed words of every pixel (gaps between pixels are the caller's), the guard
      // word after the last pixel, and the row sums.
      bool ok = !flagged && got_sum == want_sum && got.back() == want.back();
      for (int64_t x = 0; ok && x < npix; ++x)
        ok = std::memcmp(got.data() + x * dst_stride, want.data() + x * dst_stride, size_t(need) * 8) == 0;
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "pack isa=%s channels=%d groups=%d a_bits=%d npix=%lld src_stride=%lld dst_stride=%lld",
                    isa.name, channels, groups, a_bits, (long long)npix, (long long)src_stride,
                    (long long)dst_stride);
      check(ok, buf);
      if (a_bits < 8) {  // row sums of an out-of-range code are not defined: only the flag is checked
        std::string what = std::string(buf) + " (out-of-range code not flagged)";
        check(isa.pack_activations(bad_src.data(), src_stride, npix, channels, groups, a_bits, kw64, got.data(),
                                   dst_stride, got_sum.data()),
              what.c_str());
      }
    }
  }
}

// The float NCHW bit-plane packers (1- and 2-bit, binary quantizers as thresholds) against the
// contract's quantizer (expected_code) and the planes built from its bits: values on, next to and
// between the thresholds, signed zeros, infinities, huge values; NaN must be reported.
void test_float_planes(uint64_t seed) {
  Rng r(seed ^ 0xf1a7ull);
  const float inf = INFINITY;
  int exercised = 0;
  for (int rep = 0; rep < 300; ++rep) {
    const int a_bits = r.uniform(1, 2);
    const bool binary = a_bits == 1 && r.uniform(0, 3) == 0;
    const float scale = float(r.pick(std::vector<double>{0.05, 0.3, 1.0 / 3, 1.0, 7.5, r.real(1e-3, 10.0)}));
    const int zp = binary ? 0 : r.uniform(0, (1 << a_bits) - 1);  // the quantizer's range, as ConvPlan allows
    const bitconv::ActQuant q{scale, float(zp), float((1 << a_bits) - 1), binary};
    const bitconv::PlaneThresholds t = bitconv::plane_thresholds(q, a_bits);
    char buf[256];
    std::snprintf(buf, sizeof buf, "float planes thresholds a_bits=%d binary=%d scale=%.9g zp=%d", a_bits, int(binary),
                  double(scale), zp);
    check(t.count == (1 << a_bits) - 1, buf);
    if (t.count != (1 << a_bits) - 1) continue;
    const int width = r.uniform(1, 40);
    // Rows: runs per channel in batches of blocks (512 blocks of 16 pixels for one threshold, 170 for
    // three): some runs, or rows, cross a batch end, with few channels to keep them cheap.
    const int rows = rep % 25 == 0 ? r.uniform(8200, 9000) / width + 1 : r.uniform(1, 6);
    // Rows consecutive in memory (sr == width: one run per channel) or apart (a run per row).
    const int64_t sr = width + (r.coin() ? 0 : r.uniform(1, 20));
    const int64_t extent = int64_t(rows) * sr;  // of a channel's rows
    const int channels = rows > 6 ? r.uniform(1, 3) : rep < 70 ? rep + 1 : r.uniform(1, 200);
    const int kw64 = (channels + 63) / 64;
    const int64_t sc = extent + (r.coin() ? r.uniform(1, 20) : 0);
    const int64_t need = int64_t(a_bits) * kw64;
    const int64_t dst_stride = need + (r.uniform(0, 3) == 0 ? r.uniform(1, 3) : 0);
    const int64_t dst_row = width * dst_stride + r.uniform(0, 2), sum_row = width + r.uniform(0, 2);
    std::vector<float> src(size_t(channels * sc));
    for (auto& x : src) {
      const int kind = r.uniform(0, 9);
      if (kind <= 4) {  // a threshold, or its neighbours
        const float th = t.t[r.uniform(0, t.count - 1)];
        x = kind == 1 ? std::nextafter(th, inf) : kind == 2 ? std::nextafter(th, -inf) : th;
      } else if (kind <= 7) {
        x = float(r.real(-2.0, 2.0) * scale * (zp + 4));
      } else {
        x = r.pick(std::vector<float>{0.0f, -0.0f, inf, -inf, 3e38f, -3e38f, 1e-40f, -1e-40f});
      }
    }
    std::vector<uint64_t> want(size_t(rows * dst_row + 1), 0xa5a5a5a5a5a5a5a5ull);
    std::vector<int32_t> want_sum(size_t(rows * sum_row + 1), -7);
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < width; ++x) {
        uint64_t* pix = want.data() + y * dst_row + x * dst_stride;
        std::fill(pix, pix + need, 0);
        int32_t sum = 0;
        for (int c = 0; c < channels; ++c) {
          const unsigned code = expected_code(src[size_t(c * sc + y * sr + x)], q);
          sum += int32_t(code);
          for (int j = 0; j < a_bits; ++j) pix[j * kw64 + c / 64] |= uint64_t((code >> j) & 1u) << (c % 64);
        }
        want_sum[size_t(y * sum_row + x)] = sum;
      }
    // Values between rows apart are not the input's: NaN there must not be reported.
    if (sr > width && r.coin())
      for (int c = 0; c < channels; ++c)
        for (int y = 0; y < rows; ++y)
          for (int64_t x = width; x < sr; ++x) src[size_t(c * sc + y * sr + x)] = NAN;
    std::vector<float> nan_src = src;
    nan_src[size_t(r.uniform(0, channels - 1) * sc + r.uniform(0, rows - 1) * sr + r.uniform(0, width - 1))] =
        r.coin() ? NAN : -NAN;
    std::vector<bitconv::PackFloatPlanesFn> tested;  // ISAs that share a packer run it once
    for (const bitconv::IsaImpl& isa : bitconv::available_isas()) {
      if (!isa.pack_float_planes ||
          std::find(tested.begin(), tested.end(), isa.pack_float_planes) != tested.end())
        continue;
      tested.push_back(isa.pack_float_planes);
      ++exercised;
      std::vector<uint64_t> got(want.size(), 0xa5a5a5a5a5a5a5a5ull);
      std::vector<int32_t> got_sum(want_sum.size(), -7);
      const bool nan = isa.pack_float_planes(src.data(), sc, sr, rows, width, channels, t, kw64, got.data(),
                                             dst_stride, dst_row, got_sum.data(), sum_row);
      // Every word: the planes, and the gaps between pixels, rows and past the last left as they were.
      const bool ok = !nan && got_sum == want_sum && got == want;
      std::snprintf(buf, sizeof buf,
                    "float planes isa=%s a_bits=%d binary=%d scale=%.9g zp=%d channels=%d rows=%d width=%d sr=%lld "
                    "sc=%lld dst_stride=%lld dst_row=%lld sum_row=%lld",
                    isa.name, a_bits, int(binary), double(scale), zp, channels, rows, width, (long long)sr, (long long)sc,
                    (long long)dst_stride, (long long)dst_row, (long long)sum_row);
      check(ok, buf);
      check(isa.pack_float_planes(nan_src.data(), sc, sr, rows, width, channels, t, kw64, got.data(), dst_stride,
                                  dst_row, got_sum.data(), sum_row),
            std::string(buf) + " (NaN not reported)");
    }
  }
  // Quantizers with more codes have no thresholds (the caller quantizes to codes first), nor do
  // scales that are not positive and finite.
  check(bitconv::plane_thresholds(bitconv::ActQuant{0.1f, 0.0f, 7.0f, false}, 3).count == 0, "3-bit thresholds");
  for (float bad : {0.0f, -0.5f, inf, NAN})
    check(bitconv::plane_thresholds(bitconv::ActQuant{bad, 1.0f, 3.0f, false}, 2).count == 0,
          "thresholds of scale " + std::to_string(bad));
  // A CPU with the packer's instructions must get it on each of its AVX-512 ISAs (the shared packer
  // runs once above, so this is checked per ISA, not by the run count).
  const bool gfni_vbmi = bitconv::cpu_features().gfni && bitconv::cpu_features().avx512_vbmi;
  for (const bitconv::IsaImpl& isa : bitconv::available_isas())
    if (isa.isa == bitconv::Isa::Avx512 || isa.isa == bitconv::Isa::Avx512Vnni)
      check(!gfni_vbmi || isa.pack_float_planes != nullptr,
            std::string("float plane packer missing on ") + isa.name + " on a CPU with GFNI and VBMI");
  std::printf("float plane packers: %d runs\n", exercised);
}

// The depthwise value rows of every ISA: values (mul * code - sub, zero in padding and past the
// channels) laid out [channel block][padded pixel][lane], and the returned OR of every code read,
// which is the depthwise path's range check.
void test_depthwise_values(uint64_t seed) {
  Rng r{seed ^ 0xd3a7u};
  for (int rep = 0; rep < 200; ++rep) {
    const int width = r.uniform(1, 40), pad = r.uniform(0, 2), mult = r.pick(std::vector<int>{1, 1, 1, 2, 3});
    const int channels = mult * r.pick(std::vector<int>{1, 5, 8, 16, 17, 31, 48, 64, 65, 80, 100});
    const int64_t cpad = (channels + 15) / 16 * 16, cin = channels / mult;
    const int64_t pix_stride = cin + r.uniform(0, 3), wp = width + 2 * pad;
    const bool plain = r.coin();
    const float mul = plain ? 1.0f : 2.0f, sub = plain ? 0.0f : 1.0f;
    const int bits = r.uniform(1, 8);
    std::vector<uint8_t> q(size_t(width * pix_stride));
    for (auto& c : q) c = uint8_t(r.uniform(0, (1 << bits) - 1));
    for (int x = 0; x < width; ++x)  // bytes between a pixel's channels and the next pixel: never read
      for (int64_t c = cin; c < pix_stride; ++c) q[size_t(x * pix_stride + c)] = 255;
    if (r.coin()) q[size_t(r.uniform(0, width - 1) * pix_stride + r.uniform(0, int(cin) - 1))] = 255;
    uint8_t want_seen = 0;
    for (int x = 0; x < width; ++x)
      for (int64_t c = 0; c < cin; ++c) want_seen |= q[size_t(x * pix_stride + c)];
    for (const bitconv::IsaImpl& isa : bitconv::available_isas()) {
      const int L = isa.kernel(1, 1, 1).lanes;
      std::vector<float> got(size_t(cpad * wp + 1), -7.0f);
      const uint8_t seen = isa.depthwise_values(q.data(), pix_stride, width, pad, channels, mult, mul, sub, got.data(), cpad);
      bool ok = seen == want_seen && got.back() == -7.0f;
      for (int64_t c = 0; ok && c < cpad; ++c)
        for (int64_t px = 0; ok && px < wp; ++px) {
          const int64_t x = px - pad;
          const float want = c < channels && x >= 0 && x < width ? mul * float(q[size_t(x * pix_stride + c / mult)]) - sub : 0.0f;
          ok = got[size_t((c / L) * wp * L + px * L + c % L)] == want;
        }
      char buf[200];
      std::snprintf(buf, sizeof buf, "depthwise values isa=%s width=%d pad=%d channels=%d mult=%d plain=%d", isa.name,
                    width, pad, channels, mult, int(plain));
      check(ok, buf);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 20240611ull;
  const auto t0 = std::chrono::steady_clock::now();
  std::string names;
  for (const bitconv::IsaImpl& isa : bitconv::available_isas()) names += (names.empty() ? "" : ", ") + std::string(isa.name);
  std::printf("test_kernels: seed %llu, ISAs: %s\n", (unsigned long long)seed, names.c_str());

  test_tables();
  test_panels_aligned();
  test_packers(seed);
  test_float_planes(seed);
  test_depthwise_values(seed);
  const std::vector<Case> cases = make_cases(seed);
  for (const Case& c : cases) run_case(c);

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%zu conv cases x %zu ISAs x 6 outputs, %.1f s\n", cases.size(), bitconv::available_isas().size(), secs);
  if (g_reported > kMaxReports) std::printf("(%d more failures not shown)\n", g_reported - kMaxReports);
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
