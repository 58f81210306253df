"""Plans: the in-memory Plan, bitconv's own format (round trip, schema), malformed inputs, statistics."""
import json
import logging
import os

import pytest

from bitconv.plan import LayerBits, Plan, PlanError, example_plan, load_plan, load_shapes, schema_path
from bitconv.plan.loader import strip_json_comments
from bitconv.weight_levels import quantize_weights

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "plans")


def fx(name):
    return os.path.join(FIX, name)


def tiny_doc(**layer):
    d = {"w_bits": 4, "a_bits": 4}
    d.update(layer)
    return {"format": "bitconv-plan", "version": 1, "layers": {"conv1": {"w_bits": 8, "a_bits": 8}, "blk.conv": d}}


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text if isinstance(text, str) else json.dumps(text))
    return str(p)


def assert_plan_error(exc, source, layer, field):
    msg = str(exc)
    assert type(exc) is PlanError
    assert source in msg, msg
    if layer is not None:
        assert f"layer '{layer}'" in msg, msg
    assert f"field '{field}'" in msg, msg
    # wrapped, never chained to a parser exception
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__), msg


# ---------------------------------------------------------------------------------------- in memory

def test_layerbits_normalises_and_reports():
    lb = LayerBits(w_bits=[2, 3, 3, 4], a_bits=4)
    assert lb.w_bits == (2, 3, 3, 4) and lb.kernelwise
    assert lb.w_bits_mean == 3.0
    assert LayerBits(4, 4).w_bits_mean == 4.0 and not LayerBits(4, 4).kernelwise


def test_layer_without_w_bits_names_the_field():
    with pytest.raises(PlanError) as e:
        Plan({"c": {"a_bits": 4}})
    assert e.value.layer == "c" and e.value.field == "w_bits" and "w_bits" in str(e.value)
    assert Plan({"c": {"a_bits": 4, "quantized": False}})["c"].w_bits is None


def test_plan_is_a_mapping_with_provenance():
    p = Plan({"a": LayerBits(8, 8), "b": {"w_bits": [2, 4], "a_bits": 2}})
    assert list(p) == ["a", "b"] and len(p) == 2 and p["b"].w_bits == (2, 4)
    assert p.format == "python" and p.source is None
    with pytest.raises(PlanError) as e:
        p.layer("nope")
    assert "layer 'nope'" in str(e.value) and "field 'name'" in str(e.value)


def test_averages_layer_and_mac_weighted():
    p = Plan({"conv1": LayerBits(8, 8), "fc": LayerBits([2, 4], 4)})
    assert p.avg_w_bits() == pytest.approx((8 + 3) / 2)
    assert p.avg_a_bits() == pytest.approx(6)
    shapes = load_shapes({"layers": {"conv1": {"cout": 2, "macs": 300}, "fc": {"op": "linear", "cin": 50, "cout": 2}}})
    assert shapes["fc"].macs == 100
    assert p.avg_w_bits(shapes=shapes) == pytest.approx((8 * 300 + 3 * 100) / 400)
    assert p.bitops(shapes=shapes) == 300 * 8 * 8 + 50 * (2 * 4) + 50 * (4 * 4)


def test_example_plans_are_realistic():
    # the MAC-weighted average weight bits docs/plans.md quotes (what `bitconv plan show` prints)
    for name, kw_layer, first, last, w_avg in (("resnet18", "layer3.0.conv2", "conv1", "fc", 2.49),
                                               ("mobilenetv2", "features.17.conv.2", "features.0.0",
                                                "classifier.1", 2.60)):
        p = example_plan(name)
        shapes = load_shapes(name)
        assert list(p) == list(shapes), "example covers every conv/linear in module order"
        assert p[first].w_bits == 8 and p[first].a_bits == 8 and p[last].w_bits == 8 and p[last].a_bits == 8
        assert p[kw_layer].kernelwise and len(p[kw_layer].w_bits) == shapes[kw_layer].cout
        middle = [lb for n, lb in p.items() if n not in (first, last)]
        assert all(2 <= min(lb.w_bits if lb.kernelwise else (lb.w_bits,)) for lb in middle)
        assert all(max(lb.w_bits if lb.kernelwise else (lb.w_bits,)) <= 6 for lb in middle)
        p.check_shapes()
        assert p.bitops() > 0 and p.avg_w_bits() == pytest.approx(w_avg, abs=0.005)
        assert p.format == "bitconv" and p.model == name


