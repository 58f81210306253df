"""The in-memory plan: per-layer bits (LayerBits), the Plan mapping, and PlanError."""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

# The tuples' order is the C++ enums' (csrc/core/conv.h): the native ConvLayer gets their .index().
A_ENCODINGS = ("unsigned", "binary")
W_ENCODINGS = ("signed", "odd")
MIN_BITS, MAX_BITS = 1, 8


class PlanError(ValueError):
    """A plan that cannot be read, validated or applied.

    The message always names the source (file, or ``<json string>`` / ``<python object>``), the
    layer (``-`` when the problem is not about one layer) and the field. The parts are also kept as
    attributes: ``source``, ``layer``, ``field``, ``reason``.
    """

    def __init__(self, reason: str, *, source: Optional[str] = None, layer: Optional[str] = None,
                 field: Optional[str] = None):
        self.reason = reason
        self.source = source
        self.layer = layer
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        src = self.source if self.source else "<plan>"
        layer = f"layer '{self.layer}'" if self.layer is not None else "layer -"
        field = f"field '{self.field}'" if self.field is not None else "field -"
        return f"{src}: {layer}, {field}: {self.reason}"

    def with_context(self, *, source=None, layer=None, field=None) -> "PlanError":
        """A copy with the missing parts filled in (parts already set are kept)."""
        return PlanError(self.reason, source=self.source or source,
                         layer=self.layer if self.layer is not None else layer,
                         field=self.field if self.field is not None else field)


