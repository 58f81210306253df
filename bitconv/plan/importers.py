"""Importers: what real mixed-precision searchers emit -> Plan.

Each importer takes already-parsed data (dicts/lists, as json.load or a Python literal gives them),
checks every value it reads, and raises PlanError naming the source, the layer and the field. What
a source cannot express is mapped where the rule is well defined (docs/plans.md) and otherwise
listed in ``plan.unmapped`` as (key, reason).
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Dict, List, Optional, Tuple

from .core import LayerBits, Plan, PlanError, _show, check_bits, is_int, is_real

# ----------------------------------------------------------------------------------------- helpers


def _bits(v, *, source, layer, field, allow_minus_one=False):
    if allow_minus_one and is_int(v) and v == -1:
        return -1
    try:
        return check_bits(v, field)
    except PlanError as e:
        raise e.with_context(source=source, layer=layer) from None


def _opt_a_bits(options, source):
    a = options.get("a_bits")
    if a is None:
        return None
    try:
        return check_bits(a, "a_bits")
    except PlanError as e:
        raise e.with_context(source=source, layer=None) from None


def _check_options(fmt, options, allowed, source):
    for k in options:
        if k not in allowed:
            raise PlanError(f"unknown option for the {fmt} importer (known: {', '.join(sorted(allowed)) or 'none'})",
                            source=source, field=k)


def _activation_map(options, source) -> Dict[str, List[str]]:
    """activation_map option: quantizer/tensor name -> layer name or list of layer names."""
    am = options.get("activation_map")
    if am is None:
        return {}
    if not isinstance(am, Mapping):
        raise PlanError(f"must map quantizer or tensor names to layer names, got {_show(am)}", source=source,
                        field="activation_map")
    out = {}
    for k, v in am.items():
        names = [v] if isinstance(v, str) else v
        if not isinstance(k, str) or not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise PlanError(f"entry {k!r} must map to a layer name or a list of layer names, got {v!r}",
                            source=source, field="activation_map")
        out[k] = list(names)
    return out


# ---------------------------------------------------------------------------------------------- HAQ

def import_haq(data, *, source, **options) -> Plan:
    """HAQ strategy: [[w_bit, a_bit], ...] per quantized conv/linear in module order (or [w_bit, ...]
    for its k-means weight-only mode). -1 means not quantized. Names: option ``names`` (list, mapping
    index->name or name->index, or a suite name such as "resnet18"), or the document's "names"/"layers"."""
    _check_options("haq", options, {"names", "unquantized_bits"}, source)
    names_opt = options.get("names")
    if isinstance(data, Mapping):
        if "strategy" not in data:
            raise PlanError("missing key (a HAQ document is {'strategy': [[w, a], ...], 'names': [...]})",
                            source=source, field="strategy")
        for k in data:
            if k not in ("strategy", "names", "layers", "arch", "model"):
                raise PlanError("unknown key in a HAQ document (known: strategy, names, layers, arch, model)",
                                source=source, field=str(k))
        strategy = data["strategy"]
        if names_opt is None:
            names_opt = data.get("names", data.get("layers"))
    else:
        strategy = data
    if not isinstance(strategy, list) or not strategy:
        raise PlanError(f"must be a non-empty list of [w_bit, a_bit] pairs, got {_show(strategy)}",
                        source=source, field="strategy")
    n = len(strategy)
    names = _haq_names(names_opt, n, source)
    unq = options.get("unquantized_bits")
    if unq is not None:
        unq = _bits(unq, source=source, layer=None, field="unquantized_bits")
    layers = []
    for i, entry in enumerate(strategy):
        name = names[i]
        if is_int(entry):
            w, a = entry, None
        elif isinstance(entry, (list, tuple)) and len(entry) == 2:
            w, a = entry
        else:
            raise PlanError(f"entry {i} must be [w_bit, a_bit] (or one int for weight-only), got {entry!r}",
                            source=source, layer=name, field=f"strategy[{i}]")
        w = _bits(w, source=source, layer=name, field=f"strategy[{i}][0] (w_bit)", allow_minus_one=True)
        if a is not None:
            a = _bits(a, source=source, layer=name, field=f"strategy[{i}][1] (a_bit)", allow_minus_one=True)
        notes = []
        w, w_quantized = _haq_minus_one(w, "w_bit", "weights", unq, notes)
        a, a_quantized = _haq_minus_one(a, "a_bit", "activations", unq, notes)
        quantized = w_quantized and a_quantized
        layers.append((name, LayerBits(w_bits=w, a_bits=a, quantized=quantized,
                                       note="; ".join(notes) if notes else None)))
    unmapped = []
    if names_opt is None:
        unmapped.append(("names", "HAQ strategies carry no layer names: layers are named '#<index>'; "
                                  "pass names=[...] or names='resnet18'"))
    return Plan(layers, format="haq", source=source, unmapped=unmapped)


