// pybind11 bindings: the only file that knows about Python. Releases the GIL around kernel work.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/conv.h"
#include "core/thread_pool.h"
#include "dispatch/cpu_features.h"
#include "dispatch/registry.h"
#include "probe/probe.h"

namespace py = pybind11;
using namespace bitconv;

namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

std::unique_ptr<ConvLayer> make_layer(carray<int16_t> qweight, std::vector<int> w_bits, int w_encoding,
                                      int a_bits, int a_encoding, int a_zero_point, double a_scale,
                                      std::pair<int, int> stride, std::pair<int, int> padding,
                                      std::pair<int, int> dilation, int groups, std::vector<double> scale,
                                      std::vector<double> bias) {
  if (qweight.ndim() != 4) throw std::invalid_argument("qweight must be 4-D");
  ConvSpec s;
  s.cout = int(qweight.shape(0));
  s.cin = int(qweight.shape(1)) * groups;
  s.groups = groups;
  s.kh = int(qweight.shape(2));
  s.kw = int(qweight.shape(3));
  s.sh = stride.first, s.sw = stride.second;
  s.ph = padding.first, s.pw = padding.second;
  s.dh = dilation.first, s.dw = dilation.second;
  s.w_bits = std::move(w_bits);
  s.w_encoding = w_encoding;
  s.a_bits = a_bits;
  s.a_encoding = a_encoding;
  s.a_zero_point = a_zero_point;
  s.a_scale = a_scale;
  s.scale = std::move(scale);
  s.bias = std::move(bias);
  py::gil_scoped_release release;
  auto layer = std::make_unique<ConvLayer>(std::move(s), qweight.data());
  layer->panels_for(active_isa());  // pack for the current ISA now, not on the first call
  return layer;
}

