"""Applying a plan: per-layer bitconv.ConvPlan objects from weights and geometry.

bitconv.conv (and so the native module) is imported only here, inside the functions, so reading
and showing plans works without the compiled extension.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Dict

from .core import Plan, PlanError, RenameSpec, check_bits, check_scale, make_renamer

log = logging.getLogger("bitconv.plan")

SPEC_KEYS = ("weight", "bias", "stride", "padding", "dilation", "groups", "a_scale", "a_zero_point",
             "w_scale", "a_bits")


def _conv_module():
    try:
        from .. import conv
    except ImportError as e:   # the native extension is not built
        raise ImportError(f"applying a plan needs bitconv's compiled module (bitconv._native): {e}") from e
    return conv


def conv_plan(plan: Plan, layer_name: str, weight, *, bias=None, stride=1, padding=0, dilation=1, groups=1,
              a_scale=None, a_zero_point=None, w_scale=None, a_bits=None, _target=None):
    """The ConvPlan of one plan layer.

    weight: float array [Cout, Cin/groups, kh, kw] (or [Cout, Cin] for a linear layer, run as a 1x1
        conv) -> quantized with the plan's per-channel w_scale when it has one (or ``w_scale=``),
        else by ConvPlan.from_float's rule; integer array -> ConvPlan.from_quantized, which needs
        w_scale (argument or plan).
    a_scale, a_zero_point, w_scale, a_bits: override or complete the plan (a source such as HAQ or
        NNCF has no scales; a_scale is required unless the plan has it or activations are binary).
    """
    import numpy as np

    src = plan.source_name
    shown = _target or layer_name
    lb = plan.layer(layer_name)

    def err(msg, field):
        return PlanError(msg, source=src, layer=shown, field=field)

    if not lb.quantized:
        raise err(f"the source keeps this layer in float ({lb.note or 'not quantized'}); it has no bit-serial plan",
                  "quantized")
    try:
        a = check_bits(a_bits if a_bits is not None else lb.a_bits, "a_bits", allow_none=True)
    except PlanError as e:
        raise e.with_context(source=src, layer=shown) from None
    if a is None:
        raise err("the plan has no activation bits for this layer (the source did not say); pass a_bits=", "a_bits")
    if not isinstance(weight, np.ndarray):
        raise err(f"must be a numpy array, got {type(weight).__name__}", "weight")
    if weight.ndim == 2:
        weight = weight.reshape(weight.shape[0], weight.shape[1], 1, 1)
    if weight.ndim != 4:
        raise err(f"must be [Cout, Cin/groups, kh, kw] (or [Cout, Cin] for linear), got shape {weight.shape}",
                  "weight")
    cout = int(weight.shape[0])
    w_bits = lb.w_bits
    if isinstance(w_bits, tuple) and len(w_bits) != cout:
        raise err(f"has {len(w_bits)} entries but the weight has Cout={cout} output channels", "w_bits")
    ws = w_scale if w_scale is not None else lb.w_scale
    if ws is not None:
        arr = np.atleast_1d(np.asarray(ws, dtype=np.float64))
        if arr.ndim != 1 or arr.shape[0] not in (1, cout):
            raise err(f"has {arr.shape[0] if arr.ndim == 1 else arr.shape} entries but the weight has Cout={cout} "
                      f"output channels", "w_scale")
        for k, s in enumerate(arr):
            try:
                check_scale(float(s), f"w_scale[{k}]")
            except PlanError as e:
                raise e.with_context(source=src, layer=shown) from None
        ws = np.broadcast_to(arr, (cout,)).copy()
    asc = a_scale if a_scale is not None else lb.a_scale
    if asc is None:
        if lb.a_encoding == "binary":
            asc = 1.0
        else:
            raise err("the plan has no activation scale for this layer; pass a_scale=", "a_scale")
    zp = a_zero_point if a_zero_point is not None else (lb.a_zero_point or 0)
    bits_arg = list(w_bits) if isinstance(w_bits, tuple) else w_bits
    common = dict(w_bits=bits_arg, a_bits=a, w_encoding=lb.w_encoding, a_scale=asc, a_zero_point=zp,
                  a_encoding=lb.a_encoding, bias=bias, stride=stride, padding=padding, dilation=dilation,
                  groups=groups)
    conv = _conv_module()
    try:
        if weight.dtype.kind in "iu":
            if ws is None:
                raise err("integer weights need their scales: the plan has none; pass w_scale=", "w_scale")
            return conv.ConvPlan.from_quantized(weight, ws, **common)
        if weight.dtype.kind != "f":
            raise err(f"must be a float or integer array, got dtype {weight.dtype}", "weight")
        return conv.ConvPlan.from_float(weight, w_scale=ws, **common)  # the tool's scales, if any
    except PlanError:
        raise
    except (ValueError, TypeError) as e:
        raise err(str(e), _field_of(str(e))) from None


def _field_of(msg: str) -> str:
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)", msg)
    word = m.group(1) if m else "weight"
    if word == "qweight":
        return "weight"
    if word == "int32":
        return "w_bits"
    if word in SPEC_KEYS or word in ("w_bits", "w_encoding", "a_encoding"):
        return word
    return "weight"


def apply_plan(plan: Plan, layers: Mapping, rename: RenameSpec = None) -> Dict[str, object]:
    """ConvPlans for every layer: ``layers`` maps model layer name -> spec dict with ``weight`` and
    optionally bias, stride, padding, dilation, groups, a_scale, a_zero_point, w_scale, a_bits (a bare
    array is taken as the weight).

    rename: mapping or function, plan layer name -> model layer name (names not in a mapping are
    kept). A model layer absent from the plan, or a quantized plan layer absent from ``layers``, is a
    PlanError. Layers the plan keeps in float are skipped (not in the result; logged).
    Returns {model layer name: ConvPlan} in the order of ``layers``.
    """
    src = plan.source_name
    if not isinstance(layers, Mapping):
        raise PlanError(f"layers must map layer names to spec dicts, got {type(layers).__name__}", source=src,
                        field="layers")
    fn = make_renamer(rename, source=src)
    target_to_plan = {}
    for pname in plan:
        t = fn(pname)
        if t in target_to_plan:
            raise PlanError(f"rename sends two plan layers ({target_to_plan[t]!r}, {pname!r}) to one name",
                            source=src, layer=t, field="rename")
        target_to_plan[t] = pname
    for name in layers:
        if name not in target_to_plan:
            raise PlanError("in the model's layers but not in the plan", source=src, layer=name, field="name")
    for t, pname in target_to_plan.items():
        if plan[pname].quantized and t not in layers:
            raise PlanError("in the plan but missing from the layers given to apply()", source=src, layer=t,
                            field="name")
    out = {}
    for name, spec in layers.items():
        pname = target_to_plan[name]
        if not plan[pname].quantized:
            log.info("bitconv.plan: %s: layer %s is not quantized in the plan (%s); skipped", src, name,
                     plan[pname].note or "float")
            continue
        if not isinstance(spec, Mapping):
            spec = {"weight": spec}
        for k in spec:
            if k not in SPEC_KEYS:
                raise PlanError(f"unknown key in the layer spec (known: {', '.join(SPEC_KEYS)})", source=src,
                                layer=name, field=str(k))
        if "weight" not in spec:
            raise PlanError("missing from the layer spec", source=src, layer=name, field="weight")
        kwargs = {k: v for k, v in spec.items() if k != "weight"}
        out[name] = conv_plan(plan, pname, spec["weight"], _target=name, **kwargs)
    return out