def _haq_minus_one(bits, key, what, unquantized_bits, notes):
    """(bits, quantized) for one HAQ number: -1 means not quantized unless unquantized_bits replaces
    it; the note saying which is appended to notes."""
    if bits != -1:
        return bits, True
    if unquantized_bits is not None:
        notes.append(f"{key} -1 in the source, {unquantized_bits} from unquantized_bits")
        return unquantized_bits, True
    notes.append(f"{what} not quantized ({key} = -1)")
    return None, False


def _haq_names(names, n, source) -> List[str]:
    if names is None:
        return [f"#{i}" for i in range(n)]
    if isinstance(names, str):
        from .shapes import load_shapes
        shapes = load_shapes(names)
        names = list(shapes.keys())
    if isinstance(names, Mapping):
        items = list(names.items())
        if all((is_int(k) or (isinstance(k, str) and k.isdigit())) and isinstance(v, str) for k, v in items):
            table = {int(k): v for k, v in items}
        elif all(isinstance(k, str) and is_int(v) for k, v in items):
            table = {int(v): k for k, v in items}
        else:
            raise PlanError("a names mapping is index -> name or name -> index", source=source, field="names")
        missing = [i for i in range(n) if i not in table]
        extra = [i for i in table if not 0 <= i < n]
        if missing or extra:
            raise PlanError(f"strategy has {n} entries; names mapping misses indices {missing[:5]} "
                            f"or has out-of-range indices {extra[:5]}", source=source, field="names")
        names = [table[i] for i in range(n)]
    if not isinstance(names, (list, tuple)) or not all(isinstance(x, str) and x for x in names):
        raise PlanError("must be a list of layer names, a mapping, or a suite name", source=source, field="names")
    if len(names) != n:
        raise PlanError(f"has {len(names)} layer names but the strategy has {n} entries (one per quantized "
                        f"conv/linear in module order)", source=source, field="names")
    return list(names)


# ---------------------------------------------------------------------------------- HAWQ-V3 / OMPQ

_ACCUM = re.compile(r"int(16|32)$")


def _hawq_kind(key: str) -> str:
    leaf = key.rsplit(".", 1)[-1]
    if _ACCUM.search(leaf):
        return "accumulator"
    if leaf.startswith("quant_act") or leaf == "quant_input":
        return "activation"
    if "conv" in leaf or leaf in ("quant_output", "quant_fc", "quant_linear") or leaf.startswith(("quant_fc", "quant_linear")):
        return "layer"
    return "unknown"


def _hawq_rule_act(key: str) -> Optional[str]:
    """The activation quantizer the naming rule assigns to weight layer `key` (or None: use order)."""
    prefix, _, leaf = key.rpartition(".")
    p = prefix + "." if prefix else ""
    m = re.fullmatch(r"quant_conv(?:bn)?(\d+)", leaf)
    if m:
        k = int(m.group(1))
        return f"{p}quant_act" if k == 1 else f"{p}quant_act{k - 1}"
    if leaf.startswith("quant_identity") or leaf.startswith("quant_downsample") or leaf.startswith("quant_shortcut"):
        return f"{p}quant_act"
    if leaf.startswith("quant_init"):
        return f"{p}quant_input"
    if leaf == "quant_output":
        return f"{p}quant_act_output"
    return None


def select_hawq_config(data, config, source):
    """The one bit_config dict of a document (bit_config_dict wrapper, several configs, or one)."""
    if isinstance(data, Mapping) and "bit_config_dict" in data and len(data) == 1:
        data = data["bit_config_dict"]
    if not isinstance(data, Mapping) or not data:
        raise PlanError(f"a HAWQ/OMPQ bit_config is an object of module name -> bits, got {_show(data)}",
                        source=source, field="bit_config")
    if all(isinstance(v, Mapping) for v in data.values()):
        names = list(data)
        if config is None:
            if len(names) == 1:
                return data[names[0]], names[0]
            raise PlanError(f"the file holds {len(names)} bit configs; choose one with config= "
                            f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})", source=source,
                            field="config")
        if config not in data:
            raise PlanError(f"no bit config named {config!r} (have: {', '.join(names[:6])}"
                            f"{', ...' if len(names) > 6 else ''})", source=source, field="config")
        return data[config], config
    if config is not None:
        raise PlanError("config= given but the document holds a single bit config", source=source, field="config")
    return data, None


