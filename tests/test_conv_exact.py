"""conv2d is exact: every ISA, pinned in turn, against the int64 reference, bit for bit.

Named edge cases follow the kernels' tile edges (8/16/32/48/64 output channels, 1-8 output pixels,
64-bit channel words), then seeded random layers cover what the named cases combine only sparsely.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

bitconv = pytest.importorskip("bitconv")

from bitconv.reference import conv2d_int64, quantize_activations, scale_output, weight_range  # noqa: E402
from conftest import per_channel_bits, random_codes, random_qweight  # noqa: E402

ConvPlan = bitconv.ConvPlan
conv2d = bitconv.conv2d


def make_plan(qw, *, w_bits, w_enc, a_bits, a_enc="unsigned", zp=0, geom=None, w_scale=1.0,
              a_scale=1.0, bias=None):
    return ConvPlan.from_quantized(qw, w_scale, w_bits=w_bits, a_bits=a_bits, w_encoding=w_enc,
                                   a_scale=a_scale, a_zero_point=zp, a_encoding=a_enc, bias=bias,
                                   **(geom or {}))


def reference(codes, qw, a_enc="unsigned", zp=0, geom=None):
    return conv2d_int64(codes, qw, a_encoding=a_enc, a_zero_point=zp, **(geom or {}))


def check(codes, qw, *, w_bits, w_enc, a_bits, a_enc="unsigned", zp=0, geom=None, threads=None,
          what=""):
    """Build the plan, run int32 conv2d, compare with the int64 reference; returns (plan, acc)."""
    plan = make_plan(qw, w_bits=w_bits, w_enc=w_enc, a_bits=a_bits, a_enc=a_enc, zp=zp, geom=geom)
    exp = reference(codes, qw, a_enc, zp, geom)
    got = conv2d(codes, plan, out="int32", threads=threads)
    assert got.dtype == np.int32 and got.shape == exp.shape, (got.dtype, got.shape, exp.shape)
    if not np.array_equal(got, exp):
        bad = np.argwhere(got != exp)
        pytest.fail(f"{what} mismatch at {len(bad)} positions, first {tuple(bad[0])}: got "
                    f"{got[tuple(bad[0])]} want {exp[tuple(bad[0])]}; codes {codes.shape}, qweight "
                    f"{qw.shape}, w_bits={w_bits}, {w_enc}, a_bits={a_bits}, {a_enc}, zp={zp}, {geom}")
    return plan, exp


def layer(rng, *, cin=33, cout=17, k=(3, 3), hw=(5, 7), n=1, w_bits=3, w_enc="signed", a_bits=2,
          groups=1):
    qw = random_qweight(rng, (cout, cin // groups) + tuple(k), w_bits, w_enc)
    codes = random_codes(rng, (n, cin) + tuple(hw), a_bits)
    return codes, qw


# --------------------------------------------------------------------------- bits and encodings

def test_every_bit_pair(isa):
    """All 64 (w_bits, a_bits) pairs, both weight encodings, rotating through zero points."""
    rng = np.random.default_rng(1)
    for wb in range(1, 9):
        for ab in range(1, 9):
            for w_enc in ("signed", "odd"):
                zp = (0, (1 << ab) - 1, (1 << ab) // 2)[(wb + ab) % 3]
                codes, qw = layer(rng, cin=33, cout=17, w_bits=wb, w_enc=w_enc, a_bits=ab)
                check(codes, qw, w_bits=wb, w_enc=w_enc, a_bits=ab, zp=zp, geom=dict(padding=1),
                      what=f"[{isa}] w{wb}a{ab}")


@pytest.mark.parametrize("w_enc", ["signed", "odd"])
def test_per_channel_bits(isa, w_enc):
    rng = np.random.default_rng(2)
    for cout in (3, 9, 17, 33, 49, 65):
        for ab in (1, 2, 4, 8):
            bits = [int(b) for b in rng.integers(1, 9, cout)]
            codes, qw = layer(rng, cin=35, cout=cout, w_bits=bits, w_enc=w_enc, a_bits=ab)
            check(codes, qw, w_bits=bits, w_enc=w_enc, a_bits=ab, zp=int(rng.integers(0, 1 << ab)),
                  geom=dict(padding=1), what=f"[{isa}] per-channel {bits}")
    # few distinct widths interleaved, and all-1-bit channels mixed with 8-bit ones
    for bits in ([1, 8] * 12, [2] * 7 + [5] * 9 + [2] * 1, [8] * 16 + [1], [1] * 33):
        codes, qw = layer(rng, cin=64, cout=len(bits), w_bits=bits, w_enc=w_enc, a_bits=3)
        check(codes, qw, w_bits=bits, w_enc=w_enc, a_bits=3, zp=4, geom=dict(padding=(1, 0)),
              what=f"[{isa}] per-channel {bits}")


@pytest.mark.parametrize("w_enc", ["signed", "odd"])
@pytest.mark.parametrize("a_enc,zp_kind", [("unsigned", "zero"), ("unsigned", "mid"),
                                           ("unsigned", "max"), ("binary", "zero")])
def test_encodings_and_zero_points(isa, w_enc, a_enc, zp_kind):
    rng = np.random.default_rng(3)
    for wb in (1, 2, 3, 8):
        for ab in ((1,) if a_enc == "binary" else (1, 3, 8)):
            zp = {"zero": 0, "mid": (1 << ab) // 2, "max": (1 << ab) - 1}[zp_kind]
            for geom in (dict(padding=0), dict(padding=2), dict(padding=(2, 1), stride=2)):
                codes, qw = layer(rng, cin=65, cout=19, w_bits=wb, w_enc=w_enc, a_bits=ab)
                check(codes, qw, w_bits=wb, w_enc=w_enc, a_bits=ab, a_enc=a_enc, zp=zp, geom=geom,
                      what=f"[{isa}]")


def test_extreme_operands(isa):
    """Constant extreme weights and codes: every product at its most negative / positive."""
    for w_enc in ("signed", "odd"):
        for wb in (1, 2, 7, 8):
            lo, hi = weight_range(wb, w_enc)
            for ab in (1, 2, 8):
                top = (1 << ab) - 1
                for wval, cval, zp in ((lo, top, 0), (hi, top, 0), (lo, 0, top), (hi, 0, top),
                                       (lo, top, top // 2)):
                    qw = np.full((17, 129, 3, 3), wval, np.int16)
                    codes = np.full((1, 129, 4, 6), cval, np.uint8)
                    check(codes, qw, w_bits=wb, w_enc=w_enc, a_bits=ab, zp=zp, geom=dict(padding=1),
                          what=f"[{isa}] const w={wval} q={cval}")


@pytest.mark.parametrize("w_enc,wb,cin,k,wval,cval,zp", [
    ("odd", 8, 1321, (5, 5), -255, 255, 0),      # K = 33025, |acc| = 2147450625, the largest plan allowed
    ("odd", 8, 1321, (5, 5), 255, 255, 0),
    ("odd", 8, 1321, (5, 5), -255, 0, 255),
    ("signed", 8, 7310, (3, 3), -128, 255, 0),   # K = 65790, |acc| = 2147385600
    ("signed", 8, 7310, (3, 3), -128, 0, 255),
    ("signed", 8, 7310, (3, 3), 127, 0, 255),
])
def test_accumulator_near_int32_limit(isa, w_enc, wb, cin, k, wval, cval, zp):
    """Sums just inside int32: any narrower intermediate accumulator in a kernel shows up here."""
    qw = np.full((9, cin) + k, wval, np.int16)
    qw[1::2] = -wval if w_enc == "odd" or wval != -128 else 127
    codes = np.full((1, cin) + k, cval, np.uint8)
    _, exp = check(codes, qw, w_bits=wb, w_enc=w_enc, a_bits=8, zp=zp, geom=dict(padding=1),
                   what=f"[{isa}] near 2^31")
    assert max(abs(int(exp.max())), abs(int(exp.min()))) >= 2_000_000_000


# --------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("k", [(1, 1), (3, 3), (5, 5), (1, 3), (3, 1), (2, 5)])
def test_kernel_shapes(isa, k):
    rng = np.random.default_rng(4)
    for geom in (dict(), dict(padding=1), dict(padding=2, stride=2), dict(padding=(0, 2), stride=(1, 3)),
                 dict(dilation=2, padding=2), dict(stride=3, padding=(1, 0))):
        for wb, ab in ((1, 1), (2, 3), (4, 2), (8, 8)):
            codes, qw = layer(rng, cin=31, cout=18, k=k, hw=(6, 8), w_bits=wb, a_bits=ab)
            check(codes, qw, w_bits=wb, w_enc="signed", a_bits=ab, zp=(1 << ab) // 2, geom=geom,
                  what=f"[{isa}] kernel {k}")


@pytest.mark.parametrize("stride", [1, 2, 3, (1, 2), (3, 1)])
@pytest.mark.parametrize("padding", [0, 1, 2, (0, 1), (2, 0)])
def test_stride_padding(isa, stride, padding):
    rng = np.random.default_rng(5)
    for dilation in (1, 2, (2, 1)):
        codes, qw = layer(rng, cin=20, cout=9, hw=(7, 9), w_bits=3, a_bits=2)
        check(codes, qw, w_bits=3, w_enc="signed", a_bits=2, zp=1,
              geom=dict(stride=stride, padding=padding, dilation=dilation), what=f"[{isa}]")
        codes, qw = layer(rng, cin=20, cout=9, hw=(7, 9), w_bits=1, a_bits=1)
        check(codes, qw, w_bits=1, w_enc="odd", a_bits=1, a_enc="binary",
              geom=dict(stride=stride, padding=padding, dilation=dilation), what=f"[{isa}] binary")



@pytest.mark.parametrize("padding", [0, 1, (1, 0), (0, 1), 2])
def test_w1a1_strips(isa, padding):
    """W1A1 layers wide enough for strips of whole tiles, which run in a loop of their own: every
    strip of {0,1} codes, and of binary codes the tiles whose windows lie inside the input (the strip
    cut where the border columns begin, padding only on rows letting strips span rows); channel
    blocks of 16, 24 (partial) and 64; taps x cg even (the binary loop) and odd (the common tile);
    1 and 2 threads."""
    rng = np.random.default_rng(23)
    for cin in (32, 9):  # 3x3 taps x cg: 288 even, 81 odd
        for cout in (16, 24, 64):
            codes, qw = layer(rng, cin=cin, cout=cout, hw=(9, 43), w_bits=1, w_enc="odd", a_bits=1)
            for a_enc in ("binary", "unsigned"):
                for threads in (1, 2):
                    check(codes, qw, w_bits=1, w_enc="odd", a_bits=1, a_enc=a_enc, geom=dict(padding=padding),
                          threads=threads, what=f"[{isa}] {a_enc} cin={cin} cout={cout} threads={threads}")

def test_kernel_equals_padded_input(isa):
    """Output 1x1 where the dilated kernel exactly covers the padded input, and padding wider
    than the input (whole rows of padding)."""
    rng = np.random.default_rng(6)
    for hw, k, geom in (((3, 3), (3, 3), {}), ((1, 1), (3, 3), dict(padding=1)),
                        ((2, 5), (5, 5), dict(padding=(2, 0))), ((1, 1), (5, 5), dict(padding=2)),
                        ((5, 5), (3, 3), dict(dilation=2)), ((1, 2), (1, 1), dict(padding=2))):
        for ab, zp in ((2, 3), (1, 0)):
            codes, qw = layer(rng, cin=9, cout=5, k=k, hw=hw, w_bits=4, a_bits=ab)
            check(codes, qw, w_bits=4, w_enc="signed", a_bits=ab, zp=zp, geom=geom, what=f"[{isa}] {hw}")


@pytest.mark.parametrize("cin,groups,cout", [
    (4, 2, 4), (32, 4, 16), (66, 3, 9), (130, 2, 10),       # grouped
    (1, 1, 1), (8, 8, 8), (33, 33, 33), (64, 64, 64), (65, 65, 65), (17, 17, 34), (64, 64, 128),
    (129, 129, 258),                                        # depthwise, multiplier 1 and 2
])
def test_groups(isa, cin, groups, cout):
    rng = np.random.default_rng(7)
    for wb, w_enc, ab, zp, geom in ((3, "signed", 2, 1, dict(padding=1)),
                                    (1, "odd", 1, 0, dict(padding=1, stride=2)),
                                    (8, "signed", 8, 200, dict(padding=2, dilation=2)),
                                    (2, "odd", 4, 15, dict())):
        codes, qw = layer(rng, cin=cin, cout=cout, groups=groups, w_bits=wb, w_enc=w_enc, a_bits=ab)
        check(codes, qw, w_bits=wb, w_enc=w_enc, a_bits=ab, zp=zp, geom=dict(geom, groups=groups),
              what=f"[{isa}] groups={groups}")
    # binary activations with groups
    codes, qw = layer(rng, cin=cin, cout=cout, groups=groups, w_bits=1, w_enc="odd", a_bits=1)
    check(codes, qw, w_bits=1, w_enc="odd", a_bits=1, a_enc="binary", geom=dict(padding=1, groups=groups),
          what=f"[{isa}] binary groups={groups}")
    # per-channel bits with groups
    bits = [int(b) for b in rng.integers(1, 9, cout)]
    codes, qw = layer(rng, cin=cin, cout=cout, groups=groups, w_bits=bits, a_bits=3)
    check(codes, qw, w_bits=bits, w_enc="signed", a_bits=3, zp=2, geom=dict(padding=1, groups=groups),
          what=f"[{isa}] per-channel groups={groups}")


# --------------------------------------------------------------------------- tile edges

CIN_EDGES = [1, 31, 32, 33, 63, 64, 65, 127, 128, 129]
COUT_EDGES = list(range(1, 18)) + [31, 32, 33, 47, 48, 49, 63, 64, 65, 127, 128, 129]


@pytest.mark.parametrize("cin", CIN_EDGES)
def test_input_channel_edges(isa, cin):
    rng = np.random.default_rng(100 + cin)
    for cout, wb, ab, w_enc in ((7, 2, 2, "signed"), (33, 1, 3, "odd"), (64, 5, 1, "signed"),
                                (129, 3, 8, "odd")):
        codes, qw = layer(rng, cin=cin, cout=cout, hw=(4, 5), w_bits=wb, w_enc=w_enc, a_bits=ab)
        check(codes, qw, w_bits=wb, w_enc=w_enc, a_bits=ab, zp=(1 << ab) - 1, geom=dict(padding=1),
              what=f"[{isa}] cin={cin}")


@pytest.mark.parametrize("cout", COUT_EDGES)
def test_output_channel_edges(isa, cout):
    rng = np.random.default_rng(200 + cout)
    for cin, wb, ab, w_enc, zp in ((5, 3, 2, "signed", 1), (64, 1, 1, "odd", 0), (65, 8, 4, "signed", 9)):
        codes, qw = layer(rng, cin=cin, cout=cout, hw=(3, 5), w_bits=wb, w_enc=w_enc, a_bits=ab)
        check(codes, qw, w_bits=wb, w_enc=w_enc, a_bits=ab, zp=zp, geom=dict(padding=1),
              what=f"[{isa}] cout={cout}")
    # per-channel bits at this width
    bits = [int(b) for b in np.random.default_rng(cout).integers(1, 9, cout)]
    codes, qw = layer(rng, cin=40, cout=cout, hw=(3, 4), w_bits=bits, w_enc="odd", a_bits=2)
    check(codes, qw, w_bits=bits, w_enc="odd", a_bits=2, zp=2, geom=dict(padding=1),
          what=f"[{isa}] cout={cout} per-channel")


@pytest.mark.parametrize("wo", list(range(1, 10)) + [15, 16, 17])
def test_output_width_edges(isa, wo):
    rng = np.random.default_rng(300 + wo)
    for ho, k, geom in ((1, (1, 1), {}), (2, (3, 3), dict(padding=1)), (3, (3, 3), {}),
                        (2, (1, 3), dict(stride=2, padding=(0, 1)))):
        s = geom.get("stride", 1)
        p = geom.get("padding", 0)
        pw = p[1] if isinstance(p, tuple) else p
        ph = p[0] if isinstance(p, tuple) else p
        w = (wo - 1) * s + k[1] - 2 * pw
        h = (ho - 1) * s + k[0] - 2 * ph
        for cout, wb, ab in ((16, 2, 2), (17, 1, 1), (48, 4, 3)):
            codes, qw = layer(rng, cin=34, cout=cout, k=k, hw=(h, w), w_bits=wb, a_bits=ab)
            _, exp = check(codes, qw, w_bits=wb, w_enc="signed", a_bits=ab, zp=1, geom=geom,
                           what=f"[{isa}] wo={wo}")
            assert exp.shape[2:] == (ho, wo)


@pytest.mark.parametrize("n", [1, 3])
def test_batch(isa, n):
    rng = np.random.default_rng(8)
    for wb, ab in ((1, 1), (3, 2), (8, 8)):
        codes, qw = layer(rng, cin=65, cout=33, n=n, w_bits=wb, a_bits=ab)
        check(codes, qw, w_bits=wb, w_enc="signed", a_bits=ab, zp=1, geom=dict(padding=1, stride=(1, 2)),
              what=f"[{isa}] batch {n}")
    # each image of the batch equals the same image run alone
    codes, qw = layer(rng, cin=20, cout=10, n=n, w_bits=2, a_bits=2)
    plan = make_plan(qw, w_bits=2, w_enc="signed", a_bits=2, zp=1, geom=dict(padding=1))
    full = conv2d(codes, plan, out="int32")
    for b in range(n):
        assert np.array_equal(full[b:b + 1], conv2d(codes[b:b + 1], plan, out="int32"))


# --------------------------------------------------------------------------- layouts, views, threads

def test_nhwc_equals_nchw(isa):
    rng = np.random.default_rng(9)
    for cin, cout, wb, ab, a_enc in ((33, 17, 3, 2, "unsigned"), (64, 48, 1, 1, "binary"), (5, 65, 8, 8, "unsigned")):
        codes, qw = layer(rng, cin=cin, cout=cout, n=2, w_bits=wb, a_bits=ab)
        plan = make_plan(qw, w_bits=wb, w_enc="signed", a_bits=ab, a_enc=a_enc, geom=dict(padding=1),
                         w_scale=rng.random(cout) + 0.1, a_scale=0.3, bias=rng.standard_normal(cout))
        nchw = conv2d(codes, plan, out="int32")
        nhwc = conv2d(np.ascontiguousarray(codes.transpose(0, 2, 3, 1)), plan, out="int32", layout="NHWC")
        assert np.array_equal(nhwc, nchw.transpose(0, 2, 3, 1))
        assert np.array_equal(nchw, reference(codes, qw, a_enc, 0, dict(padding=1)))
        f_nchw = conv2d(codes, plan)
        f_nhwc = conv2d(np.ascontiguousarray(codes.transpose(0, 2, 3, 1)), plan, layout="NHWC")
        assert f_nchw.dtype == f_nhwc.dtype == np.float32
        assert np.array_equal(f_nhwc, f_nchw.transpose(0, 2, 3, 1))


def test_results_start_on_a_cache_line():
    """conv2d allocates its result 64-byte aligned (whole-line vector stores): C-contiguous,
    writeable, the right shape and values."""
    rng = np.random.default_rng(10)
    codes, qw = layer(rng, cin=24, cout=40, n=1, w_bits=3, a_bits=2)
    plan = make_plan(qw, w_bits=3, w_enc="signed", a_bits=2, geom=dict(padding=1))
    exp = reference(codes, qw, "unsigned", 0, dict(padding=1))
    nhwc_codes = np.ascontiguousarray(codes.transpose(0, 2, 3, 1))
    nxt = make_plan(rng.integers(-2, 2, (8, 40, 1, 1)), w_bits=2, w_enc="signed", a_bits=2)
    for out in ("int32", "float", "codes"):
        kw = dict(next_plan=nxt) if out == "codes" else {}
        for layout, x, want in (("NCHW", codes, exp.shape), ("NHWC", nhwc_codes, exp.transpose(0, 2, 3, 1).shape)):
            for _ in range(4):  # several allocations: one could be aligned by chance
                got = conv2d(x, plan, out=out, layout=layout, **kw)
                assert got.ctypes.data % 64 == 0, (out, layout)
                assert got.shape == want and got.flags.c_contiguous and got.flags.writeable
                if out == "int32":
                    assert np.array_equal(got, exp if layout == "NCHW" else exp.transpose(0, 2, 3, 1))


def test_non_contiguous_inputs(isa):
    rng = np.random.default_rng(10)
    qw = random_qweight(rng, (19, 33, 3, 3), 3, "signed")
    plan = make_plan(qw, w_bits=3, w_enc="signed", a_bits=4, zp=5, geom=dict(padding=1))
    big = random_codes(rng, (4, 70, 11, 13), 4)
    views = {
        "channel slice": big[:2, 1:34, :6, :7],
        "strided": big[::2, ::2, ::2, ::2][:, :33],
        "negative strides": big[::-1, ::-2, ::-1, ::-1][:, :33],
        "transposed H/W": big[:1, :33].transpose(0, 1, 3, 2),
        "NHWC memory as NCHW view": np.ascontiguousarray(big[:2, :33].transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
    }
    for name, v in views.items():
        exp = reference(np.ascontiguousarray(v), qw, zp=5, geom=dict(padding=1))
        assert np.array_equal(conv2d(v, plan, out="int32"), exp), name
        nhwc_view = v.transpose(0, 2, 3, 1)          # a non-contiguous NHWC view
        assert np.array_equal(conv2d(nhwc_view, plan, out="int32", layout="NHWC"),
                              exp.transpose(0, 2, 3, 1)), name
    # float input views too
    xf = (rng.standard_normal((3, 66, 8, 9)) * 2).astype(np.float32)
    v = xf[::-1, 1::2, :, ::-1]
    exp = reference(quantize_activations(np.ascontiguousarray(v), a_bits=4, a_scale=1.0, a_zero_point=5),
                    qw, zp=5, geom=dict(padding=1))
    assert np.array_equal(conv2d(v, plan, out="int32"), exp)
    # float views whose byte strides are not whole elements, or whose data is not 4-byte aligned
    # (read from a copy)
    for offset, step in [(1, 4), (2, 6)]:
        buf = np.zeros(v.size * step + 16, np.uint8)
        n, c, h, wd = v.shape
        w = np.ndarray(v.shape, np.float32, buffer=buf, offset=offset,
                       strides=(c * h * wd * step, h * wd * step, wd * step, step))
        w[...] = v
        assert not w.flags.aligned
        assert np.array_equal(conv2d(w, plan, out="int32"), exp), (offset, step)


def test_zero_stride_inputs(isa):
    """Broadcast views (zero strides) read like their contiguous copies, codes and floats."""
    rng = np.random.default_rng(16)
    qw = random_qweight(rng, (7, 3, 3, 3), 2, "signed")
    plan = make_plan(qw, w_bits=2, w_enc="signed", a_bits=2, zp=1, geom=dict(padding=1))
    base = random_codes(rng, (1, 3, 1, 9), 2)
    for shape in ((3, 3, 6, 9), (1, 3, 1, 9)):
        x = np.broadcast_to(base, shape)
        exp = reference(np.ascontiguousarray(x), qw, zp=1, geom=dict(padding=1))
        assert np.array_equal(conv2d(x, plan, out="int32"), exp)
        xf = np.broadcast_to(base.astype(np.float32) - 1.5, shape)   # quantizes to clip(rint(q - 1.5) + 1)
        expf = reference(quantize_activations(np.ascontiguousarray(xf), a_bits=2, a_zero_point=1), qw, zp=1,
                         geom=dict(padding=1))
        assert np.array_equal(conv2d(xf, plan, out="int32"), expf)
    x = np.broadcast_to(np.uint8(3), (2, 6, 5, 3))             # every stride zero, NHWC
    exp = reference(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), qw, zp=1, geom=dict(padding=1))
    assert np.array_equal(conv2d(x, plan, out="int32", layout="NHWC"), exp.transpose(0, 2, 3, 1))


_HUGE_STRIDES = """
import sys
import numpy as np, bitconv
from numpy.lib.stride_tricks import as_strided
from bitconv.reference import conv2d_int64
isa = sys.argv[1]
bitconv.set_isa(isa)
rng = np.random.default_rng(0)
qw = rng.integers(-2, 2, (5, 3, 3, 3)).astype(np.int8)
plan = bitconv.ConvPlan.from_quantized(qw, 1.0, w_bits=2, a_bits=2, padding=1)
for dt in (np.uint8, np.float32):
    isz = np.dtype(dt).itemsize
    big = np.zeros(2**33 // isz + 4096, dt)         # 8 GiB of untouched (unbacked) zero pages
    shape = (2, 3, 4, 5)
    x = as_strided(big, shape=shape, strides=(2**32 + 3 * isz, 2**30 + 7 * isz, 2**27 + isz, 2 * isz))
    vals = rng.integers(0, 4, shape)
    x[...] = vals.astype(dt)
    exp = conv2d_int64(vals.astype(np.uint8), qw, padding=1)
    assert np.array_equal(bitconv.conv2d(x, plan, out="int32"), exp), (dt, "NCHW")
    got = bitconv.conv2d(x.transpose(0, 2, 3, 1), plan, out="int32", layout="NHWC")
    assert np.array_equal(got, exp.transpose(0, 2, 3, 1)), (dt, "NHWC")
    del x, big
print("ok")
"""


def test_strides_beyond_int32(isa):
    """Views whose byte strides and offsets exceed 2^31 (a sparse 8 GiB buffer, nothing touched but
    the 240 elements read): run in a child process so a bad address is a failure, not a crash."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", _HUGE_STRIDES, isa], capture_output=True, text=True, timeout=300,
                       cwd=os.path.dirname(__file__))  # not the checkout: import the installed package
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stdout, r.stderr[-2000:])