def test_table_has_rows_averages_and_bitops():
    text = example_plan("resnet18").table()
    assert "layer2.0.downsample.0" in text and "average weight bits" in text
    assert "total bit-operations" in text and "MAC-weighted" in text
    assert str(Plan({"x": LayerBits(3, 2)})).count("x") >= 1


# ----------------------------------------------------------------------------------- own format

def every_field_plan():
    return Plan({
        "conv1": LayerBits(8, 8, a_zero_point=128, a_scale=0.0186, note="image input"),
        "l.kw": LayerBits([1, 2, 3, 8], 3, w_encoding="signed", w_scale=[0.1, 1e-7, 3.0000000000000004, 2.5]),
        "bin": LayerBits(1, 1, a_encoding="binary", w_encoding="odd"),
        "float": LayerBits(8, None, quantized=False, note="kept float"),
        "noact": LayerBits(5, None, w_scale=0.3),
    }, unmapped=[("x|OUTPUT", "no consumer")], model="toy")


def test_round_trip_exact(tmp_path):
    p = every_field_plan()
    path = str(tmp_path / "p.json")
    p.save(path)
    q = load_plan(path)
    assert q == p
    assert [q[n] for n in q] == [p[n] for n in p]
    assert q.format == "bitconv" and q.source == path and q.unmapped == p.unmapped
    q.save(str(tmp_path / "q.json"))
    assert (tmp_path / "q.json").read_text() == (tmp_path / "p.json").read_text()
    # from a JSON string and from a dict too
    assert load_plan((tmp_path / "p.json").read_text()) == p
    assert load_plan(json.loads((tmp_path / "p.json").read_text())) == p


def test_round_trip_converted_plans(tmp_path):
    for f, opts in (("nncf_resnet18_manual.json", {}), ("aimet_model_torch.encodings", {}),
                    ("haq_resnet18_strategy.json", {"names": "resnet18"}), ("autoq_kernelwise.json", {})):
        p = load_plan(fx(f), **opts)
        out = str(tmp_path / (f + ".bitconv.json"))
        p.save(out)
        q = load_plan(out)
        assert q == p, f
        assert q.meta["source"]["format"] == p.format


@pytest.fixture(scope="module")
def plan_schema():
    jsonschema = pytest.importorskip("jsonschema")
    with open(schema_path()) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_examples_validate_against_schema(plan_schema):
    for name in ("resnet18", "mobilenetv2"):
        with open(os.path.join(os.path.dirname(schema_path()), "examples", f"{name}.json")) as f:
            plan_schema.validate(json.load(f))
    plan_schema.validate(example_plan("resnet18").renamed(lambda n: "m." + n).to_dict())
    plan_schema.validate(every_field_plan().to_dict())


def test_detection_is_reported(caplog):
    with caplog.at_level(logging.INFO, logger="bitconv.plan"):
        p = load_plan(fx("nncf_resnet18_manual.json"))
    assert p.format == "nncf"
    assert any("as nncf" in r.getMessage() and "detected" in r.getMessage() for r in caplog.records)


def test_rename_at_load():
    p = load_plan(fx("autoq_kernelwise.json"), rename={"conv1": "stem.conv"})
    assert list(p) == ["stem.conv", "conv2", "fc"]
    p = load_plan(fx("autoq_kernelwise.json"), rename=lambda n: "net." + n)
    assert list(p) == ["net.conv1", "net.conv2", "net.fc"]


def test_json_comments_and_trailing_commas_outside_strings():
    text = ('{"url": "http://x/*y*/", "q": "say \\"//", ",}": 1, // line\n'
            ' "l": [1, 2, ], /* block */ "end": true,\n}')
    assert json.loads(strip_json_comments(text)) == {"url": "http://x/*y*/", "q": 'say "//', ",}": 1,
                                                      "l": [1, 2], "end": True}
    assert strip_json_comments('[1] /* unclosed') == "[1] "
    assert strip_json_comments('["open // string') == '["open // string'


