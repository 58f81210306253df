"""Bad input is refused with ValueError / TypeError naming the argument, never a crash or a wrong
result; +/-inf activations are legal and clip to the extreme codes."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

bitconv = pytest.importorskip("bitconv")

ConvPlan = bitconv.ConvPlan
conv2d = bitconv.conv2d


def plan_3x3(cin=3, cout=4, **kw):
    args = dict(w_bits=2, a_bits=2, padding=1)
    args.update(kw)
    return ConvPlan.from_quantized(np.ones((cout, cin // args.get("groups", 1), 3, 3), np.int8), 0.5, **args)


@pytest.fixture
def plan():
    return plan_3x3()


@pytest.fixture
def codes():
    return np.zeros((1, 3, 5, 5), np.uint8)


# --------------------------------------------------------------------------- x

@pytest.mark.parametrize("shape", [(3, 5, 5), (1, 1, 3, 5, 5), (5,), ()])
def test_x_rank(plan, shape):
    with pytest.raises(ValueError, match=r"\bx\b"):
        conv2d(np.zeros(shape, np.uint8), plan)
    with pytest.raises(ValueError, match=r"\bx\b"):
        conv2d(np.zeros(shape, np.float32), plan)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int16, np.int8, np.int32, np.uint16,
                                   np.complex64, np.bool_, object])
def test_x_dtype(plan, dtype):
    with pytest.raises(TypeError, match=r"\bx\b"):
        conv2d(np.zeros((1, 3, 5, 5), dtype), plan)


def test_x_not_an_array(plan):
    with pytest.raises(TypeError, match=r"\bx\b"):
        conv2d(np.zeros((1, 3, 5, 5), np.float32).tolist(), plan)


def test_plan_not_a_plan(codes):
    with pytest.raises(TypeError, match="plan"):
        conv2d(codes, {"w_bits": 2})


@pytest.mark.parametrize("layout,shape", [("NCHW", (1, 4, 5, 5)), ("NCHW", (1, 5, 5, 3)),
                                          ("NHWC", (1, 3, 5, 5)), ("NHWC", (1, 5, 5, 2))])
def test_channel_mismatch(plan, layout, shape):
    with pytest.raises(ValueError, match=r"\bx\b"):
        conv2d(np.zeros(shape, np.uint8), plan, layout=layout)


def test_shape_check_cache_keys_the_layout(plan):
    """conv2d validates a shape once per plan; the same shape read in the other layout is checked again."""
    x = np.zeros((1, 3, 5, 5), np.uint8)
    conv2d(x, plan)                                        # valid NCHW: cached
    with pytest.raises(ValueError, match="the plan expects Cin=3"):
        conv2d(x, plan, layout="NHWC")                     # 5 channels in NHWC


@pytest.mark.parametrize("backend", ["native", "numba"])
def test_codes_out_of_range_message(backend):
    if backend == "numba":
        pytest.importorskip("numba")
    x = np.zeros((1, 3, 5, 5), np.uint8)
    x[0, 1, 2, 3] = 4
    with pytest.raises(ValueError, match=r"x holds a uint8 code >= 2\^a_bits = 4; codes must be below it"):
        conv2d(x, plan_3x3(a_bits=2), backend=backend)


@pytest.mark.parametrize("cin", [20, 64, 130, 256])
@pytest.mark.parametrize("a_bits", [1, 2])
def test_codes_out_of_range_as_packed(isa, cin, a_bits):
    """The packers check the codes they pack (bit-planes; int8 words where AVX2 takes W1A2 on int8):
    one word per pixel or several (AVX-512 ORs a wide pixel's codes and tests them once per row), a
    bad code in a full or the partial last word."""
    p = plan_3x3(cin=cin, w_bits=1, a_bits=a_bits)
    x = np.full((1, 6, 7, cin), 2**a_bits - 1, np.uint8)         # the top code: fine
    conv2d(x, p, out="int32", layout="NHWC")
    for y, xx, c in [(0, 0, 0), (5, 6, cin - 1), (2, 3, cin // 2), (4, 1, 63 % cin)]:
        bad = x.copy()
        bad[0, y, xx, c] = 2**a_bits
        with pytest.raises(ValueError, match=rf"x holds a uint8 code >= 2\^a_bits = {2**a_bits}"):
            conv2d(bad, p, out="int32", layout="NHWC")


@pytest.mark.parametrize("geom", [dict(k=3, stride=1, padding=1), dict(k=3, stride=2, padding=0),
                                  dict(k=1, stride=3, padding=0), dict(k=3, stride=1, padding=1, mult=2)])
def test_depthwise_codes_out_of_range(isa, geom):
    """Depthwise layers check codes while converting the rows they read; rows no window reads (past
    the last window, between strided rows) are checked apart. A bad code anywhere is refused, in
    channels-last and NCHW input, in full and partial 16-channel blocks, on every row."""
    k, mult = geom["k"], geom.get("mult", 1)
    cin, h = 20, 20
    p = ConvPlan.from_quantized(np.ones((cin * mult, 1, k, k), np.int8), 0.5, w_bits=2, a_bits=2, groups=cin,
                                stride=geom["stride"], padding=geom["padding"])
    assert p.kernels()[0]["kernel"] == "depthwise"
    x = np.full((2, cin, h, h), 3, np.uint8)                    # the top code: fine
    conv2d(x, p, out="int32")
    for img, c, y, xx in [(0, 0, 0, 0), (1, 19, h - 1, h - 1), (1, 5, 10, 3), (0, 17, 19, 0), (1, 16, 1, 7)]:
        bad = x.copy()
        bad[img, c, y, xx] = 4
        with pytest.raises(ValueError, match=r"x holds a uint8 code >= 2\^a_bits = 4"):
            conv2d(bad, p, out="int32")
        with pytest.raises(ValueError, match=r"x holds a uint8 code >= 2\^a_bits = 4"):
            conv2d(np.ascontiguousarray(bad.transpose(0, 2, 3, 1)), p, out="int32", layout="NHWC")


@pytest.mark.parametrize("w_bits,match", [(None, "w_bits"), (2.5, "w_bits"), ([2, 2], "w_bits"),
                                          # a str is iterable: only the type check names it whole
                                          ("4", r"w_bits must be an int or a sequence of Cout=4 ints, got '4'")])
def test_from_float_w_bits(w_bits, match):
    with pytest.raises((TypeError, ValueError), match=match):
        ConvPlan.from_float(np.ones((4, 3, 3, 3), np.float32), w_bits=w_bits, a_bits=2, a_scale=1.0)


@pytest.mark.parametrize("w_scale", [[1.0, 2.0], [[1.0, 2.0, 3.0, 4.0]], 0.0, "x"])
def test_from_float_w_scale(w_scale):
    """Given scales are checked like from_quantized's: one positive finite float per channel, named."""
    with pytest.raises((TypeError, ValueError), match="w_scale"):
        ConvPlan.from_float(np.ones((4, 3, 3, 3), np.float32), w_bits=2, a_bits=2, a_scale=1.0, w_scale=w_scale)


def test_from_float_empty_weight():
    with pytest.raises(ValueError, match="weight"):
        ConvPlan.from_float(np.ones((4, 0, 3, 3), np.float32), w_bits=2, a_bits=2, a_scale=1.0)


@pytest.mark.parametrize("name,ok", [("scalar", True), ("avx2000", False)])
def test_force_isa_environment(name, ok):
    """BITCONV_FORCE_ISA (README) pins the kernels before the first call; an unknown name is refused."""
    code = "import bitconv; print(bitconv.get_isa())"
    env = dict(os.environ, BITCONV_FORCE_ISA=name)
    # From the tests folder: the source tree's bitconv (no extension when installed) is not on the path.
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       cwd=os.path.dirname(os.path.abspath(__file__)))
    if ok:
        assert r.returncode == 0 and r.stdout.strip() == name, r.stderr
    else:
        assert r.returncode != 0 and "ValueError" in r.stderr and name in r.stderr