// A new C-contiguous result (out: "int32", "float" or "codes", the last with next: the layer whose
// activation quantizer turns the float values into codes). Its data start on a 64-byte line: it is
// a view of a numpy byte buffer 64 bytes longer. numpy's own allocations start 16 bytes into a line
// here, and the kernels' vector stores then split lines (large int8 outputs 9-11% slower,
// docs/kernels.md).
py::array forward(ConvLayer& layer, py::array x, bool x_nhwc, const std::string& out, bool out_nchw, int threads,
                  py::object next_layer) {
  // Taken as an object: a `const ConvLayer*` parameter cost 0.4 us per call even when None.
  const ConvLayer* next = next_layer.is_none() ? nullptr : next_layer.cast<const ConvLayer*>();
  // The Python layer has validated shapes, dtypes and ranges; these checks only guard memory.
  const bool is_float = x.dtype().is(py::dtype::of<float>());
  if (!is_float && !x.dtype().is(py::dtype::of<uint8_t>()))
    throw std::invalid_argument("x must be float32 or uint8");
  if (x.ndim() != 4) throw std::invalid_argument("x must be 4-D");
  const bool is_codes = out == "codes", is_fout = out == "float";
  if (!is_codes && !is_fout && out != "int32") throw std::invalid_argument("out must be int32, float or codes");
  if (is_codes != (next != nullptr)) throw std::invalid_argument("next must be given exactly for codes out");
  // Axes of x in (n, c, h, w) order.
  const int ax[4] = {0, x_nhwc ? 3 : 1, x_nhwc ? 1 : 2, x_nhwc ? 2 : 3};
  ConvInput in;
  in.data = x.data();
  in.is_float = is_float;
  for (int d = 0; d < 4; ++d) {
    if (x.strides(ax[d]) % py::ssize_t(x.itemsize())) throw std::invalid_argument("x strides must be whole elements");
    in.stride[d] = x.strides(ax[d]) / py::ssize_t(x.itemsize());
  }
  const ConvSpec& s = layer.spec();
  const int n = int(x.shape(ax[0])), h = int(x.shape(ax[2])), w = int(x.shape(ax[3]));
  if (x.shape(ax[1]) != s.cin) throw std::invalid_argument("x channel count does not match the layer");
  const ConvShape sh = layer.shape_for(n, h, w);
  const ActQuant q = next ? next->act_quant() : ActQuant{};

  const py::dtype dt = is_codes ? py::dtype::of<uint8_t>() : is_fout ? py::dtype::of<float>() : py::dtype::of<int32_t>();
  const std::vector<py::ssize_t> shape = {n, out_nchw ? s.cout : sh.ho, out_nchw ? sh.ho : sh.wo,
                                          out_nchw ? sh.wo : s.cout};
  py::ssize_t bytes = dt.itemsize();
  for (const py::ssize_t d : shape) {
    if (d > 0 && bytes > (PTRDIFF_MAX - 64) / d) throw std::length_error("output too large");
    bytes *= d;
  }
  py::array_t<uint8_t> buf(bytes + 64);
  uint8_t* const base = buf.mutable_data();
  uint8_t* const data = base + (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
  py::array result(dt, shape, data, buf);  // C-contiguous strides
  {
    py::gil_scoped_release release;
    layer.forward(in, n, h, w, data, is_fout ? OUT_FLOAT : OUT_INT32, out_nchw, threads, next ? &q : nullptr);
  }
  return result;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "bitconv native kernels";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::length_error& e) {  // std::invalid_argument is pybind11's ValueError already
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });

  py::class_<ConvLayer>(m, "ConvLayer")
      .def(py::init(&make_layer), py::arg("qweight"), py::arg("w_bits"), py::arg("w_encoding"),
           py::arg("a_bits"), py::arg("a_encoding"), py::arg("a_zero_point"), py::arg("a_scale"), py::arg("stride"),
           py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("scale"), py::arg("bias"))
      .def("forward", &forward, py::arg("x"), py::arg("x_nhwc"), py::arg("out"), py::arg("out_nchw"),
           py::arg("threads"), py::arg("next") = py::none())
      .def("packed_weight_bytes", [](ConvLayer& l) {
        py::gil_scoped_release release;
        return l.packed_weight_bytes(active_isa());
      })
      .def("kernels", [](ConvLayer& l) {
        // The kernels this layer runs on the active ISA: one entry per panel (or one "depthwise").
        py::list out;
        if (l.is_depthwise()) {
          py::dict d;
          d["kernel"] = "depthwise";
          d["channels"] = l.spec().cout;
          out.append(d);
          return out;
        }
        const std::vector<ConvLayer::Panel>* panels;
        {
          py::gil_scoped_release release;
          panels = &l.panels_for(active_isa());
        }
        for (const ConvLayer::Panel& p : *panels) {
          py::dict d;
          d["kernel"] = p.int8 ? "int8" : "bit-serial";
          d["w_bits"] = p.bits;
          d["group"] = p.group;
          d["channels"] = int(p.w.channels.size());
          d["mr"] = p.w.kernel.mr;
          d["nr"] = p.w.kernel.nr();
          d["split"] = p.w.kernel.split;  // reduction words per step (4: the int8 split tile)
          // The plane-pair form (csrc/core/conv.cpp): AND, or XOR for odd 1-bit weights times 1-bit
          // activations (binary: "xor"; {0,1} codes of zero point 0: "xor-down"); int8: "dot".
          d["form"] = p.int8 ? "dot" : p.xnor ? "xor" : p.down ? "xor-down" : "and";
          out.append(d);
        }
        return out;
      });

  m.def("compiled_isas", [] {
    std::vector<std::string> out;
    for (const IsaImpl& i : compiled_isas()) out.push_back(i.name);
    return out;
  });
  m.def("available_isas", [] {
    std::vector<std::string> out;
    for (const IsaImpl& i : available_isas()) out.push_back(i.name);
    return out;
  });
  m.def("active_isa", [] { return std::string(active_isa().name); });
  m.def("set_isa", [](const std::string& name) { set_active_isa(name); }, py::arg("name"));
  m.def("hardware_threads", &hardware_threads);
  m.def("cpu_features", [] {
    const CpuFeatures& f = cpu_features();
    py::dict d;
    d["popcnt"] = f.popcnt;
    d["avx2"] = f.avx2;
    d["avx512_vpopcntdq"] = f.avx512_vpopcntdq;
    d["avx512_vnni"] = f.avx512_vnni;
    d["avx_vnni"] = f.avx_vnni;
    d["gfni"] = f.gfni;
    d["avx512_vbmi"] = f.avx512_vbmi;
    d["neon"] = f.neon;
    d["neon_dot"] = f.neon_dot;
    return d;
  });
  m.def("run_probe", [](const std::string& isa, double seconds) {
    ProbeResult r;
    {
      py::gil_scoped_release release;
      r = run_probe(isa.empty() ? std::string(active_isa().name) : isa, seconds);
    }
    py::dict d;
    d["isa"] = r.isa;
    d["binary_macs_per_second"] = r.binary_macs_per_second;
    d["int8_macs_per_second"] = r.int8_macs_per_second;
    d["int8_instruction"] = r.int8_instruction;
    d["binary_kernel"] = r.binary_kernel;
    d["cycles_per_second"] = r.cycles_per_second;
    d["seconds"] = r.seconds;
    return d;
  }, py::arg("isa") = "", py::arg("seconds") = 0.2);
}