def test_suite_table_read_once_and_not_shared(monkeypatch):
    import bitconv.plan.shapes as shapes_mod
    first = load_shapes("resnet18")
    first.layers.pop("conv1")           # a caller changing its copy
    monkeypatch.setattr(shapes_mod, "_from_file", lambda *a, **k: pytest.fail("suite file read again"))
    again = load_shapes("ResNet-18")
    assert again is not first and "conv1" in again and again["conv1"].macs == 118013952


# ----------------------------------------------------------------------------------- malformed

# (id, document or raw text, expected layer, expected field[, format])
BITCONV_MALFORMED = [
    ("truncated", '{"format": "bitconv-plan", "version": 1, "layers": {"conv1": {"w_bits": 4,', None, "json"),
    ("not-json", "this is not json", None, "json"),
    ("wrong-type-str", tiny_doc(w_bits="4"), "blk.conv", "w_bits"),
    ("wrong-type-float", tiny_doc(a_bits=4.0), "blk.conv", "a_bits"),
    ("bool-not-int", tiny_doc(w_bits=True), "blk.conv", "w_bits"),
    ("bool-in-list", tiny_doc(w_bits=[4, False, 4]), "blk.conv", "w_bits[1]"),
    ("bits-9", tiny_doc(w_bits=9), "blk.conv", "w_bits"),
    ("bits-0", tiny_doc(a_bits=0), "blk.conv", "a_bits"),
    ("bits-in-list", tiny_doc(w_bits=[2, 3, 12]), "blk.conv", "w_bits[2]"),
    ("nan-scale", '{"format": "bitconv-plan", "version": 1, "layers": {"c": {"w_bits": 4, "a_bits": 4, '
                  '"a_scale": NaN}}}', "c", "a_scale"),
    ("neg-scale", tiny_doc(w_scale=[0.1, -1.0]), "blk.conv", "w_scale[1]"),
    ("scale-length", tiny_doc(w_bits=[2, 3, 4], w_scale=[0.1, 0.2]), "blk.conv", "w_scale"),
    ("zero-point-range", tiny_doc(a_bits=2, a_zero_point=4), "blk.conv", "a_zero_point"),
    ("binary-bits", tiny_doc(a_encoding="binary", a_bits=2), "blk.conv", "a_bits"),
    ("bad-encoding", tiny_doc(w_encoding="twos"), "blk.conv", "w_encoding"),
    ("unknown-field", tiny_doc(wbits=3), "blk.conv", "wbits"),
    ("binary-zero-point", tiny_doc(a_encoding="binary", a_bits=1, a_zero_point=1), "blk.conv", "a_zero_point"),
    ("null-field", tiny_doc(w_scale=None), "blk.conv", "w_scale"),
    ("null-w-bits", tiny_doc(w_bits=None, quantized=False), "blk.conv", "w_bits"),
    ("missing-w-bits", {"format": "bitconv-plan", "version": 1, "layers": {"c": {"a_bits": 4}}}, "c", "w_bits"),
    ("empty-name", {"format": "bitconv-plan", "version": 1, "layers": {"": {"w_bits": 4}}}, None, "name"),
    ("missing-layers", {"format": "bitconv-plan", "version": 1}, None, "layers"),
    ("missing-version", {"format": "bitconv-plan", "layers": {}}, None, "version"),
    ("version-2", {"format": "bitconv-plan", "version": 2, "layers": {}}, None, "version"),
    ("version-float", {"format": "bitconv-plan", "version": 1.0, "layers": {}}, None, "version"),
    ("null-model", {"format": "bitconv-plan", "version": 1, "model": None, "layers": {}}, None, "model"),
    ("source-format", {"format": "bitconv-plan", "version": 1, "source": {"format": 3}, "layers": {}}, None,
     "source.format"),
    ("layers-list", {"format": "bitconv-plan", "version": 1, "layers": [1, 2]}, None, "layers"),
    ("layer-not-object", {"format": "bitconv-plan", "version": 1, "layers": {"c": 4}}, "c", "layers"),
    ("unknown-format-tag", {"format": "tflite-plan", "version": 1, "layers": {}}, None, "format"),
]

