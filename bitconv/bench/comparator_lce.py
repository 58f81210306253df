"""Larq Compute Engine (LCE) as a bit-serial comparator for binary (W1A1) layers.

LCE runs XNOR/popcount convolutions (its `LceBconv2d` op) inside a TF Lite interpreter. The layer is
built as a one-layer larq Keras model and converted with LCE's converter outside the timed region;
the timed call is one inference of that model on float NHWC input, float NHWC output (LCE binarizes
the input with its `LceQuantize` op, so that is part of the time, as quantizing is for the int8
comparators).

Optional and heavy (TensorFlow): registered in REGISTRY but not in DEFAULT; ask for it with
`--comparators lce`. Install with `pip install '.[bench,lce]'`.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import time
import warnings
from typing import Dict, Optional, Tuple

import numpy as np

from ..reference.int64 import conv2d_int64
from .comparator_base import Case, Comparator, SkipLayer

EXTRA = "pip install '.[bench,lce]'"
# What `import larq_compute_engine` needs (its __init__ imports the converter, hence TensorFlow).
_MODULES = ("larq_compute_engine", "larq", "tensorflow")

# Converted flatbuffers, per layer shape and weights (a digest of their signs: the float weights
# themselves would keep megabytes alive as keys), for the life of the process: a layer met again
# (sweeps, repeated runs in one process) is not converted again (about a second each).
_FLATBUFFERS: Dict[tuple, bytes] = {}


def _import_lce():
    # TensorFlow >= 2.16 makes tf.keras Keras 3 unless this is set before its first import; larq
    # needs Keras 2. Logging off: TF's start-up chatter would land in the middle of the bench table.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import larq
    import larq_compute_engine
    import tensorflow as tf
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    tf.get_logger().setLevel("ERROR")   # the converter's model.save() warns on every layer
    return tf, larq, larq_compute_engine, Interpreter


def _tf_padding(lay) -> Tuple[str, Tuple[int, int, int, int]]:
    """TF's padding mode for the layer and the (top, bottom, left, right) pads it implies.

    "valid" is exact for padding 0. "same" gives ceil(H / stride) outputs and puts the smaller half
    of the padding on top/left: the layer's own symmetric padding when stride 1 and kernel 2p + 1
    (all 3x3/1 layers), the same output shape with the window shifted by one pixel for a stride-2
    layer on an even input (the same work, so the same timing). Anything else TF cannot express."""
    if lay.padding == 0:
        return "valid", (0, 0, 0, 0)
    pads = []
    for n, k, o in ((lay.h, lay.kh, lay.ho), (lay.w, lay.kw, lay.wo)):
        if -(-n // lay.stride) != o:
            raise SkipLayer(f"padding {lay.padding} has no TF equivalent (\"same\" gives "
                            f"{-(-n // lay.stride)} outputs, the layer {o})")
        total = max((o - 1) * lay.stride + k - n, 0)
        pads += [total // 2, total - total // 2]
    return "same", (pads[0], pads[1], pads[2], pads[3])


def op_names(flatbuffer: bytes) -> list:
    """Names of the ops of a TF Lite model's main subgraph, in order (custom ops by their custom code)."""
    from larq_compute_engine.mlir.python import tflite_schema as fb

    model = fb.Model.GetRootAs(flatbuffer, 0)
    builtin = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        custom = oc.CustomCode()
        # Old writers only fill the deprecated int8 field: take the larger of the two.
        codes.append(custom.decode() if custom else builtin.get(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()), "?"))
    sub = model.Subgraphs(0)
    return [codes[sub.Operators(j).OpcodeIndex()] for j in range(sub.OperatorsLength())]


