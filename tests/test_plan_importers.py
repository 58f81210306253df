"""Importers: fixtures written as the tools write them load to the expected per-layer bits."""
import json
import os

import pytest

from bitconv.plan import LayerBits, PlanError, hawq_resnet_to_torchvision, load_plan, load_shapes

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "plans")
R18 = list(load_shapes("resnet18"))


def fx(name):
    return os.path.join(FIX, name)


# ---------------------------------------------------------------------------------------------- HAQ

def test_haq_strategy_with_suite_names():
    p = load_plan(fx("haq_resnet18_strategy.json"), names="resnet18")
    assert p.format == "haq" and list(p) == R18
    assert p["conv1"] == LayerBits(8, None, quantized=False, note="activations not quantized (a_bit = -1)")
    assert p.skipped == ["conv1"]
    assert (p["layer1.0.conv2"].w_bits, p["layer1.0.conv2"].a_bits) == (6, 5)
    assert (p["layer2.0.downsample.0"].w_bits, p["layer2.0.downsample.0"].a_bits) == (6, 4)
    assert (p["fc"].w_bits, p["fc"].a_bits) == (8, 8)
    assert p.unmapped == []


def test_haq_names_as_list_mapping_and_missing():
    strategy = [[8, -1], [4, 3], [8, 8]]
    names = ["conv1", "layer1.0.conv1", "fc"]
    a = load_plan(strategy, names=names)
    b = load_plan(strategy, names={0: "conv1", 1: "layer1.0.conv1", 2: "fc"})
    c = load_plan(strategy, names={"conv1": 0, "layer1.0.conv1": 1, "fc": 2})
    d = load_plan({"strategy": strategy, "names": names})
    assert a == b == c == d and list(a) == names
    e = load_plan(strategy)
    assert list(e) == ["#0", "#1", "#2"] and e.unmapped[0][0] == "names"
    f = load_plan(strategy, names=names, unquantized_bits=8)
    assert f["conv1"].quantized and f["conv1"].a_bits == 8
    with pytest.raises(PlanError, match="field 'names'"):
        load_plan(strategy, names=["a", "b"])


def test_haq_kmeans_weight_only():
    p = load_plan([3, 4, 2], names=["a", "b", "c"], format="haq")
    assert [p[n].w_bits for n in p] == [3, 4, 2] and all(p[n].a_bits is None for n in p)


# ---------------------------------------------------------------------------------- HAWQ-V3 / OMPQ

def test_hawq_python_bit_config_select_and_rules():
    p = load_plan(fx("hawq_bit_config.py"), config="bit_config_resnet18_bops_0.25")
    assert p.format == "hawq" and len(p) == 21
    assert p["quant_init_block_convbn"].a_bits == 8                     # quant_input
    # convbn1 <- quant_act, convbn2 <- quant_act1, identity <- quant_act (block input)
    assert (p["stage1.unit2.quant_convbn1"].a_bits, p["stage1.unit2.quant_convbn2"].a_bits) == (8, 4)
    assert p["stage2.unit1.quant_identity_convbn"].a_bits == 8 and p["stage2.unit1.quant_convbn2"].a_bits == 4
    assert p["quant_output"].a_bits == 8                               # (8, 'hook') value
    acc = [k for k, r in p.unmapped if "accumulator" in r]
    assert len(acc) == 9 and "quant_act_int32" in acc
    with pytest.raises(PlanError) as e:
        load_plan(fx("hawq_bit_config.py"))
    assert "field 'config'" in str(e.value) and "bit_config_resnet18_bops_0.25" in str(e.value)


def test_ompq_json_and_torchvision_rename():
    p = load_plan(fx("ompq_resnet18.json"), format="ompq", rename=hawq_resnet_to_torchvision)
    assert p.format == "hawq" and list(p) == [
        "conv1", "layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1", "layer1.1.conv2", "layer2.0.conv1",
        "layer2.0.conv2", "layer2.0.downsample.0", "layer2.1.conv1", "layer2.1.conv2", "layer3.0.conv1",
        "layer3.0.conv2", "layer3.0.downsample.0", "layer3.1.conv1", "layer3.1.conv2", "layer4.0.conv1",
        "layer4.0.conv2", "layer4.0.downsample.0", "layer4.1.conv1", "layer4.1.conv2", "fc"]
    assert sorted(p) == sorted(R18)
    assert p["layer2.0.conv1"].w_bits == 7 and p["layer3.0.conv2"].w_bits == 4
    assert all(p[n].a_bits == 6 for n in R18 if n not in ("conv1", "fc"))
    p.check_shapes("resnet18")


def test_hawq_order_fallback_and_unmapped_activation():
    cfg = {"quant_input": 8, "features.quant_act": 5, "features.quant_dwconv": 4, "quant_act_final": 6}
    p = load_plan(cfg, format="hawq")
    assert p["features.quant_dwconv"].a_bits == 5
    assert "preceding" in p["features.quant_dwconv"].note
    assert {k for k, _ in p.unmapped} == {"quant_input", "quant_act_final"}


# --------------------------------------------------------------------------------------------- NNCF

def test_nncf_config_with_comments():
    p = load_plan(fx("nncf_resnet18_manual.json"))
    assert p.format == "nncf" and list(p) == R18
    assert [p[n].w_bits for n in R18] == [8, 6, 6, 6, 6, 4, 4, 8, 4, 4, 4, 4, 4, 4, 4, 2, 2, 4, 2, 2, 4]
    assert p["layer4.1.conv2"].a_bits == 4                    # |INPUT0 of an NNCFConv2d
    assert p["conv1"].a_bits is None
    keys = dict(p.unmapped)
    assert "ResNet/ReLU[relu]/relu__0|OUTPUT" in keys
    assert "ResNet/Sequential[layer3]/BasicBlock[1]/__iadd___0|INPUT1" in keys


