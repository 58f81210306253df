"""Network layer tables for the benchmark and their arithmetic. ResNet-18 and MobileNetV2 come from the
plan package's shape tables (bitconv/plan/shapes_*.json, one source for both); the suites without
one (resnet20, vgg-small) are bitconv/bench/suites/*.json."""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from ..geometry import output_size

SUITE_DIR = Path(__file__).resolve().parent / "suites"
SUITES = ("resnet18", "resnet20", "vgg-small", "mobilenetv2")
# What the plan's shape tables do not say: a description and the layer the --sweep heatmap uses.
_FROM_SHAPES = {
    "resnet18": ("torchvision ResNet-18 conv layers, ImageNet 224x224 input (fc omitted)", "layer3.1.conv1"),
    "mobilenetv2": ("torchvision MobileNetV2 conv layers (width 1.0), ImageNet 224x224 input (classifier "
                    "omitted)", "features.14.conv.0.0"),
}


@dataclass(frozen=True)
class Layer:
    """One conv layer of a suite: exact shapes, torchvision-style module name."""

    name: str
    cin: int
    cout: int
    kh: int
    kw: int
    stride: int
    padding: int
    groups: int
    h: int
    w: int

    @property
    def ho(self) -> int:
        return output_size(self.h, self.kh, self.stride, self.padding, 1)   # suite layers are undilated

    @property
    def wo(self) -> int:
        return output_size(self.w, self.kw, self.stride, self.padding, 1)

    def macs(self, batch: int = 1) -> int:
        """Multiply-accumulates of one forward pass."""
        return batch * self.cout * (self.cin // self.groups) * self.kh * self.kw * self.ho * self.wo

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.cin

    def shape_str(self) -> str:
        s = f"{self.cin}>{self.cout} {self.kh}x{self.kw}"
        if self.stride != 1:
            s += f"/{self.stride}"
        s += f" @{self.h}"
        if self.groups != 1:
            s += " dw" if self.depthwise else f" g{self.groups}"
        return s

    def to_dict(self) -> dict:
        return {"name": self.name, "cin": self.cin, "cout": self.cout, "kh": self.kh, "kw": self.kw,
                "stride": self.stride, "padding": self.padding, "groups": self.groups, "h": self.h,
                "w": self.w}


@dataclass
class Suite:
    name: str
    description: str
    layers: List[Layer]
    sweep_layer: str

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(f"suite {self.name} has no layer {name!r}")


def load_suite(name_or_path: str) -> Suite:
    """A shipped suite by name (resnet18, resnet20, vgg-small, mobilenetv2) or a suite JSON file."""
    if name_or_path in _FROM_SHAPES:
        return _suite_from_shapes(name_or_path)
    path = Path(name_or_path)
    if not (path.suffix == ".json" and path.exists()):
        path = SUITE_DIR / f"{name_or_path}.json"
        if not path.exists():
            raise ValueError(f"unknown suite {name_or_path!r} (shipped: {', '.join(SUITES)}; or a path to "
                             f"a suite .json file)")
    with open(path) as f:
        doc = json.load(f)
    if doc.get("format") != "bitconv-bench-suite":
        raise ValueError(f"{path}: not a bitconv bench suite (format tag {doc.get('format')!r})")
    layers = []
    for i, d in enumerate(doc["layers"]):
        try:
            layers.append(Layer(name=str(d["name"]), cin=int(d["cin"]), cout=int(d["cout"]), kh=int(d["kh"]),
                                kw=int(d["kw"]), stride=int(d.get("stride", 1)), padding=int(d.get("padding", 0)),
                                groups=int(d.get("groups", 1)), h=int(d["h"]), w=int(d["w"])))
        except KeyError as e:
            raise ValueError(f"{path}: layer {i} lacks field {e}") from None
    return Suite(name=doc.get("suite", path.stem), description=doc.get("description", ""), layers=layers,
                 sweep_layer=doc.get("sweep_layer") or layers[len(layers) // 2].name)


def _suite_from_shapes(name: str) -> Suite:
    from ..plan.shapes import load_shapes

    description, sweep = _FROM_SHAPES[name]
    layers = [Layer(name=sh.name, cin=sh.cin, cout=sh.cout, kh=sh.kernel[0], kw=sh.kernel[1], stride=sh.stride[0],
                    padding=sh.padding[0], groups=sh.groups, h=sh.input_hw[0], w=sh.input_hw[1])
              for sh in load_shapes(name).values() if sh.op == "conv2d"]
    return Suite(name=name, description=description, layers=layers, sweep_layer=sweep)


def select_layers(suite: Suite, spec: Optional[str]) -> List[Layer]:
    """Layers matching a comma-separated list of names or glob patterns (all when spec is empty)."""
    if not spec:
        return list(suite.layers)
    pats = [p.strip() for p in spec.split(",") if p.strip()]
    out = [lay for lay in suite.layers if any(fnmatch.fnmatchcase(lay.name, p) for p in pats)]
    unmatched = [p for p in pats if not any(fnmatch.fnmatchcase(lay.name, p) for lay in suite.layers)]
    if unmatched:
        raise ValueError(f"--layers: no layer of suite {suite.name} matches {', '.join(unmatched)} "
                         f"(layers: {', '.join(lay.name for lay in suite.layers)})")
    return out
