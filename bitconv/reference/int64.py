"""Plain numpy int64 reference for the conv2d contract (DESIGN.md section 2).

Nothing here knows about bit-planes or popcounts: activations are turned into their integer values,
padded with zeros in the value domain, and multiplied with the integer weights in int64. This is the
oracle every other implementation (native kernels per ISA, the numba bit-serial reference) is
compared against, bit for bit.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..geometry import output_size

__all__ = [
    "quantize_activations",
    "activation_values",
    "conv2d_int64",
    "output_size",
    "scale_output",
    "weight_range",
]

_A_ENCODINGS = ("unsigned", "binary")


def _pair(value, name):
    """An int or an (h, w) pair of ints, as a tuple of two python ints."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if len(items) != 2 or not all(
        isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool) for v in items
    ):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(items[0]), int(items[1])


def _check_a_bits(a_bits):
    if isinstance(a_bits, bool) or not isinstance(a_bits, (numbers.Integral, np.integer)):
        raise TypeError(f"a_bits must be an integer, got {a_bits!r}")
    if not 1 <= int(a_bits) <= 8:
        raise ValueError(f"a_bits must be in 1..8, got {a_bits}")
    return int(a_bits)


def _check_a_encoding(a_encoding, a_bits=None):
    if a_encoding not in _A_ENCODINGS:
        raise ValueError(f"a_encoding must be one of {_A_ENCODINGS}, got {a_encoding!r}")
    if a_encoding == "binary" and a_bits is not None and a_bits != 1:
        raise ValueError(f"a_encoding='binary' needs a_bits=1, got a_bits={a_bits}")


def quantize_activations(x, *, a_bits, a_scale=1.0, a_zero_point=0, a_encoding="unsigned"):
    """Float32 activations to uint8 codes, exactly as docs/contract.md says.

    unsigned: ``q = clip(rint(x / a_scale) + a_zero_point, 0, 2^A - 1)`` with x float32 and the
    division done in float32 (``x / float32(a_scale)``: what numpy does for a float32 array divided
    by a Python float), rounding half to even.
    binary:   ``q = 1 if x >= 0 else 0`` (so -0.0 gives 1).
    Other float dtypes are first converted to float32. NaN has no code and raises ValueError;
    +/-inf clip to the extreme codes.
    """
    a_bits = _check_a_bits(a_bits)
    _check_a_encoding(a_encoding, a_bits)
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"x must be a real numeric array, got dtype {x.dtype}")
    x = x.astype(np.float32)
    if np.isnan(x).any():
        raise ValueError("x contains NaN, which has no activation code")
    if a_encoding == "binary":
        return (x >= 0).astype(np.uint8)
    a_scale = float(a_scale)
    if not (np.isfinite(a_scale) and a_scale > 0):
        raise ValueError(f"a_scale must be a positive finite number, got {a_scale}")
    with np.errstate(over="ignore"):
        s32 = np.float32(a_scale)
    if not (np.isfinite(s32) and s32 > 0):
        raise ValueError(f"a_scale={a_scale} is 0 or inf once rounded to float32")
    qmax = (1 << a_bits) - 1
    zp = int(a_zero_point)
    if not 0 <= zp <= qmax:
        raise ValueError(f"a_zero_point must be in [0, {qmax}], got {zp}")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        t = x / np.float32(a_scale)          # one correctly rounded float32 division
        t = np.rint(t).astype(np.float64)    # round half to even (exact in float32), then widen
    t = t + float(zp)                        # exact in float64
    t = np.clip(t, 0.0, float(qmax))         # +/-inf clip to the extremes
    return t.astype(np.uint8)


def activation_values(codes, a_encoding="unsigned", a_zero_point=0):
    """Codes to the integer values they stand for: ``q - zp`` (unsigned) or ``2q - 1`` (binary)."""
    _check_a_encoding(a_encoding)
    q = np.asarray(codes).astype(np.int64)
    if a_encoding == "binary":
        return 2 * q - 1
    return q - int(a_zero_point)