class LceBconv(Comparator):
    name = "lce"
    label = ("Larq Compute Engine bconv2d ({-1,+1}, float in/out; faster of its BGEMM and indirect-BGEMM "
             "kernels)")
    kind = "bitserial"
    # LCE's recommended setting: "same" padding with +1 needs no zero-padding correction pass (on
    # x86 the two time within a few per cent). Border outputs differ from bitconv's zero padding.
    pad_value = 1.0

    def unavailable(self) -> Optional[str]:
        # find_spec first: cheap, and names what is missing without importing TensorFlow.
        missing = [m for m in _MODULES if importlib.util.find_spec(m) is None]
        if missing:
            return f"{', '.join(missing)} not installed; install the lce extra: {EXTRA}"
        try:
            _import_lce()
        except Exception as e:  # a version mismatch inside the TF stack shows up here
            # Typically Keras 3 as tf.keras: larq needs Keras 2, which TF >= 2.16 serves only with
            # tf-keras installed and TF_USE_LEGACY_KERAS=1 set before TensorFlow is first imported.
            return (f"larq/larq_compute_engine not importable ({type(e).__name__}: {e}); larq needs Keras 2 "
                    f"(tf-keras, TF_USE_LEGACY_KERAS=1); install the lce extra: {EXTRA}")
        return None

    def versions(self):
        from importlib import metadata

        out = {}
        for dist in ("larq-compute-engine", "larq", "tensorflow", "tf-keras"):
            try:
                out[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                pass
        return out

    def prepare(self, case: Case):
        lay = case.layer
        if case.a_bits != 1 or set(case.w_bits) != {1}:
            raise SkipLayer(f"LCE runs binary layers only (W1A1), this one is "
                            f"W{'/'.join(map(str, sorted(set(case.w_bits))))}A{case.a_bits}")
        cg = lay.cin // lay.groups
        # Grouped binary conv: only LCE's indirect-BGEMM kernel, with whole 32-bit words per group.
        if lay.groups != 1 and cg % 32:
            raise SkipLayer(f"grouped conv with {cg} channels per group (LCE needs a multiple of 32)")
        mode, pads = _tf_padding(lay)

        tf, larq, lce, Interpreter = _import_lce()
        # bitconv's 1-bit weights are the levels {-1, +1}; sign() keeps that true of any input.
        positive = case.qweight >= 0
        w = np.where(positive, 1.0, -1.0).astype(np.float32)
        # w's bits, by digest; its shape is in the layer's fields.
        signs = hashlib.sha1(np.packbits(positive).tobytes()).hexdigest()
        key = (case.batch, lay.h, lay.w, lay.cin, lay.cout, lay.kh, lay.kw, lay.stride, mode, lay.groups, signs)
        flatbuffer = _FLATBUFFERS.get(key)
        if flatbuffer is None:
            flatbuffer = _FLATBUFFERS[key] = self._convert(case, w, mode, tf, larq, lce)

        # The {-1, +1} reading of the layer's 1-bit codes, whatever its encoding (an "unsigned" 1-bit
        # layer has values {0, 1}, which LCE's sign quantizer would turn into all +1): the work is
        # the same, and the check below then compares a real binary convolution.
        x = np.ascontiguousarray((2.0 * case.codes_nhwc - 1.0).astype(np.float32))
        inputs = [x]

        # LCE's default BGEMM kernel uses num_threads; its indirect-BGEMM kernel runs on one thread
        # whatever num_threads says but is, on x86 at least, several times faster. Time both briefly
        # (outside the timed region) and keep the faster.
        best = None
        for indirect in ((True,) if lay.groups != 1 else (False, True)):
            run = Interpreter(flatbuffer, num_threads=case.threads, use_indirect_bgemm=indirect).interpreter.predict
            run(inputs)
            t = time.perf_counter()
            for _ in range(3):
                run(inputs)
            t = time.perf_counter() - t
            if best is None or t < best[0]:
                best = (t, indirect, run)
        _, indirect, run = best

        # LCE must compute this layer's convolution: compare with the int64 reference on the same
        # codes, TF's pads filled with the code of LCE's pad value (binary code c is the value
        # 2c - 1) and no further padding.
        got = run(inputs)[0]
        t, b, l, r = pads
        pad_code = {1.0: 1, -1.0: 0}[self.pad_value]  # LCE pads with +1 or -1 only
        padded = np.pad(case.codes_nchw, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=pad_code)
        ref = conv2d_int64(padded, w.astype(np.int64), a_encoding="binary", stride=lay.stride,
                           groups=lay.groups).transpose(0, 2, 3, 1)
        if got.shape != ref.shape or not np.array_equal(got, ref):
            diff = np.abs(got - ref).max() if got.shape == ref.shape else "shape"
            raise RuntimeError(f"LCE output differs from the int64 reference (shape {got.shape} vs {ref.shape}, "
                               f"max |diff| {diff}, kernel {'indirect-bgemm' if indirect else 'bgemm'})")
        return lambda: run(inputs)

    def _convert(self, case, w, mode, tf, larq, lce) -> bytes:
        """The layer as a one-layer larq model, converted to an LCE flatbuffer; SkipLayer unless the
        conversion really produced LceBconv2d (a float CONV_2D fallback would time something else)."""
        lay = case.layer
        inp = tf.keras.Input((lay.h, lay.w, lay.cin), batch_size=case.batch)
        conv = larq.layers.QuantConv2D(
            lay.cout, (lay.kh, lay.kw), strides=lay.stride, padding=mode, groups=lay.groups,
            pad_values=self.pad_value, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
            kernel_constraint="weight_clip", use_bias=False)
        model = tf.keras.Model(inp, conv(inp))
        conv.set_weights([w.transpose(2, 3, 1, 0)])        # [Cout, Cin/g, kh, kw] -> Keras HWIO
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flatbuffer = lce.convert_keras_model(model)
        ops = op_names(flatbuffer)
        if "LceBconv2d" not in ops or "CONV_2D" in ops:
            raise SkipLayer(f"LCE's converter did not produce a binary conv (ops: {', '.join(ops)})")
        return flatbuffer

