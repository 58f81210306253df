"""Which bits each benchmarked layer runs at: a uniform --bits, a plan file, or the example plan."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
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
        return f"{w}x{self.a_bits}" + ("*" if self.marked else "")


def parse_bits(spec: str) -> LayerBits:
    m = re.fullmatch(r"\s*([1-8])\s*[xX,/]\s*([1-8])\s*", spec or "")
    if not m:
        raise ValueError(f"--bits expects WxA with W, A in 1..8 (e.g. 2x2), got {spec!r}")
    return LayerBits(int(m.group(1)), int(m.group(2)))


# A built-in mixed-precision plan for ResNet-18, used until bitconv.plan.example_plan is available:
# first conv unquantized, then fewer bits deeper in the network; one kernel-wise layer.
def builtin_default(suite_name: str, layers) -> dict:
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


def _entry_to_bits(obj, layer, where: str) -> Optional[LayerBits]:
    """A plan entry (bitconv.plan layer object, dict, or [w, a] pair) -> LayerBits; None = unquantized."""
    if obj is None:
        return None
    if isinstance(obj, (list, tuple)) and len(obj) == 2 and not isinstance(obj[0], (list, tuple)):
        w, a, enc, zp = obj[0], obj[1], "unsigned", 0
    elif isinstance(obj, dict):
        w, a = obj.get("w_bits"), obj.get("a_bits")
        enc, zp = obj.get("a_encoding") or "unsigned", obj.get("a_zero_point") or 0
    else:
        w, a = getattr(obj, "w_bits", None), getattr(obj, "a_bits", None)
        enc, zp = getattr(obj, "a_encoding", None) or "unsigned", getattr(obj, "a_zero_point", 0) or 0
    if w is None or a is None:
        return None
    if isinstance(w, np.ndarray):
        w = w.tolist()
    if isinstance(w, (list, tuple)):
        w = [int(b) for b in w]
        if len(set(w)) == 1:
            w = w[0]
        elif len(w) != layer.cout:
            raise ValueError(f"{where}: layer {layer.name}: w_bits lists {len(w)} channels, the layer has "
                             f"{layer.cout}")
    else:
        w = int(w)
    a = int(a)
    if not isinstance(zp, (int, np.integer)):
        zp = int(np.asarray(zp).ravel()[0])
    return LayerBits(w, a, str(enc), int(zp))


def _lookup(plan, name):
    """plan[name] for the plan shapes we accept (bitconv.plan.Plan, dict, object with .layers)."""
    for get in (lambda: plan.get(name), lambda: plan[name], lambda: plan.layers[name],
                lambda: plan.layers.get(name)):
        try:
            return get()
        except (KeyError, AttributeError, TypeError, IndexError):
            continue
    return None


def normalize(bits: Optional[LayerBits], layer) -> LayerBits:
    """Layers kept at 8 bits (or more) or unquantized run 8x8 bit-serial and are marked."""
    if bits is None:
        return LayerBits(8, 8, marked="unquantized in the plan")
    wl = bits.w_list(layer.cout)
    if any(b < 1 for b in wl) or bits.a_bits < 1:
        raise ValueError(f"layer {layer.name}: bits must be >= 1, got w={bits.w_bits}, a={bits.a_bits}")
    if max(wl) > 8 or bits.a_bits > 8:
        return LayerBits(8, 8, marked=f"plan keeps it at {max(wl)}x{bits.a_bits} bits")
    if min(wl) == 8 and bits.a_bits == 8:
        bits.marked = "plan keeps it at 8 bits"
    if bits.a_encoding == "binary" and bits.a_bits != 1:
        raise ValueError(f"layer {layer.name}: binary activations need a_bits=1, got {bits.a_bits}")
    if bits.a_encoding not in ("unsigned", "binary"):
        raise ValueError(f"layer {layer.name}: unknown a_encoding {bits.a_encoding!r}")
    return bits


def _load_plan_file(path: str, suite_name: str):
    """bitconv.plan.load_plan (every searcher format; the suite's shapes for formats that need them),
    or, without bitconv.plan, the layers of a bitconv-plan JSON read directly."""
    try:
        from bitconv.plan import load_plan
    except ImportError:
        load_plan = None
    if load_plan is not None:
        try:
            return load_plan(path, shapes=suite_name)
        except TypeError:
            return load_plan(path)
        except Exception as e:
            if "shape" not in str(e).lower():
                raise ValueError(f"--plan {path}: {e}") from None
            return load_plan(path)
    with open(path) as f:
        doc = json.load(f)
    return doc.get("layers", doc) if isinstance(doc, dict) else doc


def resolve_plan(*, suite_name: str, layers, bits: Optional[str], plan_path: Optional[str], all_layers=None):
    """(dict layer name -> LayerBits, description of the plan used, notes)."""
    notes = []
    if bits and plan_path:
        raise ValueError("give either --bits or --plan, not both")
    if bits:
        lb = parse_bits(bits)
        return ({lay.name: normalize(LayerBits(lb.w_bits, lb.a_bits), lay) for lay in layers},
                f"uniform {lb.w_bits}x{lb.a_bits}", notes)
    if plan_path:
        plan = _load_plan_file(plan_path, suite_name)
        if isinstance(plan, list):  # a list of {"name": ...} entries
            plan = {d.get("name"): d for d in plan if isinstance(d, dict)}
        out = {}
        for lay in layers:
            out[lay.name] = normalize(_entry_to_bits(_lookup(plan, lay.name), lay, plan_path), lay)
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
        out = {lay.name: normalize(_entry_to_bits(_lookup(plan, lay.name), lay, desc), lay) for lay in layers}
        return out, desc, notes
    d = builtin_default(suite_name, all_layers or layers)
    return {lay.name: normalize(d.get(lay.name), lay) for lay in layers}, "built-in default mixed plan", notes
