"""Layer tables: per-layer geometry used for MAC-weighted averages and bit-operation counts.

A shapes file is JSON::

    {"format": "bitconv-shapes", "version": 1, "model": "resnet18", "input": [1, 3, 224, 224],
     "layers": {"conv1": {"op": "conv2d", "cin": 3, "cout": 64, "kernel": [7, 7], "stride": [2, 2],
                          "padding": [3, 3], "dilation": [1, 1], "groups": 1,
                          "input_hw": [224, 224], "output_hw": [112, 112]},
                "fc": {"op": "linear", "cin": 512, "cout": 1000}}}

Only ``cout`` is required per layer, plus either ``macs`` or enough geometry to compute them
(conv2d: cin, kernel, output_hw, groups; linear: cin). MACs are per image.
"""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ..geometry import output_size
from .core import PlanError, is_int

SUITES = ("resnet18", "mobilenetv2")
_HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class LayerShape:
    name: str
    op: str
    cin: Optional[int]
    cout: int
    kernel: Tuple[int, int] = (1, 1)
    stride: Tuple[int, int] = (1, 1)
    padding: Tuple[int, int] = (0, 0)
    dilation: Tuple[int, int] = (1, 1)
    groups: int = 1
    input_hw: Optional[Tuple[int, int]] = None
    output_hw: Optional[Tuple[int, int]] = None
    macs: int = 0

    @property
    def params(self) -> int:
        """Weight count (no bias)."""
        if self.cin is None:
            return 0
        return _weight_count(self.cin, self.cout, self.groups, self.kernel)


def _weight_count(cin, cout, groups, kernel) -> int:
    """Weights of a conv, which are also its MACs per output pixel."""
    return cout * (cin // groups) * kernel[0] * kernel[1]


class LayerShapes(Mapping):
    """Ordered mapping layer name -> LayerShape (module order of the model)."""

    def __init__(self, layers: Dict[str, LayerShape], *, name: str = "shapes", model: Optional[str] = None):
        self.layers = dict(layers)
        self.name = name
        self.model = model

    def __getitem__(self, k):
        return self.layers[k]

    def __iter__(self):
        return iter(self.layers)

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        return f"<LayerShapes {self.name!r}: {len(self)} layers>"


def suite_key(name: str) -> str:
    """A suite or example name as shipped: "ResNet-18", "resnet_18" -> "resnet18"."""
    return name.lower().replace("-", "").replace("_", "")


def suite_path(name: str) -> str:
    return os.path.join(_HERE, f"shapes_{name}.json")


@functools.lru_cache(maxsize=None)
def _suite_table(key: str) -> LayerShapes:
    # Parsed once per process. load_shapes hands out a new LayerShapes around the (frozen) LayerShape
    # entries, so no caller can change what the next one gets.
    return _from_file(suite_path(key), name=key)


def load_shapes(spec) -> Optional[LayerShapes]:
    """A LayerShapes from a LayerShapes, a suite name ("resnet18", "mobilenetv2"), a path or a dict."""
    if spec is None or isinstance(spec, LayerShapes):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        s = str(spec)
        key = suite_key(s)
        if key in SUITES:
            table = _suite_table(key)
            return LayerShapes(table.layers, name=table.name, model=table.model)
        if not os.path.exists(s):
            raise PlanError(f"no such shapes file, and not a shipped suite ({', '.join(SUITES)})",
                            source=s, field="shapes")
        return _from_file(s, name=os.path.basename(s))
    if isinstance(spec, Mapping):
        return shapes_from_dict(spec, source="<python object>", name="shapes")
    raise PlanError(f"shapes must be a suite name, a path or a dict, got {type(spec).__name__}", field="shapes")


def _from_file(path: str, name: str) -> LayerShapes:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise PlanError(f"cannot read: {e.strerror or e}", source=path, field="shapes") from None
    except json.JSONDecodeError as e:
        raise PlanError(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}", source=path,
                        field="json") from None
    return shapes_from_dict(doc, source=path, name=name)


def _pair(v, field, src, layer, default):
    if v is None:
        return default
    if is_int(v):
        return (int(v), int(v))
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(is_int(x) for x in v):
        return (int(v[0]), int(v[1]))
    raise PlanError(f"must be an int or a pair of ints, got {v!r}", source=src, layer=layer, field=field)


def shapes_from_dict(doc, *, source: str, name: str) -> LayerShapes:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("layers"), Mapping):
        raise PlanError("a shapes document is an object with a 'layers' object", source=source, field="layers")
    out = {}
    for lname, d in doc["layers"].items():
        if not isinstance(d, Mapping):
            raise PlanError("must be an object", source=source, layer=lname, field="layers")
        op = d.get("op", "conv2d")
        if op not in ("conv2d", "linear"):
            raise PlanError(f"must be 'conv2d' or 'linear', got {op!r}", source=source, layer=lname, field="op")
        cout = d.get("cout")
        if not is_int(cout) or cout < 1:
            raise PlanError(f"must be a positive integer, got {cout!r}", source=source, layer=lname, field="cout")
        cin = d.get("cin")
        if cin is not None and (not is_int(cin) or cin < 1):
            raise PlanError(f"must be a positive integer, got {cin!r}", source=source, layer=lname, field="cin")
        groups = d.get("groups", 1)
        if not is_int(groups) or groups < 1:
            raise PlanError(f"must be a positive integer, got {groups!r}", source=source, layer=lname, field="groups")
        kernel = _pair(d.get("kernel"), "kernel", source, lname, (1, 1))
        stride = _pair(d.get("stride"), "stride", source, lname, (1, 1))
        padding = _pair(d.get("padding"), "padding", source, lname, (0, 0))
        dilation = _pair(d.get("dilation"), "dilation", source, lname, (1, 1))
        in_hw = _pair(d.get("input_hw"), "input_hw", source, lname, None)
        out_hw = _pair(d.get("output_hw"), "output_hw", source, lname, None)
        if out_hw is None and in_hw is not None and op == "conv2d":
            out_hw = tuple(output_size(in_hw[i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(2))
        macs = d.get("macs")
        if macs is None:
            if cin is None:
                raise PlanError("need 'macs' or 'cin' (and for conv2d 'output_hw' or 'input_hw')",
                                source=source, layer=lname, field="macs")
            if op == "linear":
                macs = cin * cout
            else:
                if out_hw is None:
                    raise PlanError("need 'output_hw' or 'input_hw' to count MACs", source=source,
                                    layer=lname, field="output_hw")
                macs = _weight_count(cin, cout, groups, kernel) * out_hw[0] * out_hw[1]
        elif not is_int(macs) or macs < 0:
            raise PlanError(f"must be a non-negative integer, got {macs!r}", source=source, layer=lname,
                            field="macs")
        out[lname] = LayerShape(lname, op, cin, int(cout), kernel, stride, padding, dilation, int(groups),
                                in_hw, out_hw, int(macs))
    return LayerShapes(out, name=name, model=doc.get("model"))