@pytest.mark.parametrize("shape", [(0, 3, 5, 5), (1, 3, 0, 5), (1, 3, 5, 0)])
def test_empty_x(plan, shape):
    with pytest.raises(ValueError, match=r"\bx\b"):
        conv2d(np.zeros(shape, np.uint8), plan)


@pytest.mark.parametrize("a_bits", [1, 2, 7])
def test_codes_out_of_range(a_bits):
    p = plan_3x3(a_bits=a_bits)
    x = np.zeros((2, 3, 5, 5), np.uint8)
    x[1, 2, 4, 4] = 1 << a_bits
    with pytest.raises(ValueError, match=r"\bx\b"):
        conv2d(x, p)
    x[1, 2, 4, 4] = 255
    with pytest.raises(ValueError, match=r"\bx\b"):
        conv2d(x, p, out="int32")
    x[1, 2, 4, 4] = (1 << a_bits) - 1                # the top code itself is fine
    conv2d(x, p)


def test_codes_out_of_range_nhwc_and_views():
    p = plan_3x3(a_bits=3)
    x = np.zeros((1, 5, 5, 3), np.uint8)
    x[0, 0, 0, 0] = 8
    with pytest.raises(ValueError, match=r"\bx\b"):
        conv2d(x, p, layout="NHWC")
    big = np.zeros((1, 6, 10, 10), np.uint8)
    big[0, 5, 9, 9] = 200
    with pytest.raises(ValueError, match=r"\bx\b"):
        conv2d(big[:, ::-2, ::-2, ::-2], p)


