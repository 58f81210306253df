"""Comparators: other ways to compute the same conv layer on the same input, timed in the same run.

Each comparator is optional: `unavailable()` says why it cannot run (missing package), and the
harness skips it with a note. `prepare(case)` builds what is needed outside the timed region and
returns the callable to time, or raises SkipLayer for one layer.
"""
from __future__ import annotations

import contextlib
from typing import List, Optional

import numpy as np

from .comparator_base import Case, Comparator, SkipLayer, _missing  # noqa: F401 (Case, SkipLayer: the harness's names)
from .comparator_lce import LceBconv
from .comparator_names import DEFAULT as _DEFAULT_NAMES, OPTIONAL as _OPTIONAL_NAMES


# ---------------------------------------------------------------------------------------- numpy
class NumpyFp32(Comparator):
    name = "numpy"
    label = "numpy fp32 im2col+matmul"
    kind = "fp32"

    def versions(self):
        return {"numpy": np.__version__}

    def prepare(self, case):
        lay = case.layer
        n, g = case.batch, lay.groups
        cg, og = lay.cin // g, lay.cout // g
        k = cg * lay.kh * lay.kw
        wmat = np.ascontiguousarray(case.w_float.reshape(g, og, k))
        x = case.x_float
        s, p = lay.stride, lay.padding
        ho, wo = lay.ho, lay.wo

        def run():
            xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
            win = np.lib.stride_tricks.sliding_window_view(xp, (lay.kh, lay.kw), axis=(2, 3))
            win = win[:, :, : (ho - 1) * s + 1 : s, : (wo - 1) * s + 1 : s]   # [N, C, Ho, Wo, kh, kw]
            cols = win.reshape(n, g, cg, ho, wo, lay.kh, lay.kw).transpose(0, 1, 2, 5, 6, 3, 4)
            cols = np.ascontiguousarray(cols).reshape(n, g, k, ho * wo)       # im2col
            return np.matmul(wmat, cols).reshape(n, lay.cout, ho, wo)

        return run

    def limits(self, case):
        # Entering threadpool_limits costs a fraction of a millisecond (it walks the loaded
        # libraries): set once around all the calls, not in each timed one.
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return contextlib.nullcontext()
        return threadpool_limits(limits=case.threads, user_api="blas")


# ------------------------------------------------------------------------------------ onnxruntime
def _ort_session(model, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _conv_attrs(lay):
    return dict(kernel_shape=[lay.kh, lay.kw], strides=[lay.stride] * 2, pads=[lay.padding] * 4,
                dilations=[1, 1], group=lay.groups)


def _ort_conv(case, op, x, elem_type, initializers):
    """A one-node model `op(x, *initializers) -> y` for the case's layer, in a session with its
    threads; returns the call to time. The initializers come in the op's input order after x, and
    y has x's element type."""
    from onnx import helper

    node = helper.make_node(op, ["x"] + [t.name for t in initializers], ["y"], **_conv_attrs(case.layer))
    graph = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info("x", elem_type, list(x.shape))],
        [helper.make_tensor_value_info("y", elem_type, case.out_shape)],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    sess = _ort_session(model, case.threads)
    feed = {"x": x}
    return lambda: sess.run(None, feed)


class _Ort(Comparator):
    def unavailable(self):
        return _missing("onnxruntime", "onnx")

    def versions(self):
        import onnx
        import onnxruntime

        return {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__}


class OrtFp32(_Ort):
    name = "ort-fp32"
    label = "ONNX Runtime fp32 Conv"
    kind = "fp32"

    def prepare(self, case):
        from onnx import TensorProto, numpy_helper

        return _ort_conv(case, "Conv", case.x_float, TensorProto.FLOAT, [numpy_helper.from_array(case.w_float, "w")])


class OrtInt8(_Ort):
    name = "ort-int8"
    label = "ONNX Runtime int8 QLinearConv (u8 act, s8 per-channel w)"
    kind = "int8"

    def prepare(self, case):
        from onnx import TensorProto, numpy_helper

        cout = case.layer.cout
        y_scale = max(1.0, case.acc_bound() / 127.0)
        inits = [   # QLinearConv's inputs after x, in order
            numpy_helper.from_array(np.array(1.0, np.float32), "x_scale"),
            numpy_helper.from_array(np.array(case.int8_zero_point, np.uint8), "x_zp"),
            numpy_helper.from_array(case.qweight.astype(np.int8), "w"),
            numpy_helper.from_array(np.ones(cout, np.float32), "w_scale"),
            numpy_helper.from_array(np.zeros(cout, np.int8), "w_zp"),
            numpy_helper.from_array(np.array(y_scale, np.float32), "y_scale"),
            numpy_helper.from_array(np.array(0, np.uint8), "y_zp"),
        ]
        return _ort_conv(case, "QLinearConv", np.ascontiguousarray(case.codes_nchw), TensorProto.UINT8, inits)


# ---------------------------------------------------------------------------------------- torch
_TORCH_HINT = "install it: pip install torch (not in the bench extra)"


class _Torch(Comparator):
    def unavailable(self):
        return _missing("torch", hint=_TORCH_HINT)

    def versions(self):
        import torch

        return {"torch": torch.__version__}