def import_hawq(data, *, source, **options) -> Plan:
    """HAWQ-V3 / OMPQ bit_config: {'stage1.unit1.quant_convbn1': 4, 'stage1.unit1.quant_act': 6, ...}."""
    _check_options("hawq", options, {"config", "a_bits"}, source)
    cfg, chosen = select_hawq_config(data, options.get("config"), source)
    default_a = _opt_a_bits(options, source)
    entries: List[Tuple[str, int, str]] = []   # (key, bits, kind) in dict order
    unmapped = []
    for key, val in cfg.items():
        if not isinstance(key, str):
            raise PlanError(f"bit_config keys are module names, got {_show(key)}", source=source, field="bit_config")
        raw = val
        if isinstance(val, (list, tuple)):
            if len(val) == 2 and isinstance(val[1], str):
                val = val[0]
            else:
                raise PlanError(f"must be an int or (int, str), got {raw!r}", source=source, layer=key, field="bits")
        if not is_int(val):
            raise PlanError(f"must be an integer number of bits, got {_show(val)}", source=source, layer=key,
                            field="bits")
        kind = _hawq_kind(key)
        if kind == "accumulator":
            unmapped.append((key, f"accumulator ({val}-bit), skipped"))
            continue
        if kind == "unknown":
            unmapped.append((key, "neither a weight layer (…conv…, quant_output) nor an activation quantizer "
                                  "(quant_act…, quant_input)"))
            continue
        entries.append((key, int(val), kind))
    acts = {k: b for k, b, kind in entries if kind == "activation"}
    used = set()
    layers = []
    last_act = None
    for key, b, kind in entries:
        if kind == "activation":
            last_act = key
            continue
        w = _bits(b, source=source, layer=key, field="bits")
        act = _hawq_rule_act(key)
        how = "naming rule"
        if act not in acts:
            act, how = last_act, "preceding quant_act in dict order"
        note = None
        if act is None:
            a = default_a
            unmapped.append((key, "no activation quantizer found for this layer" +
                             ("; a_bits from the a_bits option" if a is not None else "; a_bits not set")))
        else:
            a = _bits(acts[act], source=source, layer=key, field=f"bits of {act}")
            used.add(act)
            note = f"a_bits from {act} ({how})"
        layers.append((key, LayerBits(w_bits=w, a_bits=a, note=note)))
    for k in acts:
        if k not in used:
            unmapped.append((k, "activation quantizer feeds no weight layer under the mapping rule "
                                "(e.g. the residual path or the network output)"))
    meta = {"config": chosen} if chosen else {}
    return Plan(layers, format="hawq", source=source, unmapped=unmapped, meta=meta)


def hawq_resnet_to_torchvision(name: str) -> str:
    """Rename HAWQ-V3/OMPQ ResNet modules to torchvision names (use as rename=...).

    stageS.unitU.quant_convbnK -> layerS.(U-1).convK, stageS.unitU.quant_identity_convbn ->
    layerS.(U-1).downsample.0, quant_init_block_convbn / quant_init_convbn -> conv1, quant_output -> fc.
    Other names are returned unchanged.
    """
    if name in ("quant_init_block_convbn", "quant_init_convbn", "quant_init_conv"):
        return "conv1"
    if name == "quant_output":
        return "fc"
    m = re.fullmatch(r"stage(\d+)\.unit(\d+)\.quant_(convbn|conv)(\d+)", name)
    if m:
        return f"layer{m.group(1)}.{int(m.group(2)) - 1}.conv{m.group(4)}"
    m = re.fullmatch(r"stage(\d+)\.unit(\d+)\.quant_identity_(convbn|conv)", name)
    if m:
        return f"layer{m.group(1)}.{int(m.group(2)) - 1}.downsample.0"
    return name


# --------------------------------------------------------------------------------------------- NNCF