def test_nncf_activation_map_and_default():
    am = {"/nncf_model_input_0|OUTPUT": "conv1",
          "ResNet/Sequential[layer1]/BasicBlock[0]/ReLU[relu]/relu__0|OUTPUT": ["layer1.0.conv2"]}
    p = load_plan(fx("nncf_resnet18_manual.json"), activation_map=am, a_bits=5)
    assert p["conv1"].a_bits == 8 and p["layer1.0.conv2"].a_bits == 6
    assert p["layer2.0.conv1"].a_bits == 5 and "a_bits option" in p["layer2.0.conv1"].note
    assert "/nncf_model_input_0|OUTPUT" not in dict(p.unmapped)


def test_nncf_legacy_targettype_ids_and_bare_list():
    p = load_plan(fx("nncf_legacy_targettype.json"))
    assert (p["conv1"].w_bits, p["fc"].w_bits, p["layer1.0.conv1"].w_bits) == (2, 2, 8)
    q = load_plan([[4, "ResNet/Sequential[layer2]/Bottleneck[0]/NNCFConv2d[conv2]/conv2d_0|WEIGHT"]])
    assert list(q) == ["layer2.0.conv2"] and q.format == "nncf"


# -------------------------------------------------------------------------------------------- AIMET

def test_aimet_legacy_tensor_keyed():
    p = load_plan(fx("aimet_legacy.encodings"))
    assert p.format == "aimet" and list(p) == ["conv1", "conv2", "fc"]
    c1 = p["conv1"]
    assert c1.w_bits == 4 and c1.w_encoding == "signed" and c1.w_scale == (0.0125, 0.02, 0.0175, 0.009375)
    assert p["conv2"].w_bits == 2 and p["conv2"].w_scale == 0.05
    assert p["fc"].w_bits == 8 and p["fc"].w_scale is None             # asymmetric: scales dropped
    um = dict(p.unmapped)
    assert "conv2.bias" in um and "fc.weight" in um and "input.1" in um
    q = load_plan(fx("aimet_legacy.encodings"), activation_map={"input.1": "conv1", "23": ["conv2"]})
    assert (q["conv1"].a_bits, q["conv1"].a_zero_point, q["conv1"].a_scale) == (8, 114, 0.018501389771699905)
    assert (q["conv2"].a_bits, q["conv2"].a_zero_point) == (4, 0)


def test_aimet_torch_module_keyed():
    p = load_plan(fx("aimet_model_torch.encodings"))
    assert (p["conv1"].a_bits, p["conv1"].a_zero_point) == (8, 114)
    assert p["conv2"].a_bits == 4 and p["conv2"].a_scale == 0.1686
    assert not p["fc"].quantized and p.skipped == ["fc"]
    assert "conv1.output.0" in dict(p.unmapped)


def test_aimet_v1_versioned():
    p = load_plan(fx("aimet_v1.encodings"))
    assert p.format == "aimet" and p.meta["aimet_version"] == "1.0.0"
    assert p["conv1"].w_bits == 4 and p["conv1"].w_scale == (0.0125, 0.02, 0.0175, 0.009375)
    assert p["conv2"].w_bits == 2 and not p["fc"].quantized
    q = load_plan(fx("aimet_v1.encodings"), activation_map={"input": "conv1", "/relu1/Relu_output_0": "conv2"})
    assert (q["conv1"].a_bits, q["conv1"].a_zero_point, q["conv2"].a_bits) == (8, 114, 3)
    v1 = json.load(open(fx("aimet_v1.encodings")))
    v1["param_encodings"][0]["offset"] = [-8, -8, -8]
    with pytest.raises(PlanError, match="layer 'conv1', field 'param_encodings"):
        load_plan(v1)


def test_aimet_per_channel_bitwidths_become_kernelwise():
    enc = lambda b: {"bitwidth": b, "dtype": "int", "is_symmetric": "True", "offset": -(2 ** (b - 1)), "scale": 0.1,
                     "min": -0.1, "max": 0.1}
    p = load_plan({"activation_encodings": {}, "param_encodings": {"conv.weight": [enc(2), enc(4), enc(3)]}})
    assert p["conv.weight".replace(".weight", "")].w_bits == (2, 4, 3)


# ------------------------------------------------------------------------------------- kernel-wise

def test_kernelwise_forms():
    a = load_plan(fx("autoq_kernelwise.json"))
    assert a.format == "kernelwise" and a["conv1"].w_bits == (4, 4, 3, 5) and a["conv2"].a_bits == 3
    assert a["fc"].w_bits == 8 and a["conv1"].w_bits_mean == 4.0
    b = load_plan(fx("autoq_split.json"))
    assert [b[n] for n in b] == [a["conv1"], a["conv2"]]
    c = load_plan({"conv1": [2, 2, 3, 3]}, a_bits=4)
    assert c["conv1"].a_bits == 4
    d = load_plan({"conv1": [2, 2, 3, 3]})
    assert d["conv1"].a_bits is None


def test_detection_table():
    from bitconv.plan import detect_format
    assert detect_format({"format": "bitconv-plan"}) == "bitconv"
    assert detect_format([[8, -1], [4, 4]]) == "haq"
    assert detect_format({"stage1.unit1.quant_convbn1": 4}) == "hawq"
    assert detect_format({"bitwidth_per_scope": []}) == "nncf"
    assert detect_format({"param_encodings": {}}) == "aimet"
    assert detect_format({"conv1": [2, 3]}) == "kernelwise"
    assert detect_format({"what": 1}) is None