IMPORTER_MALFORMED = [
    ("undetectable", {"hello": "world"}, None, "format"),
    ("haq-bits", [[8, -1], [4, 9]], "#1", "strategy[1][1] (a_bit)"),
    ("haq-entry", [[8, 8], [4, 4, 4]], "#1", "strategy[1]"),
    ("haq-bool", [[8, 8], [True, 4]], "#1", "strategy[1][0] (w_bit)"),
    ("haq-missing-strategy", {"names": ["a"]}, None, "strategy", "haq"),
    ("hawq-no-config", {"cfg_a": {"quant_input": 8}, "cfg_b": {"quant_input": 4}}, None, "config"),
    ("nncf-no-scopes", {"compression": {"algorithm": "quantization"}}, None, "bitwidth_per_scope", "nncf"),
    ("aimet-missing-params", {"activation_encodings": {}}, None, "param_encodings"),
    ("hawq-bits", {"quant_input": 8, "quant_init_convbn": 12, "quant_output": 8}, "quant_init_convbn", "bits"),
    ("hawq-type", {"quant_input": 8, "stage1.unit1.quant_convbn1": "4"}, "stage1.unit1.quant_convbn1", "bits"),
    ("hawq-act-range", {"stage1.unit1.quant_act": 0, "stage1.unit1.quant_convbn1": 4}, "stage1.unit1.quant_convbn1",
     "bits of stage1.unit1.quant_act"),
    ("nncf-pair", {"compression": {"algorithm": "quantization", "initializer": {"precision": {
        "bitwidth_per_scope": [[4, "ResNet/NNCFConv2d[conv1]/conv2d_0|WEIGHT"], [4]]}}}}, None, "bitwidth_per_scope[1]"),
    ("nncf-bits", {"bitwidth_per_scope": [[16, "ResNet/Sequential[layer1]/BasicBlock[0]/NNCFConv2d[conv1]/conv2d_0|WEIGHT"]]},
     "layer1.0.conv1", "bitwidth_per_scope[0]"),
    ("nncf-bool", {"bitwidth_per_scope": [[False, "ResNet/NNCFConv2d[conv1]/conv2d_0|WEIGHT"]]}, "conv1",
     "bitwidth_per_scope[0]"),
    ("aimet-missing-bitwidth", {"activation_encodings": {}, "param_encodings": {
        "conv1.weight": [{"scale": 0.1, "offset": -8, "is_symmetric": "True"}]}}, "conv1",
     "param_encodings['conv1.weight'].bitwidth"),
    ("aimet-nan", '{"activation_encodings": {}, "param_encodings": {"conv1.weight": [{"bitwidth": 4, "scale": NaN, '
                  '"offset": -8, "is_symmetric": "True"}]}}', "conv1", "param_encodings['conv1.weight'].scale"),
    ("aimet-range", {"param_encodings": {"conv1.weight": [{"bitwidth": 16, "scale": 0.1, "offset": -32768,
                                                            "is_symmetric": "True"}]}}, "conv1",
     "param_encodings['conv1.weight'].bitwidth"),
    ("aimet-v1-name", {"version": "1.0.0", "param_encodings": [{"bw": 4}]}, None, "param_encodings[0].name"),
    ("aimet-sym", {"param_encodings": {"conv1.weight": [{"bitwidth": 4, "is_symmetric": "maybe"}]}}, "conv1",
     "param_encodings['conv1.weight'].is_symmetric"),
    ("kernelwise-bits", {"conv1": [4, 4, 99]}, "conv1", "w_bits[2]"),
    ("kernelwise-empty", {"conv1": []}, "conv1", "w_bits"),
]

MALFORMED = BITCONV_MALFORMED + IMPORTER_MALFORMED


@pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_inputs_name_file_layer_field(tmp_path, case):
    cid, doc, layer, field = case[:4]
    fmt = case[4] if len(case) > 4 else None
    path = write(tmp_path, f"{cid}.json", doc)
    with pytest.raises(PlanError) as e:
        load_plan(path, format=fmt)
    assert_plan_error(e.value, path, layer, field)
    assert e.value.layer == layer and e.value.field == field
    # the same through a Python object / JSON string names the in-memory source
    if not isinstance(doc, str):
        with pytest.raises(PlanError) as e2:
            load_plan(doc, format=fmt)
        assert_plan_error(e2.value, "<python object>", layer, field)


