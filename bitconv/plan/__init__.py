"""Bitwidth plans from any mixed-precision searcher.

    >>> from bitconv.plan import load_plan, example_plan
    >>> plan = load_plan("nncf_config.json")          # format detected: plan.format == "nncf"
    >>> plan["layer2.0.conv2"].w_bits
    >>> plan.save("plan.json")                        # bitconv's own format, round-trips exactly
    >>> convs = plan.apply({"conv1": {"weight": w, "stride": 2, "padding": 3, "a_scale": 0.02}, ...})

Formats: bitconv's own JSON ("bitconv-plan", documented in docs/plans.md, schema in
plan.schema.json), HAQ strategies, HAWQ-V3/OMPQ bit_config, NNCF bitwidth_per_scope, AIMET
encodings (legacy and 1.0.0), kernel-wise per-channel bit lists (AutoQ style).
"""
import os as _os

from .core import A_ENCODINGS, W_ENCODINGS, LayerBits, Plan, PlanError
from .importers import FORMATS, detect_format, hawq_resnet_to_torchvision
from .loader import load_plan
from .shapes import SUITES, LayerShape, LayerShapes, suite_key, load_shapes

EXAMPLES = SUITES   # one example plan per shipped layer table
_HERE = _os.path.dirname(_os.path.abspath(__file__))


def schema_path() -> str:
    """Path of the JSON Schema of bitconv's plan format (shipped in the package)."""
    return _os.path.join(_HERE, "plan.schema.json")


def example_path(name: str) -> str:
    key = suite_key(name)
    if key not in EXAMPLES:
        raise PlanError(f"no shipped example plan {name!r} (have: {', '.join(EXAMPLES)})", field="example")
    return _os.path.join(_HERE, "examples", f"{key}.json")


def example_plan(name: str = "resnet18") -> Plan:
    """A shipped mixed-precision example plan ("resnet18" or "mobilenetv2"), with the model's layer
    shapes attached (so averages are MAC-weighted and bit-operations are known)."""
    return load_plan(example_path(name), shapes=suite_key(name))


__all__ = ["Plan", "LayerBits", "PlanError", "load_plan", "example_plan", "example_path", "schema_path",
           "load_shapes", "LayerShapes", "LayerShape", "detect_format", "hawq_resnet_to_torchvision",
           "FORMATS", "SUITES", "EXAMPLES", "A_ENCODINGS", "W_ENCODINGS"]