class TorchFp32(_Torch):
    name = "torch-fp32"
    label = "PyTorch fp32 conv2d"
    kind = "fp32"

    def prepare(self, case):
        import torch
        import torch.nn.functional as F

        lay = case.layer
        torch.set_num_threads(case.threads)
        x = torch.from_numpy(case.x_float)
        w = torch.from_numpy(case.w_float)

        def run():
            with torch.inference_mode():
                return F.conv2d(x, w, None, lay.stride, lay.padding, 1, lay.groups)

        return run


class TorchInt8(_Torch):
    name = "torch-int8"
    label = "PyTorch int8 quantized conv (x86 engine, channels_last)"
    kind = "int8"

    def unavailable(self):
        miss = super().unavailable()
        if miss:
            return miss
        import torch

        engines = torch.backends.quantized.supported_engines
        if "x86" not in engines and "fbgemm" not in engines:
            return f"torch has no x86/fbgemm quantized engine (has {engines})"
        try:
            import torch.ao.nn.quantized  # noqa: F401
        except Exception as e:
            return f"torch.ao.nn.quantized not importable ({e})"
        return None

    def prepare(self, case):
        import warnings

        import torch
        import torch.ao.nn.quantized as nnq

        lay = case.layer
        engines = torch.backends.quantized.supported_engines
        torch.backends.quantized.engine = "x86" if "x86" in engines else "fbgemm"
        torch.set_num_threads(case.threads)
        zp = case.int8_zero_point
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = nnq.Conv2d(lay.cin, lay.cout, (lay.kh, lay.kw), stride=lay.stride, padding=lay.padding,
                           groups=lay.groups, bias=False)
            qw = torch.quantize_per_channel(torch.from_numpy(case.w_float), torch.ones(lay.cout, dtype=torch.double),
                                            torch.zeros(lay.cout, dtype=torch.long), 0, torch.qint8)
            m.set_weight_bias(qw, None)
            m.scale = max(1.0, case.acc_bound() / 255.0)
            m.zero_point = 0
            x = torch.quantize_per_tensor(torch.from_numpy(case.codes_nchw.astype(np.float32) - zp), 1.0, zp,
                                          torch.quint8).contiguous(memory_format=torch.channels_last)

        def run():
            with torch.inference_mode():
                return m(x)

        return run


# ---------------------------------------------------------------------------------------- numba
class NumbaRef(Comparator):
    name = "numba"
    label = "bitconv numba bit-serial reference"
    kind = "bitserial"
    max_repeat = 3
    max_warmup = 1
    max_seconds = 2.0
    max_macs = 40_000_000    # bigger layers are skipped unless the limit is raised

    def unavailable(self):
        miss = _missing("numba")
        if miss:
            return miss
        try:
            from bitconv.reference.numba_bitserial import conv2d_numba  # noqa: F401
        except Exception as e:
            return f"bitconv.reference.numba_bitserial.conv2d_numba not available ({type(e).__name__}: {e})"
        return None

    def versions(self):
        import numba

        return {"numba": numba.__version__}

    def prepare(self, case):
        import numba

        from bitconv.reference.numba_bitserial import conv2d_numba

        lay = case.layer
        if lay.macs(case.batch) > self.max_macs:
            raise SkipLayer(f"{lay.macs(case.batch) / 1e6:.0f} M MACs > {self.max_macs / 1e6:.0f} M (slow reference)")
        try:
            numba.set_num_threads(max(1, min(case.threads, numba.config.NUMBA_NUM_THREADS)))
        except Exception:
            pass
        codes = case.codes_nchw
        kw = dict(w_encoding=case.w_encoding, a_bits=case.a_bits, a_encoding=case.a_encoding,
                  a_zero_point=case.a_zero_point, stride=lay.stride, padding=lay.padding, groups=lay.groups)
        return lambda: conv2d_numba(codes, case.qweight, case.w_bits, **kw)


_CLASSES = (NumpyFp32, OrtFp32, OrtInt8, TorchFp32, TorchInt8, NumbaRef, LceBconv)
_BY_NAME = {cls.name: cls() for cls in _CLASSES}
# Ordered by comparator_names.py, which the command line reads without importing numpy: a name
# there with no class here fails the import (KeyError naming it). The default list leaves out the
# heavy optional peers (TensorFlow for lce).
REGISTRY = {n: _BY_NAME[n] for n in _DEFAULT_NAMES + _OPTIONAL_NAMES}
DEFAULT = list(_DEFAULT_NAMES)


def resolve(spec: Optional[str]) -> List[Comparator]:
    """Comparators named in a comma-separated list; None, "" or "default" = the default list, "all" =
    every comparator (the optional ones too), "none" = no comparator."""
    spec = (spec or "").strip()
    if spec in ("", "default"):
        names = list(DEFAULT)
    elif spec == "all":
        names = list(REGISTRY)
    elif spec == "none":
        names = []
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [n for n in names if n not in REGISTRY]
    if bad:
        raise ValueError(f"unknown comparator(s) {', '.join(bad)} (known: {', '.join(REGISTRY)})")
    return [REGISTRY[n] for n in names]