def test_threads_identical(isa):
    rng = np.random.default_rng(11)
    for cin, cout, hw, wb, ab in ((64, 64, (9, 9), 2, 2), (33, 129, (5, 7), 5, 3), (3, 8, (16, 16), 8, 8)):
        codes, qw = layer(rng, cin=cin, cout=cout, hw=hw, n=3, w_bits=wb, a_bits=ab)
        plan = make_plan(qw, w_bits=wb, w_enc="signed", a_bits=ab, zp=1, geom=dict(padding=1),
                         w_scale=rng.random(cout) + 0.5, a_scale=0.7)
        exp = reference(codes, qw, zp=1, geom=dict(padding=1))
        results = [conv2d(codes, plan, out="int32", threads=t) for t in (1, 2, 3, None)]
        for r in results:
            assert np.array_equal(r, exp)
        floats = [conv2d(codes, plan, threads=t) for t in (1, 2, None)]
        for f in floats[1:]:
            assert np.array_equal(f, floats[0])


# --------------------------------------------------------------------------- float paths

# 35 input channels pack kernel-row windows, 70 the per-pixel packers, where 1- and 2-bit
# quantizers on NCHW input are compared straight into planes (ISAs that have that packer).
FLOAT_CASES = [(3, 4, "unsigned", 0, 0.1), (2, 8, "unsigned", 128, 0.05), (8, 2, "unsigned", 1, 0.3),
               (1, 1, "binary", 0, 1.0), (4, 3, "unsigned", 7, 1 / 3), (2, 8, "unsigned", 128, 0.5),
               (2, 1, "unsigned", 0, 0.7), (1, 2, "unsigned", 3, 1 / 3)]


