// Ceiling probe driver (placeholder until the probe kernels land).
#include "probe/probe.h"

namespace bitconv {

ProbeResult run_probe(const std::string& isa, double seconds) {
  ProbeResult r;
  r.isa = isa;
  return r;
}

}  // namespace bitconv