_NNCF_LEGACY = {"TargetType.OPERATION_WITH_WEIGHTS": "WEIGHT", "TargetType.OPERATOR_POST_HOOK": "OUTPUT",
                "TargetType.OPERATOR_PRE_HOOK": "INPUT"}


def find_key(data, key, depth=0):
    """The first value stored under `key` anywhere in nested dicts/lists (depth-first), or None."""
    if depth > 12:
        return None
    if isinstance(data, Mapping):
        if key in data:
            return data[key]
        vals = data.values()
    elif isinstance(data, list):
        vals = data
    else:
        return None
    for v in vals:
        if isinstance(v, (Mapping, list)):
            r = find_key(v, key, depth + 1)
            if r is not None:
                return r
    return None


def parse_nncf_scope(scope: str) -> Tuple[str, Optional[str], Optional[str]]:
    """'ResNet/Sequential[layer2]/Bottleneck[0]/NNCFConv2d[conv2]/conv2d_0' ->
    ('layer2.0.conv2', 'NNCFConv2d', 'conv2d_0'): the module path from the bracketed attribute names
    (the first component is the model class and is dropped), the last module's class and the op."""
    parts = [p for p in scope.split("/")][1:]
    attrs, cls, op = [], None, None
    for p in parts:
        m = re.fullmatch(r"([^\[\]]+)\[([^\[\]]*)\]", p)
        if m:
            cls = m.group(1)
            attrs.append(m.group(2))
        else:
            op = p
    return ".".join(attrs), cls, op


def split_nncf_id(qid: str) -> Tuple[str, str, Optional[int]]:
    """A quantizer id -> (scope, kind 'WEIGHT'|'OUTPUT'|'INPUT', input port)."""
    for prefix, kind in _NNCF_LEGACY.items():
        if qid.startswith(prefix + " "):
            return qid[len(prefix) + 1:], kind, None
    scope, sep, suffix = qid.rpartition("|")
    if not sep:
        return qid, "", None
    if suffix in ("WEIGHT", "OUTPUT"):
        return scope, suffix, None
    m = re.fullmatch(r"INPUT(\d*)", suffix)
    if m:
        return scope, "INPUT", int(m.group(1)) if m.group(1) else 0
    return scope, suffix, None


def import_nncf(data, *, source, **options) -> Plan:
    """NNCF precision: "bitwidth_per_scope": [[bits, "<scope>|WEIGHT"], [bits, "<scope>|OUTPUT"], ...]."""
    _check_options("nncf", options, {"a_bits", "activation_map"}, source)
    default_a = _opt_a_bits(options, source)
    amap = _activation_map(options, source)
    if isinstance(data, list):
        bps = data
    else:
        bps = find_key(data, "bitwidth_per_scope")
        if bps is None:
            raise PlanError("no 'bitwidth_per_scope' found (expected under compression.initializer.precision "
                            "or at the top of a policy)", source=source, field="bitwidth_per_scope")
    if not isinstance(bps, list):
        raise PlanError(f"must be a list of [bits, scope] pairs, got {_show(bps)}", source=source,
                        field="bitwidth_per_scope")
    weights: Dict[str, int] = {}
    acts: Dict[str, Tuple[int, str]] = {}
    unmapped = []
    pending_out = []
    for i, entry in enumerate(bps):
        fld = f"bitwidth_per_scope[{i}]"
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[1], str)):
            raise PlanError(f"must be a [bits, \"<scope>|WEIGHT\"] pair, got {entry!r}", source=source, field=fld)
        bits, qid = entry
        scope, kind, port = split_nncf_id(qid)
        path, cls, op = parse_nncf_scope(scope)
        layer = path or qid
        if not is_int(bits):
            raise PlanError(f"bits must be an integer, got {_show(bits)}", source=source, layer=layer, field=fld)
        if kind == "WEIGHT":
            if not path:
                raise PlanError(f"cannot read a module path from scope {scope!r}", source=source, field=fld)
            b = _bits(bits, source=source, layer=path, field=fld)
            if path in weights and weights[path] != b:
                raise PlanError(f"two weight bitwidths for one module ({weights[path]} and {b})", source=source,
                                layer=path, field=fld)
            weights[path] = b
        elif kind == "INPUT" and port == 0 and path and _nncf_weighted(cls, op):
            acts.setdefault(path, (_bits(bits, source=source, layer=path, field=fld), qid))
        elif qid in amap or scope in amap:
            pending_out.append((qid, bits, amap.get(qid, amap.get(scope)), fld))
        elif kind == "OUTPUT":
            unmapped.append((qid, "output quantizer: the layers that consume it are not named in the config "
                                  "(pass activation_map={quantizer id: [layer, ...]})"))
        elif kind == "INPUT":
            unmapped.append((qid, "input quantizer of an operation that is not a conv/linear module input 0"))
        else:
            unmapped.append((qid, "unknown quantizer id suffix (expected |WEIGHT, |OUTPUT or |INPUT<n>)"))
    for qid, bits, targets, fld in pending_out:
        for t in targets:
            b = _bits(bits, source=source, layer=t, field=fld)
            if t in acts and acts[t][0] != b:
                raise PlanError(f"activation bits {acts[t][0]} (from {acts[t][1]}) and {b} (from {qid}) disagree",
                                source=source, layer=t, field=fld)
            acts.setdefault(t, (b, qid))
    layers = []
    for path, w in weights.items():
        if path in acts:
            a, q = acts[path]
            note = f"a_bits from {q}"
        else:
            a, note = default_a, ("a_bits from the a_bits option" if default_a is not None else None)
        layers.append((path, LayerBits(w_bits=w, a_bits=a, note=note)))
    for path, (a, q) in acts.items():
        if path not in weights:
            unmapped.append((q, f"activation bits for '{path}', which has no weight bitwidth in the config"))
    return Plan(layers, format="nncf", source=source, unmapped=unmapped)