# Each native path checks codes one of two ways: the packers flag the codes they read, and the
# paths whose packing may skip codes (strided 1x1, depthwise, row-window stems) check the input.
CODE_PATHS = {
    "3x3": dict(cin=64, cout=32, k=3, stride=1, padding=1, groups=1),
    "3x3 stride 2 grouped": dict(cin=32, cout=32, k=3, stride=2, padding=1, groups=2),
    "1x1 stride 2": dict(cin=64, cout=16, k=1, stride=2, padding=0, groups=1),
    "stem 7x7": dict(cin=3, cout=16, k=7, stride=2, padding=3, groups=1),
    "depthwise": dict(cin=16, cout=16, k=3, stride=2, padding=1, groups=16),
    "depthwise 1x1 stride 3": dict(cin=16, cout=16, k=1, stride=3, padding=0, groups=16),
}


@pytest.mark.parametrize("path", sorted(CODE_PATHS))
@pytest.mark.parametrize("a_bits", [1, 3])
def test_codes_out_of_range_every_path(isa, path, a_bits):
    g = CODE_PATHS[path]
    qw = np.ones((g["cout"], g["cin"] // g["groups"], g["k"], g["k"]), np.int8)
    p = ConvPlan.from_quantized(qw, 1.0, w_bits=2, a_bits=a_bits, stride=g["stride"], padding=g["padding"],
                                groups=g["groups"])
    x = np.zeros((2, 9, 11, g["cin"]), np.uint8)
    conv2d(x, p, layout="NHWC", out="int32")
    # The last pixel of the last image: one a strided 1x1 or strided depthwise layer never reads.
    for pos in [(1, 7, 9, g["cin"] - 1), (0, 0, 0, 0), (1, 3, 5, g["cin"] // 2)]:
        bad = x.copy()
        bad[pos] = 1 << a_bits
        with pytest.raises(ValueError, match=r"\bx\b.*code"):
            conv2d(bad, p, layout="NHWC", out="int32")
        with pytest.raises(ValueError, match=r"\bx\b.*code"):
            conv2d(np.ascontiguousarray(bad.transpose(0, 3, 1, 2)), p, out="int32")


@pytest.mark.parametrize("bad", [np.nan, -np.nan])
@pytest.mark.parametrize("a_encoding,a_bits", [("unsigned", 4), ("unsigned", 2), ("unsigned", 1), ("binary", 1)])
@pytest.mark.parametrize("cin", [20, 70])
def test_nan_in_float_input(isa, bad, a_encoding, a_bits, cin):
    """On every ISA's quantizer, NCHW and channels-last, in the vector body (20 pixels) and in the
    tails (the last channel, the last pixel). 20 channels pack kernel-row windows; 70 take the
    per-pixel packers, where 1- and 2-bit NCHW input is compared straight into planes."""
    w_bits = 1 if a_encoding == "binary" else 2
    p = ConvPlan.from_quantized(np.ones((4, cin, 3, 3), np.int8), 0.5, w_bits=w_bits,
                                a_bits=a_bits, a_encoding=a_encoding, padding=1)
    for at in [(0, 1, 2, 3), (0, cin - 1, 4, 5), (0, 6, 19, 19), (0, cin - 2, 7, 19)]:
        x = np.zeros((1, cin, 20, 20), np.float32)
        x[at] = bad
        with pytest.raises(ValueError, match=r"\bx\b"):
            conv2d(x, p)
        with pytest.raises(ValueError, match=r"\bx\b"):
            conv2d(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), p, layout="NHWC")


@pytest.mark.parametrize("a_bits,zp", [(1, 0), (3, 0), (3, 2), (3, 7), (8, 128)])
def test_infinity_clips_to_extreme_codes(a_bits, zp):
    p = ConvPlan.from_quantized(np.ones((1, 1, 1, 1), np.int8), 1.0, w_bits=2, a_bits=a_bits,
                                a_scale=0.25, a_zero_point=zp)
    x = np.array([np.inf, -np.inf, np.float32(3.4e38), -np.float32(3.4e38)], np.float32).reshape(1, 1, 1, 4)
    top = (1 << a_bits) - 1
    assert conv2d(x, p, out="int32").ravel().tolist() == [top - zp, -zp, top - zp, -zp]
    assert conv2d(x, p).ravel().tolist() == [0.25 * (top - zp), 0.25 * -zp, 0.25 * (top - zp), 0.25 * -zp]


def test_infinity_binary():
    p = ConvPlan.from_quantized(np.ones((1, 1, 1, 1), np.int8), 1.0, w_bits=1, a_bits=1, a_encoding="binary")
    x = np.array([np.inf, -np.inf, 0.0, -0.0], np.float32).reshape(1, 1, 1, 4)
    assert conv2d(x, p, out="int32").ravel().tolist() == [1, -1, 1, 1]


# --------------------------------------------------------------------------- qweight

@pytest.mark.parametrize("shape", [(4, 3, 3), (4, 3, 3, 3, 1), (4,), (4, 3, 3, 0), (0, 3, 3, 3)])
def test_qweight_shape(shape):
    with pytest.raises(ValueError, match="qweight"):
        ConvPlan.from_quantized(np.ones(shape, np.int8), 1.0, w_bits=2, a_bits=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.bool_])
def test_qweight_dtype(dtype):
    with pytest.raises(TypeError, match="qweight"):
        ConvPlan.from_quantized(np.ones((4, 3, 3, 3), dtype), 1.0, w_bits=2, a_bits=2)


def test_qweight_not_an_array():
    with pytest.raises(TypeError, match="qweight"):
        ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8).tolist(), 1.0, w_bits=2, a_bits=2)


