// The ISA table: kernels and packers chosen together, best first, and the active choice.
#pragma once
#include <string>
#include <vector>

#include "kernels/depthwise.h"
#include "kernels/microkernel.h"
#include "pack/pack.h"
#include "requant/requantize.h"

namespace bitconv {

// Avx512Vnni, Avx2Vnni, NeonDot: the avx512 / avx2 / neon kernels plus int8 kernels (VPDPBUSD,
// SDOT) for the panels with so many plane pairs that int8 is faster.
enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3, Avx512Vnni = 4, Avx2Vnni = 5, NeonDot = 6 };

struct IsaImpl {
  Isa isa;
  const char* name;
  KernelInfo (*kernel)(int w_bits, int a_bits, int nv);
  PackActivationsFn pack_activations;
  CopyCodesInt8Fn copy_codes_int8;
  QuantizeRowFn quantize_row;
  TransposeRowFn transpose_row;
  TransposeOutFn transpose_out;
  RequantizeFn requantize;
  DepthwiseRowFn depthwise_row;
  DepthwiseValuesFn depthwise_values;
  KernelInfo (*int8_kernel)(int nv);  // null where the ISA has no int8 kernels
  int int8_max_a_bits;                 // activation bits the int8 kernels take (SDOT: signed codes)
  double pair_ops;  // vector ops per plane pair and lane vector in the bit-serial kernels (cost model;
                    // avx2: 14, fitted to its measured popcount rate against VPDPBUSD ymm)
  PackFloatPlanesFn pack_float_planes = nullptr;  // null where absent or this CPU lacks its instructions
  KernelInfo (*int8_split_kernel)() = nullptr;  // the int8 split tile (16 channels, 4 words a step), if any
  KernelInfo (*xor_kernel)(int nv, bool down) = nullptr;  // W1A1 tiles of the XOR forms (kernels/microkernel.h)
};

// ISAs compiled into this build, best first (pack_float_planes set only where this CPU has GFNI and
// VBMI: a CPU-dependent member of a build table, read per call by the driver).
const std::vector<IsaImpl>& compiled_isas();
// Compiled and supported by this CPU, best first.
std::vector<IsaImpl> available_isas();
// Active ISA: BITCONV_FORCE_ISA if set, else the best available. Throws std::invalid_argument for
// an unknown or unsupported name.
const IsaImpl& active_isa();
void set_active_isa(const std::string& name);  // "" or "auto" resets to the default choice
const IsaImpl& isa_by_name(const std::string& name);  // must be available

}  // namespace bitconv
