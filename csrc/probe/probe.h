// The ceiling probe: this CPU's sustained AND + popcount rate and int8 dot-product rate.
#pragma once
#include <string>

namespace bitconv {

struct ProbeResult {
  double binary_macs_per_second = 0;  // AND+popcount+add, register-blocked, one core
  double int8_macs_per_second = 0;    // int8 dot product (VPDPBUSD), 0 where the CPU has none
  std::string isa;                    // ISA whose kernel was measured
  std::string int8_instruction;       // e.g. "vpdpbusd zmm", "" if none
};

// Runs each measurement for about `seconds` on the calling thread.
ProbeResult run_probe(const std::string& isa, double seconds);

}  // namespace bitconv
