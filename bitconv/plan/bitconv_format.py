"""bitconv's own plan format: JSON tagged {"format": "bitconv-plan", "version": 1}.

See docs/plans.md and plan.schema.json. Reading checks every field by hand (the layers with
core.validate_layer, no jsonschema needed) and raises PlanError naming the source, the layer and
the field.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

from .core import LayerBits, Plan, PlanError, _layer_from_kwargs, _show, is_int

FORMAT_TAG = "bitconv-plan"
VERSION = 1
TOP_KEYS = ("format", "version", "model", "description", "source", "layers", "unmapped")


def plan_to_dict(plan: Plan) -> dict:
    doc = {"format": FORMAT_TAG, "version": VERSION}
    if plan.model is not None:
        doc["model"] = plan.model
    if plan.meta.get("description") is not None:
        doc["description"] = plan.meta["description"]
    src = plan.meta.get("source")
    if src is None and plan.format not in ("bitconv", "python"):
        src = {"format": plan.format}
        if plan.source:
            src["file"] = plan.source
    if src is not None:
        doc["source"] = src
    layers = {}
    for name, lb in plan.items():
        d = {}
        if lb.w_bits is not None:
            d["w_bits"] = list(lb.w_bits) if isinstance(lb.w_bits, tuple) else lb.w_bits
        d["a_bits"] = lb.a_bits
        if lb.a_encoding != "unsigned":
            d["a_encoding"] = lb.a_encoding
        if lb.w_encoding is not None:
            d["w_encoding"] = lb.w_encoding
        if lb.a_scale is not None:
            d["a_scale"] = lb.a_scale
        if lb.a_zero_point is not None:
            d["a_zero_point"] = lb.a_zero_point
        if lb.w_scale is not None:
            d["w_scale"] = list(lb.w_scale) if isinstance(lb.w_scale, tuple) else lb.w_scale
        if not lb.quantized:
            d["quantized"] = False
        if lb.note is not None:
            d["note"] = lb.note
        layers[name] = d
    doc["layers"] = layers
    if plan.unmapped:
        doc["unmapped"] = [[k, r] for k, r in plan.unmapped]
    return doc


def dumps(doc: dict) -> str:
    """JSON with one layer per line block and number lists kept on one line (readable diffs)."""
    def enc(v, indent):
        pad = "  " * indent
        if isinstance(v, dict):
            if not v:
                return "{}"
            inner = ",\n".join(f"{pad}  {json.dumps(k)}: {enc(x, indent + 1)}" for k, x in v.items())
            return "{\n" + inner + "\n" + pad + "}"
        if isinstance(v, list):
            if all(not isinstance(x, (dict, list)) for x in v):
                return "[" + ", ".join(json.dumps(x, allow_nan=False) for x in v) + "]"
            inner = ",\n".join(f"{pad}  {enc(x, indent + 1)}" for x in v)
            return "[\n" + inner + "\n" + pad + "]"
        return json.dumps(v, allow_nan=False)
    return enc(doc, 0) + "\n"


def plan_from_dict(doc, *, source: str) -> Plan:
    if not isinstance(doc, Mapping):
        raise PlanError(f"a bitconv plan is a JSON object, got {_show(doc)}", source=source, field="format")
    for key in ("format", "version", "layers"):
        if key not in doc:
            raise PlanError("missing required key", source=source, field=key)
    if doc["format"] != FORMAT_TAG:
        raise PlanError(f"must be {FORMAT_TAG!r}, got {_show(doc['format'])}", source=source, field="format")
    if not is_int(doc["version"]):
        raise PlanError(f"must be an integer, got {_show(doc['version'])}", source=source, field="version")
    if doc["version"] != VERSION:
        raise PlanError(f"unsupported version {doc['version']} (this bitconv reads version {VERSION})",
                        source=source, field="version")
    for key in doc:
        if key not in TOP_KEYS:
            raise PlanError(f"unknown top-level key (known: {', '.join(TOP_KEYS)})", source=source, field=str(key))
    for key in ("model", "description"):
        if key in doc and not isinstance(doc[key], str):
            raise PlanError(f"must be a string, got {_show(doc[key])}", source=source, field=key)
    src = doc.get("source")
    if "source" in doc:
        if not isinstance(src, Mapping):
            raise PlanError(f"must be an object, got {_show(src)}", source=source, field="source")
        for key in ("format", "file"):
            if key in src and not isinstance(src[key], str):
                raise PlanError(f"must be a string, got {_show(src[key])}", source=source, field=f"source.{key}")
    layers_doc = doc["layers"]
    if not isinstance(layers_doc, Mapping):
        raise PlanError(f"must be an object mapping layer names to their bits, got {_show(layers_doc)}",
                        source=source, field="layers")
    layers = []
    for name, d in layers_doc.items():
        try:
            layers.append((name, layer_from_dict(d)))
        except PlanError as e:
            raise e.with_context(source=source, layer=name) from None
    unmapped = []
    um = doc.get("unmapped", [])
    if not isinstance(um, list):
        raise PlanError(f"must be a list of [key, reason] pairs, got {_show(um)}", source=source, field="unmapped")
    for i, pair in enumerate(um):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise PlanError(f"entry {i} must be a [key, reason] pair of strings, got {pair!r}", source=source,
                            field=f"unmapped[{i}]")
        unmapped.append((pair[0], pair[1]))
    meta = {}
    if doc.get("description") is not None:
        meta["description"] = doc["description"]
    if src is not None:
        meta["source"] = dict(src)
    return Plan(layers, format="bitconv", source=source, unmapped=unmapped, model=doc.get("model"), meta=meta)


def layer_from_dict(d) -> LayerBits:
    """One layer entry -> LayerBits; its values are validated by Plan() (core.validate_layer)."""
    if not isinstance(d, Mapping):
        raise PlanError(f"a layer entry is an object, got {_show(d)}", field="layers")
    lb = _layer_from_kwargs(d, source=None, layer=None)
    # null means "not given" only in a_bits (plan_to_dict writes it); the schema allows no other null
    for key, v in d.items():
        if v is None and key != "a_bits":
            raise PlanError("must not be null (leave the key out)", field=key)
    return lb