@pytest.mark.parametrize("w_bits,w_encoding,value", [
    (2, "signed", 2), (2, "signed", -3), (8, "signed", 128), (8, "signed", -129), (4, "signed", 8),
    (2, "odd", 5), (2, "odd", -5), (2, "odd", 2), (2, "odd", 0), (3, "odd", -4), (8, "odd", 256),
    (8, "odd", 254), (1, "odd", 0), (1, "odd", 3), (1, "signed", 0), (1, "signed", -2), (1, None, 0),
])
def test_qweight_out_of_range(w_bits, w_encoding, value):
    qw = np.ones((4, 3, 3, 3), np.int16)
    qw[2, 1, 0, 2] = value
    with pytest.raises(ValueError, match="qweight"):
        ConvPlan.from_quantized(qw, 1.0, w_bits=w_bits, a_bits=2, w_encoding=w_encoding)


def test_qweight_out_of_range_per_channel():
    qw = np.ones((3, 3, 1, 1), np.int16)
    qw[1] = 3                                        # fine for a 3-bit signed channel, not for 2 bits
    ConvPlan.from_quantized(qw, 1.0, w_bits=[2, 3, 2], a_bits=2, w_encoding="signed")
    with pytest.raises(ValueError, match="qweight"):
        ConvPlan.from_quantized(qw, 1.0, w_bits=[3, 2, 3], a_bits=2, w_encoding="signed")


def test_weight_extremes_are_accepted():
    for b in range(1, 9):
        for enc in ("signed", "odd"):
            lo, hi = (-(2**b - 1), 2**b - 1) if (b == 1 or enc == "odd") else (-(2 ** (b - 1)), 2 ** (b - 1) - 1)
            qw = np.array([lo, hi], np.int16).reshape(2, 1, 1, 1)
            ConvPlan.from_quantized(qw, 1.0, w_bits=b, a_bits=2, w_encoding=enc)


# --------------------------------------------------------------------------- bits, encodings, scales