def _float_layer(rng, wb, ab, a_enc, zp, a_scale, cin=35):
    cout = 21
    qw = random_qweight(rng, (cout, cin, 3, 3), wb, "signed")
    w_scale = rng.random(cout) * 0.2 + 1e-3
    bias = rng.standard_normal(cout) * 3
    plan = make_plan(qw, w_bits=wb, w_enc="signed", a_bits=ab, a_enc=a_enc, zp=zp,
                     geom=dict(padding=1), w_scale=w_scale, a_scale=a_scale, bias=bias)
    x = (rng.standard_normal((2, cin, 5, 7)) * a_scale * (1 << ab) / 2).astype(np.float32)
    # values on and next to rounding ties (x / a_scale = k + 0.5), zeros of both signs, infinities
    flat = x.reshape(-1)
    ties = (rng.integers(-(1 << ab), 1 << ab, 40) + 0.5) * a_scale
    flat[:40] = ties.astype(np.float32)
    flat[40:80] = np.nextafter(flat[:40], np.float32(np.inf))
    flat[80:84] = [0.0, -0.0, np.inf, -np.inf]
    return qw, w_scale, bias, plan, x


@pytest.mark.parametrize("wb,ab,a_enc,zp,a_scale", FLOAT_CASES)
def test_float_output(isa, wb, ab, a_enc, zp, a_scale):
    """out="float" is float32(float64(a_scale * w_scale[k]) * acc + bias[k]), bit for bit."""
    rng = np.random.default_rng(12)
    qw, w_scale, bias, plan, x = _float_layer(rng, wb, ab, a_enc, zp, a_scale)
    codes = random_codes(rng, x.shape, ab)
    acc = reference(codes, qw, a_enc, zp, dict(padding=1))
    got = conv2d(codes, plan, out="float")
    assert got.dtype == np.float32
    assert np.array_equal(got, scale_output(acc, a_scale, w_scale, bias))
    got = conv2d(np.ascontiguousarray(codes.transpose(0, 2, 3, 1)), plan, layout="NHWC")
    assert np.array_equal(got, scale_output(acc, a_scale, w_scale, bias).transpose(0, 2, 3, 1))


