"""The references themselves: the int64 oracle against hand-computed values and a naive loop, the
quantizer and the output scaling against the contract's formulas, and the numba bit-serial reference
against the int64 oracle on many random layers."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from bitconv.reference import (activation_values, conv2d_int64, output_size, quantize_activations,
                               scale_output, weight_range)
from conftest import random_codes, random_qweight


def naive_conv(codes, qweight, a_encoding="unsigned", zp=0, stride=(1, 1), padding=(0, 0),
               dilation=(1, 1), groups=1):
    """The section-2 formula as seven nested loops (tiny shapes only)."""
    n, cin, h, w = codes.shape
    cout, cg, kh, kw = qweight.shape
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, cout, ho, wo), dtype=np.int64)
    cog = cout // groups
    for b in range(n):
        for k in range(cout):
            g = k // cog
            for oh in range(ho):
                for ow in range(wo):
                    s = 0
                    for c in range(cg):
                        for i in range(kh):
                            for j in range(kw):
                                ih = oh * stride[0] - padding[0] + i * dilation[0]
                                iw = ow * stride[1] - padding[1] + j * dilation[1]
                                if 0 <= ih < h and 0 <= iw < w:
                                    q = int(codes[b, g * cg + c, ih, iw])
                                    v = 2 * q - 1 if a_encoding == "binary" else q - zp
                                    s += int(qweight[k, c, i, j]) * v
                    out[b, k, oh, ow] = s
    return out


# ---------------------------------------------------------------------------- hand-computed cases

def test_hand_plain():
    codes = np.array([[[[1, 2], [3, 0]]]], dtype=np.uint8)
    qw = np.array([[[[1, -1], [2, 0]]]], dtype=np.int8)
    assert conv2d_int64(codes, qw).tolist() == [[[[1 - 2 + 6 + 0]]]]


def test_hand_padding_is_zero_in_value_domain():
    # one pixel q=3 with zero point 1 (v=2), a 3x3 all-ones kernel, padding 1: the eight padding
    # taps contribute 0 (not -zp), so the output is 2, not 2 - 8.
    codes = np.full((1, 1, 1, 1), 3, np.uint8)
    qw = np.ones((1, 1, 3, 3), np.int8)
    assert conv2d_int64(codes, qw, a_zero_point=1, padding=1).tolist() == [[[[2]]]]


def test_hand_binary_activations():
    codes = np.array([1, 0], np.uint8).reshape(1, 2, 1, 1)          # v = +1, -1
    qw = np.array([3, 5], np.int8).reshape(1, 2, 1, 1)
    assert conv2d_int64(codes, qw, a_encoding="binary").tolist() == [[[[3 - 5]]]]
    # binary with padding: code 0 is v = -1 inside, padding is 0
    codes = np.zeros((1, 1, 1, 1), np.uint8)
    qw = np.ones((1, 1, 3, 3), np.int8)
    assert conv2d_int64(codes, qw, a_encoding="binary", padding=1).tolist() == [[[[-1]]]]


def test_hand_stride_dilation():
    codes = np.arange(25, dtype=np.uint8).reshape(1, 1, 5, 5)
    qw = np.ones((1, 1, 2, 2), np.int8)
    out = conv2d_int64(codes, qw, stride=2, dilation=2)
    assert out.tolist() == [[[[0 + 2 + 10 + 12, 2 + 4 + 12 + 14], [10 + 12 + 20 + 22, 12 + 14 + 22 + 24]]]]


def test_hand_asymmetric_geometry():
    codes = np.arange(12, dtype=np.uint8).reshape(1, 1, 3, 4)
    qw = np.array([[[[1, -1]]]], np.int8)                             # 1x2 kernel: x[j] - x[j+1]
    out = conv2d_int64(codes, qw, padding=(0, 1), stride=(1, 2))
    # padded row r: [0, x0, x1, x2, x3, 0]; columns 0, 2, 4: -x0, x1 - x2, x3
    assert out[0, 0].tolist() == [[0, -1, 3], [-4, -1, 7], [-8, -1, 11]]


def test_hand_groups():
    codes = np.array([1, 2], np.uint8).reshape(1, 2, 1, 1)
    qw = np.array([3, 5, 7, -1], np.int8).reshape(4, 1, 1, 1)         # depthwise, multiplier 2
    assert conv2d_int64(codes, qw, groups=2).ravel().tolist() == [3, 5, 14, -2]


def test_output_size():
    assert output_size(5, 3, 1, 0, 1) == 3
    assert output_size(5, 3, 2, 1, 1) == 3
    assert output_size(7, 3, 1, 0, 3) == 1
    assert output_size(2, 3, 1, 0, 1) == 0


@pytest.mark.parametrize("bits,enc,expected", [
    (1, "signed", (-1, 1)), (1, "odd", (-1, 1)), (2, "signed", (-2, 1)), (2, "odd", (-3, 3)),
    (8, "signed", (-128, 127)), (8, "odd", (-255, 255)), (4, "odd", (-15, 15)),
])
def test_weight_range(bits, enc, expected):
    assert weight_range(bits, enc) == expected


def test_int64_matches_naive_loop():
    rng = np.random.default_rng(7)
    for _ in range(40):
        groups = int(rng.choice([1, 2, 3]))
        cg, cog = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride = tuple(int(s) for s in rng.integers(1, 3, 2))
        padding = tuple(int(p) for p in rng.integers(0, 3, 2))
        dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
        h = int(rng.integers(dilation[0] * (kh - 1) + 1, 7))
        w = int(rng.integers(dilation[1] * (kw - 1) + 1, 7))
        enc = str(rng.choice(["unsigned", "binary"]))
        a_bits = 1 if enc == "binary" else int(rng.integers(1, 9))
        zp = int(rng.integers(0, 1 << a_bits)) if enc == "unsigned" else 0
        codes = random_codes(rng, (2, groups * cg, h, w), a_bits)
        qw = random_qweight(rng, (groups * cog, cg, kh, kw), int(rng.integers(1, 9)), "signed")
        got = conv2d_int64(codes, qw, a_encoding=enc, a_zero_point=zp, stride=stride, padding=padding,
                           dilation=dilation, groups=groups)
        exp = naive_conv(codes, qw, enc, zp, stride, padding, dilation, groups)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, exp)


# ---------------------------------------------------------------------------- quantizer and scaling

def test_quantize_unsigned_rounding_and_clipping():
    x = np.array([0.5, 1.5, 2.5, -0.5, -0.6, 100.0, -np.inf, np.inf, 1e30, -0.0], np.float32)
    assert quantize_activations(x, a_bits=2).tolist() == [0, 2, 2, 0, 0, 3, 0, 3, 3, 0]
    assert quantize_activations(x, a_bits=2, a_zero_point=1).tolist() == [1, 3, 3, 1, 0, 3, 0, 3, 3, 1]
    q = quantize_activations(x, a_bits=8, a_scale=0.5, a_zero_point=128)
    assert q.tolist() == [129, 131, 133, 127, 127, 255, 0, 255, 255, 128]
    assert q.dtype == np.uint8


def test_quantize_divides_in_float32():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(10000) * 40).astype(np.float32)
    for scale in (0.1, 0.3, 1.0 / 3.0, 0.7, 2.5, 0.05):
        s32 = np.float32(scale)
        for bits, zp in ((8, 0), (8, 128), (4, 7), (3, 0)):
            q = quantize_activations(x, a_bits=bits, a_scale=scale, a_zero_point=zp)
            ref = [min(max(int(np.rint(np.float32(v) / s32)) + zp, 0), (1 << bits) - 1) for v in x]
            np.testing.assert_array_equal(q, np.array(ref, np.uint8))


@pytest.mark.parametrize("x,scale,bits,zp,code", [
    # float32(x) / float32(scale) lands on a tie in float32 where the float64 quotient does not
    (-3.35, 0.1, 8, 128, 128 - 34),      # float64 quotient -33.49999990..., float32 quotient -33.5
    (1.15, 0.1, 4, 0, 12),               # float64 11.4999998..., float32 11.5 -> 12 (half to even)
    (-3.825, 0.05, 8, 128, 128 - 76),
])
def test_quantize_float32_ties(x, scale, bits, zp, code):
    assert quantize_activations(np.float32(x), a_bits=bits, a_scale=scale, a_zero_point=zp) == code


@pytest.mark.parametrize("a_scale", [0.0, -1.0, np.nan, np.inf, 1e-46, 1e39])
def test_quantize_bad_scale(a_scale):
    with pytest.raises(ValueError, match="a_scale"):
        quantize_activations(np.zeros(3, np.float32), a_bits=4, a_scale=a_scale)


def test_quantize_binary():
    x = np.array([-1.0, -0.0, 0.0, 1e-30, -1e-30, np.inf, -np.inf], np.float32)
    assert quantize_activations(x, a_bits=1, a_encoding="binary").tolist() == [0, 1, 1, 1, 0, 1, 0]


def test_quantize_nan_rejected():
    with pytest.raises(ValueError, match="x"):
        quantize_activations(np.array([0.0, np.nan], np.float32), a_bits=4)


def test_activation_values():
    q = np.array([0, 1, 2, 3], np.uint8)
    assert activation_values(q, "unsigned", 2).tolist() == [-2, -1, 0, 1]
    assert activation_values(q[:2], "binary", 0).tolist() == [-1, 1]


def test_scale_output_formula():
    acc = np.array([3, -7, 0, 2**31 - 1, -(2**31)], np.int64).reshape(1, 5, 1, 1)
    w_scale = np.array([0.2, 0.3, 0.7, 1e-3, 3.3])
    bias = np.array([0.5, -1.0, 0.25, 0.0, 7.0])
    out = scale_output(acc, 0.1, w_scale, bias)
    assert out.dtype == np.float32
    for k in range(5):
        exp = np.float32((0.1 * float(w_scale[k])) * float(acc[0, k, 0, 0]) + float(bias[k]))
        assert out[0, k, 0, 0] == exp
    # scalar w_scale, no bias, NHWC channel axis
    out = scale_output(acc.reshape(1, 1, 1, 5), 0.1, 0.2, None, channel_axis=3)
    assert out.ravel().tolist() == [np.float32(0.1 * 0.2 * float(a)) for a in acc.ravel()]


def test_scale_output_product_order():
    # (a*w)*acc and a*(w*acc) differ for some values; the contract takes the scales' product first.
    rng = np.random.default_rng(11)
    acc = rng.integers(-(2**20), 2**20, (1, 64, 4, 4))
    a_scale, w_scale = 0.1, rng.random(64) * 0.37
    out = scale_output(acc, a_scale, w_scale)
    exp = ((a_scale * w_scale)[None, :, None, None] * acc.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(out, exp)


def test_reference_import_does_not_import_numba():
    code = "import sys, bitconv.reference; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(__file__))
    code = "import sys, bitconv.conv; assert 'numba' not in sys.modules, 'numba imported by bitconv.conv'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(__file__))


# ---------------------------------------------------------------------------- numba bit-serial

@pytest.fixture(scope="module")
def conv2d_numba():
    pytest.importorskip("numba")
    from bitconv.reference.numba_bitserial import conv2d_numba
    return conv2d_numba


def _random_layer(rng):
    groups = int(rng.choice([1, 1, 1, 2, 4]))
    depthwise = rng.random() < 0.15
    cg = 1 if depthwise else int(rng.choice([1, 3, 17, 63, 64, 65, 130]))
    cog = int(rng.choice([1, 2])) if depthwise else int(rng.integers(1, 6))
    kh, kw = (int(v) for v in rng.choice([1, 2, 3, 5], 2))
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    padding = tuple(int(p) for p in rng.integers(0, 3, 2))
    dilation = tuple(int(d) for d in rng.choice([1, 1, 2], 2))
    h = max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]) + int(rng.integers(0, 5))
    w = max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]) + int(rng.integers(0, 5))
    w_enc = str(rng.choice(["signed", "odd"]))
    a_enc = "binary" if rng.random() < 0.2 else "unsigned"
    a_bits = 1 if a_enc == "binary" else int(rng.integers(1, 9))
    zp = int(rng.integers(0, 1 << a_bits)) if a_enc == "unsigned" else 0
    cout = groups * cog
    w_bits = int(rng.integers(1, 9)) if rng.random() < 0.6 else [int(b) for b in rng.integers(1, 9, cout)]
    n = int(rng.choice([1, 2]))
    codes = random_codes(rng, (n, groups * cg, h, w), a_bits)
    qw = random_qweight(rng, (cout, cg, kh, kw), w_bits, w_enc)
    geom = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return codes, qw, w_bits, w_enc, a_bits, a_enc, zp, geom


def test_numba_matches_int64_random(conv2d_numba):
    rng = np.random.default_rng(2024)
    for case in range(120):
        codes, qw, w_bits, w_enc, a_bits, a_enc, zp, geom = _random_layer(rng)
        exp = conv2d_int64(codes, qw, a_encoding=a_enc, a_zero_point=zp, **geom)
        got = conv2d_numba(codes, qw, w_bits, w_encoding=w_enc, a_bits=a_bits, a_encoding=a_enc,
                           a_zero_point=zp, **geom)
        assert got.dtype == np.int64
        assert np.array_equal(got, exp), (case, codes.shape, qw.shape, w_bits, w_enc, a_bits, a_enc, zp, geom)


@pytest.mark.parametrize("w_bits", range(1, 9))
@pytest.mark.parametrize("w_enc", ["signed", "odd"])
def test_numba_every_bit_pair(conv2d_numba, w_bits, w_enc):
    rng = np.random.default_rng(w_bits * 10 + (w_enc == "odd"))
    for a_bits in range(1, 9):
        for a_enc, zp in (("unsigned", 0), ("unsigned", (1 << a_bits) - 1), ("unsigned", (1 << a_bits) // 2),
                          ("binary", 0)):
            if a_enc == "binary" and a_bits != 1:
                continue
            codes = random_codes(rng, (1, 65, 4, 5), a_bits)
            qw = random_qweight(rng, (3, 65, 3, 3), w_bits, w_enc)
            exp = conv2d_int64(codes, qw, a_encoding=a_enc, a_zero_point=zp, padding=1)
            got = conv2d_numba(codes, qw, w_bits, w_encoding=w_enc, a_bits=a_bits, a_encoding=a_enc,
                               a_zero_point=zp, padding=1)
            assert np.array_equal(got, exp), (a_bits, a_enc, zp)


def test_numba_extreme_products(conv2d_numba):
    # every weight at its most negative value, every code at its top value: the largest sums
    for w_enc in ("signed", "odd"):
        lo, _ = weight_range(8, w_enc)
        qw = np.full((2, 129, 3, 3), lo, np.int64)
        codes = np.full((1, 129, 3, 3), 255, np.uint8)
        exp = conv2d_int64(codes, qw, padding=1)
        got = conv2d_numba(codes, qw, 8, w_encoding=w_enc, a_bits=8, padding=1)
        assert np.array_equal(got, exp)
        assert exp[0, 0, 1, 1] == lo * 255 * 129 * 9


def test_numba_rejects_out_of_range(conv2d_numba):
    with pytest.raises(ValueError, match="qweight"):
        conv2d_numba(np.zeros((1, 1, 3, 3), np.uint8), np.full((1, 1, 1, 1), 2, np.int8), 2,
                     w_encoding="signed", a_bits=2)
    with pytest.raises(ValueError, match="qweight"):
        conv2d_numba(np.zeros((1, 1, 3, 3), np.uint8), np.full((1, 1, 1, 1), 2, np.int8), 3,
                     w_encoding="odd", a_bits=2)
    with pytest.raises(ValueError, match="codes"):
        conv2d_numba(np.full((1, 1, 3, 3), 4, np.uint8), np.ones((1, 1, 1, 1), np.int8), 2,
                     w_encoding="signed", a_bits=2)