NOT_INT = (TypeError, ValueError)


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (9, ValueError), (-1, ValueError), (16, ValueError),
                                     (2.5, NOT_INT), (2.0, NOT_INT), ("4", NOT_INT), (None, NOT_INT)])
def test_w_bits_range(bad, exc):
    with pytest.raises(exc, match="w_bits"):
        ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=bad, a_bits=2)


@pytest.mark.parametrize("bad", [[2, 2, 0, 2], [2, 9, 2, 2], [2, -1, 2, 2]])
def test_w_bits_per_channel_range(bad):
    with pytest.raises(ValueError, match="w_bits"):
        ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=bad, a_bits=2)
    with pytest.raises(NOT_INT, match="w_bits"):
        ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=[2, 2.5, 2, 2], a_bits=2)


@pytest.mark.parametrize("length", [0, 1, 3, 5, 8])
def test_w_bits_wrong_length(length):
    with pytest.raises(ValueError, match="w_bits"):
        ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=[2] * length, a_bits=2)
    with pytest.raises(ValueError, match="w_bits"):
        ConvPlan.from_float(np.ones((4, 3, 3, 3), np.float32), w_bits=[2] * length, a_bits=2, a_scale=1.0)


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (9, ValueError), (-1, ValueError),
                                     (2.5, NOT_INT), (None, NOT_INT)])
def test_a_bits_range(bad, exc):
    with pytest.raises(exc, match="a_bits"):
        ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=2, a_bits=bad)
    with pytest.raises(exc, match="a_bits"):
        ConvPlan.from_float(np.ones((4, 3, 3, 3), np.float32), w_bits=2, a_bits=bad, a_scale=1.0)


def test_unknown_encodings():
    qw = np.ones((4, 3, 3, 3), np.int8)
    with pytest.raises(ValueError, match="w_encoding"):
        ConvPlan.from_quantized(qw, 1.0, w_bits=2, a_bits=2, w_encoding="unsigned")
    with pytest.raises(ValueError, match="a_encoding"):
        ConvPlan.from_quantized(qw, 1.0, w_bits=2, a_bits=2, a_encoding="signed")
    with pytest.raises(ValueError, match="a_bits|a_encoding"):
        ConvPlan.from_quantized(qw, 1.0, w_bits=2, a_bits=2, a_encoding="binary")


@pytest.mark.parametrize("bad", [0.0, -1.0, -0.0, np.nan, np.inf, -np.inf])
def test_bad_scales(bad):
    qw = np.ones((4, 3, 3, 3), np.int8)
    with pytest.raises(ValueError, match="w_scale"):
        ConvPlan.from_quantized(qw, bad, w_bits=2, a_bits=2)
    with pytest.raises(ValueError, match="w_scale"):
        ConvPlan.from_quantized(qw, np.array([1.0, 0.5, bad, 2.0]), w_bits=2, a_bits=2)
    with pytest.raises(ValueError, match="a_scale"):
        ConvPlan.from_quantized(qw, 1.0, w_bits=2, a_bits=2, a_scale=bad)
    with pytest.raises(ValueError, match="a_scale"):
        ConvPlan.from_float(qw.astype(np.float32), w_bits=2, a_bits=2, a_scale=bad)


@pytest.mark.parametrize("a_scale", [1e-46, 1e39, 1e300])
def test_a_scale_beyond_float32(a_scale):
    """Activations are divided by float32(a_scale) (docs/contract.md); a scale that rounds to 0 or
    inf in float32 makes 0/0 or inf/inf = NaN quotients, so +inf would no longer give the top code."""
    with pytest.raises(ValueError, match="a_scale"):
        ConvPlan.from_quantized(np.ones((1, 1, 1, 1), np.int8), 1.0, w_bits=2, a_bits=4, a_scale=a_scale)


def test_output_scale_overflow():
    """s_k = a_scale * w_scale[k] must be finite: an infinite one gives NaN float output where acc = 0,
    which no codes output could match (docs/contract.md)."""
    qw = np.ones((2, 2, 1, 1), np.int8)
    with pytest.raises(ValueError, match=r"a_scale \* w_scale overflows float64 .*w_scale\[1\]=1e\+300"):
        ConvPlan.from_quantized(qw, [1.0, 1e300], w_bits=2, a_bits=2, a_scale=1e38)
    with pytest.raises(ValueError, match="overflows"):
        ConvPlan.from_float(np.ones((2, 2, 1, 1), np.float32), w_bits=2, a_bits=2, a_scale=1e38, w_scale=[1e300, 1.0])
    assert ConvPlan.from_quantized(qw, [1.0, 1e270], w_bits=2, a_bits=2, a_scale=1e38).cout == 2  # finite: kept


