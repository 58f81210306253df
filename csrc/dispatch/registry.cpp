// Best-first ISA table, the run-time choice, and BITCONV_FORCE_ISA.
#include "dispatch/registry.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "dispatch/cpu_features.h"

namespace bitconv {

namespace {
// An ISA's kernels plus int8 ones: the -vnni and -dot ISAs share everything else with their base.
IsaImpl with_int8(IsaImpl base, Isa isa, const char* name, KernelInfo (*int8_kernel)(int), int max_a_bits,
                  KernelInfo (*int8_split_kernel)() = nullptr) {
  base.isa = isa;
  base.name = name;
  base.int8_kernel = int8_kernel;
  base.int8_split_kernel = int8_split_kernel;
  base.int8_max_a_bits = max_a_bits;
  return base;
}
}  // namespace

const std::vector<IsaImpl>& compiled_isas() {
  static const std::vector<IsaImpl> table = [] {
    std::vector<IsaImpl> t;
#if defined(BITCONV_BUILD_AVX512)
    IsaImpl avx512{Isa::Avx512, "avx512", &bitserial_kernel_avx512, &pack_activations_avx512,
                   &copy_codes_int8_avx512, &quantize_row_avx512, &transpose_row_avx512, &transpose_out_avx512,
                   &requantize_avx512, &depthwise_row_avx512, &depthwise_values_avx512, nullptr, 0, 3.0};
    avx512.xor_kernel = &bitserial_xor_kernel_avx512;
    // Built with GFNI and VBMI flags, which not every CPU with the avx512 kernels' set has.
    if (cpu_features().gfni && cpu_features().avx512_vbmi) avx512.pack_float_planes = &pack_float_planes_avx512;
    t.push_back(
        with_int8(avx512, Isa::Avx512Vnni, "avx512-vnni", &int8_kernel_avx512vnni, 8, &int8_split_kernel_avx512vnni));
    t.push_back(avx512);
#endif
#if defined(BITCONV_BUILD_AVX2)
    IsaImpl avx2{Isa::Avx2, "avx2", &bitserial_kernel_avx2, &pack_activations_avx2, &copy_codes_int8_avx2,
                 &quantize_row_avx2, &transpose_row_avx2, &transpose_out_avx2, &requantize_avx2,
                 &depthwise_row_avx2, &depthwise_values_avx2, nullptr, 0, 14.0};
    avx2.xor_kernel = &bitserial_xor_kernel_avx2;
#if defined(BITCONV_BUILD_AVX2VNNI)
    t.push_back(with_int8(avx2, Isa::Avx2Vnni, "avx2-vnni", &int8_kernel_avx2vnni, 8));
#endif
    t.push_back(avx2);
#endif
#if defined(BITCONV_BUILD_NEON)
    IsaImpl neon{Isa::Neon, "neon", &bitserial_kernel_neon, &pack_activations_scalar, &copy_codes_int8_scalar,
                 &quantize_row_scalar, &transpose_row_scalar, &transpose_out_scalar, &requantize_neon,
                 &depthwise_row_neon, &depthwise_values_neon, nullptr, 0, 4.0};
    neon.xor_kernel = &bitserial_xor_kernel_neon;
    t.push_back(with_int8(neon, Isa::NeonDot, "neon-dot", &int8_kernel_neondot, 7));
    t.push_back(neon);
#endif
    IsaImpl scalar{Isa::Scalar, "scalar", &bitserial_kernel_scalar, &pack_activations_scalar, &copy_codes_int8_scalar,
                   &quantize_row_scalar, &transpose_row_scalar, &transpose_out_scalar, &requantize_scalar,
                   &depthwise_row_scalar, &depthwise_values_scalar, nullptr, 0, 10.0};
    scalar.xor_kernel = &bitserial_xor_kernel_scalar;
    t.push_back(scalar);
    return t;
  }();
  return table;
}

namespace {
bool supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Avx512: return f.avx512_vpopcntdq;
    case Isa::Avx512Vnni: return f.avx512_vpopcntdq && f.avx512_vnni;
    case Isa::Avx2Vnni: return f.avx2 && f.avx_vnni;
    case Isa::NeonDot: return f.neon && f.neon_dot;
    case Isa::Avx2: return f.avx2;
    case Isa::Neon: return f.neon;
    case Isa::Scalar: return true;
  }
  return false;
}

std::string available_names() {
  std::string s;
  for (const IsaImpl& i : available_isas()) s += (s.empty() ? "" : ", ") + std::string(i.name);
  return s;
}

std::atomic<const IsaImpl*> g_active{nullptr};
std::mutex g_mutex;

const IsaImpl* default_isa() {
  const char* env = std::getenv("BITCONV_FORCE_ISA");
  if (env && *env && std::string(env) != "auto") {
    try {
      return &isa_by_name(env);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("BITCONV_FORCE_ISA: ") + e.what());
    }
  }
  for (const IsaImpl& i : compiled_isas())
    if (supported(i.isa)) return &i;
  return &compiled_isas().back();
}
}  // namespace

std::vector<IsaImpl> available_isas() {
  std::vector<IsaImpl> out;
  for (const IsaImpl& i : compiled_isas())
    if (supported(i.isa)) out.push_back(i);
  return out;
}

const IsaImpl& isa_by_name(const std::string& name) {
  for (const IsaImpl& i : compiled_isas()) {
    if (name == i.name) {
      if (!supported(i.isa))
        throw std::invalid_argument("ISA '" + name + "' is not supported by this CPU (available: " +
                                    available_names() + ")");
      return i;
    }
  }
  throw std::invalid_argument("unknown ISA '" + name + "' (available: " + available_names() + ")");
}

const IsaImpl& active_isa() {
  const IsaImpl* p = g_active.load(std::memory_order_acquire);
  if (p) return *p;
  std::lock_guard<std::mutex> lock(g_mutex);
  p = g_active.load(std::memory_order_relaxed);
  if (!p) {
    p = default_isa();
    g_active.store(p, std::memory_order_release);
  }
  return *p;
}

void set_active_isa(const std::string& name) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const IsaImpl* p = (name.empty() || name == "auto") ? nullptr : &isa_by_name(name);
  if (!p) {
    p = default_isa();
  }
  g_active.store(p, std::memory_order_release);
}

}  // namespace bitconv
