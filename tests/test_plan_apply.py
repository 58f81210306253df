"""Applying plans to real ConvPlans (needs the compiled bitconv._native module)."""
import numpy as np
import pytest

try:
    import bitconv._native  # noqa: F401
    _NATIVE_ERR = None
except ImportError as e:     # not built
    _NATIVE_ERR = str(e)

pytestmark = pytest.mark.skipif(_NATIVE_ERR is not None,
                                reason=f"bitconv._native is not built ({_NATIVE_ERR}); apply needs it")

from bitconv.plan import LayerBits, Plan, PlanError, example_plan, load_plan, load_shapes  # noqa: E402


def _layers(suite, rng, a_scale=0.05):
    out = {}
    for name, s in load_shapes(suite).items():
        if s.op == "linear":
            w = rng.standard_normal((s.cout, s.cin)).astype(np.float32)
            out[name] = {"weight": w, "a_scale": a_scale}
        else:
            w = rng.standard_normal((s.cout, s.cin // s.groups, *s.kernel)).astype(np.float32)
            out[name] = {"weight": w, "stride": s.stride, "padding": s.padding, "groups": s.groups,
                         "a_scale": a_scale}
    return out


@pytest.mark.parametrize("suite", ["resnet18", "mobilenetv2"])
def test_apply_example_plans(suite):
    import bitconv
    plan = example_plan(suite)
    convs = plan.apply(_layers(suite, np.random.default_rng(1)))
    assert list(convs) == list(plan)
    for name, cp in convs.items():
        lb = plan[name]
        assert isinstance(cp, bitconv.ConvPlan)
        want = list(lb.w_bits) if lb.kernelwise else [lb.w_bits] * cp.cout
        assert cp.w_bits.tolist() == want and cp.a_bits == lb.a_bits
        assert cp.a_zero_point == (lb.a_zero_point or 0)
    kw = "layer3.0.conv2" if suite == "resnet18" else "features.17.conv.2"
    assert convs[kw].mixed


def test_apply_quantized_weights_with_plan_scales_runs():
    import bitconv
    plan = load_plan({"activation_encodings": {"conv1": {"input": {"0": {
        "bitwidth": 4, "dtype": "int", "is_symmetric": "False", "offset": -3, "scale": 0.25, "min": -0.75, "max": 3.0}}}},
        "param_encodings": {"conv1.weight": [
            {"bitwidth": b, "dtype": "int", "is_symmetric": "True", "offset": -(2 ** (b - 1)), "scale": s,
             "min": -1.0, "max": 1.0} for b, s in ((2, 0.5), (4, 0.1), (3, 0.2))]}})
    rng = np.random.default_rng(2)
    hi = np.array([1, 7, 3]).reshape(3, 1, 1, 1)
    q = np.clip(rng.integers(-8, 8, size=(3, 2, 3, 3)), -hi - 1, hi).astype(np.int8)
    cp = plan.conv_plan("conv1", q, padding=1)
    assert cp.w_bits.tolist() == [2, 4, 3] and cp.a_zero_point == 3 and cp.a_scale == 0.25
    x = rng.integers(0, 16, size=(1, 2, 5, 5)).astype(np.uint8)
    acc = bitconv.conv2d(x, cp, out="int32")
    # direct int64 check of the contract: v = q - zp; padding is 0 in the real domain
    v = np.pad(x.astype(np.int64) - 3, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((1, 3, 5, 5), np.int64)
    for i in range(3):
        for j in range(3):
            ref += np.einsum("kc,nchw->nkhw", q[:, :, i, j].astype(np.int64), v[:, :, i:i + 5, j:j + 5])
    assert np.array_equal(acc.astype(np.int64), ref)


def test_apply_errors_from_convplan_are_plan_errors():
    plan = Plan({"c": LayerBits(4, 4)}, source="p.json")
    with pytest.raises(PlanError) as e:
        plan.conv_plan("c", np.ones((2, 1, 3, 3), np.float32), a_scale=1.0, groups=3)
    msg = str(e.value)
    assert "p.json" in msg and "layer 'c'" in msg and "field 'groups'" in msg
    with pytest.raises(PlanError) as e:
        plan.conv_plan("c", np.ones((2, 1, 3, 3), np.float32), a_scale=1.0, bias=np.ones(5))
    assert "field 'bias'" in str(e.value)