def _nncf_weighted(cls, op) -> bool:
    c = (cls or "").lower()
    o = (op or "").lower()
    return c.startswith(("nncfconv", "nncflinear")) or o.startswith(("conv", "linear"))


# -------------------------------------------------------------------------------------------- AIMET

def _aimet_enc(e, *, source, layer, field) -> dict:
    """One encoding (legacy or 1.0.0 keys) -> {bits, dtype, sym, scale[], offset[]}."""
    if not isinstance(e, Mapping):
        raise PlanError(f"an encoding is an object, got {_show(e)}", source=source, layer=layer, field=field)
    bits = e.get("bitwidth", e.get("bw"))
    if bits is None:
        raise PlanError("missing 'bitwidth' (or 'bw')", source=source, layer=layer, field=f"{field}.bitwidth")
    if not is_int(bits):
        raise PlanError(f"must be an integer, got {_show(bits)}", source=source, layer=layer,
                        field=f"{field}.bitwidth")
    dtype = str(e.get("dtype", "int")).lower()
    if dtype not in ("int", "float"):
        raise PlanError(f"must be 'int' or 'float', got {e.get('dtype')!r}", source=source, layer=layer,
                        field=f"{field}.dtype")
    sym = e.get("is_symmetric", e.get("is_sym"))
    if isinstance(sym, str):
        if sym not in ("True", "False", "true", "false"):
            raise PlanError(f"must be 'True' or 'False', got {sym!r}", source=source, layer=layer,
                            field=f"{field}.is_symmetric")
        sym = sym.lower() == "true"
    elif sym is not None and not isinstance(sym, bool):
        raise PlanError(f"must be a boolean, got {_show(sym)}", source=source, layer=layer,
                        field=f"{field}.is_symmetric")
    out = {"bits": int(bits), "dtype": dtype, "sym": sym}
    for key in ("scale", "offset"):
        v = e.get(key)
        if v is None:
            out[key] = None
            continue
        vals = v if isinstance(v, list) else [v]
        for x in vals:
            if not is_real(x) or not math.isfinite(float(x)):
                raise PlanError(f"must be a finite number, got {_show(x)}", source=source, layer=layer,
                                field=f"{field}.{key}")
        out[key] = [float(x) for x in vals]
    if out["scale"] is not None and any(s <= 0 for s in out["scale"]):
        raise PlanError(f"must be > 0, got {min(out['scale'])}", source=source, layer=layer, field=f"{field}.scale")
    for key in ("min", "max"):
        v = e.get(key)
        for x in (v if isinstance(v, list) else [v] if v is not None else []):
            if not is_real(x) or not math.isfinite(float(x)):
                raise PlanError(f"must be a finite number, got {_show(x)}", source=source, layer=layer,
                                field=f"{field}.{key}")
    return out


