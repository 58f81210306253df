"""`bitconv plan show|validate|convert` through bitconv.cli.main."""
import json
import os

from bitconv.cli import main
from bitconv.plan import example_path, load_plan

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "plans")


def fx(name):
    return os.path.join(FIX, name)


def test_show_example_with_suite(capsys):
    assert main(["plan", "show", example_path("resnet18"), "--suite", "resnet18"]) == 0
    out = capsys.readouterr().out
    assert "layer3.0.conv2" in out and "total bit-operations" in out and "MAC-weighted" in out
    assert "format: bitconv" in out


def test_show_haq_with_names_and_shapes_file(capsys, tmp_path):
    shapes = os.path.join(os.path.dirname(example_path("resnet18")), "..", "shapes_resnet18.json")
    assert main(["plan", "show", fx("haq_resnet18_strategy.json"), "--names", "resnet18", "--shapes", shapes]) == 0
    out = capsys.readouterr().out
    assert "format: haq" in out and "NOT QUANTIZED" in out and "kept in float (skipped by apply): conv1" in out
    # only a layer table gives these
    assert "total bit-operations" in out and "BOPs" in out and "(MAC-weighted)" in out


def test_show_without_shapes_has_averages_only(capsys):
    assert main(["plan", "show", fx("nncf_resnet18_manual.json")]) == 0
    out = capsys.readouterr().out
    assert "average weight bits" in out and "total bit-operations" not in out and "not mapped" in out


def test_validate_ok_and_errors(capsys, tmp_path):
    assert main(["plan", "validate", example_path("mobilenetv2"), "--suite", "mobilenetv2"]) == 0
    assert capsys.readouterr().out.strip() == "ok"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "bitconv-plan", "version": 1,
                               "layers": {"conv1": {"w_bits": 8, "a_bits": 8}, "layer1.0.conv1": {"w_bits": 11}}}))
    assert main(["plan", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "layer 'layer1.0.conv1'" in err and "field 'w_bits'" in err
    assert "Traceback" not in err
    trunc = tmp_path / "trunc.json"
    trunc.write_text('{"format": "bitconv-plan", "version": 1, "layers": {')
    assert main(["plan", "validate", str(trunc)]) == 1
    err = capsys.readouterr().err
    assert str(trunc) in err and "field 'json'" in err


def test_validate_against_suite_catches_length(capsys, tmp_path):
    doc = {"format": "bitconv-plan", "version": 1, "layers": {"conv1": {"w_bits": [4] * 63, "a_bits": 8}}}
    p = tmp_path / "short.json"
    p.write_text(json.dumps(doc))
    assert main(["plan", "validate", str(p)]) == 0
    capsys.readouterr()
    assert main(["plan", "validate", str(p), "--suite", "resnet18"]) == 1
    err = capsys.readouterr().err
    assert "layer 'conv1'" in err and "field 'w_bits'" in err and "Cout=64" in err


def test_convert_round_trips(capsys, tmp_path):
    out = tmp_path / "nncf.bitconv.json"
    assert main(["plan", "convert", fx("nncf_resnet18_manual.json"), "-o", str(out), "--a-bits", "4"]) == 0
    assert "wrote" in capsys.readouterr().out
    p = load_plan(str(out))
    q = load_plan(fx("nncf_resnet18_manual.json"), a_bits=4)
    assert p == q and p.format == "bitconv" and all(p[n].a_bits is not None for n in p)
    out2 = tmp_path / "hawq.json"
    assert main(["plan", "convert", fx("hawq_bit_config.py"), "--config", "bit_config_resnet18_bops_0.25",
                 "-o", str(out2)]) == 0
    assert len(load_plan(str(out2))) == 21


def test_convert_with_format_and_rename(capsys, tmp_path):
    ren = tmp_path / "rename.json"
    ren.write_text(json.dumps({"conv1": "stem"}))
    out = tmp_path / "k.json"
    assert main(["plan", "convert", fx("autoq_kernelwise.json"), "--format", "autoq", "--rename", str(ren),
                 "-o", str(out)]) == 0
    assert list(load_plan(str(out))) == ["stem", "conv2", "fc"]
    assert main(["plan", "convert", fx("autoq_kernelwise.json"), "--format", "nope", "-o", str(out)]) == 1
    assert "field 'format'" in capsys.readouterr().err


def test_command_line_builds_without_numpy():
    """`bitconv plan ...` needs neither numpy nor the bench's comparators just to build its parser
    (the bench lists its comparator names from a module without imports)."""
    import subprocess
    import sys

    code = ("import sys, bitconv.cli; bitconv.cli.build_parser(); "
            "print(sorted(m for m in ('numpy', 'bitconv.bench.comparators') if m in sys.modules))")
    here = os.path.dirname(os.path.abspath(__file__))
    # This checkout's bitconv, not whatever is installed: the repository root leads PYTHONPATH.
    path = os.pathsep.join(p for p in (os.path.dirname(here), os.environ.get("PYTHONPATH")) if p)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=here,
                       env={**os.environ, "PYTHONPATH": path})
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr)
