"""Shared helpers for the test suites: random operands drawn exactly in their encodings' ranges, and
an ``isa`` fixture that pins each kernel family in turn."""
from __future__ import annotations

import numpy as np
import pytest

from bitconv.reference import weight_range


def per_channel_bits(w_bits, cout):
    """w_bits (int or sequence) as an int64 array [cout]."""
    if np.ndim(w_bits) == 0:
        return np.full(cout, int(w_bits), dtype=np.int64)
    return np.asarray(w_bits, dtype=np.int64).reshape(cout)


def random_qweight(rng, shape, w_bits, w_encoding):
    """Integer weights [Cout, Cin/groups, kh, kw] in range for each channel's bits, as int16 (8-bit
    odd levels reach +-255).

    Every channel with at least two weights holds both of its extremes, and about a quarter of the
    other entries are extremes too, so sign planes and top bits are always exercised.
    """
    cout = shape[0]
    bits = per_channel_bits(w_bits, cout)
    per = int(np.prod(shape[1:]))
    qw = np.empty((cout, per), dtype=np.int64)
    for k in range(cout):
        lo, hi = weight_range(bits[k], w_encoding)
        odd = w_encoding == "odd" or bits[k] == 1
        u = rng.integers(0, 1 << int(bits[k]), per)
        ext = rng.random(per) < 0.25
        u[ext] = np.where(rng.random(ext.sum()) < 0.5, 0, (1 << int(bits[k])) - 1)
        if per >= 2:
            i, j = rng.choice(per, 2, replace=False)
            u[i], u[j] = 0, (1 << int(bits[k])) - 1
        qw[k] = 2 * u - ((1 << int(bits[k])) - 1) if odd else u + lo
        assert qw[k].min() >= lo and qw[k].max() <= hi
    return qw.reshape(shape).astype(np.int16)


def random_codes(rng, shape, a_bits):
    """uint8 codes in [0, 2^a_bits), with the extremes 0 and 2^a_bits - 1 over-represented."""
    top = (1 << a_bits) - 1
    q = rng.integers(0, top + 1, shape)
    r = rng.random(shape)
    q[r < 0.15] = 0
    q[r > 0.85] = top
    return q.astype(np.uint8)


def _native():
    try:
        import bitconv
        return bitconv if hasattr(bitconv, "available_isas") else None
    except ImportError:
        return None


def pytest_generate_tests(metafunc):
    if "isa" in metafunc.fixturenames:
        bc = _native()
        isas = list(bc.available_isas()) if bc is not None else []
        metafunc.parametrize("isa", isas, indirect=True)


@pytest.fixture
def isa(request):
    """Pin one ISA for the test, back to automatic choice afterwards."""
    bc = _native()
    bc.set_isa(request.param)
    try:
        yield request.param
    finally:
        bc.set_isa("auto")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
