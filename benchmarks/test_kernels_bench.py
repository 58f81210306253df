"""Kernel benchmarks: bitconv.conv2d per ISA x bits x layer shape (uint8 NHWC codes in, int32 out,
activation packing included). Every case is first checked against the int64 reference.

    python -m pytest benchmarks/ --benchmark-columns=median,iqr,rounds           # full
    BITCONV_BENCH_QUICK=1 python -m pytest benchmarks/ -q --benchmark-disable    # CI smoke run
"""
import pytest

bitconv = pytest.importorskip("bitconv")
from bitconv.bench.harness import check_against_reference, make_case, make_plan  # noqa: E402
from bitconv.bench.plans import LayerBits  # noqa: E402
from bitconv.bench.suites import load_suite  # noqa: E402

from conftest import QUICK  # noqa: E402

if QUICK:
    SHAPES = [("resnet20", "layer2.0.conv1"), ("resnet20", "layer3.0.conv2")]
    BITS = [(1, 1), (2, 2), (3, 4)]
    ROUNDS = 3
else:
    SHAPES = [("resnet20", "layer1.0.conv1"), ("resnet20", "layer3.0.conv2"), ("resnet18", "layer1.0.conv1"),
              ("resnet18", "layer2.0.downsample.0"), ("resnet18", "layer3.1.conv1"), ("resnet18", "layer4.1.conv2"),
              ("vgg-small", "conv3"), ("mobilenetv2", "features.14.conv.0.0"), ("mobilenetv2", "features.15.conv.1.0")]
    BITS = [(1, 1), (1, 2), (2, 2), (2, 4), (3, 3), (4, 4), (8, 8)]
    ROUNDS = 20

ISAS = bitconv.available_isas()


@pytest.fixture(params=ISAS)
def isa(request):
    bitconv.set_isa(request.param)
    yield request.param
    bitconv.set_isa("auto")  # back to the default choice (BITCONV_FORCE_ISA if set), not a pinned ISA


def _case(layer, w, a):
    case = make_case(layer, LayerBits(w, a), batch=1, threads=1, seed=0)
    return case, make_plan(case)


@pytest.mark.parametrize("w,a", BITS, ids=[f"w{w}a{a}" for w, a in BITS])
@pytest.mark.parametrize("suite,name", SHAPES, ids=[f"{s}:{n}" for s, n in SHAPES])
def test_conv2d(benchmark, isa, suite, name, w, a):
    layer = load_suite(suite).layer(name)
    if isa == "scalar" and not QUICK and (w * a > 4 or layer.macs() > 60e6):
        pytest.skip("scalar path: only small cases")
    case, plan = _case(layer, w, a)
    x = case.codes_nhwc

    def run():
        return bitconv.conv2d(x, plan, out="int32", layout="NHWC", threads=1)

    check_against_reference(case, plan, run(), corrupt=False)   # raises WrongResult on any difference
    benchmark.group = f"{suite}:{name} w{w}a{a}"
    benchmark.extra_info.update(isa=isa, macs=layer.macs(), w_bits=w, a_bits=a)
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("threads", [1, 2])
def test_conv2d_threads(benchmark, threads):
    """The same layer on 1 and 2 threads with the default ISA."""
    layer = load_suite("resnet18").layer("layer3.1.conv1" if not QUICK else "layer4.1.conv2")
    case, plan = _case(layer, 2, 2)
    x = case.codes_nhwc
    benchmark.group = f"threads {layer.name} w2a2"
    benchmark.pedantic(lambda: bitconv.conv2d(x, plan, out="int32", layout="NHWC", threads=threads),
                       rounds=ROUNDS, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("w,a", [(2, 2)] if QUICK else [(1, 1), (2, 2), (4, 4)])
def test_plan_build(benchmark, w, a):
    """Plan construction (weight packing) on a big layer."""
    case = make_case(load_suite("resnet18").layer("layer4.1.conv2"), LayerBits(w, a), batch=1, threads=1, seed=0)
    benchmark.pedantic(lambda: make_plan(case), rounds=max(3, ROUNDS // 4), iterations=1)


def test_probe(benchmark):
    """The ceiling probe itself (short measurement)."""
    from bitconv import _native

    r = benchmark.pedantic(lambda: _native.run_probe("", 0.01), rounds=3, iterations=1)
    assert r["binary_macs_per_second"] > 0