def is_int(v) -> bool:
    """An integer that is not a bool (JSON true/false must not pass as 1/0)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def check_bits(v, field: str, *, allow_none=False) -> Optional[int]:
    if v is None and allow_none:
        return None
    if not is_int(v):
        raise PlanError(f"must be an integer in {MIN_BITS}..{MAX_BITS}, got {_show(v)}", field=field)
    if not MIN_BITS <= int(v) <= MAX_BITS:
        raise PlanError(f"bits must be in {MIN_BITS}..{MAX_BITS}, got {int(v)}", field=field)
    return int(v)


def check_scale(v, field: str) -> float:
    if not is_real(v):
        raise PlanError(f"must be a number, got {_show(v)}", field=field)
    f = float(v)
    if not math.isfinite(f) or f <= 0:
        raise PlanError(f"must be finite and > 0, got {f!r}", field=field)
    return f


def _show(v) -> str:
    if isinstance(v, bool):
        return f"bool {v!r}"
    if isinstance(v, str):
        return f"string {v!r}"
    if v is None:
        return "null"
    if isinstance(v, (list, tuple)):
        return f"list of {len(v)}"
    if isinstance(v, Mapping):
        return "object"
    return f"{type(v).__name__} {v!r}"


@dataclass(frozen=True)
class LayerBits:
    """One layer's bits and (optional) quantizer parameters.

    w_bits: one int for the layer, or a tuple with one int per output channel (kernel-wise).
    a_bits: activation bits, or None when the source did not say (give it at apply time).
    a_encoding: "unsigned" (codes minus a_zero_point) or "binary" ({-1, +1}, a_bits = 1).
    w_encoding: "signed", "odd", or None (bitconv's default: odd for 1-bit, signed otherwise).
    a_scale, a_zero_point: the activation quantizer, when the source has it.
    w_scale: the weight scale (one float, or one per output channel), when the source has it.
    quantized: False for a layer the source keeps in float (HAQ's -1, a float encoding, ...);
        such a layer is reported and skipped by ``Plan.apply``.
    note: free text (why a layer is not quantized, where a value came from).
    """

    w_bits: Union[int, Tuple[int, ...], None]
    a_bits: Optional[int] = None
    a_encoding: str = "unsigned"
    w_encoding: Optional[str] = None
    a_scale: Optional[float] = None
    a_zero_point: Optional[int] = None
    w_scale: Union[float, Tuple[float, ...], None] = None
    quantized: bool = True
    note: Optional[str] = None

    def __post_init__(self):
        # Normalise sequences to tuples of Python scalars so equality and hashing are exact.
        if isinstance(self.w_bits, (list, tuple)) or _is_array(self.w_bits):
            object.__setattr__(self, "w_bits", tuple(_py(b) for b in self.w_bits))
        elif is_int(self.w_bits):
            object.__setattr__(self, "w_bits", int(self.w_bits))
        if isinstance(self.w_scale, (list, tuple)) or _is_array(self.w_scale):
            object.__setattr__(self, "w_scale", tuple(_py(s) for s in self.w_scale))
        elif is_real(self.w_scale):
            object.__setattr__(self, "w_scale", float(self.w_scale))
        if is_int(self.a_bits):
            object.__setattr__(self, "a_bits", int(self.a_bits))
        if is_int(self.a_zero_point):
            object.__setattr__(self, "a_zero_point", int(self.a_zero_point))
        if is_real(self.a_scale):
            object.__setattr__(self, "a_scale", float(self.a_scale))

    # ------------------------------------------------------------------ derived
    @property
    def kernelwise(self) -> bool:
        """True when w_bits is a per-output-channel list."""
        return isinstance(self.w_bits, tuple)

    @property
    def w_bits_mean(self) -> Optional[float]:
        """Mean weight bits over output channels (each channel counts once)."""
        if self.w_bits is None:
            return None
        if isinstance(self.w_bits, tuple):
            return sum(self.w_bits) / len(self.w_bits)
        return float(self.w_bits)

    def validate(self) -> None:
        """Raise PlanError (field set, layer not) if any value is out of its documented range."""
        validate_layer(self)


def _is_array(v) -> bool:
    return type(v).__module__ == "numpy" and hasattr(v, "ndim") and getattr(v, "ndim", 0) >= 1


def _py(v):
    if isinstance(v, bool):
        return v
    if is_int(v):
        return int(v)
    if is_real(v):
        return float(v)
    return v


def validate_layer(lb: LayerBits) -> None:
    if not isinstance(lb.quantized, bool):
        raise PlanError(f"must be true or false, got {_show(lb.quantized)}", field="quantized")
    if lb.note is not None and not isinstance(lb.note, str):
        raise PlanError(f"must be a string, got {_show(lb.note)}", field="note")
    if lb.w_bits is None:
        if lb.quantized:
            raise PlanError("missing: a quantized layer needs weight bits", field="w_bits")
    else:
        _check_per_channel(lb.w_bits, "w_bits", check_bits)
    a_bits = check_bits(lb.a_bits, "a_bits", allow_none=True)
    if lb.a_encoding not in A_ENCODINGS:
        raise PlanError(f"must be one of {list(A_ENCODINGS)}, got {_show(lb.a_encoding)}", field="a_encoding")
    if lb.a_encoding == "binary" and a_bits not in (None, 1):
        raise PlanError(f"binary activations have 1 bit, got a_bits={a_bits}", field="a_bits")
    if lb.w_encoding is not None and lb.w_encoding not in W_ENCODINGS:
        raise PlanError(f"must be one of {list(W_ENCODINGS)}, got {_show(lb.w_encoding)}", field="w_encoding")
    if lb.a_scale is not None:
        check_scale(lb.a_scale, "a_scale")
    if lb.a_zero_point is not None:
        if not is_int(lb.a_zero_point):
            raise PlanError(f"must be an integer, got {_show(lb.a_zero_point)}", field="a_zero_point")
        hi = 2 ** a_bits - 1 if a_bits is not None else 2 ** MAX_BITS - 1
        if not 0 <= lb.a_zero_point <= hi:
            raise PlanError(f"must be in 0..{hi} (2^a_bits - 1), got {lb.a_zero_point}", field="a_zero_point")
        if lb.a_encoding == "binary" and lb.a_zero_point != 0:
            raise PlanError("must be 0 with binary activations", field="a_zero_point")
    if lb.w_scale is not None:
        _check_per_channel(lb.w_scale, "w_scale", check_scale)
    if isinstance(lb.w_bits, tuple) and isinstance(lb.w_scale, tuple) and len(lb.w_bits) != len(lb.w_scale):
        raise PlanError(f"has {len(lb.w_scale)} entries but w_bits has {len(lb.w_bits)} (one per output "
                        f"channel)", field="w_scale")


def _check_per_channel(value, field: str, check) -> None:
    """One value, or a non-empty per-output-channel tuple of them, each passed to check(v, field)."""
    if not isinstance(value, tuple):
        check(value, field)
        return
    if not value:
        raise PlanError("per-channel list is empty", field=field)
    for k, v in enumerate(value):
        check(v, f"{field}[{k}]")


RenameSpec = Union[None, Mapping, Callable[[str], str]]


def make_renamer(rename: RenameSpec, *, source=None) -> Callable[[str], str]:
    """A function old name -> new name from a mapping (names not in it are kept) or a function."""
    if rename is None:
        return lambda n: n
    if isinstance(rename, Mapping):
        table = dict(rename)
        for k, v in table.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise PlanError(f"rename mapping must map strings to strings, got {k!r} -> {v!r}",
                                source=source, field="rename")
        return lambda n: table.get(n, n)
    if callable(rename):
        def fn(n):
            out = rename(n)
            if not isinstance(out, str) or not out:
                raise PlanError(f"rename function returned {_show(out)}, expected a non-empty string",
                                source=source, layer=n, field="rename")
            return out
        return fn
    raise PlanError(f"rename must be a mapping or a function, got {_show(rename)}", source=source,
                    field="rename")


class Plan(Mapping):
    """A bitwidth plan: an ordered mapping layer name -> LayerBits.

    Attributes:
        format: which reader made it ("bitconv", "haq", "hawq", "nncf", "aimet", "kernelwise",
            or "python" when built directly).
        source: the file it came from (None for strings and Python objects).
        unmapped: list of (key, reason): entries of the source that were not mapped to a layer's
            bits (accumulators, quantizers with no well-defined consumer, biases, ...).
        model: optional model name ("resnet18").
        shapes: optional layer table (bitconv.plan.shapes.LayerShapes) used for MAC-weighted
            averages and bit-operation counts.
        meta: other metadata kept by bitconv's own format (description, provenance).
    """

    def __init__(self, layers: Union[Mapping, Iterable[Tuple[str, LayerBits]]] = (), *,
                 format: str = "python", source: Optional[str] = None,
                 unmapped: Iterable[Tuple[str, str]] = (), model: Optional[str] = None,
                 shapes=None, meta: Optional[dict] = None):
        items = list(layers.items()) if isinstance(layers, Mapping) else list(layers)
        self._layers: Dict[str, LayerBits] = {}
        self.format = format
        self.source = None if source is None else str(source)
        for name, lb in items:
            if not isinstance(name, str) or not name:
                raise PlanError(f"layer names must be non-empty strings, got {_show(name)}",
                                source=self.source_name, field="name")
            if name in self._layers:
                raise PlanError("layer appears twice", source=self.source_name, layer=name, field="name")
            if isinstance(lb, Mapping):
                lb = _layer_from_kwargs(lb, source=self.source_name, layer=name)
            if not isinstance(lb, LayerBits):
                raise PlanError(f"expected LayerBits, got {_show(lb)}", source=self.source_name, layer=name)
            try:
                validate_layer(lb)
            except PlanError as e:
                raise e.with_context(source=self.source_name, layer=name) from None
            self._layers[name] = lb
        self.unmapped: List[Tuple[str, str]] = [(str(k), str(r)) for k, r in unmapped]
        self.model = model
        self.shapes = shapes
        self.meta = dict(meta or {})

    # ------------------------------------------------------------------ mapping protocol
    def __getitem__(self, name: str) -> LayerBits:
        return self._layers[name]

    def __iter__(self):
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __eq__(self, other):
        if not isinstance(other, Plan):
            return NotImplemented
        return (list(self._layers.items()) == list(other._layers.items())
                and self.unmapped == other.unmapped and self.model == other.model)

    __hash__ = None

    def __repr__(self) -> str:
        where = f", source={self.source!r}" if self.source else ""
        return f"<Plan {len(self)} layers, format={self.format!r}{where}>"

    def __str__(self) -> str:
        return self.table()

    @property
    def source_name(self) -> str:
        return self.source or f"<{self.format} plan>"

    @property
    def quantized_layers(self) -> List[str]:
        return [n for n, lb in self._layers.items() if lb.quantized]

    @property
    def skipped(self) -> List[str]:
        """Layers the source keeps in float (not quantized)."""
        return [n for n, lb in self._layers.items() if not lb.quantized]

    def layer(self, name: str) -> LayerBits:
        """The layer's bits; PlanError (naming source, layer, field 'name') if it is not in the plan."""
        try:
            return self._layers[name]
        except KeyError:
            raise PlanError(f"not in the plan ({len(self)} layers: {_preview(self._layers)})",
                            source=self.source_name, layer=name, field="name") from None

    # ------------------------------------------------------------------ transforms
    def renamed(self, rename: RenameSpec) -> "Plan":
        """A copy with layer names passed through `rename` (a mapping or a function)."""
        fn = make_renamer(rename, source=self.source_name)
        return self._copy([(fn(n), lb) for n, lb in self._layers.items()])

    def with_shapes(self, shapes) -> "Plan":
        """A copy that knows the layer shapes (a LayerShapes, a suite name or a shapes file)."""
        from .shapes import load_shapes
        p = self._copy(list(self._layers.items()))
        p.shapes = load_shapes(shapes) if shapes is not None else None
        return p

    def _copy(self, items) -> "Plan":
        return Plan(items, format=self.format, source=self.source, unmapped=self.unmapped,
                    model=self.model, shapes=self.shapes, meta=self.meta)

    # ------------------------------------------------------------------ statistics
    def _weights(self, by: str, shapes) -> Dict[str, float]:
        out = {}
        for name, lb in self._layers.items():
            if not lb.quantized:
                continue
            if by == "layers":
                out[name] = 1.0
            else:
                shp = shapes.get(name) if shapes is not None else None
                if shp is None:
                    raise PlanError(f"no shape for this layer in the layer table; cannot weight by {by}",
                                    source=self.source_name, layer=name, field="shapes")
                out[name] = float(shp.macs if by == "macs" else shp.params)
        return out

    def resolve_by(self, by: Optional[str], shapes):
        """(weighting, shapes) for the averages: shapes default to the plan's own, and by to "macs"
        when every quantized layer has a shape, else "layers"."""
        shapes = self.shapes if shapes is None else _as_shapes(shapes)
        if by is None:
            by = "macs" if shapes is not None and all(n in shapes for n in self.quantized_layers) else "layers"
        if by not in ("layers", "macs", "params"):
            raise PlanError(f"weighting must be 'layers', 'macs' or 'params', got {by!r}", field="by")
        return by, shapes

    def avg_w_bits(self, by: Optional[str] = None, shapes=None) -> Optional[float]:
        """Average weight bits over quantized layers.

        A kernel-wise layer counts with the mean over its output channels. Layers are weighted by
        `by`: "macs" (default when every quantized layer has a known shape), "params", or "layers"
        (each layer once; the default without shapes).
        """
        by, shapes = self.resolve_by(by, shapes)
        wts = self._weights(by, shapes)
        pairs = [(wts[n], lb.w_bits_mean) for n, lb in self._layers.items() if n in wts]
        return _wavg(pairs)

    def avg_a_bits(self, by: Optional[str] = None, shapes=None) -> Optional[float]:
        """Average activation bits over quantized layers that have them (weighted as avg_w_bits)."""
        by, shapes = self.resolve_by(by, shapes)
        wts = self._weights(by, shapes)
        pairs = [(wts[n], lb.a_bits) for n, lb in self._layers.items() if n in wts and lb.a_bits is not None]
        return _wavg(pairs)

    def bitops(self, shapes=None) -> Optional[int]:
        """Total bit-operations sum(MACs * w_bits * a_bits) over quantized layers (per image).

        Kernel-wise layers count each output channel with its own bits. None when a layer has no
        shape or no a_bits.
        """
        shapes = self.shapes if shapes is None else _as_shapes(shapes)
        if shapes is None:
            return None
        total = 0
        for name, lb in self._layers.items():
            if not lb.quantized:
                continue
            shp = shapes.get(name)
            if shp is None or lb.a_bits is None:
                return None
            total += layer_bitops(lb, shp)
        return total

    def check_shapes(self, shapes=None) -> None:
        """PlanError if a plan layer is not in the layer table or a per-channel list is not Cout long."""
        shapes = self.shapes if shapes is None else _as_shapes(shapes)
        if shapes is None:
            return
        for name, lb in self._layers.items():
            shp = shapes.get(name)
            if shp is None:
                raise PlanError(f"not in the layer table '{shapes.name}' ({_preview(shapes.layers)})",
                                source=self.source_name, layer=name, field="name")
            for fld in ("w_bits", "w_scale"):
                v = getattr(lb, fld)
                if isinstance(v, tuple) and len(v) != shp.cout:
                    raise PlanError(f"has {len(v)} entries but the layer has Cout={shp.cout} output channels",
                                    source=self.source_name, layer=name, field=fld)

    def table(self, shapes=None) -> str:
        """A readable per-layer table with averages (and bit-operations when shapes are known)."""
        from .show import format_table
        return format_table(self, shapes=shapes)

    # ------------------------------------------------------------------ I/O and apply
    def to_dict(self) -> dict:
        """bitconv's own JSON document for this plan (format 'bitconv-plan')."""
        from .bitconv_format import plan_to_dict
        return plan_to_dict(self)

    def to_json(self) -> str:
        from .bitconv_format import dumps
        return dumps(self.to_dict())

    def save(self, path) -> None:
        """Write the plan in bitconv's format; ``load_plan(path)`` gives back an equal Plan."""
        text = self.to_json()
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def conv_plan(self, layer_name: str, weight, **kwargs):
        """That layer's bitconv.ConvPlan; see bitconv.plan.apply.conv_plan for the arguments."""
        from .apply import conv_plan
        return conv_plan(self, layer_name, weight, **kwargs)

    def apply(self, layers: Mapping, rename: RenameSpec = None) -> dict:
        """ConvPlans for all layers; see bitconv.plan.apply.apply_plan."""
        from .apply import apply_plan
        return apply_plan(self, layers, rename=rename)


_LAYER_FIELDS = tuple(f.name for f in fields(LayerBits))


def _layer_from_kwargs(d: Mapping, *, source, layer) -> LayerBits:
    unknown = [k for k in d if k not in _LAYER_FIELDS]
    if unknown:
        raise PlanError(f"unknown field (known: {', '.join(_LAYER_FIELDS)})", source=source, layer=layer,
                        field=str(unknown[0]))
    # w_bits has no default in LayerBits; without it validation names the field instead of a TypeError
    return LayerBits(**{"w_bits": None, **d})


def _as_shapes(shapes):
    from .shapes import load_shapes
    return load_shapes(shapes)


def layer_bitops(lb: LayerBits, shp) -> int:
    a = lb.a_bits
    if isinstance(lb.w_bits, tuple):
        per_ch = shp.macs // len(lb.w_bits)   # validation rejects empty lists
        return sum(per_ch * b * a for b in lb.w_bits)
    return shp.macs * lb.w_bits * a


def _wavg(pairs) -> Optional[float]:
    pairs = [(w, v) for w, v in pairs if v is not None]
    tot = sum(w for w, _ in pairs)
    if not pairs or tot <= 0:
        return None
    return sum(w * v for w, v in pairs) / tot


def _preview(names, n=4) -> str:
    names = list(names)
    head = ", ".join(names[:n])
    return head + (f", ... ({len(names)} in all)" if len(names) > n else "")