def test_scale_shape_and_type():
    qw = np.ones((4, 3, 3, 3), np.int8)
    with pytest.raises(ValueError, match="w_scale"):
        ConvPlan.from_quantized(qw, np.ones(3), w_bits=2, a_bits=2)
    with pytest.raises(ValueError, match="w_scale"):
        ConvPlan.from_quantized(qw, np.ones((4, 1)), w_bits=2, a_bits=2)
    with pytest.raises(TypeError, match="w_scale"):
        ConvPlan.from_quantized(qw, "1.0", w_bits=2, a_bits=2)
    with pytest.raises((TypeError, ValueError), match="a_scale"):
        ConvPlan.from_quantized(qw, 1.0, w_bits=2, a_bits=2, a_scale=np.ones(4))


def test_bad_bias():
    qw = np.ones((4, 3, 3, 3), np.int8)
    with pytest.raises(ValueError, match="bias"):
        ConvPlan.from_quantized(qw, 1.0, w_bits=2, a_bits=2, bias=np.ones(3))
    with pytest.raises(ValueError, match="bias"):
        ConvPlan.from_quantized(qw, 1.0, w_bits=2, a_bits=2, bias=np.array([0.0, np.nan, 0.0, 0.0]))


@pytest.mark.parametrize("a_bits,zp,exc", [(2, -1, ValueError), (2, 4, ValueError), (1, 2, ValueError),
                                           (8, 256, ValueError), (8, -128, ValueError), (4, 1.5, NOT_INT),
                                           (4, 2.0, NOT_INT)])
def test_zero_point_range(a_bits, zp, exc):
    with pytest.raises(exc, match="a_zero_point"):
        ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=2, a_bits=a_bits, a_zero_point=zp)


def test_zero_point_extremes_accepted():
    for a_bits in (1, 4, 8):
        for zp in (0, (1 << a_bits) - 1):
            ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=2, a_bits=a_bits, a_zero_point=zp)


# --------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("geom,name", [
    (dict(stride=0), "stride"), (dict(stride=-1), "stride"), (dict(stride=(1, 0)), "stride"),
    (dict(padding=-1), "padding"), (dict(padding=(0, -2)), "padding"),
    (dict(dilation=0), "dilation"), (dict(dilation=(0, 1)), "dilation"), (dict(dilation=-2), "dilation"),
    (dict(groups=0), "groups"), (dict(groups=-1), "groups"), (dict(groups=3), "groups"),
    (dict(groups=8), "groups"),
])
def test_bad_geometry(geom, name):
    with pytest.raises(ValueError, match=name):
        ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=2, a_bits=2, **geom)


@pytest.mark.parametrize("geom,name", [(dict(stride=1.5), "stride"), (dict(padding=(1, 1, 1)), "padding"),
                                       (dict(padding="same"), "padding"), (dict(dilation=(1.0, 1)), "dilation"),
                                       (dict(groups=1.5), "groups")])
def test_geometry_types(geom, name):
    with pytest.raises((TypeError, ValueError), match=name):
        ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=2, a_bits=2, **geom)


def test_groups_must_divide_input_channels():
    # Cin = 6 from qweight [4, 3, ...] with groups=2; an x whose channels do not match is refused
    p = ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=2, a_bits=2, groups=2)
    assert p.cin == 6
    with pytest.raises(ValueError, match=r"\bx\b"):
        conv2d(np.zeros((1, 5, 4, 4), np.uint8), p)


@pytest.mark.parametrize("hw,geom", [((2, 5), {}), ((5, 2), {}), ((1, 1), dict(padding=(1, 0))),
                                     ((4, 4), dict(dilation=2)), ((3, 2), dict(dilation=(1, 2), padding=(0, 1)))])
def test_kernel_larger_than_padded_input(hw, geom):
    p = ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=2, a_bits=2, **geom)
    with pytest.raises(ValueError, match="kernel"):
        conv2d(np.zeros((1, 3) + hw, np.uint8), p)
    with pytest.raises(ValueError, match="kernel"):
        conv2d(np.zeros((1,) + hw + (3,), np.float32), p, layout="NHWC")