@pytest.mark.parametrize("cin", [35, 70])
@pytest.mark.parametrize("wb,ab,a_enc,zp,a_scale", FLOAT_CASES)
def test_float_input(isa, wb, ab, a_enc, zp, a_scale, cin):
    """float32 input is quantized as clip(rint(x / float32(a_scale)) + zp, 0, 2^A - 1) (or x >= 0),
    including values at and next to rounding ties, signed zeros and infinities."""
    rng = np.random.default_rng(13)
    qw, w_scale, bias, plan, x = _float_layer(rng, wb, ab, a_enc, zp, a_scale, cin)
    codes = quantize_activations(x, a_bits=ab, a_scale=a_scale, a_zero_point=zp, a_encoding=a_enc)
    acc = reference(codes, qw, a_enc, zp, dict(padding=1))
    got = conv2d(x, plan, out="int32")
    if not np.array_equal(got, acc):
        # name the first activation the package quantizes differently
        for idx in np.ndindex(x.shape):
            one = np.zeros_like(x)
            one[idx] = x[idx]
            probe = make_plan(np.ones((1, 1, 1, 1), np.int8), w_bits=2, w_enc="signed", a_bits=ab,
                              a_enc=a_enc, zp=zp, a_scale=a_scale)
            v = int(conv2d(one[idx[0]:idx[0] + 1, idx[1]:idx[1] + 1, idx[2]:idx[2] + 1, idx[3]:idx[3] + 1],
                           probe, out="int32").ravel()[0])
            want = int(codes[idx]) - zp if a_enc == "unsigned" else 2 * int(codes[idx]) - 1
            if v != want:
                pytest.fail(f"x={float(x[idx])!r} (float32) with a_scale={a_scale!r}, a_bits={ab}, zp={zp}: "
                            f"value {v}, contract gives {want}")
        pytest.fail("float input path differs from the reference")
    assert np.array_equal(conv2d(x, plan), scale_output(acc, a_scale, w_scale, bias))


@pytest.mark.parametrize("ab,a_enc,zp", [(1, "unsigned", 0), (1, "binary", 0), (2, "unsigned", 1)])
def test_float_nchw_row_runs(isa, ab, a_enc, zp):
    """Float NCHW input of a 1- or 2-bit quantizer is compared straight into bit-planes (AVX-512 with
    GFNI and VBMI; other ISAs quantize it to codes first), each channel's rows of a range of rows
    read as one run, or a run per row where rows are not consecutive: on 1 and 2 threads (one range
    of padded rows each, ending inside the image), for every image of a batch, with padding 2, and
    for views whose rows are apart (a column left out, holding NaN, which is not the input's; every
    other row; rows reversed; one row repeated, a zero row stride) it matches the reference; a NaN
    in a range's last row, of the array or of a view, is refused."""
    rng = np.random.default_rng(17)
    qw = random_qweight(rng, (20, 70, 3, 3), 2, "signed")
    geom = dict(padding=2)
    plan = make_plan(qw, w_bits=2, w_enc="signed", a_bits=ab, a_enc=a_enc, zp=zp, geom=geom, a_scale=0.3)
    x = (rng.standard_normal((3, 70, 19, 24)) * 0.5).astype(np.float32)  # 95760 values: packed on 2 threads
    gaps = x.copy()
    gaps[..., 0] = np.nan
    for name, v in (("contiguous", x), ("column left out", gaps[..., 1:]), ("every other row", x[:, :, ::2]),
                    ("rows reversed", x[:, :, ::-1]), ("one row repeated", np.broadcast_to(x[:, :, 3:4], x.shape))):
        codes = quantize_activations(np.ascontiguousarray(v), a_bits=ab, a_scale=0.3, a_zero_point=zp,
                                     a_encoding=a_enc)
        exp = reference(codes, qw, a_enc, zp, geom)
        for threads in (1, 2):
            assert np.array_equal(conv2d(v, plan, out="int32", threads=threads), exp), (name, threads)
    bad = x.copy()
    bad[2, 69, 18, 23] = np.nan  # the last value of the last row of the last range
    for v in (bad, bad[..., 1:]):
        for threads in (1, 2):
            with pytest.raises(ValueError, match="NaN"):
                conv2d(v, plan, threads=threads)


def next_layer(rng, cin, *, a_bits=None, binary=False, a_scale=None, zp=None):
    """A 1x1 plan taking `cin` channels whose activation quantizer receives codes output."""
    ab = 1 if binary else (a_bits or int(rng.integers(1, 9)))
    if zp is None:
        zp = 0 if binary else int(rng.integers(0, 1 << ab))
    if a_scale is None:
        a_scale = float(rng.choice([0.05, 0.25, 1 / 3, rng.random() + 0.01, 2.0 ** -int(rng.integers(0, 8))]))
    return make_plan(np.ones((1, cin, 1, 1), np.int8), w_bits=2, w_enc="signed", a_bits=ab,
                     a_enc="binary" if binary else "unsigned", zp=zp, a_scale=a_scale)


def expected_codes(acc, plan, nxt):
    """The contract's codes output: the float output quantized with next_plan's quantizer."""
    return quantize_activations(scale_output(acc, plan.a_scale, plan.w_scale, plan.bias), a_bits=nxt.a_bits,
                                a_scale=nxt.a_scale, a_zero_point=nxt.a_zero_point, a_encoding=nxt.a_encoding)


# (cin, cout, w_bits, kernel, groups): one block, several blocks, a channel tail, kernel-wise
# channels interleaved (requantized, then scattered to their positions) and in runs, a depthwise
# layer, int8 panels. 64 interleaved channels: 40 would merge into one panel on AVX-512, whose
# channels are consecutive, so store_codes' scatter would not run.
CODES_LAYERS = [(64, 64, 1, 3, 1), (32, 100, 2, 1, 1), (35, 21, 3, 3, 1), (24, [1, 2] * 32, None, 3, 1),
                (24, [1] * 20 + [3] * 20, None, 3, 1), (48, 48, 4, 3, 48), (40, 33, 8, 3, 1), (16, 7, 5, 1, 1)]