def _aimet_entries(group, gname, source):
    """(name, [raw encodings]) pairs from a legacy dict or a 1.0.0 list of named entries."""
    if group is None:
        return [], None
    if isinstance(group, Mapping):
        return list(group.items()), "legacy"
    if isinstance(group, list):
        out = []
        for i, e in enumerate(group):
            if not isinstance(e, Mapping) or not isinstance(e.get("name"), str):
                raise PlanError(f"entry {i} must be an object with a 'name' (encoding format 1.0.0)",
                                source=source, field=f"{gname}[{i}].name")
            out.append((e["name"], e))
        return out, "v1"
    raise PlanError(f"must be an object (legacy) or a list (1.0.0), got {_show(group)}", source=source, field=gname)


def import_aimet(data, *, source, **options) -> Plan:
    """AIMET encodings JSON (legacy dict-of-lists, the _torch.encodings module form, or version 1.0.0)."""
    _check_options("aimet", options, {"a_bits", "activation_map"}, source)
    if not isinstance(data, Mapping):
        raise PlanError(f"an AIMET encodings file is an object, got {_show(data)}", source=source,
                        field="param_encodings")
    if "param_encodings" not in data:
        raise PlanError("missing key", source=source, field="param_encodings")
    default_a = _opt_a_bits(options, source)
    amap = _activation_map(options, source)
    unmapped = []
    params, _ = _aimet_entries(data.get("param_encodings"), "param_encodings", source)
    layers: Dict[str, dict] = {}
    for pname, raw in params:
        layer = pname[:-len(".weight")] if pname.endswith(".weight") else None
        fld = f"param_encodings[{pname!r}]"
        encs = _aimet_param_list(raw, source=source, layer=layer or pname, field=fld)
        if layer is None:
            unmapped.append((pname, "parameter other than a '.weight' (biases and other tensors stay float)"))
            continue
        norm = [_aimet_enc(e, source=source, layer=layer, field=fld) for e in encs]
        layers[layer] = _aimet_weight(norm, source=source, layer=layer, field=fld, name=pname, unmapped=unmapped)
    acts, form = _aimet_entries(data.get("activation_encodings"), "activation_encodings", source)
    for key, raw in acts:
        fld = f"activation_encodings[{key!r}]"
        if form == "legacy" and isinstance(raw, Mapping) and ("input" in raw or "output" in raw):
            # module-keyed (_torch.encodings): {"conv1": {"input": {"0": enc}, "output": {"0": enc}}}
            for direction, ports in raw.items():
                if direction not in ("input", "output") or not isinstance(ports, Mapping):
                    raise PlanError("expected 'input'/'output' objects of port -> encoding", source=source,
                                    layer=key, field=f"{fld}.{direction}")
                for port, enc in ports.items():
                    qkey = f"{key}.{direction}.{port}"
                    if direction == "input" and str(port) == "0" and key in layers:
                        e = _aimet_one(enc, source=source, layer=key, field=f"{fld}.input.{port}")
                        _aimet_set_act(layers[key], e, qkey, source=source, layer=key, field=f"{fld}.input.{port}")
                    elif direction == "input" and str(port) == "0":
                        unmapped.append((qkey, "input of a module with no weight encoding"))
                    else:
                        unmapped.append((qkey, "output or non-zero input port: its consumer layer is not named"))
            continue
        enc = _aimet_one(raw, source=source, layer=key, field=fld)
        targets = amap.get(key)
        if not targets:
            unmapped.append((key, "activation tensor name does not identify a layer's input "
                                  "(pass activation_map={tensor name: [layer, ...]})"))
            continue
        for t in targets:
            if t not in layers:
                raise PlanError(f"activation_map sends {key!r} to a layer with no weight encoding",
                                source=source, layer=t, field="activation_map")
            _aimet_set_act(layers[t], enc, key, source=source, layer=t, field=fld)
    out = []
    for name, d in layers.items():
        if d.get("a_bits") is None and d["quantized"] and default_a is not None:
            d["a_bits"] = default_a
            d["notes"].append("a_bits from the a_bits option")
        notes = d.pop("notes")
        out.append((name, LayerBits(note="; ".join(notes) if notes else None, **d)))
    meta = {}
    if isinstance(data.get("version"), str):
        meta["aimet_version"] = data["version"]
    return Plan(out, format="aimet", source=source, unmapped=unmapped, meta=meta)