# --------------------------------------------------------------------------- call options

@pytest.mark.parametrize("kw,name", [(dict(out="int64"), "out"), (dict(out="float32"), "out"), (dict(out=None), "out"),
                                     (dict(layout="NCWH"), "layout"), (dict(layout="nchw"), "layout"),
                                     (dict(backend="cuda"), "backend"), (dict(backend=""), "backend")])
def test_unknown_options(plan, codes, kw, name):
    with pytest.raises(ValueError, match=name):
        conv2d(codes, plan, **kw)


def test_codes_output_needs_a_matching_next_plan(plan, codes):
    """out="codes" needs next_plan (a ConvPlan taking plan's Cout channels), and next_plan is refused
    with any other out."""
    nxt = plan_3x3(cin=4, cout=2)
    with pytest.raises(ValueError, match="next_plan"):
        conv2d(codes, plan, out="codes")
    with pytest.raises(TypeError, match="next_plan"):
        conv2d(codes, plan, out="codes", next_plan=(0.5, 0, 2, False))
    with pytest.raises(ValueError, match="next_plan takes Cin=3 channels but plan gives Cout=4"):
        conv2d(codes, plan, out="codes", next_plan=plan_3x3())
    for out in ("float", "int32"):
        with pytest.raises(ValueError, match="next_plan"):
            conv2d(codes, plan, out=out, next_plan=nxt)
    assert conv2d(codes, plan, out="codes", next_plan=nxt).dtype == np.uint8


@pytest.mark.parametrize("threads,exc", [(0, ValueError), (-1, ValueError), (-8, ValueError),
                                         (1.5, NOT_INT), ("2", NOT_INT)])
def test_bad_threads(plan, codes, threads, exc):
    with pytest.raises(exc, match="threads"):
        conv2d(codes, plan, threads=threads)


def test_set_isa_unknown():
    with pytest.raises(ValueError):
        bitconv.set_isa("avx1024")
    assert bitconv.get_isa() in bitconv.available_isas()


# --------------------------------------------------------------------------- sizes

def test_int32_accumulator_overflow_refused_at_build():
    # K * max|qw| * max|v| with K = Cin/groups * kh * kw
    # 8-bit odd weights (max 255) x 8-bit codes (max |v| 255): the limit is K = 33025
    ok = np.full((1, 1321, 5, 5), 255, np.int16)       # K = 33025: 2147450625 < 2^31
    ConvPlan.from_quantized(ok, 1.0, w_bits=8, a_bits=8, w_encoding="odd")
    bad = np.ones((1, 16513, 1, 2), np.int16)          # K = 33026: 2147515650 >= 2^31
    with pytest.raises(ValueError, match="overflow|accumulator"):
        ConvPlan.from_quantized(bad, 1.0, w_bits=8, a_bits=8, w_encoding="odd")
    # the zero point sets max|v|: codes 0..255 with zp 255 give v down to -255
    with pytest.raises(ValueError, match="overflow|accumulator"):
        ConvPlan.from_quantized(bad, 1.0, w_bits=8, a_bits=8, w_encoding="odd", a_zero_point=255)
    # 8-bit signed (max |qw| = 128), 8-bit codes, 3x3 and Cin = 8192: K = 73728
    with pytest.raises(ValueError, match="overflow|accumulator"):
        ConvPlan.from_quantized(np.ones((2, 8192, 3, 3), np.int8), 1.0, w_bits=8, a_bits=8)
    # per-channel bits: one 8-bit channel is enough to overflow
    with pytest.raises(ValueError, match="overflow|accumulator"):
        ConvPlan.from_quantized(np.ones((2, 8192, 3, 3), np.int8), 1.0, w_bits=[1, 8], a_bits=8)
    # from_float goes through the same check
    with pytest.raises(ValueError, match="overflow|accumulator"):
        ConvPlan.from_float(np.ones((1, 8192, 3, 3), np.float32), w_bits=8, a_bits=8, a_scale=1.0)