def weight_range(w_bits, w_encoding):
    """(lowest, highest) integer weight for one channel's bits; odd encodings use only odd values.

    signed: [-2^(B-1), 2^(B-1) - 1]; odd (and every B = 1 channel): [-(2^B - 1), 2^B - 1].
    """
    b = int(w_bits)
    if w_encoding == "odd" or b == 1:
        return -((1 << b) - 1), (1 << b) - 1
    if w_encoding != "signed":
        raise ValueError(f"w_encoding must be 'signed' or 'odd', got {w_encoding!r}")
    return -(1 << (b - 1)), (1 << (b - 1)) - 1


def conv2d_int64(codes, qweight, *, a_encoding="unsigned", a_zero_point=0, stride=1, padding=0,
                 dilation=1, groups=1):
    """Exact integer conv2d: ``acc[n, k, oh, ow]`` as in DESIGN.md section 2, int64 NCHW.

    codes: uint8 (or any integer) array [N, Cin, H, W]; qweight: integer array
    [Cout, Cin/groups, kh, kw]. Padding is zero in the *value* domain: the values
    ``v = q - zp`` (or ``2q - 1``) are padded, not the codes.
    """
    codes = np.asarray(codes)
    qweight = np.asarray(qweight)
    if codes.ndim != 4:
        raise ValueError(f"codes must be 4-D [N, Cin, H, W], got shape {codes.shape}")
    if qweight.ndim != 4:
        raise ValueError(f"qweight must be 4-D [Cout, Cin/groups, kh, kw], got shape {qweight.shape}")
    if codes.dtype.kind not in "iu" or qweight.dtype.kind not in "iu":
        raise TypeError("codes and qweight must be integer arrays")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if dh < 1 or dw < 1:
        raise ValueError(f"dilation must be >= 1, got {dilation}")
    n, cin, h, w = codes.shape
    cout, cg, kh, kw = qweight.shape
    groups = int(groups)
    if groups < 1 or cin % groups or cout % groups:
        raise ValueError(f"groups={groups} must divide Cin={cin} and Cout={cout}")
    if cg != cin // groups:
        raise ValueError(f"qweight has {cg} input channels per group, codes give {cin // groups}")
    ho = output_size(h, kh, sh, ph, dh)
    wo = output_size(w, kw, sw, pw, dw)
    if ho < 1 or wo < 1:
        raise ValueError("the kernel is larger than the padded input")

    v = activation_values(codes, a_encoding, a_zero_point)
    v = np.pad(v, ((0, 0), (0, 0), (ph, ph), (pw, pw)))          # zeros in the value domain
    v = v.reshape(n, groups, cg, h + 2 * ph, w + 2 * pw)
    wq = qweight.astype(np.int64).reshape(groups, cout // groups, cg, kh, kw)

    acc = np.zeros((n, groups, cout // groups, ho * wo), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            # the input pixels tap (i, j) sees for every output pixel: [N, G, Cg, Ho, Wo]
            patch = v[:, :, :, r0:r0 + (ho - 1) * sh + 1:sh, c0:c0 + (wo - 1) * sw + 1:sw]
            patch = patch.reshape(n, groups, cg, ho * wo)
            # [G, Cout/G, Cg] @ [N, G, Cg, Ho*Wo] -> [N, G, Cout/G, Ho*Wo], all int64
            acc += np.matmul(wq[:, :, :, i, j], patch)
    return acc.reshape(n, cout, ho, wo)


def scale_output(acc, a_scale, w_scale, bias=None, *, channel_axis=1):
    """``float32(float64(a_scale) * float64(w_scale[k]) * float64(acc) + float64(bias[k]))``.

    The product of the two scales is formed first (float64), then multiplied by the accumulator,
    then the bias is added, and the single rounding to float32 comes last.
    """
    acc = np.asarray(acc)
    cout = acc.shape[channel_axis]
    ws = np.broadcast_to(np.asarray(w_scale, dtype=np.float64), (cout,))
    b = np.zeros(cout) if bias is None else np.broadcast_to(np.asarray(bias, dtype=np.float64), (cout,))
    shape = [1] * acc.ndim
    shape[channel_axis] = cout
    scale = (np.float64(a_scale) * ws).reshape(shape)
    return (scale * acc.astype(np.float64) + b.reshape(shape)).astype(np.float32)
