"""The optional Larq Compute Engine comparator: registration and layer filtering everywhere, the real
binary conv only where larq_compute_engine is installed."""
import sys

import numpy as np
import pytest

pytest.importorskip("bitconv")
from bitconv.bench import comparator_lce  # noqa: E402
from bitconv.bench import comparators as C  # noqa: E402
from bitconv.bench.harness import make_case  # noqa: E402
from bitconv.bench.plans import LayerBits  # noqa: E402
from bitconv.bench.suites import Layer  # noqa: E402


def case(w_bits=1, a_bits=1, a_encoding="binary", *, cin=32, cout=16, k=3, stride=1, padding=1, groups=1, h=9):
    lay = Layer("t", cin, cout, k, k, stride, padding, groups, h, h)
    return make_case(lay, LayerBits(w_bits, a_bits, a_encoding), batch=1, threads=1, seed=3)


def test_registered_but_not_default():
    (comp,) = C.resolve("lce")
    assert comp.name == "lce" and comp.kind == "bitserial"
    assert "lce" in C.REGISTRY and "lce" not in C.DEFAULT
    assert "lce" not in [c.name for c in C.resolve(None)]
    assert [c.name for c in C.resolve("all")] == list(C.REGISTRY)


def test_unavailable_names_the_extra(monkeypatch):
    monkeypatch.setattr(comparator_lce, "_MODULES", comparator_lce._MODULES + ("bitconv_no_such_module",))
    why = C.REGISTRY["lce"].unavailable()
    assert "bitconv_no_such_module" in why and "pip install '.[bench,lce]'" in why


@pytest.mark.parametrize("kw", [dict(w_bits=2, a_bits=2, a_encoding="unsigned"), dict(w_bits=1, a_bits=2,
                                a_encoding="unsigned"), dict(w_bits=[1, 2] * 8), dict(groups=4)])
def test_skips_what_lce_cannot_run(kw, monkeypatch):
    # Grouped: 8 channels per group, not whole 32-bit words. All refused before TensorFlow is
    # imported: an import of it here would raise ImportError, not SkipLayer.
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(C.SkipLayer):
        C.REGISTRY["lce"].prepare(case(**kw))


@pytest.mark.parametrize("kw,want", [(dict(padding=0), ("valid", (0, 0, 0, 0))),
                                     (dict(), ("same", (1, 1, 1, 1))),
                                     (dict(stride=2, h=10), ("same", (0, 1, 0, 1))),
                                     (dict(stride=2, h=9), ("same", (1, 1, 1, 1))),
                                     (dict(k=5, padding=1), None)])
def test_tf_padding(kw, want):
    """TF's padding for a layer: symmetric for 3x3/1, shifted by a pixel for stride 2 on an even input,
    refused where "same" gives another output size (5x5 with padding 1)."""
    lay = case(**kw).layer
    if want is None:
        with pytest.raises(C.SkipLayer):
            comparator_lce._tf_padding(lay)
    else:
        assert comparator_lce._tf_padding(lay) == want


@pytest.mark.parametrize("kw", [dict(), dict(a_encoding="unsigned"), dict(stride=2), dict(stride=2, h=10),
                                dict(padding=0), dict(cin=64, cout=32, groups=2)])
def test_lce_computes_the_layer(kw):
    from bitconv.reference.int64 import conv2d_int64

    comp = C.REGISTRY["lce"]
    if comp.unavailable():   # not importorskip: TensorFlow must first be imported the comparator's way
        pytest.skip(comp.unavailable())
    c = case(**kw)
    lay = c.layer
    run = comp.prepare(c)   # checks the whole output against the int64 reference itself
    got = run()[0]          # [N, Ho, Wo, Cout]
    assert got.shape == (1, lay.ho, lay.wo, lay.cout)
    if comparator_lce._tf_padding(lay)[1] != (lay.padding,) * 4:
        return              # stride 2 on an even input: TF's "same" shifts the window by a pixel
    # Away from the border LCE's +1 padding plays no part: bitconv's own accumulators.
    ref = conv2d_int64(c.codes_nchw, c.qweight, a_encoding="binary", stride=lay.stride, padding=lay.padding,
                       groups=lay.groups).transpose(0, 2, 3, 1)
    inner = (slice(None), slice(1, -1), slice(1, -1)) if lay.padding else (slice(None),) * 3
    np.testing.assert_array_equal(got[inner], ref[inner])


@pytest.mark.parametrize("off", [0, 1])
def test_prepare_checks_lce_against_the_reference(off, monkeypatch):
    """Without TensorFlow: a stand-in interpreter returns the reference (+ off). prepare() must accept
    the right output, refuse a wrong one, and convert a layer met again only once."""
    from bitconv.reference.int64 import conv2d_int64

    c = case()   # 3x3/1, padding 1: TF's "same", pads of LCE's pad value +1 (code 1)
    padded = np.pad(c.codes_nchw, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=1)
    want = conv2d_int64(padded, c.qweight, a_encoding="binary").transpose(0, 2, 3, 1).astype(np.float32)

    class Interpreter:
        def __init__(self, flatbuffer, num_threads, use_indirect_bgemm):
            self.interpreter = self

        def predict(self, inputs):
            return [want + off]

    converted = []
    monkeypatch.setattr(comparator_lce, "_FLATBUFFERS", {})   # no stand-in flatbuffer left behind
    monkeypatch.setattr(comparator_lce, "_import_lce", lambda: (None, None, None, Interpreter))
    monkeypatch.setattr(comparator_lce.LceBconv, "_convert", lambda self, *a: converted.append(1) or b"fb")
    comp = C.REGISTRY["lce"]
    if off:
        with pytest.raises(RuntimeError, match="LCE output differs from the int64 reference"):
            comp.prepare(c)
    else:
        np.testing.assert_array_equal(comp.prepare(c)()[0], want)
        comp.prepare(c)
        assert len(converted) == 1