def _run_isolated(body):
    """Run `body` in a fresh interpreter with a 3 GiB address-space limit; return its stdout.

    A crash (segfault, abort) shows as a negative return code instead of killing the test run."""
    script = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        import numpy as np, bitconv
        def attempt(fn):
            try:
                fn()
            except (ValueError, MemoryError) as e:
                print(type(e).__name__, str(e)[:200].replace("\\n", " "))
            except Exception as e:
                print("OTHER", type(e).__name__, str(e)[:200].replace("\\n", " "))
            else:
                print("NO ERROR")
            sys.stdout.flush()
    """) + textwrap.dedent(body)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                       cwd=os.path.dirname(__file__))  # not the checkout: import the installed package
    assert r.returncode == 0, f"crashed with return code {r.returncode}\n{r.stdout}\n{r.stderr[-2000:]}"
    return r.stdout.strip().splitlines()


def test_huge_fake_shapes_refused():
    lines = _run_isolated("""
        p = bitconv.ConvPlan.from_quantized(np.ones((4, 3, 3, 3), np.int8), 1.0, w_bits=2, a_bits=2, padding=1)
        p1 = bitconv.ConvPlan.from_quantized(np.ones((4, 3, 1, 1), np.int8), 1.0, w_bits=2, a_bits=2)
        z8 = np.zeros((1,) * 4, np.uint8)
        zf = np.zeros((1,) * 4, np.float32)
        attempt(lambda: bitconv.conv2d(np.broadcast_to(z8, (2**40, 3, 8, 8)), p))
        attempt(lambda: bitconv.conv2d(np.broadcast_to(zf, (2**40, 3, 8, 8)), p, out="int32"))
        attempt(lambda: bitconv.conv2d(np.broadcast_to(z8, (2**62 // 3, 3, 1, 1)), p1))
        attempt(lambda: bitconv.conv2d(np.broadcast_to(z8, (1, 3, 2**31 + 7, 1)), p1, out="int32"))
        attempt(lambda: bitconv.conv2d(np.broadcast_to(z8, (1, 3, 1, 2**33)), p1))
        attempt(lambda: bitconv.conv2d(np.broadcast_to(z8, (1, 2**31 + 1, 2**31 + 1, 3)), p1, layout="NHWC"))
        attempt(lambda: bitconv.conv2d(np.broadcast_to(z8, (2**20, 3, 2**12, 2**12)), p, threads=1))
    """)
    assert len(lines) == 7, lines
    for line in lines:
        assert line.split()[0] in ("ValueError", "MemoryError"), lines


def test_dimension_beyond_int32_names_x():
    """A spatial size past 2^31 - 1 with a tiny output (huge stride): only the input is big (2 GiB
    of codes once made contiguous), so the size itself must be refused, with a message naming x,
    not truncated into a wrong shape or a bogus geometry error."""
    lines = _run_isolated("""
        z8 = np.zeros((1,) * 4, np.uint8)
        ph = bitconv.ConvPlan.from_quantized(np.ones((1, 1, 1, 1), np.int8), 1.0, w_bits=1, a_bits=1, stride=(2**20, 1))
        pw = bitconv.ConvPlan.from_quantized(np.ones((1, 1, 1, 1), np.int8), 1.0, w_bits=1, a_bits=1, stride=(1, 2**20))
        attempt(lambda: bitconv.conv2d(np.broadcast_to(z8, (1, 1, 2**31 + 7, 1)), ph, out="int32"))
        attempt(lambda: bitconv.conv2d(np.broadcast_to(z8, (1, 1, 2**32 + 7, 1)), ph, out="int32"))
        attempt(lambda: bitconv.conv2d(np.broadcast_to(z8, (1, 1, 1, 2**31 + 7)), pw, out="int32"))
    """)
    assert len(lines) == 3, lines
    for line in lines:
        kind, _, msg = line.partition(" ")
        assert kind == "MemoryError" or (kind == "ValueError" and re.search(r"\bx\b", msg)), lines


def test_huge_fake_weights_refused():
    lines = _run_isolated("""
        z = np.ones((1,) * 4, np.int8)
        build = lambda shape: bitconv.ConvPlan.from_quantized(np.broadcast_to(z, shape), 1.0, w_bits=1, a_bits=1)
        attempt(lambda: build((2**40, 3, 3, 3)))
        attempt(lambda: build((1, 2**40, 1, 1)))
        attempt(lambda: build((2**31 + 1, 1, 1, 1)))
    """)
    assert len(lines) == 3, lines
    for line in lines:
        assert line.split()[0] in ("ValueError", "MemoryError"), lines