def _aimet_param_list(raw, *, source, layer, field):
    if isinstance(raw, list):
        if not raw:
            raise PlanError("empty encoding list", source=source, layer=layer, field=field)
        return raw
    if isinstance(raw, Mapping):
        # 1.0.0 entry: one object whose scale/offset lists are per channel
        if "scale" in raw and isinstance(raw.get("scale"), list) and len(raw["scale"]) > 1:
            n = len(raw["scale"])
            off = raw.get("offset")
            if off is not None and (not isinstance(off, list) or len(off) != n):
                raise PlanError(f"has {len(off) if isinstance(off, list) else 1} offsets for {n} scales",
                                source=source, layer=layer, field=f"{field}.offset")
            return [dict(raw, scale=raw["scale"][k], offset=(off[k] if off is not None else None)) for k in range(n)]
        return [raw]
    raise PlanError(f"must be a list of encodings (one per channel) or an encoding object, got {_show(raw)}",
                    source=source, layer=layer, field=field)


def _aimet_one(raw, *, source, layer, field):
    if isinstance(raw, list):
        if len(raw) != 1:
            raise PlanError(f"an activation has one encoding, got {len(raw)}", source=source, layer=layer, field=field)
        raw = raw[0]
    return _aimet_enc(raw, source=source, layer=layer, field=field)


def _aimet_weight(norm, *, source, layer, field, name, unmapped) -> dict:
    if any(e["dtype"] == "float" for e in norm):
        return {"w_bits": None, "a_bits": None, "quantized": False,
                "notes": [f"weights kept in float ({norm[0]['bits']}-bit float encoding)"]}
    bits = [_bits(e["bits"], source=source, layer=layer, field=f"{field}.bitwidth") for e in norm]
    w_bits = bits[0] if len(set(bits)) == 1 else tuple(bits)
    d = {"w_bits": w_bits, "a_bits": None, "quantized": True, "notes": []}
    syms = {e["sym"] for e in norm}
    scales = [e["scale"][0] if e["scale"] else None for e in norm]
    offsets = [e["offset"][0] if e["offset"] else None for e in norm]
    signed_ok = all(o is None or o in (-(2 ** (b - 1)), -(2 ** (b - 1)) + 1) for o, b in zip(offsets, bits))
    if None in scales:
        return d
    if syms == {False} or not signed_ok:
        unmapped.append((name, "asymmetric weight encoding (offset is not -2^(B-1)): bitconv weights have no "
                               "zero point; bits kept, scales dropped"))
        return d
    d["w_encoding"] = "signed"
    d["w_scale"] = scales[0] if len(scales) == 1 else tuple(scales)
    return d


def _aimet_set_act(d, e, qkey, *, source, layer, field):
    if not d["quantized"]:
        return
    if e["dtype"] == "float":
        d["quantized"] = False
        d["notes"].append(f"input activations kept in float ({qkey})")
        return
    a = _bits(e["bits"], source=source, layer=layer, field=f"{field}.bitwidth")
    if d.get("a_bits") is not None and d["a_bits"] != a:
        raise PlanError(f"two activation encodings disagree ({d['a_bits']} and {a} bits)", source=source,
                        layer=layer, field=field)
    d["a_bits"] = a
    if e["scale"]:
        d["a_scale"] = e["scale"][0]
    if e["offset"]:
        off = e["offset"][0]
        if off != int(off):
            raise PlanError(f"offset must be an integer, got {off}", source=source, layer=layer, field=f"{field}.offset")
        zp = -int(off)
        if not 0 <= zp <= 2 ** a - 1:
            raise PlanError(f"offset {int(off)} gives zero point {zp}, outside 0..{2 ** a - 1} for {a}-bit "
                            f"unsigned codes", source=source, layer=layer, field=f"{field}.offset")
        d["a_zero_point"] = zp
    d["notes"].append(f"activation from {qkey}")


# ------------------------------------------------------------------------------ kernel-wise (AutoQ)

