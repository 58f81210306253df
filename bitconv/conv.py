"""ConvPlan (one quantized conv layer, weights packed once) and conv2d.

What conv2d computes, bit for bit, is DESIGN.md section 2; docs/contract.md restates it with the
choices this package made where the design left them open.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _native
from .plan.core import A_ENCODINGS, W_ENCODINGS, is_int as _is_int
from .geometry import output_size
from .reference.int64 import quantize_activations, scale_output
from .weight_levels import default_w_encoding, quantize_weights

_INT32_MAX = 2**31 - 1
# Largest buffer conv2d will allocate; anything bigger is refused before allocating.
MAX_BUFFER_BYTES = 1 << 40


def _check_int(name: str, v, lo: int, hi: Optional[int] = None) -> int:
    if not _is_int(v):
        raise TypeError(f"{name} must be an int, got {type(v).__name__} {v!r}")
    v = int(v)
    if v < lo or (hi is not None and v > hi):
        rng = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be {rng}, got {v}")
    return v


def _pair(name: str, v, lo: int) -> tuple:
    if _is_int(v):
        v = (v, v)
    elif isinstance(v, (tuple, list, np.ndarray)) and len(v) == 2:
        v = tuple(v)
    else:
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {v!r}")
    return tuple(_check_int(f"{name}[{i}]", x, lo) for i, x in enumerate(v))


def _check_w_bits(w_bits, cout: int) -> np.ndarray:
    """w_bits as one int per output channel, each 1..8 (an int applies to all of them)."""
    if _is_int(w_bits):
        return np.full(cout, _check_int("w_bits", w_bits, 1, 8), dtype=np.int64)
    if isinstance(w_bits, (str, bytes)):
        raise TypeError(f"w_bits must be an int or a sequence of Cout={cout} ints, got {w_bits!r}")
    try:
        seq = list(w_bits)
    except TypeError:
        raise TypeError(f"w_bits must be an int or a sequence of Cout={cout} ints, "
                        f"got {type(w_bits).__name__}") from None
    if len(seq) != cout:
        raise ValueError(f"w_bits has {len(seq)} entries but the layer has Cout={cout} output "
                         f"channels (one entry per output channel expected)")
    return np.array([_check_int(f"w_bits[{k}]", b, 1, 8) for k, b in enumerate(seq)], dtype=np.int64)


def _check_scale(name: str, v, count: Optional[int] = None) -> np.ndarray:
    """A positive finite float, or (count given) one per output channel."""
    arr = np.asarray(v)
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise TypeError(f"{name} must be a float or an array of floats, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if count is None:
        if arr.ndim != 0:
            raise ValueError(f"{name} must be a single float, got shape {arr.shape}")
    elif arr.ndim == 0:
        arr = np.full(count, float(arr))
    elif arr.shape != (count,):
        raise ValueError(f"{name} must be a float or have shape ({count},) (one per output channel), "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {arr if arr.ndim == 0 else arr[~(np.isfinite(arr) & (arr > 0))][:4]}")
    return arr


class ConvPlan:
    """One conv layer's quantized weights, bits and geometry, with the weights packed into bit-planes.

    Build with :meth:`from_quantized` (integer weights + scales, as quantization tools export them)
    or :meth:`from_float` (float weights quantized per output channel by the documented rule).
    """

    def __init__(self, *, qweight, w_scale, w_bits, w_encoding, a_bits, a_encoding, a_scale,
                 a_zero_point, bias, stride, padding, dilation, groups):
        self.qweight = qweight
        self.w_scale = w_scale
        self.w_bits = w_bits
        self.w_encoding = w_encoding
        self.a_bits = a_bits
        self.a_encoding = a_encoding
        self.a_scale = a_scale
        self.a_zero_point = a_zero_point
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self._checked_shapes = set()  # (input shape, layout) pairs conv2d has validated
        # Plain ints: the codes path of conv2d reads them per call (the others once per shape), and the
        # weights are read-only.
        self._cout, self._cin = int(qweight.shape[0]), int(qweight.shape[1]) * groups
        for arr in (self.qweight, self.w_scale, self.w_bits, self.bias):
            arr.setflags(write=False)
        self._native = _native.ConvLayer(
            qweight, w_bits.astype(np.int32).tolist(), W_ENCODINGS.index(w_encoding), a_bits,
            A_ENCODINGS.index(a_encoding), a_zero_point, a_scale, stride, padding, dilation, groups,
            (a_scale * w_scale).tolist(), bias.tolist())

    # ----------------------------------------------------------------------------------- builders
    @classmethod
    def from_quantized(cls, qweight, w_scale=1.0, *, w_bits, a_bits, w_encoding=None, a_scale=1.0,
                       a_zero_point=0, a_encoding="unsigned", bias=None, stride=1, padding=0,
                       dilation=1, groups=1) -> "ConvPlan":
        """A plan from integer weights `qweight[Cout, Cin/groups, kh, kw]` already in range.

        w_bits: an int, or one int per output channel (kernel-wise mixed precision), each 1..8.
        w_encoding: "signed" (two's complement range) or "odd" (odd levels 2u - (2^B - 1)); the
        default is "odd" when every channel has 1 bit and "signed" otherwise. 1-bit channels are
        always {-1, +1}.
        """
        if not isinstance(qweight, np.ndarray):
            raise TypeError(f"qweight must be a numpy array of integers, got {type(qweight).__name__}")
        if qweight.dtype.kind not in "iu" or qweight.dtype == np.bool_:
            raise TypeError(f"qweight must have an integer dtype, got {qweight.dtype}")
        if qweight.ndim != 4:
            raise ValueError(f"qweight must have shape [Cout, Cin/groups, kh, kw], got {qweight.ndim}-D "
                             f"shape {qweight.shape}")
        cout, cg, kh, kw = (int(s) for s in qweight.shape)
        if min(cout, cg, kh, kw) < 1:
            raise ValueError(f"qweight must have no empty dimension, got shape {qweight.shape}")
        if kh > 32 or kw > 32:
            raise ValueError(f"qweight kernel size must be at most 32x32, got {kh}x{kw}")
        groups = _check_int("groups", groups, 1)
        if cout % groups:
            raise ValueError(f"groups={groups} must divide the output channels Cout={cout}")

        bits = _check_w_bits(w_bits, cout)
        a_bits = _check_int("a_bits", a_bits, 1, 8)
        if w_encoding is None:
            w_encoding = default_w_encoding(bits)
        if w_encoding not in W_ENCODINGS:
            raise ValueError(f"w_encoding must be one of {W_ENCODINGS}, got {w_encoding!r}")
        if a_encoding not in A_ENCODINGS:
            raise ValueError(f"a_encoding must be one of {A_ENCODINGS}, got {a_encoding!r}")
        if a_encoding == "binary" and a_bits != 1:
            raise ValueError(f"a_encoding='binary' needs a_bits=1, got a_bits={a_bits}")
        a_zero_point = _check_int("a_zero_point", a_zero_point, 0, 2**a_bits - 1)
        if a_encoding == "binary" and a_zero_point != 0:
            raise ValueError("a_zero_point must be 0 with a_encoding='binary'")
        w_scale = _check_scale("w_scale", w_scale, cout)
        a_scale = float(_check_scale("a_scale", a_scale))
        with np.errstate(over="ignore"):
            f32 = np.float32(a_scale)
        if not (np.isfinite(f32) and f32 > 0):
            # float input is divided by float32(a_scale) (docs/contract.md)
            raise ValueError(f"a_scale={a_scale!r} is 0 or infinite in float32, where activations are "
                             f"quantized; it must be within float32's positive finite range")
        if bias is None:
            bias = np.zeros(cout)
        else:
            bias = np.asarray(bias)
            if bias.dtype.kind not in "iuf" or bias.dtype == np.bool_:
                raise TypeError(f"bias must be an array of floats, got dtype {bias.dtype}")
            if bias.shape != (cout,):
                raise ValueError(f"bias must have shape ({cout},), got {bias.shape}")
            bias = bias.astype(np.float64)
            if not np.all(np.isfinite(bias)):
                raise ValueError("bias must be finite")
        with np.errstate(over="ignore"):
            inf = ~np.isfinite(a_scale * w_scale)
        if inf.any():  # the output scale s_k: an infinite one makes float output NaN where acc = 0
            k = int(np.argmax(inf))
            raise ValueError(f"a_scale * w_scale overflows float64 (a_scale={a_scale!r}, w_scale[{k}]="
                             f"{float(w_scale[k])!r})")
        stride = _pair("stride", stride, 1)
        padding = _pair("padding", padding, 0)
        dilation = _pair("dilation", dilation, 1)

        # Weights in range for each channel's bits and encoding.
        q = qweight.astype(np.int64).reshape(cout, -1)
        odd = (bits == 1) | (w_encoding == "odd")
        lo = np.where(odd, -(2**bits - 1), -(2 ** (bits - 1)))
        hi = np.where(odd, 2**bits - 1, 2 ** (bits - 1) - 1)
        bad = (q < lo[:, None]) | (q > hi[:, None]) | (odd[:, None] & (q % 2 == 0))
        if bad.any():
            k = int(np.nonzero(bad.any(axis=1))[0][0])
            val = int(q[k][bad[k]][0])
            enc = "odd" if odd[k] else "signed"
            what = f"odd integers in [{lo[k]}, {hi[k]}]" if odd[k] else f"integers in [{lo[k]}, {hi[k]}]"
            raise ValueError(f"qweight channel {k} holds {val}, outside the {int(bits[k])}-bit {enc} "
                             f"range ({what})")

        # The int32 accumulator must not overflow for any input.
        taps = cg * kh * kw
        max_w = int(-lo.min())  # the largest magnitude in either encoding
        max_v = 1 if a_encoding == "binary" else max(a_zero_point, 2**a_bits - 1 - a_zero_point)
        if taps * max_w * max_v > _INT32_MAX:
            raise ValueError(
                f"int32 accumulator could overflow: Cin/groups*kh*kw={taps} taps x max|weight|={max_w} x "
                f"max|activation|={max_v} exceeds 2^31-1; use fewer bits or split the layer")

        return cls(qweight=q.reshape(cout, cg, kh, kw).astype(np.int16), w_scale=w_scale, w_bits=bits,
                   w_encoding=w_encoding, a_bits=a_bits, a_encoding=a_encoding, a_scale=a_scale,
                   a_zero_point=a_zero_point, bias=bias, stride=stride, padding=padding,
                   dilation=dilation, groups=groups)

    @classmethod
    def from_float(cls, weight, *, w_bits, a_bits, a_scale, w_encoding=None, a_zero_point=0,
                   a_encoding="unsigned", bias=None, stride=1, padding=0, dilation=1,
                   groups=1, w_scale=None) -> "ConvPlan":
        """A plan from float weights, quantized per output channel k with B = w_bits[k] by
        quantize_weights (the rule is in its docstring and docs/contract.md). w_scale (one per
        output channel, e.g. a quantization tool's) replaces the rule's scales."""
        if not isinstance(weight, np.ndarray) or weight.dtype.kind != "f":
            raise TypeError("weight must be a float numpy array [Cout, Cin/groups, kh, kw], got "
                            f"{type(weight).__name__}{'' if not isinstance(weight, np.ndarray) else ' ' + str(weight.dtype)}")
        if weight.ndim != 4:
            raise ValueError(f"weight must have shape [Cout, Cin/groups, kh, kw], got shape {weight.shape}")
        if min(weight.shape) < 1:
            raise ValueError(f"weight must have no empty dimension, got shape {weight.shape}")
        if not np.all(np.isfinite(weight)):
            raise ValueError("weight must be finite (found NaN or Inf)")
        bits = _check_w_bits(w_bits, weight.shape[0])
        if w_encoding is None:
            w_encoding = default_w_encoding(bits)
        if w_encoding not in W_ENCODINGS:
            raise ValueError(f"w_encoding must be one of {W_ENCODINGS}, got {w_encoding!r}")
        if w_scale is not None:
            w_scale = _check_scale("w_scale", w_scale, weight.shape[0])
        qw, scale = quantize_weights(weight, bits, w_encoding, w_scale=w_scale)
        return cls.from_quantized(qw, scale, w_bits=bits.tolist(), a_bits=a_bits,
                                  w_encoding=w_encoding, a_scale=a_scale, a_zero_point=a_zero_point,
                                  a_encoding=a_encoding, bias=bias, stride=stride, padding=padding,
                                  dilation=dilation, groups=groups)

    # --------------------------------------------------------------------------------- geometry
    @property
    def cout(self) -> int:
        return self._cout

    @property
    def cin(self) -> int:
        return self._cin

    @property
    def kernel_size(self) -> tuple:
        return tuple(self.qweight.shape[2:])

    @property
    def mixed(self) -> bool:
        """True when output channels carry different weight bits (kernel-wise)."""
        return bool(np.any(self.w_bits != self.w_bits[0]))

    @property
    def packed_bytes(self) -> int:
        """Bytes of packed weight bit-planes for the active ISA."""
        return int(self._native.packed_weight_bytes())

    def kernels(self) -> list:
        """The kernels conv2d runs for this plan on the active ISA: one dict per panel of output
        channels that share weight bits and group ("kernel": "bit-serial" or "int8", "w_bits",
        "group", "channels", tile "mr" x "nr", "split" 4 for the int8 tile that splits each channel's
        reduction over 4 lanes, else 1, "form": "and" for AND + popcount, "xor" or "xor-down" for the
        XOR forms of 1-bit x 1-bit panels (docs/kernels.md), "dot" for int8), or
        [{"kernel": "depthwise", ...}]."""
        return list(self._native.kernels())

    def output_hw(self, h: int, w: int) -> tuple:
        """(Ho, Wo) for an input of h x w; ValueError if the kernel does not fit the padded input."""
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel_size, self.stride, self.padding, self.dilation
        ho, wo = output_size(h, kh, sh, ph, dh), output_size(w, kw, sw, pw, dw)
        if ho < 1 or wo < 1:
            raise ValueError(f"x spatial size {h}x{w} (padded {h + 2 * ph}x{w + 2 * pw}) is smaller than the "
                             f"dilated kernel {dh * (kh - 1) + 1}x{dw * (kw - 1) + 1}")
        return ho, wo

    def __repr__(self) -> str:
        if self.mixed:
            vals, counts = np.unique(self.w_bits, return_counts=True)
            wb = "{" + ", ".join(f"{int(v)}b:{int(c)}ch" for v, c in zip(vals, counts)) + "}"
        else:
            wb = str(int(self.w_bits[0]))
        kh, kw = self.kernel_size
        geo = f"stride={self.stride}, padding={self.padding}"
        if self.dilation != (1, 1):
            geo += f", dilation={self.dilation}"
        if self.groups != 1:
            geo += f", groups={self.groups}"
        return (f"ConvPlan({self.cin}->{self.cout}, {kh}x{kw}, {geo}, w_bits={wb} {self.w_encoding}, "
                f"a_bits={self.a_bits} {self.a_encoding}, a_zero_point={self.a_zero_point}, "
                f"packed={self.packed_bytes} B)")


# ------------------------------------------------------------------------------------- conv2d
def quantize(x: np.ndarray, plan: ConvPlan) -> np.ndarray:
    """float activations -> uint8 codes with the plan's quantizer (DESIGN section 2): the contract's
    quantize_activations (bitconv.reference.int64), which conv2d's native pass matches bit for bit.

    unsigned: clip(rint(x / a_scale) + a_zero_point, 0, 2^A - 1), x converted to float32 and the
    division done in float32; binary: 1 where x >= 0. NaN is refused; +-Inf clip to the extreme codes.
    """
    return quantize_activations(x, a_bits=plan.a_bits, a_scale=plan.a_scale, a_zero_point=plan.a_zero_point,
                                a_encoding=plan.a_encoding)


# dtype instances: comparing against them is 2-3x faster than against the scalar types, which
# matters on layers of a few microseconds (native byte order only, as the kernels need).
_INPUT_DTYPES = (np.dtype(np.float32), np.dtype(np.uint8))


def conv2d(x: np.ndarray, plan: ConvPlan, *, out: str = "float", layout: str = "NCHW",
           backend: str = "native", threads: Optional[int] = None,
           next_plan: Optional[ConvPlan] = None) -> np.ndarray:
    """Bit-serial conv2d of `x` under `plan` (DESIGN.md section 2).

    x: float32 (quantized with the plan's activation quantizer) or uint8 (codes, each < 2^a_bits),
    [N, C, H, W] or, with layout="NHWC", [N, H, W, C]. out="int32" returns the exact accumulators,
    out="float" float32(a_scale * w_scale[k] * acc + bias[k]), out="codes" those float values as
    uint8 codes of next_plan's activation quantizer (exactly quantize(conv2d(..., out="float"),
    next_plan)), ready to be the next layer's input. Result in the same layout as x: a new
    C-contiguous array, whose data start on a 64-byte boundary with the native backend.
    backend="numba" runs the numba bit-serial reference. threads=None uses every CPU the process may
    run on (its affinity mask).
    """
    if not isinstance(plan, ConvPlan):
        raise TypeError(f"plan must be a bitconv.ConvPlan, got {type(plan).__name__}")
    if out == "float" or out == "int32":  # the common cases first: two compares per call
        if next_plan is not None:
            raise ValueError(f"next_plan is only used with out='codes', got out={out!r}")
    elif out == "codes":
        if next_plan is None:
            raise ValueError("out='codes' needs next_plan, the ConvPlan whose activation quantizer the codes are for")
        if not isinstance(next_plan, ConvPlan):
            raise TypeError(f"next_plan must be a bitconv.ConvPlan, got {type(next_plan).__name__}")
        if next_plan.cin != plan.cout:
            raise ValueError(f"next_plan takes Cin={next_plan.cin} channels but plan gives Cout={plan.cout}")
    else:
        raise ValueError(f"out must be 'float', 'int32' or 'codes', got {out!r}")
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    if backend not in ("native", "numba"):
        raise ValueError(f"backend must be 'native' or 'numba', got {backend!r}")
    if threads is None:
        threads = 0
    elif type(threads) is not int or threads < 1:  # the common case skips the slower checks
        threads = _check_int("threads", threads, 1)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array, got {type(x).__name__}")
    if x.dtype not in _INPUT_DTYPES:
        raise TypeError(f"x must be float32 (activations) or uint8 (codes), got {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D {layout}, got {x.ndim}-D shape {x.shape}")
    nhwc = layout == "NHWC"
    # Shape checks depend on the shape alone: done once per shape and plan.
    shape_key = (x.shape, nhwc)
    if shape_key not in plan._checked_shapes:
        _check_shape(x, plan, layout)
        if len(plan._checked_shapes) < 64:
            plan._checked_shapes.add(shape_key)

    if backend == "numba":
        if x.dtype == np.uint8:
            _check_codes(x, plan)
        codes = x if x.dtype == np.uint8 else quantize(x, plan)
        res = _conv2d_numba(codes.transpose(0, 3, 1, 2) if nhwc else codes, plan, out, nhwc)
        return quantize(res, next_plan) if out == "codes" else res

    # Any strides: the native pass quantizes (float input), transposes and packs in one go. Float
    # strides must be whole elements: numpy's aligned flag says so (and the data pointer is aligned),
    # in 30 ns where a test per stride took 400.
    if x.itemsize > 1 and not x.flags.aligned:
        x = np.ascontiguousarray(x)
    # uint8 codes >= 2^a_bits are refused by the native pass, which checks them as it packs.
    # The result is allocated by the native side, 64-byte aligned (csrc/python/module.cpp).
    if out == "codes":
        return plan._native.forward(x, nhwc, out, not nhwc, threads, next_plan._native)
    return plan._native.forward(x, nhwc, out, not nhwc, threads)


def _check_shape(x, plan, layout):
    """Validates x's shape against the plan (the native side makes the result)."""
    nhwc = layout == "NHWC"
    n, c, h, w = (x.shape[0], x.shape[3], x.shape[1], x.shape[2]) if nhwc else x.shape
    if c != plan.cin:
        raise ValueError(f"x has {c} channels (layout {layout}, shape {x.shape}) but the plan expects "
                         f"Cin={plan.cin}")
    if max(n, h + 2 * plan.padding[0], w + 2 * plan.padding[1]) > _INT32_MAX:
        raise ValueError(f"x shape {x.shape}: batch and padded spatial sizes must be below 2^31")
    if n < 1 or h < 1 or w < 1:
        raise ValueError(f"x must have a non-empty batch and spatial size, got shape {x.shape}")
    ho, wo = plan.output_hw(h, w)
    ph, pw = plan.padding
    cg = plan.cin // plan.groups
    # Bit-planes (a_bits words of 64 channels) or, for int8 panels, codes padded to whole words.
    per_pixel = plan.groups * max(plan.a_bits * (-(-cg // 64)) * 8, -(-cg // 4) * 4)
    packed_bytes = n * (h + 2 * ph) * (w + 2 * pw) * per_pixel
    out_bytes = n * ho * wo * plan.cout * 4
    in_bytes = n * h * w * c
    if max(packed_bytes, out_bytes, in_bytes) > MAX_BUFFER_BYTES:
        raise ValueError(f"x shape {x.shape} needs buffers of {max(packed_bytes, out_bytes, in_bytes)} bytes, "
                         f"more than the {MAX_BUFFER_BYTES} bytes bitconv allocates")


def _check_codes(x, plan):
    top = int(x.max())
    if top >= 2**plan.a_bits:
        # The native pass's wording (csrc/core/conv.cpp), plus the code found.
        raise ValueError(f"x holds a uint8 code >= 2^a_bits = {2**plan.a_bits}; codes must be below it "
                         f"(found {top})")


def _conv2d_numba(codes_nchw, plan, out, nhwc):
    from .reference.numba_bitserial import conv2d_numba  # numba only when asked for

    acc = conv2d_numba(codes_nchw, plan.qweight, plan.w_bits.tolist(),
                       w_encoding=plan.w_encoding, a_bits=plan.a_bits, a_encoding=plan.a_encoding,
                       a_zero_point=plan.a_zero_point, stride=plan.stride, padding=plan.padding,
                       dilation=plan.dilation, groups=plan.groups)
    res = acc.astype(np.int32) if out == "int32" else scale_output(acc, plan.a_scale, plan.w_scale, plan.bias)
    return np.ascontiguousarray(res.transpose(0, 2, 3, 1)) if nhwc else res


# ---------------------------------------------------------------------------------------- ISAs
def available_isas() -> list:
    """Kernel ISAs this build has and this CPU runs, best first."""
    return list(_native.available_isas())


def compiled_isas() -> list:
    """Kernel ISAs compiled into this build, best first (some may not run on this CPU)."""
    return list(_native.compiled_isas())


def get_isa() -> str:
    """The ISA conv2d uses now."""
    return _native.active_isa()


def set_isa(name: str) -> None:
    """Pin conv2d to one ISA ("avx512-vnni", "avx512", "avx2-vnni", "avx2", "neon-dot", "neon",
    "scalar"); "auto" restores the default (BITCONV_FORCE_ISA if set, else the best available).
    Unknown or unsupported names raise ValueError. Plans repack their weights for a new ISA on first
    use."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    _native.set_isa(name)