# What only bitconv's hand checks catch (docs/plans.md lists them): the schema accepts these documents.
# The raw-text cases (truncated, not JSON, NaN) are not JSON documents, so no schema applies to them.
SCHEMA_GAPS = {
    "wrong-type-float": "4.0 is an integer to JSON Schema",
    "version-float": "1.0 is an integer to JSON Schema",
    "scale-length": "equal lengths of two lists of one layer",
    "zero-point-range": "a_zero_point <= 2^a_bits - 1 relates two fields",
}
SCHEMA_CASES = [c for c in BITCONV_MALFORMED if not isinstance(c[1], str)]


@pytest.mark.parametrize("case", SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_schema_rejects_what_the_reader_rejects(plan_schema, case):
    cid, doc = case[:2]
    assert plan_schema.is_valid(tiny_doc())
    assert plan_schema.is_valid(doc) == (cid in SCHEMA_GAPS), SCHEMA_GAPS.get(cid, "the schema should reject it")


def test_unknown_format_name_and_options(tmp_path):
    path = write(tmp_path, "p.json", tiny_doc())
    with pytest.raises(PlanError) as e:
        load_plan(path, format="tflite")
    assert_plan_error(e.value, path, None, "format")
    with pytest.raises(PlanError) as e:
        load_plan(fx("haq_resnet18_strategy.json"), names="resnet18", colour="red")
    assert_plan_error(e.value, "haq_resnet18_strategy.json", None, "colour")
    with pytest.raises(PlanError) as e:
        load_plan(str(tmp_path / "missing.json"))
    assert_plan_error(e.value, "missing.json", None, "path")


def test_shapes_errors_name_layer_and_field():
    p = Plan({"conv1": LayerBits([2, 3], 4)}, source="x.json")
    with pytest.raises(PlanError) as e:
        p.check_shapes("resnet18")
    assert_plan_error(e.value, "x.json", "conv1", "w_bits")
    p = Plan({"stem": LayerBits(2, 4)}, source="x.json")
    with pytest.raises(PlanError) as e:
        p.check_shapes("resnet18")
    assert_plan_error(e.value, "x.json", "stem", "name")


# ----------------------------------------------------------------- apply logic (no native module)

class _FakeConvPlan:
    calls = []

    @classmethod
    def from_float(cls, weight, **kw):
        cls.calls.append(("from_float", weight, kw))
        return ("float", kw)

    @classmethod
    def from_quantized(cls, qweight, w_scale, **kw):
        cls.calls.append(("from_quantized", qweight, w_scale, kw))
        return ("quantized", kw)


@pytest.fixture
def fake_conv(monkeypatch):
    import types

    import bitconv.plan.apply as ap
    _FakeConvPlan.calls = []
    monkeypatch.setattr(ap, "_conv_module", lambda: types.SimpleNamespace(ConvPlan=_FakeConvPlan))
    return _FakeConvPlan


def test_apply_passes_plan_fields_to_convplan(fake_conv):
    np = pytest.importorskip("numpy")
    p = Plan({"conv1": LayerBits(8, 8, a_zero_point=128), "l.kw": LayerBits([2, 3, 4], 3, w_scale=[0.1, 0.2, 0.3]),
              "fc": LayerBits(4, None), "skip": LayerBits(8, None, quantized=False)}, source="p.json")
    w = np.ones((3, 2, 3, 3), np.float32)
    out = p.apply({"conv1": {"weight": w, "stride": 2, "padding": 1, "a_scale": 0.5},
                   "l.kw": {"weight": w.astype(np.int8), "a_scale": 0.25},
                   "fc": {"weight": np.ones((3, 5), np.float32), "a_scale": 1.0, "a_bits": 6},
                   "skip": {"weight": w}})
    assert list(out) == ["conv1", "l.kw", "fc"]      # the float layer is skipped
    kind, kw = out["conv1"]
    assert kind == "float" and kw["w_bits"] == 8 and kw["a_bits"] == 8 and kw["a_zero_point"] == 128
    assert kw["stride"] == 2 and kw["padding"] == 1 and kw["a_scale"] == 0.5
    kind, kw = out["l.kw"]
    assert kind == "quantized" and kw["w_bits"] == [2, 3, 4] and kw["a_bits"] == 3
    call = fake_conv.calls[1]
    assert list(call[2]) == [0.1, 0.2, 0.3]
    assert fake_conv.calls[2][1].shape == (3, 5, 1, 1) and out["fc"][1]["a_bits"] == 6


def test_apply_float_weights_with_plan_scales_are_quantized_by_the_rule():
    np = pytest.importorskip("numpy")
    pytest.importorskip("bitconv._native")
    p = Plan({"c": LayerBits([1, 3], 2, w_scale=[0.5, 0.25])})
    w = np.array([[0.2, -0.3, 0.0, 1.0], [0.26, -0.9, 0.1, 2.0]], np.float32).reshape(2, 1, 2, 2)
    plan = p.conv_plan("c", w, a_scale=1.0)
    assert plan.qweight.reshape(2, 4).tolist() == [[1, -1, 1, 1], [1, -4, 0, 3]]
    assert plan.w_scale.tolist() == [0.5, 0.25]
    # the weights go through from_float's checks; a bad scale passed in is refused by apply's own
    # check, which names the entry
    bad_w = w.copy()
    bad_w[1, 0, 0, 0] = np.nan
    with pytest.raises(PlanError, match="finite"):
        p.conv_plan("c", bad_w, a_scale=1.0)
    with pytest.raises(PlanError, match=r"w_scale\[1\]"):
        p.conv_plan("c", w, a_scale=1.0, w_scale=[0.5, 0.0])


APPLY_ERRORS = [
    ("layer-not-in-plan", {"conv1": {"weight": "W"}, "extra": {"weight": "W"}}, None, "extra", "name"),
    ("layer-missing", {}, None, "conv1", "name"),
    ("length", {"conv1": {"weight": "W5"}}, None, "conv1", "w_bits"),
    ("no-weight", {"conv1": {"bias": None}}, None, "conv1", "weight"),
    ("unknown-key", {"conv1": {"weight": "W", "strides": 2}}, None, "conv1", "strides"),
    ("no-a-scale", {"conv1": {"weight": "W", "a_scale": None}}, None, "conv1", "a_scale"),
    ("renamed-missing", {}, {"conv1": "net.conv1"}, "net.conv1", "name"),   # the error names the new name
    ("int-without-scale", {"conv1": {"weight": "I"}}, None, "conv1", "w_scale"),
]


@pytest.mark.parametrize("case", APPLY_ERRORS, ids=[c[0] for c in APPLY_ERRORS])
def test_apply_errors_name_file_layer_field(fake_conv, case):
    np = pytest.importorskip("numpy")
    _, layers, rename, layer, field = case
    arrays = {"W": np.ones((4, 2, 1, 1), np.float32), "W5": np.ones((5, 2, 1, 1), np.float32),
              "I": np.ones((4, 2, 1, 1), np.int8)}
    layers = {k: {kk: (arrays[v] if isinstance(v, str) else v) for kk, v in spec.items()} for k, spec in layers.items()}
    for spec in layers.values():
        spec.setdefault("a_scale", 0.1)
        if spec["a_scale"] is None:
            del spec["a_scale"]
    p = Plan({"conv1": LayerBits([2, 3, 4, 4], 4)}, source="plan.json")
    with pytest.raises(PlanError) as e:
        p.apply(layers, rename=rename)
    assert_plan_error(e.value, "plan.json", layer, field)


def test_apply_rename_mapping_and_function(fake_conv):
    np = pytest.importorskip("numpy")
    p = Plan({"conv1": LayerBits(4, 4)})
    w = {"weight": np.ones((2, 1, 1, 1), np.float32), "a_scale": 1.0}
    assert list(p.apply({"model.conv1": w}, rename={"conv1": "model.conv1"})) == ["model.conv1"]
    assert list(p.apply({"m/conv1": w}, rename=lambda n: "m/" + n)) == ["m/conv1"]


def test_quantize_weights_odd_rule():
    np = pytest.importorskip("numpy")
    w = np.array([0.0, 0.1, -0.35, 1.0], np.float32).reshape(1, 1, 2, 2)
    q, s = quantize_weights(w, [2], "odd", w_scale=[0.1])   # levels -3, -1, 1, 3 times 0.1
    # 0 -> rint(1.5) = 2 -> +1 (half to even); 0.1 -> +1; -0.35 -> rint(-0.25) = 0 -> -3; 1.0 clips to +3
    assert q.ravel().tolist() == [1, 1, -3, 3] and s.tolist() == [0.1]