@pytest.mark.parametrize("cin,cout,wb,k,groups", CODES_LAYERS)
def test_codes_output(isa, cin, cout, wb, k, groups):
    """out="codes" equals quantize(float output, next_plan) bit for bit: rounding ties (bias 0.5 on a
    power-of-two scale), both clip ends, binary codes; NCHW and NHWC, 1 and 2 threads. Every non-binary
    case keeps over 5% of its codes unclipped, so rounding and scales are checked, not only clips."""
    rng = np.random.default_rng(71)
    if wb is None:
        wb, cout = cout, len(cout)
    a_bits = 8 if wb == 8 else 3
    qw = random_qweight(rng, (cout, cin // groups, k, k), wb, "signed")
    codes = random_codes(rng, (2, cin, 9, 13), a_bits)
    geom = dict(padding=k // 2, groups=groups)
    acc = reference(codes, qw, "unsigned", 2, geom)
    scaled = make_plan(qw, w_bits=wb, w_enc="signed", a_bits=a_bits, zp=2, geom=geom, a_scale=0.3,
                       w_scale=rng.random(cout) + 0.05, bias=rng.standard_normal(cout))
    # the interleaved layer must split where measured (x86, scalar) for store_codes' scatter to run;
    # the -vnni ISAs run it, and the 8-bit layer, as one int8 panel
    ks = [p["kernel"] for p in scaled.kernels()]
    if (wb == [1, 2] * 32 or wb == 8) and isa.endswith("-vnni"):
        assert ks == ["int8"], scaled.kernels()
    elif wb == [1, 2] * 32 and isa in ("avx512", "avx2", "scalar"):
        assert ks == ["bit-serial"] * 2, scaled.kernels()
    top = float(np.percentile(np.abs(acc), 99)) + 1

    def ties(bits):
        """y = acc 2^-e + 1/2 with 2^e about the spread of acc over the next unit-step range: every
        accumulator that is a multiple of 2^e lands on a rounding tie, and most codes are unclipped."""
        e = max(0, int(np.ceil(np.log2(top / (1 << (bits - 1))))))
        return make_plan(qw, w_bits=wb, w_enc="signed", a_bits=a_bits, zp=2, geom=geom, w_scale=2.0 ** -e,
                         bias=np.full(cout, 0.5))

    # the scaled plan's next steps calibrated on its float output
    step = float(np.percentile(np.abs(scale_output(acc, scaled.a_scale, scaled.w_scale, scaled.bias)), 99))
    nexts = [(ties(8), next_layer(rng, cout, a_bits=8, a_scale=1.0, zp=128)),
             (ties(2), next_layer(rng, cout, a_bits=2, a_scale=1.0, zp=2)),
             (scaled, next_layer(rng, cout, a_bits=4, a_scale=step / 8, zp=7)),
             (scaled, next_layer(rng, cout, binary=True)),
             (scaled, next_layer(rng, cout, a_bits=3, a_scale=step / 5))]
    inner_ties = 0
    clipped = set()  # clip ends reached by the non-binary next layers
    for plan, nxt in nexts:
        exp = expected_codes(acc, plan, nxt)
        inner = ((exp > 0) & (exp < (1 << nxt.a_bits) - 1)).mean()
        assert nxt.a_encoding == "binary" or inner > 0.05, f"{nxt}: {inner:.1%} of the codes unclipped"
        if nxt.a_encoding != "binary":
            clipped |= {"low"} if (exp == 0).any() else set()
            clipped |= {"high"} if (exp == (1 << nxt.a_bits) - 1).any() else set()
        if plan is not scaled:  # unclipped codes on rounding ties, where a wrong rounding shows
            q = scale_output(acc, plan.a_scale, plan.w_scale, plan.bias) / np.float32(nxt.a_scale)
            inner_ties += int(((q - np.floor(q) == 0.5) & (exp > 0) & (exp < (1 << nxt.a_bits) - 1)).sum())
        for threads in (1, 2):
            got = conv2d(codes, plan, out="codes", next_plan=nxt, threads=threads)
            assert got.dtype == np.uint8 and np.array_equal(got, exp), (nxt, threads)
            got = conv2d(np.ascontiguousarray(codes.transpose(0, 2, 3, 1)), plan, layout="NHWC", out="codes",
                         next_plan=nxt, threads=threads)
            assert np.array_equal(got, exp.transpose(0, 2, 3, 1)), (nxt, threads, "NHWC")
    assert inner_ties > 0 and clipped == {"low", "high"}, (inner_ties, clipped)


@pytest.mark.parametrize("groups", [1, 32])
def test_codes_output_extreme_constants(isa, groups):
    """Codes output where requantize.h's single-precision path does not apply or barely does: scales
    of the next step that overflow float32, lie below 2^-100 or above 2^90, or clip far from the
    range; biases past 2^16 steps; biases that cancel a large product to near a rounding tie."""
    rng = np.random.default_rng(5)
    cin, cout = 32, 32
    qw = random_qweight(rng, (cout, cin // groups, 3, 3), 3, "signed")
    qw[np.arange(cout) % 16 == 8] = 0  # acc 0: w = 0 * Inf is NaN in channel kind 0
    codes = random_codes(rng, (1, cin, 7, 9), 4)
    geom = dict(padding=1, groups=groups)
    acc = reference(codes, qw, "unsigned", 3, geom)
    a_scale, s_next = 0.3, 0.25
    # per channel, the accumulator of largest magnitude: biases 3 and 4 cancel it to 0.52 steps
    flat = acc[0].reshape(cout, -1)
    big = flat[np.arange(cout), np.abs(flat).argmax(axis=1)].astype(np.float64)
    kinds = np.arange(cout) % 8
    # 0: m overflows float32 (w Inf or NaN); 1: m below 2^-100; 2: above 2^90; 7: |w| mostly in
    # (2^9, 2^23), clipped without a check
    w_scale = np.select([kinds == 0, kinds == 1, kinds == 2, kinds == 3, kinds == 4, kinds == 7],
                        [3e38, 1e-38, 1e30, 1e4, 30.0, 1e3], default=rng.random(cout) + 0.05).astype(np.float32)
    scale = np.float64(a_scale) * w_scale.astype(np.float64)
    bias = np.select([(kinds == 3) | (kinds == 4), kinds == 5, kinds == 6],
                     [-scale * big + 0.52 * s_next, 3e5, -2e4], default=rng.standard_normal(cout))
    plan = make_plan(qw, w_bits=3, w_enc="signed", a_bits=4, zp=3, geom=geom, a_scale=a_scale, w_scale=w_scale,
                     bias=bias)
    for nxt in (next_layer(rng, cout, a_bits=8, a_scale=s_next, zp=100), next_layer(rng, cout, a_bits=3,
                a_scale=s_next, zp=2), next_layer(rng, cout, binary=True)):
        with np.errstate(over="ignore"):  # channel kind 0's float output is +-Inf
            exp = expected_codes(acc, plan, nxt)
        inner = (exp > 0) & (exp < (1 << nxt.a_bits) - 1)
        # kind 3 (|bias / S| > 2^16) is always recomputed exactly; kind 4 runs the float32 path near a tie
        assert inner[:, kinds == 4].any(axis=(0, 2, 3)).all() or nxt.a_encoding == "binary", \
            "each kind 4 channel should keep an unclipped code"
        for layout in ("NCHW", "NHWC"):
            x = codes if layout == "NCHW" else np.ascontiguousarray(codes.transpose(0, 2, 3, 1))
            got = conv2d(x, plan, layout=layout, out="codes", next_plan=nxt)
            if layout == "NHWC":
                got = got.transpose(0, 3, 1, 2)
            bad = np.argwhere(got != exp)
            assert bad.size == 0, (f"[{isa}] {nxt} {layout}: first mismatch at {tuple(bad[0])}, channel kind "
                                   f"{kinds[bad[0][1]]}: got {got[tuple(bad[0])]} want {exp[tuple(bad[0])]}")


def test_from_float_rule():
    """docs/contract.md's from_float rule on hand-made channels: 1 bit takes mean|w| as scale, signed
    B bits max|w| / (2^(B-1) - 1), odd B bits max|w| / (2^B - 1), and a channel of zeros scale 1."""
    w = np.zeros((4, 1, 1, 4), np.float32)
    w[0, 0, 0] = [0.5, -1.5, 1.0, 0.0]       # 1 bit: mean |w| = 0.75, sign with 0 -> +1
    w[1, 0, 0] = [0.6, -0.3, 0.1, -0.6]      # signed 3 bits: scale 0.6 / 3 = 0.2
    w[2, 0, 0] = [0.9, -0.3, 0.0, 0.3]       # signed 2 bits: scale 0.9 / 1
    # channel 3 all zeros: scale 1, weights 0
    plan = ConvPlan.from_float(w, w_bits=[1, 3, 2, 3], a_bits=2, a_scale=1.0, w_encoding="signed")
    np.testing.assert_allclose(plan.w_scale, [0.75, 0.2, 0.9, 1.0])
    assert plan.qweight[:, 0, 0].tolist() == [[1, -1, 1, 1], [3, -2, 0, -3], [1, 0, 0, 0], [0, 0, 0, 0]]
    odd = ConvPlan.from_float(w[1:2], w_bits=2, a_bits=2, a_scale=1.0, w_encoding="odd")
    np.testing.assert_allclose(odd.w_scale, [0.2])                # 0.6 / (2^2 - 1)
    assert odd.qweight[0, 0, 0].tolist() == [3, -1, 1, -3]        # nearest odd levels to 3, -1.5, 0.5, -3


def test_from_float_plan(isa):
    rng = np.random.default_rng(13)
    for wb, w_enc in ((1, None), (2, "signed"), (4, "odd"), ([1, 2, 3, 8] * 4, "signed"), (3, "odd")):
        weight = rng.standard_normal((16, 24, 3, 3)).astype(np.float32)
        plan = ConvPlan.from_float(weight, w_bits=wb, a_bits=3, a_scale=0.25, w_encoding=w_enc,
                                   a_zero_point=2, padding=1, bias=np.arange(16, dtype=np.float64))
        bits = per_channel_bits(wb, 16)
        assert np.array_equal(plan.w_bits, bits)
        qw = np.asarray(plan.qweight)
        for k in range(16):
            lo, hi = weight_range(bits[k], plan.w_encoding)
            assert lo <= qw[k].min() and qw[k].max() <= hi
        x = rng.standard_normal((1, 24, 6, 5)).astype(np.float32)
        codes = quantize_activations(x, a_bits=3, a_scale=0.25, a_zero_point=2)
        acc = reference(codes, qw, zp=2, geom=dict(padding=1))
        assert np.array_equal(conv2d(x, plan, out="int32"), acc)
        assert np.array_equal(conv2d(x, plan), scale_output(acc, 0.25, plan.w_scale, plan.bias))


# --------------------------------------------------------------------------- across ISAs and backends

def test_identical_across_isas():
    isas = bitconv.available_isas()
    rng = np.random.default_rng(14)
    try:
        for _ in range(12):
            cin, cout = int(rng.integers(1, 140)), int(rng.integers(1, 70))
            bits = [int(b) for b in rng.integers(1, 9, cout)]
            ab = int(rng.integers(1, 9))
            codes, qw = layer(rng, cin=cin, cout=cout, n=2, hw=(6, 7), w_bits=bits, w_enc="odd", a_bits=ab)
            plan = make_plan(qw, w_bits=bits, w_enc="odd", a_bits=ab, zp=(1 << ab) // 3,
                             geom=dict(padding=1, stride=(1, 2)), w_scale=rng.random(cout) + 0.01,
                             a_scale=0.17, bias=rng.standard_normal(cout))
            outs = []
            for name in isas:
                bitconv.set_isa(name)
                outs.append((name, conv2d(codes, plan, out="int32"), conv2d(codes, plan)))
            for name, i32, f32 in outs[1:]:
                assert np.array_equal(i32, outs[0][1]), (name, outs[0][0])
                assert np.array_equal(f32, outs[0][2]), (name, outs[0][0])
    finally:
        bitconv.set_isa("auto")


@pytest.fixture(scope="module")
def have_numba():
    pytest.importorskip("numba")


def test_numba_backend(have_numba):
    rng = np.random.default_rng(15)
    cases = [
        dict(cin=33, cout=17, wb=3, w_enc="signed", ab=2, a_enc="unsigned", zp=1, geom=dict(padding=1)),
        dict(cin=64, cout=9, wb=1, w_enc="odd", ab=1, a_enc="binary", zp=0, geom=dict(padding=2, stride=2)),
        dict(cin=65, cout=65, wb=8, w_enc="signed", ab=8, a_enc="unsigned", zp=255, geom=dict(dilation=2)),
        dict(cin=12, cout=24, wb=[1, 4, 8, 2] * 6, w_enc="odd", ab=3, a_enc="unsigned", zp=4,
             geom=dict(padding=(1, 0), groups=12)),
        dict(cin=8, cout=8, wb=2, w_enc="signed", ab=4, a_enc="unsigned", zp=0, geom=dict(groups=8, padding=1)),
    ]
    for c in cases:
        codes, qw = layer(rng, cin=c["cin"], cout=c["cout"], n=2, w_bits=c["wb"], w_enc=c["w_enc"],
                          a_bits=c["ab"], groups=c["geom"].get("groups", 1))
        cout = c["cout"]
        plan = make_plan(qw, w_bits=c["wb"], w_enc=c["w_enc"], a_bits=c["ab"], a_enc=c["a_enc"], zp=c["zp"],
                         geom=c["geom"], w_scale=rng.random(cout) + 0.1, a_scale=0.5,
                         bias=rng.standard_normal(cout))
        exp = reference(codes, qw, c["a_enc"], c["zp"], c["geom"])
        assert np.array_equal(conv2d(codes, plan, out="int32", backend="numba"), exp), c
        assert np.array_equal(conv2d(codes, plan, backend="numba"), conv2d(codes, plan)), c
        nxt = next_layer(rng, cout)
        assert np.array_equal(conv2d(codes, plan, out="codes", next_plan=nxt, backend="numba"),
                              conv2d(codes, plan, out="codes", next_plan=nxt)), c
        assert np.array_equal(conv2d(codes.transpose(0, 2, 3, 1), plan, out="int32", layout="NHWC",
                                     backend="numba"), exp.transpose(0, 2, 3, 1)), c
        if c["a_enc"] == "unsigned":  # float input goes through bitconv.quantize on this backend
            x = ((codes.astype(np.float32) - c["zp"] + rng.uniform(-0.45, 0.45, codes.shape)) * 0.5).astype(np.float32)
            assert np.array_equal(conv2d(x, plan, out="int32", backend="numba"), conv2d(x, plan, out="int32")), c


# --------------------------------------------------------------------------- seeded random layers

def random_case(rng):
    depthwise = rng.random() < 0.15
    if depthwise:
        cin = int(rng.choice([1, 3, 16, 33, 64, 65]))
        groups, cout = cin, cin * int(rng.choice([1, 2]))
    else:
        groups = int(rng.choice([1, 1, 1, 1, 2, 3]))
        cin = groups * int(rng.choice([1, 2, 7, 31, 32, 33, 63, 64, 65, 100, 129]) if groups == 1 else
                           rng.integers(1, 40))
        cout = groups * int(rng.integers(1, 70 // groups + 1))
    kh, kw = (int(v) for v in rng.choice([1, 1, 2, 3, 3, 5], 2))
    stride = tuple(int(s) for s in rng.choice([1, 1, 2, 3], 2))
    padding = tuple(int(p) for p in rng.choice([0, 1, 1, 2], 2))
    dilation = tuple(int(d) for d in rng.choice([1, 1, 1, 2], 2))
    h = max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]) + int(rng.integers(0, 6))
    w = max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]) + int(rng.integers(0, 9))
    w_enc = str(rng.choice(["signed", "odd"]))
    a_enc = "binary" if rng.random() < 0.15 else "unsigned"
    ab = 1 if a_enc == "binary" else int(rng.integers(1, 9))
    zp = 0 if a_enc == "binary" else int(rng.choice([0, (1 << ab) // 2, (1 << ab) - 1, rng.integers(0, 1 << ab)]))
    wb = int(rng.integers(1, 9)) if rng.random() < 0.6 else [int(b) for b in rng.integers(1, 9, cout)]
    n = int(rng.choice([1, 1, 2, 3]))
    qw = random_qweight(rng, (cout, cin // groups, kh, kw), wb, w_enc)
    codes = random_codes(rng, (n, cin, h, w), ab)
    geom = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return codes, qw, wb, w_enc, ab, a_enc, zp, geom


N_RANDOM = 600


def _random_view(rng, a):
    """The same values as `a` (NCHW), either contiguous or through one of several strided views."""
    kind = rng.integers(0, 4)
    if kind == 1:                                   # negative strides
        return np.flip(np.flip(a, (0, 3)).copy(), (0, 3))
    if kind == 2:                                   # every other element of a larger buffer
        big = np.zeros(a.shape[:3] + (2 * a.shape[3],), a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    if kind == 3:                                   # channels-last memory seen as NCHW
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    return a


def test_random_layers(isa):
    rng = np.random.default_rng(20240601)
    for i in range(N_RANDOM):
        codes, qw, wb, w_enc, ab, a_enc, zp, geom = random_case(rng)
        cout = qw.shape[0]
        a_scale = float(rng.choice([rng.random() + 0.05, 0.1, 1 / 3, 0.05, 2.0 ** -int(rng.integers(0, 6))]))
        plan = make_plan(qw, w_bits=wb, w_enc=w_enc, a_bits=ab, a_enc=a_enc, zp=zp, geom=geom,
                         w_scale=rng.random(cout) + 0.05, a_scale=a_scale, bias=rng.standard_normal(cout))
        x = codes
        if i % 3 == 1:                              # float input: quantized by the plan
            x = (rng.standard_normal(codes.shape) * a_scale * (1 << ab) / 2).astype(np.float32)
            flat = x.reshape(-1)
            m = min(flat.size, 16)
            flat[:m] = ((rng.integers(-(1 << ab), 1 << ab, m) + 0.5) * np.float32(a_scale)).astype(np.float32)
            x = x.reshape(codes.shape)
            codes = quantize_activations(x, a_bits=ab, a_scale=a_scale, a_zero_point=zp, a_encoding=a_enc)
        exp = reference(codes, qw, a_enc, zp, geom)
        desc = (f"[{isa}] case {i}: x {x.dtype} {x.shape}, qweight {qw.shape}, w_bits={wb}, {w_enc}, "
                f"a_bits={ab}, {a_enc}, zp={zp}, a_scale={a_scale!r}, {geom}")
        x = _random_view(rng, x)
        nhwc = rng.random() < 0.3
        threads = [None, 1, 2][i % 3]
        if nhwc:
            got = conv2d(np.moveaxis(x, 1, 3), plan, out="int32", layout="NHWC", threads=threads)
            got = np.moveaxis(got, 3, 1)
        else:
            got = conv2d(x, plan, out="int32", threads=threads)
        assert np.array_equal(got, exp), desc
        if i % 4 == 0:
            assert np.array_equal(conv2d(x, plan, threads=threads),
                                  scale_output(exp, plan.a_scale, plan.w_scale, plan.bias)), desc + " (float)"
        if i % 4 == 2:  # the next step calibrated on the float output (a power of two every other time)
            ab = int(rng.integers(1, 9))
            step = max(float(np.percentile(np.abs(scale_output(exp, plan.a_scale, plan.w_scale, plan.bias)), 99)),
                       1e-3) / (1 << ab)
            if i % 8 == 2:
                step = 2.0 ** np.round(np.log2(step))
            nxt = next_layer(rng, cout, a_bits=ab, a_scale=step, binary=rng.random() < 0.15)
            got = conv2d(np.moveaxis(x, 1, 3) if nhwc else x, plan, layout="NHWC" if nhwc else "NCHW",
                         out="codes", next_plan=nxt, threads=threads)
            assert np.array_equal(np.moveaxis(got, 3, 1) if nhwc else got, expected_codes(exp, plan, nxt)), \
                desc + f" (codes for {nxt})"


@pytest.mark.parametrize("a_bits,a_encoding,zp", [(4, "unsigned", 3), (8, "unsigned", 128), (1, "binary", 0)])
def test_native_quantizer_matches_public_quantize(isa, a_bits, a_encoding, zp):
    """The codes conv2d's native pass computes from float input are bitconv.quantize's, ties and +-Inf
    included: a depthwise 1x1 layer of unit weights returns each code's value v (q - zp, or 2q - 1)."""
    rng = np.random.default_rng(a_bits)
    plan = bitconv.ConvPlan.from_quantized(np.ones((3, 1, 1, 1), np.int8), 1.0, w_bits=2, a_bits=a_bits,
                                           a_scale=0.1, a_zero_point=zp, a_encoding=a_encoding, groups=3)
    x = (rng.standard_normal((2, 3, 5, 7)) * 4).astype(np.float32)
    x.flat[::5] = (np.rint(x.flat[::5] / np.float32(0.1)) + 0.5) * np.float32(0.1)  # exact ties
    x.flat[1], x.flat[2] = np.inf, -np.inf
    codes = bitconv.quantize(x, plan)
    assert codes.dtype == np.uint8
    v = conv2d(x, plan, out="int32")
    assert np.array_equal(v, 2 * codes.astype(np.int32) - 1 if a_encoding == "binary" else codes.astype(np.int32) - zp)


# --------------------------------------------------------------------------- kernel choice

def test_kernel_choice(isa):
    """Panels with many plane pairs run on int8 kernels where the ISA has them (the -vnni ISAs; on a
    64-channel 3x3 layer from 5 pairs, with AVX2's slow popcount from 2), few-pair ones on bit-planes;
    8-bit odd weights (up to 255) do not fit int8 and stay bit-serial. Results are checked exactly
    whichever kernel runs."""
    rng = np.random.default_rng(41)
    # Fewest plane pairs that go int8 on this shape, as measured on these x86 ISAs; elsewhere
    # (neon-dot, not measured here) only what must stay bit-serial is checked.
    int8_from = {"avx512-vnni": 5, "avx2-vnni": 2}.get(isa)
    for wb, ab, w_enc in ((1, 1, "signed"), (2, 1, "signed"), (1, 2, "signed"), (2, 2, "signed"),
                          (1, 4, "signed"), (5, 1, "signed"), (3, 2, "odd"), (2, 3, "signed"), (8, 8, "signed"),
                          (4, 4, "odd"), (8, 8, "odd")):
        codes, qw = layer(rng, cin=64, cout=64, hw=(9, 8), w_bits=wb, w_enc=w_enc, a_bits=ab)
        plan, _ = check(codes, qw, w_bits=wb, w_enc=w_enc, a_bits=ab, zp=1, geom=dict(padding=1),
                        what=f"[{isa}] w{wb}a{ab} {w_enc}")
        kinds = [k["kernel"] for k in plan.kernels()]
        fits = not (wb == 8 and w_enc == "odd") and (ab <= 7 or not isa.startswith("neon"))
        if int8_from:
            want = "int8" if fits and wb * ab >= int8_from else "bit-serial"
            assert kinds == [want], (wb, ab, w_enc, plan.kernels())
        elif not fits or not isa.endswith(("-vnni", "-dot")):
            assert kinds == ["bit-serial"], (wb, ab, w_enc, plan.kernels())
    # a kernel-wise layer may run one panel on each
    bits = [1] * 16 + [8] * 16
    codes, qw = layer(rng, cin=48, cout=32, hw=(6, 5), w_bits=bits, w_enc="signed", a_bits=1)
    plan, _ = check(codes, qw, w_bits=bits, w_enc="signed", a_bits=1, geom=dict(padding=1, stride=2),
                    what=f"[{isa}] kernel-wise 1/8 bits")
    got = sorted((k["w_bits"], k["kernel"]) for k in plan.kernels())
    if int8_from or not isa.endswith(("-vnni", "-dot")):
        assert got == [(1, "bit-serial"), (8, "int8" if int8_from else "bit-serial")], got
    dw = make_plan(np.ones((8, 1, 3, 3), np.int16), w_bits=2, w_enc="signed", a_bits=2, geom=dict(groups=8))
    assert [k["kernel"] for k in dw.kernels()] == ["depthwise"]


def test_int8_split_tile(isa):
    """Narrow int8 panels on avx512-vnni run the split tile (16 channels over 4 vectors, each channel's
    reduction over 4 lanes, 4 words per step, folded in the epilogue): exact for channel counts whose
    words are not a multiple of 4 (the last step reads the next pixel's words against zero weights;
    the reads past the grid's end that this also makes cannot show in a result), partial blocks,
    stride, dilation, groups, a zero point, 2 images, 1 and 2 threads, int32 and float output in NCHW
    and NHWC, and a kernel-wise layer whose int8 channels are spread (NHWC: stored permuted from the
    tile's registers).
    Other ISAs have no split tile."""
    rng = np.random.default_rng(61)
    splits = 0
    cases = ((70, 16, 4, 4, dict(padding=1)), (64, 16, 4, 2, dict(padding=1)), (70, 13, 5, 3, dict(padding=1)),
             (66, 9, 4, 4, dict(padding=2, dilation=2)), (72, 16, 4, 4, dict(padding=1, stride=2)),
             (140, 32, 4, 4, dict(padding=1, groups=2)), (35, 16, 6, 2, dict(padding=1)),
             (64, [1, 1, 1, 4] * 16, None, 2, dict(padding=1)))
    for cin, cout, wb, ab, geom in cases:
        # a list: kernel-wise bits, shuffled so the int8 channels spread
        bits = [cout[i] for i in rng.permutation(len(cout))] if isinstance(cout, list) else [wb] * cout
        codes, qw = layer(rng, cin=cin, cout=len(bits), hw=(9, 10), n=2, w_bits=bits, a_bits=ab,
                          groups=geom.get("groups", 1))
        zp = int(rng.integers(0, 1 << ab))
        plan, exp = check(codes, qw, w_bits=bits, w_enc="signed", a_bits=ab, zp=zp, geom=geom, threads=1,
                          what=f"[{isa}] split cin={cin} cout={len(bits)} {geom}")
        assert np.array_equal(conv2d(codes, plan, out="int32", threads=2), exp), (cin, cout, geom, "2 threads")
        ks = plan.kernels()
        if any(k["split"] > 1 for k in ks):
            splits += 1
            x = np.ascontiguousarray(codes.transpose(0, 2, 3, 1))
            assert np.array_equal(conv2d(x, plan, out="int32", layout="NHWC"), exp.transpose(0, 2, 3, 1))
            plan_f = make_plan(qw, w_bits=bits, w_enc="signed", a_bits=ab, zp=zp, geom=geom,
                               w_scale=rng.random(len(bits)) + 0.1, a_scale=0.3, bias=rng.standard_normal(len(bits)))
            ref_f = scale_output(exp, plan_f.a_scale, plan_f.w_scale, plan_f.bias)
            assert np.array_equal(conv2d(codes, plan_f), ref_f), (cin, cout, geom, "float")
            assert np.array_equal(conv2d(x, plan_f, layout="NHWC"), ref_f.transpose(0, 2, 3, 1)), (cin, cout, geom)
        assert all(k["split"] == 4 and k["kernel"] == "int8" and k["nr"] == 16 for k in ks if k["split"] > 1), ks
    # every case on avx512-vnni, as the cost model estimates
    assert splits == (len(cases) if isa == "avx512-vnni" else 0), (isa, splits)


def test_one_correction_row(isa):
    """A zero point on a layer whose windows never meet padding (1x1, or 3x3 without padding) has one
    correction row for every pixel: the kernels take it without walking the border tables, and the
    int8 tiles hold it in registers. Exact on int8 (plain and split tiles) and bit-serial panels, full
    and partial pixel tiles, partial channel blocks, kernel-wise channels spread over the output,
    stride, 2 images, 1 and 2 threads, int32 and float output in NCHW and NHWC."""
    rng = np.random.default_rng(67)
    kinds = set()
    cases = ((24, 144, 3, 2, (1, 1), dict()), (64, 96, 2, 2, (1, 1), dict()), (70, 21, 4, 4, (1, 1), dict()),
             (384, 40, 2, 2, (1, 1), dict()), (128, 33, 1, 1, (3, 3), dict()), (33, 17, 5, 3, (3, 3), dict()),
             (64, 64, 4, 4, (3, 3), dict(stride=2)), (48, [1, 8] * 16, None, 1, (3, 3), dict()),
             (40, [2, 3, 4] * 7, None, 3, (3, 3), dict()))
    for cin, cout, wb, ab, k, geom in cases:
        bits = [cout[i] for i in rng.permutation(len(cout))] if isinstance(cout, list) else [wb] * cout
        codes, qw = layer(rng, cin=cin, cout=len(bits), k=k, hw=(9, 11), n=2, w_bits=bits, a_bits=ab)
        zp = int(rng.integers(1, 1 << ab))
        what = f"[{isa}] one row cin={cin} bits={bits[:3]} k={k} {geom}"
        plan, exp = check(codes, qw, w_bits=bits, w_enc="signed", a_bits=ab, zp=zp, geom=geom, threads=1, what=what)
        assert np.array_equal(conv2d(codes, plan, out="int32", threads=2), exp), what
        x = np.ascontiguousarray(codes.transpose(0, 2, 3, 1))
        assert np.array_equal(conv2d(x, plan, out="int32", layout="NHWC"), exp.transpose(0, 2, 3, 1)), what
        plan_f = make_plan(qw, w_bits=bits, w_enc="signed", a_bits=ab, zp=zp, geom=geom,
                           w_scale=rng.random(len(bits)) + 0.1, a_scale=0.3, bias=rng.standard_normal(len(bits)))
        ref_f = scale_output(exp, plan_f.a_scale, plan_f.w_scale, plan_f.bias)
        assert np.array_equal(conv2d(codes, plan_f), ref_f), what
        assert np.array_equal(conv2d(x, plan_f, layout="NHWC"), ref_f.transpose(0, 2, 3, 1)), what
        ks = plan.kernels()
        kinds.update(p["kernel"] for p in ks)
        if isinstance(cout, list) and max(bits) == 8 and not isa.startswith("neon"):
            # 1- and 8-bit channels spread over the output in two panels (measured ISAs); on the -vnni
            # ones the 8-bit panel is int8 (avx512-vnni: the split tile), stored by window
            assert sorted((p["w_bits"], p["kernel"]) for p in ks) == [
                (1, "bit-serial"), (8, "int8" if isa.endswith("-vnni") else "bit-serial")], (isa, ks)
            assert [p["split"] for p in ks if p["kernel"] == "int8"] == ([4] if isa == "avx512-vnni" else
                                                                         [1] if isa.endswith("-vnni") else []), ks
    # both panel kinds ran where the ISA has int8 kernels
    assert kinds == ({"int8", "bit-serial"} if isa.endswith(("-vnni", "-dot")) else {"bit-serial"}), (isa, kinds)


def test_xor_forms_taken(isa):
    """Odd 1-bit weights times 1-bit activations take the XOR forms on every ISA: "xor" for binary
    activations, "xor-down" for {0,1} codes of zero point 0; a zero point, or wider weights or
    activations, keep AND. Exact either way, padded (border corrections) and unpadded."""
    rng = np.random.default_rng(71)
    cases = (("binary", 0, 1, 1, "xor"), ("unsigned", 0, 1, 1, "xor-down"), ("unsigned", 1, 1, 1, "and"),
             ("binary", 0, 2, 1, "and"), ("unsigned", 0, 1, 2, "and"))
    for a_enc, zp, wb, ab, form in cases:
        for pad in (0, 1):
            codes, qw = layer(rng, cin=70, cout=40, hw=(6, 9), n=2, w_bits=wb, w_enc="odd", a_bits=ab)
            plan, _ = check(codes, qw, w_bits=wb, w_enc="odd", a_bits=ab, a_enc=a_enc, zp=zp,
                            geom=dict(padding=pad), what=f"[{isa}] {a_enc} zp={zp} W{wb}A{ab} pad={pad}")
            kinds = {(p["kernel"], p["form"]) for p in plan.kernels()}
            assert kinds == {("bit-serial", form)} or (form == "and" and kinds == {("int8", "dot")}), \
                (isa, a_enc, zp, wb, ab, kinds)
    # a kernel-wise binary layer (channel runs wide enough to stay two panels): its 1-bit panel XOR,
    # its 2-bit one AND (int8 on avx2-vnni, which the cost model measured faster there)
    bits = [1] * 32 + [2] * 32
    codes, qw = layer(rng, cin=70, cout=64, hw=(6, 9), w_bits=bits, w_enc="odd", a_bits=1)
    plan, _ = check(codes, qw, w_bits=bits, w_enc="odd", a_bits=1, a_enc="binary", geom=dict(padding=1),
                    what=f"[{isa}] binary kernel-wise")
    forms = {p["w_bits"]: p["form"] for p in plan.kernels()}
    assert forms[1] == "xor" and forms[2] in ("and", "dot"), (isa, forms)


def test_kernelwise_panels_merge(isa):
    """Interleaved 1- and 2-bit channels with 1-bit activations run as one 2-bit panel where the
    cost model finds that cheaper than two scattered panels (the 1-bit weights are exact there: 32
    channels on AVX-512), as two panels where not (64 channels, stored through permuted windows);
    three widths interleaved still give the exact result whatever the split."""
    rng = np.random.default_rng(43)
    for bits, ab, w_enc in (([1, 2] * 16, 1, "signed"), ([1, 2] * 16, 1, "odd"), ([1, 2] * 32, 1, "signed"),
                            ([3, 1, 2] * 21, 2, "signed"), ([2, 3, 4, 2] * 16, 3, "odd")):
        codes, qw = layer(rng, cin=64, cout=len(bits), hw=(7, 6), w_bits=bits, w_enc=w_enc, a_bits=ab)
        plan, _ = check(codes, qw, w_bits=bits, w_enc=w_enc, a_bits=ab, zp=1 if ab > 1 else 0,
                        geom=dict(padding=1), what=f"[{isa}] merged {bits[:4]}")
        ks = plan.kernels()
        assert sum(k["channels"] for k in ks) == len(bits)
        # each panel runs at one of its channels' widths, and the widest channels are in some panel
        assert {k["w_bits"] for k in ks} <= set(bits) and max(bits) in {k["w_bits"] for k in ks}
        if isa.startswith("avx512") and bits == [1, 2] * 16:
            assert [(k["kernel"], k["w_bits"]) for k in ks] == [("bit-serial", 2)], ks
        if isa.startswith("avx512") and bits == [1, 2] * 32:
            assert [(k["kernel"], k["w_bits"]) for k in ks] == [("bit-serial", 1), ("bit-serial", 2)], ks
            assert all(k["nr"] <= 32 for k in ks), ks  # blocks of 1-2 vectors: the permuted stores


def test_kernelwise_spread_channels_nhwc(isa):
    """Kernel-wise layers whose panels' channels interleave, channels-last: each panel's blocks are
    stored per window of 16 output channels (AVX-512: permuted from the tile's registers, from any two
    neighbouring vectors of blocks of up to 4, W1A1 blocks of 3-4 vectors and partial tiles through the
    tile buffer; other ISAs through the buffer). Int32 and float output, full and partial tiles and
    blocks, windows at the row's end, 2 images, 1 and 2 threads; layers split on each ISA at least as
    often as measured (on the x86 and scalar ISAs; the NEON ones are not measured), and on AVX-512 split
    bit-serial panels have nr <= 32 and, with more than one plane pair (permuted), nr 64: windows
    from all four vectors, some across the third and fourth."""
    rng = np.random.default_rng(53)
    split = 0
    nrs = set()  # nr of the bit-serial panels of split layers
    permuted_nrs = set()  # the same, of panels that are not 1 x 1 bits (AVX-512: permuted up to 4 vectors)
    # the last two layers: 48-channel bit-serial panels (nr 48 on AVX-512) and a 1 x 2 bit one of nr 64
    cases = ((64, (1, 2), 1), (64, (1, 2), 2), (100, (1, 2), 1), (128, (1, 2), 1), (48, (2, 3, 5), 2),
             (33, (1, 4), 3), (80, (1, 2, 3, 4), 2), (96, (1, 2), 3), (128, (1, 2), 2))
    for cout, mix, ab in cases:
        bits = [int(mix[i * len(mix) // cout]) for i in rng.permutation(cout)]  # equal shares, shuffled
        codes, qw = layer(rng, cin=64, cout=cout, hw=(9, 11), n=2, w_bits=bits, a_bits=ab)
        zp = int(rng.integers(0, 1 << ab))
        plan = make_plan(qw, w_bits=bits, w_enc="signed", a_bits=ab, zp=zp, geom=dict(padding=1),
                         w_scale=rng.random(cout) + 0.1, a_scale=0.3, bias=rng.standard_normal(cout))
        ks = plan.kernels()
        if len(ks) > 1:
            split += 1
            nrs |= {p["nr"] for p in ks if p["kernel"] == "bit-serial"}
            permuted_nrs |= {p["nr"] for p in ks if p["kernel"] == "bit-serial" and p["w_bits"] * ab > 1}
        exp = reference(codes, qw, "unsigned", zp, dict(padding=1))
        ref_f = scale_output(exp, plan.a_scale, plan.w_scale, plan.bias).transpose(0, 2, 3, 1)
        x = np.ascontiguousarray(codes.transpose(0, 2, 3, 1))
        for threads in (1, 2):
            got = conv2d(x, plan, out="int32", layout="NHWC", threads=threads)
            assert np.array_equal(got, exp.transpose(0, 2, 3, 1)), (cout, mix, ab, threads, plan.kernels())
            got_f = conv2d(x, plan, layout="NHWC", threads=threads)
            assert np.array_equal(got_f, ref_f), (cout, mix, ab, threads, "float")
    # split layers of the 9 as measured; the -vnni ISAs run some as one int8 panel
    want = {"avx512-vnni": 8, "avx512": 9, "avx2-vnni": 3, "avx2": 9, "scalar": 9}.get(isa, 0)
    assert split >= want, (split, want)
    if isa.startswith("avx512"):
        assert min(nrs) <= 32 < max(nrs) and max(permuted_nrs) == 64, (nrs, permuted_nrs)


@pytest.mark.parametrize("stride", [1, 2, (2, 1), (1, 2)])
def test_depthwise_row_tiles(isa, stride):
    """Depthwise 3x3 rows wide enough for the whole-tile paths (8 and 16 pixels) and their tails,
    channel counts around the 16-lane blocks, a channel multiplier, row dilation; int32 output in
    NCHW (through a tile and the transpose) and float output in NHWC (stored straight from the row)."""
    rng = np.random.default_rng(47)
    sw = stride[1] if isinstance(stride, tuple) else stride
    for wo in (7, 8, 9, 16, 17, 31, 32, 33, 47, 50):
        # 100 channels: the pixel-major value path, with a zero point and without (codes = values).
        for cin, mult, dil, zp in ((1, 1, 1, 2), (15, 1, 1, 2), (17, 2, 1, 2), (33, 1, (2, 1), 2), (16, 3, 1, 2),
                                   (100, 1, 1, 2), (100, 1, 1, 0)):
            w = (wo - 1) * sw + 3 - 2
            codes, qw = layer(rng, cin=cin, cout=cin * mult, hw=(5, w), w_bits=4, a_bits=3, groups=cin)
            geom = dict(padding=1, stride=stride, groups=cin, dilation=dil)
            plan, exp = check(codes, qw, w_bits=4, w_enc="signed", a_bits=3, zp=zp, geom=geom,
                              what=f"[{isa}] depthwise wo={wo} cin={cin} x{mult} zp={zp}")
            assert exp.shape[3] == wo and plan.kernels()[0]["kernel"] == "depthwise"
            got_f = conv2d(codes.transpose(0, 2, 3, 1), plan, layout="NHWC")
            ref_f = scale_output(exp, plan.a_scale, plan.w_scale, plan.bias).transpose(0, 2, 3, 1)
            assert np.array_equal(got_f, ref_f), (wo, cin, mult)


def test_one_plan_many_input_sizes(isa):
    """Border corrections are cached per input size (and ISA): one plan run on more sizes
    than the cache holds, then on the first ones again, stays exact, NCHW and NHWC."""
    rng = np.random.default_rng(53)
    qw = random_qweight(rng, (20, 24, 3, 3), 3, "signed")
    plan = make_plan(qw, w_bits=3, w_enc="signed", a_bits=3, zp=5, geom=dict(padding=(1, 2), stride=(1, 2)))
    sizes = [(h, w) for h in (3, 4, 5, 6, 7) for w in (2, 5, 8, 9)] + [(3, 2), (4, 5), (7, 9)]
    for h, w in sizes:
        codes = random_codes(rng, (1, 24, h, w), 3)
        exp = reference(codes, qw, "unsigned", 5, dict(padding=(1, 2), stride=(1, 2)))
        assert np.array_equal(conv2d(codes, plan, out="int32"), exp), (h, w)
        got = conv2d(np.ascontiguousarray(codes.transpose(0, 2, 3, 1)), plan, out="int32", layout="NHWC")
        assert np.array_equal(got, exp.transpose(0, 2, 3, 1)), (h, w)