def import_kernelwise(data, *, source, **options) -> Plan:
    """Per-output-channel weight bits: {layer: [b0, b1, ...]}, {layer: {"w_bits": [...], "a_bits": 4}},
    or {"w_bits": {layer: [...]}, "a_bits": {layer: int}}."""
    _check_options("kernelwise", options, {"a_bits"}, source)
    default_a = _opt_a_bits(options, source)
    if not isinstance(data, Mapping) or not data:
        raise PlanError(f"a kernel-wise plan is an object of layer -> per-channel bits, got {_show(data)}",
                        source=source, field="layers")
    if set(data) <= {"w_bits", "a_bits"} and isinstance(data.get("w_bits"), Mapping):
        wmap = data["w_bits"]
        amap = data.get("a_bits", {})
        if not isinstance(amap, Mapping):
            raise PlanError(f"must map layer names to bits, got {_show(amap)}", source=source, field="a_bits")
        for k in amap:
            if k not in wmap:
                raise PlanError("activation bits for a layer with no weight bits", source=source, layer=k,
                                field="a_bits")
        items = [(k, {"w_bits": v, "a_bits": amap.get(k)}) for k, v in wmap.items()]
    else:
        items = [(k, v if isinstance(v, Mapping) else {"w_bits": v}) for k, v in data.items()]
    layers = []
    for name, d in items:
        for k in d:
            if k not in ("w_bits", "a_bits"):
                raise PlanError("unknown field (known: w_bits, a_bits)", source=source, layer=name, field=str(k))
        if "w_bits" not in d:
            raise PlanError("missing", source=source, layer=name, field="w_bits")
        w = d["w_bits"]
        if isinstance(w, list):
            if not w:
                raise PlanError("per-channel list is empty", source=source, layer=name, field="w_bits")
            w = tuple(_bits(b, source=source, layer=name, field=f"w_bits[{i}]") for i, b in enumerate(w))
        else:
            w = _bits(w, source=source, layer=name, field="w_bits")
        a = d.get("a_bits")
        note = None
        if a is None:
            a = default_a
            note = "a_bits from the a_bits option" if a is not None else None
        else:
            a = _bits(a, source=source, layer=name, field="a_bits")
        layers.append((name, LayerBits(w_bits=w, a_bits=a, note=note)))
    return Plan(layers, format="kernelwise", source=source)


# ------------------------------------------------------------------------------------------ detect

IMPORTERS = {"haq": import_haq, "hawq": import_hawq, "nncf": import_nncf, "aimet": import_aimet,
             "kernelwise": import_kernelwise}
ALIASES = {"hawq-v3": "hawq", "hawqv3": "hawq", "ompq": "hawq", "autoq": "kernelwise", "kernel-wise": "kernelwise",
           "bitconv-plan": "bitconv", "aimet-encodings": "aimet"}
FORMATS = ("bitconv", "haq", "hawq", "nncf", "aimet", "kernelwise")


def canonical_format(fmt: str, source=None) -> str:
    if not isinstance(fmt, str):
        raise PlanError(f"must be a string, got {_show(fmt)}", source=source, field="format")
    f = ALIASES.get(fmt.lower(), fmt.lower())
    if f not in FORMATS:
        raise PlanError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)}; aliases: "
                        f"{', '.join(sorted(ALIASES))})", source=source, field="format")
    return f


def _is_hawq_cfg(d) -> bool:
    if not isinstance(d, Mapping) or not d:
        return False
    keys_ok = all(isinstance(k, str) for k in d)
    return keys_ok and any(k.rsplit(".", 1)[-1].startswith("quant_") for k in d)


def detect_format(data) -> Optional[str]:
    """The format name of parsed data, or None when it cannot be told."""
    if isinstance(data, Mapping):
        if "format" in data and isinstance(data.get("format"), str):
            return "bitconv" if data["format"] == "bitconv-plan" else None
        if "activation_encodings" in data or "param_encodings" in data:
            return "aimet"
        if find_key(data, "bitwidth_per_scope") is not None:
            return "nncf"
        if "strategy" in data:
            return "haq"
        if "bit_config_dict" in data or _is_hawq_cfg(data):
            return "hawq"
        if data and all(isinstance(v, Mapping) for v in data.values()) and any(_is_hawq_cfg(v) for v in data.values()):
            return "hawq"
        if "w_bits" in data and isinstance(data["w_bits"], Mapping):
            return "kernelwise"
        if data and all(isinstance(v, list) or (isinstance(v, Mapping) and "w_bits" in v) for v in data.values()):
            return "kernelwise"
        return None
    if isinstance(data, list) and data:
        # the importer checks each entry; here the shape of most entries decides
        if any(isinstance(x, (list, tuple)) and len(x) >= 2 and isinstance(x[1], str) for x in data):
            return "nncf"
        if all(isinstance(x, (list, tuple)) or is_int(x) for x in data):
            return "haq"
    return None
