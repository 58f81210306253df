"""Which bits each benchmarked layer runs at: a uniform --bits, a plan file, or the example plan."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Union

import numpy as np


@dataclass
class LayerBits:
    w_bits: Union[int, List[int]]    # one int, or one per output channel
    a_bits: int
    a_encoding: str = "unsigned"
    a_zero_point: int = 0
    marked: str = ""                 # why the layer runs at 8x8 instead of its plan's bits ("" = not marked)

    def w_list(self, cout: int) -> List[int]:
        return list(self.w_bits) if isinstance(self.w_bits, (list, tuple)) else [int(self.w_bits)] * cout

    def w_avg(self, cout: int) -> float:
        return float(np.mean(self.w_list(cout)))

    def label(self, cout: int) -> str:
        if isinstance(self.w_bits, (list, tuple)):
            vals, counts = np.unique(self.w_list(cout), return_counts=True)
            w = "{" + ",".join(f"{v}:{c}" for v, c in zip(vals, counts)) + "}"
        else:
            w = str(self.w_bits)
        return f"{w}x{self.a_bits}" + ("b" if self.a_encoding == "binary" else "") + ("*" if self.marked else "")


def parse_bits(spec: str) -> LayerBits:
    """WxA, or Wx1b for binary {-1, +1} activations (codes {0, 1}, value 2q - 1)."""
    m = re.fullmatch(r"\s*([1-8])\s*[xX,/]\s*([1-8])\s*([bB]?)\s*", spec or "")
    if not m:
        raise ValueError(f"--bits expects WxA with W, A in 1..8 (e.g. 2x2), or Wx1b for binary activations, "
                         f"got {spec!r}")
    if m.group(3) and m.group(2) != "1":
        raise ValueError(f"--bits: binary activations (b) are 1-bit, got {spec!r}; use Wx1b")
    return LayerBits(int(m.group(1)), int(m.group(2)), a_encoding="binary" if m.group(3) else "unsigned")


def parse_kernelwise(spec: str):
    """'W1,W2,...xA' (e.g. 1,1,1,4x2): the weight bits kernel-wise layers share out over their output
    channels in equal parts, and the activation bits. Returns (list of weight bits, a_bits)."""
    m = re.fullmatch(r"\s*([1-8](?:\s*,\s*[1-8])+)\s*[xX]\s*([1-8])\s*", spec or "")
    if not m:
        raise ValueError(f"--kernelwise expects two or more weight bits and the activation bits as W1,W2,...xA "
                         f"with each in 1..8 (e.g. 1,1,1,4x2), got {spec!r}")
    mix = [int(b) for b in m.group(1).split(",")]
    if len(set(mix)) < 2:
        raise ValueError(f"--kernelwise: the weight bits must differ (a uniform layer is --bits), got {spec!r}")
    return mix, int(m.group(2))


def kernelwise_bits(mix, cout: int, seed: int):
    """Per-channel weight bits with mix[i] on the i-th of len(mix) equal parts of the channels: in
    that order (contiguous runs), and spread by a seeded random permutation (as a per-channel
    search such as AutoQ leaves them)."""
    n = len(mix)
    contiguous = [mix[k * n // cout] for k in range(cout)]
    perm = np.random.default_rng(seed).permutation(cout)
    return contiguous, [contiguous[int(i)] for i in perm]


# The plan for suites without a shipped example plan (resnet20, vgg-small): first conv unquantized,
# 4x4 for 1x1 and downsample layers, 4x4 / 3x3 / 2x2 for the 3x3 convs of ResNet stages 1 / 2 / 3+
# (layers not named layerN take 2x2), one kernel-wise layer where the suite has layer3.1.conv2.
def builtin_default(layers) -> dict:
    out = {}
    for i, lay in enumerate(layers):
        n = lay.name
        if i == 0:
            out[n] = None                                   # unquantized first layer
        elif "downsample" in n or lay.kh == 1 or lay.groups > 1:
            out[n] = LayerBits(4, 4)
        elif n.startswith("layer1"):
            out[n] = LayerBits(4, 4)
        elif n.startswith("layer2"):
            out[n] = LayerBits(3, 3)
        elif n == "layer3.1.conv2":
            out[n] = LayerBits([2, 3] * (lay.cout // 2) + [2] * (lay.cout % 2), 2)   # kernel-wise
        else:
            out[n] = LayerBits(2, 2)
    return out


def _plan_bits(plan, layer, where: str) -> Optional[LayerBits]:
    """The bits a bitconv.plan.Plan gives a suite layer; None = kept in float (runs 8x8, marked).
    A layer the plan does not name, or one without activation bits, is an error: silently running
    it at 8x8 would benchmark a different network than the plan describes."""
    if layer.name not in plan:
        raise ValueError(
            f"{where}: the plan has no layer {layer.name!r} of suite layers; plans that name layers by index "
            f"or by their own module names (HAQ, HAWQ-V3/OMPQ, NNCF) or lack activation bits need "
            f"`bitconv plan convert FILE --names/--rename/--a-bits ... -o plan.json` first")
    lb = plan[layer.name]
    if not lb.quantized:
        return None
    if lb.a_bits is None:
        raise ValueError(f"{where}: layer {layer.name}: the plan gives no activation bits "
                         f"(convert it with `bitconv plan convert FILE --a-bits N -o plan.json`)")
    w = [int(b) for b in lb.w_bits] if isinstance(lb.w_bits, (list, tuple)) else int(lb.w_bits)
    if isinstance(w, list):
        if len(set(w)) == 1:
            w = w[0]
        elif len(w) != layer.cout:
            raise ValueError(f"{where}: layer {layer.name}: w_bits lists {len(w)} channels, the layer has "
                             f"{layer.cout}")
    return LayerBits(w, int(lb.a_bits), lb.a_encoding or "unsigned", int(lb.a_zero_point or 0))


def normalize(bits: Optional[LayerBits], layer) -> LayerBits:
    """Unquantized layers (run at 8x8 bits) and layers the plan keeps at 8x8 are marked."""
    if bits is None:
        return LayerBits(8, 8, marked="unquantized in the plan")
    # Bits come from a validated plan, --bits (1..8) or the built-in default: only marking is left.
    if min(bits.w_list(layer.cout)) == 8 and bits.a_bits == 8:
        bits.marked = "plan keeps it at 8 bits"
    return bits


def _load_plan_file(path: str, suite_name: str):
    """bitconv.plan.load_plan (every searcher format), with the suite's shapes where a shipped table
    has them (for MAC-weighted averages and per-channel length checks)."""
    from bitconv.plan import SUITES, load_plan

    try:
        return load_plan(path, shapes=suite_name if suite_name in SUITES else None)
    except Exception as e:
        raise ValueError(f"--plan {path}: {e}") from None


def resolve_plan(*, suite_name: str, layers, bits: Optional[str], plan_path: Optional[str], all_layers=None):
    """(dict layer name -> LayerBits, description of the plan used, notes)."""
    notes = []
    if bits and plan_path:
        raise ValueError("give either --bits or --plan, not both")
    if bits:
        lb = parse_bits(bits)
        return ({lay.name: normalize(LayerBits(lb.w_bits, lb.a_bits, lb.a_encoding), lay) for lay in layers},
                f"uniform {lb.label(0)}", notes)
    if plan_path:
        plan = _load_plan_file(plan_path, suite_name)
        out = {lay.name: normalize(_plan_bits(plan, lay, f"--plan {plan_path}"), lay) for lay in layers}
        return out, f"plan file {plan_path}", notes
    plan = None
    try:
        from bitconv.plan import example_plan

        plan = example_plan(suite_name)
        desc = f"bitconv.plan.example_plan({suite_name!r})"
    except Exception as e:
        notes.append(f"example plan for {suite_name} not available ({type(e).__name__}: {e}); using the "
                     f"harness's built-in default plan")
    if plan is not None:
        out = {lay.name: normalize(_plan_bits(plan, lay, desc), lay) for lay in layers}
        return out, desc, notes
    d = builtin_default(all_layers or layers)
    return {lay.name: normalize(d.get(lay.name), lay) for lay in layers}, "built-in default mixed plan", notes
