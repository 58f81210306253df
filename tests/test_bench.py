"""The benchmark harness end to end on tiny suite subsets (no timing is asserted)."""
import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

bitconv = pytest.importorskip("bitconv")
from bitconv.bench import comparators as C  # noqa: E402
from bitconv.bench.plans import LayerBits, kernelwise_bits, parse_bits, parse_kernelwise  # noqa: E402
from bitconv.bench.suites import load_suite, select_layers  # noqa: E402
from bitconv.cli import main  # noqa: E402

TINY = ["--suite", "resnet20", "--layers", "layer1.0.conv1,layer3.0.conv1", "--repeat", "2", "--warmup", "0",
        "--threads", "1", "--no-progress"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BITCONV_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BITCONV_BENCH_CORRUPT", raising=False)
    monkeypatch.delenv("BITCONV_PROGRESS", raising=False)
    from bitconv.bench import probe

    monkeypatch.setattr(probe, "_PROCESS_CACHE", {})


def run_json(tmp_path, *extra):
    out = tmp_path / "r.json"
    assert main(["bench", *TINY, "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())


def check_efficiency(res, row, w_bits, a_bits):
    """eff% = 100 x achieved MACs/s / ceiling; ceiling = probe binary rate / (w x a) x cores used."""
    cores = min(res["machine"]["threads"], res["machine"]["hardware_threads"])
    ceiling = res["probe"]["binary_macs_per_second"] / (w_bits * a_bits) * cores
    assert row["ceiling_macs_per_s"] == pytest.approx(ceiling)
    assert row["efficiency_pct"] == pytest.approx(100 * row["macs"] / row["bitconv"]["median_s"] / ceiling)


# ------------------------------------------------------------------------------------- suites
@pytest.mark.parametrize("name,count,mmacs", [("resnet18", 20, 1813.56), ("resnet20", 19, 40.55),
                                              ("vgg-small", 6, 607.52), ("mobilenetv2", 52, 299.49)])
def test_suites_shapes(name, count, mmacs):
    s = load_suite(name)
    assert len(s.layers) == count
    assert sum(lay.macs() for lay in s.layers) / 1e6 == pytest.approx(mmacs, abs=0.01)
    assert s.layer(s.sweep_layer)
    assert len({lay.name for lay in s.layers}) == count


def test_suite_names_follow_torchvision():
    r18 = {lay.name: lay for lay in load_suite("resnet18").layers}
    assert r18["conv1"].kh == 7 and r18["conv1"].stride == 2 and r18["conv1"].h == 224
    ds = r18["layer2.0.downsample.0"]
    assert (ds.cin, ds.cout, ds.kh, ds.stride, ds.h) == (64, 128, 1, 2, 56)
    assert r18["layer4.1.conv2"].h == 7
    mb = {lay.name: lay for lay in load_suite("mobilenetv2").layers}
    dw = mb["features.1.conv.0.0"]
    assert dw.groups == dw.cin == 32 and dw.h == 112
    assert mb["features.18.0"].cout == 1280 and mb["features.17.conv.2"].cout == 320


def test_select_layers_globs_and_errors():
    s = load_suite("resnet18")
    assert [lay.name for lay in select_layers(s, "layer4.*.conv1")] == ["layer4.0.conv1", "layer4.1.conv1"]
    with pytest.raises(ValueError, match="nope"):
        select_layers(s, "conv1,nope")


def test_parse_bits():
    assert (parse_bits("2x3").w_bits, parse_bits("2x3").a_bits) == (2, 3)
    assert parse_bits("2x3").a_encoding == "unsigned"
    b = parse_bits("1x1b")
    assert (b.w_bits, b.a_bits, b.a_encoding, b.label(8)) == (1, 1, "binary", "1x1b")
    for bad in ("9x1", "0x2", "2", "axb", "2x2b", "1x1c"):
        with pytest.raises(ValueError):
            parse_bits(bad)
    assert LayerBits([2, 3, 3, 4], 2).w_avg(4) == 3.0


# ---------------------------------------------------------------------------------- end to end
def test_bench_json_and_csv(tmp_path, capsys):
    out_csv = tmp_path / "r.csv"
    res = run_json(tmp_path, "--bits", "2x2", "--comparators", "numpy,ort-int8", "--csv", str(out_csv))
    printed = capsys.readouterr().out
    assert "layer1.0.conv1" in printed and "TOTAL" in printed
    assert re.search(rf"\(probe {bitconv.get_isa()}, [0-9.]+ s, (measured now|cached)", printed)
    assert res["format"] == "bitconv-bench-result" and res["suite"] == "resnet20"
    assert [r["name"] for r in res["layers"]] == ["layer1.0.conv1", "layer3.0.conv1"]
    m = res["machine"]
    for key in ("cpu_model", "isa", "cpu_features", "threads", "date", "available_isas"):
        assert key in m
    assert m["threads"] == 1 and m["versions"]["bitconv"] == bitconv.__version__ and "numpy" in m["versions"]
    assert res["probe"]["binary_macs_per_second"] > 0
    for r in res["layers"]:
        assert r["checked"] is True and r["bits"] == "2x2" and r["marked"] == ""
        assert r["kernel"] in ("bit-serial", "int8", "bit-serial+int8")
        b = r["bitconv"]
        assert b["n"] == 2 and 0 < b["min_s"] <= b["median_s"] <= b["max_s"]
        assert b["gops"] == pytest.approx(2 * r["macs"] / b["median_s"] / 1e9)
        check_efficiency(res, r, 2, 2)
        assert r["macs"] == load_suite("resnet20").layer(r["name"]).macs()
        assert r["comparators"]["numpy"]["speedup"] > 0
    t = res["total"]
    assert t["macs"] == sum(r["macs"] for r in res["layers"])
    # Total efficiency: all the layers' bit operations over the total time, at the 1-core ceiling.
    bitops = sum(r["macs"] * 2 * 2 for r in res["layers"])
    assert t["efficiency_pct"] == pytest.approx(100 * bitops / t["median_s"] / res["probe"]["binary_macs_per_second"])
    assert res["total"]["comparators"]["numpy"]["complete"] is True
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["layer"] for r in rows] == ["layer1.0.conv1", "layer3.0.conv1", "TOTAL"]
    assert float(rows[0]["bitconv_median_s"]) > 0 and rows[0]["cpu_model"] == m["cpu_model"]
    assert "numpy_speedup" in rows[0]
    assert rows[0]["kernel"] == res["layers"][0]["kernel"] and rows[2]["macs"] == str(t["macs"])  # TOTAL row lines up


def test_bench_corrupt_hook_env_fails_loudly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BITCONV_BENCH_CORRUPT", "layer3.0.conv1")
    rc = main(["bench", *TINY, "--bits", "2x2", "--comparators", "none"])
    assert rc == 3
    err = capsys.readouterr().err
    assert "layer3.0.conv1" in err and "WRONG RESULT" in err


def test_bench_corrupt_hook_argument():
    from bitconv.bench import Options, WrongResult, run_bench

    opts = Options(suite="resnet20", layers="layer1.0.conv1", bits="1x1", repeat=1, warmup=0, threads=1,
                   comparators="none", corrupt=["layer1.0.conv1"], progress=False)
    with pytest.raises(WrongResult, match="layer1.0.conv1"):
        run_bench(opts)


def test_bench_corrupt_sweep_layer_exits_3(monkeypatch, capsys):
    """The sweep checks its layer too: corrupting only the sweep layer still fails with status 3."""
    monkeypatch.setenv("BITCONV_BENCH_CORRUPT", "layer3.0.conv2")
    rc = main(["bench", *TINY, "--layers", "layer1.0.conv1", "--bits", "2x2", "--comparators", "none", "--sweep",
               "--sweep-layer", "layer3.0.conv2"])
    assert rc == 3
    assert "layer3.0.conv2" in capsys.readouterr().err


def test_missing_comparators_are_skipped(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # import fails as if not installed
    monkeypatch.setitem(sys.modules, "torch", None)
    res = run_json(tmp_path, "--bits", "1x2", "--comparators", "numpy,ort-fp32,ort-int8,torch-fp32,torch-int8")
    assert set(res["skipped_comparators"]) == {"ort-fp32", "ort-int8", "torch-fp32", "torch-int8"}
    assert list(res["comparators"]) == ["numpy"]
    assert "skipped" in capsys.readouterr().out


def test_unknown_comparator_and_bad_bits_are_usage_errors(capsys):
    assert main(["bench", *TINY, "--comparators", "nosuch"]) == 2
    assert main(["bench", *TINY, "--bits", "9x9"]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_plan_file_kernelwise_and_marked(tmp_path):
    cout = 16
    plan = {"format": "bitconv-plan", "version": 1,
            "layers": {"layer1.0.conv1": {"w_bits": [1, 3] * (cout // 2), "a_bits": 2},
                       "layer3.0.conv1": {"w_bits": 8, "a_bits": 8}}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    res = run_json(tmp_path, "--plan", str(path), "--comparators", "none")
    rows = {r["name"]: r for r in res["layers"]}
    assert rows["layer1.0.conv1"]["w_bits_avg"] == 2.0 and rows["layer1.0.conv1"]["a_bits"] == 2
    assert not rows["layer1.0.conv1"]["marked"]
    check_efficiency(res, rows["layer1.0.conv1"], 2.0, 2)     # w_bits: channel average of {1, 3}
    assert rows["layer3.0.conv1"]["marked"] and rows["layer3.0.conv1"]["bits"].endswith("*")


def test_bad_plan_file_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    assert main(["bench", *TINY, "--plan", str(path)]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_default_plan_runs_marked_first_layer(tmp_path):
    res = run_json(tmp_path, "--suite", "resnet18", "--layers", "conv1,layer4.1.conv2", "--comparators", "none")
    assert res["plan"] == "bitconv.plan.example_plan('resnet18')"   # the shipped plan, not a fallback
    rows = {r["name"]: r for r in res["layers"]}
    want = bitconv.example_plan("resnet18")["layer4.1.conv2"]
    assert rows["conv1"]["w_bits_avg"] == 8 and rows["conv1"]["a_bits"] == 8 and rows["conv1"]["marked"]
    assert rows["layer4.1.conv2"]["w_bits_avg"] == want.w_bits and rows["layer4.1.conv2"]["a_bits"] == want.a_bits
    assert not rows["layer4.1.conv2"]["marked"]


HAQ = os.path.join(os.path.dirname(__file__), "fixtures", "plans", "haq_resnet18_strategy.json")
R18 = ["--suite", "resnet18", "--layers", "layer1.0.conv1", "--repeat", "2", "--warmup", "0", "--threads", "1",
       "--no-progress", "--comparators", "none"]


def test_searcher_plan_without_layer_names_is_refused(capsys):
    """A HAQ strategy names no layers: benchmarking it as if every layer were unquantized (8x8) would
    time a different network, so the run stops and says how to convert the plan."""
    assert main(["bench", *R18, "--plan", HAQ]) == 2
    err = capsys.readouterr().err
    assert "layer1.0.conv1" in err and "plan convert" in err


def test_searcher_plan_converted_with_names_runs_its_bits(tmp_path):
    conv = tmp_path / "haq.json"
    assert main(["plan", "convert", HAQ, "--names", "resnet18", "-o", str(conv)]) == 0
    want = bitconv.load_plan(str(conv))["layer1.0.conv1"]
    res = run_json(tmp_path, *R18, "--plan", str(conv))
    row = res["layers"][0]
    assert row["name"] == "layer1.0.conv1" and row["a_bits"] == want.a_bits and row["w_bits_avg"] == want.w_bits


def test_sweep_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "p.png"
    res = run_json(tmp_path, "--layers", "layer3.0.conv2", "--bits", "2x2", "--comparators", "numpy,ort-int8",
                   "--sweep", "--quick", "--plot", str(png))
    sw = res["sweep"]
    assert sw["name"] == "layer3.0.conv2"
    assert len(sw["median_s"]) == 8 and all(len(r) == 8 and min(r) > 0 for r in sw["median_s"])
    if sw["int8_comparator"]:
        assert all(v > 0 for r in sw["speedup_over_int8"] for v in r)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_codes_out(tmp_path, capsys):
    """--codes-out times the uint8 codes output (checked against quantize(float output)) and adds
    its column with a total."""
    res = run_json(tmp_path, "--bits", "2x3", "--comparators", "none", "--codes-out", "--layers",
                   "layer1.0.conv1,conv1")
    assert len(res["layers"]) == 2 and all(r["bitconv_codes_out"]["median_s"] > 0 for r in res["layers"])
    out = capsys.readouterr().out.splitlines()
    head = next(line for line in out if line.startswith("layer "))
    assert head.endswith("codes ms")    # the last column: no comparators, no float column
    total = sum(r["bitconv_codes_out"]["median_s"] for r in res["layers"]) * 1e3
    (total_line,) = [line for line in out if line.startswith("TOTAL ")]
    assert total_line.split()[-1] == f"{total:.3f}"


def test_codes_out_check_fires(monkeypatch, capsys):
    """A codes output that is not quantize(float output) is a wrong result (exit status 3)."""
    real = bitconv.quantize

    def flipped(x, plan):   # the harness's side of the comparison, one bit off
        q = real(x, plan).copy()
        q.flat[0] ^= 1
        return q

    monkeypatch.setattr(bitconv, "quantize", flipped)
    rc = main(["bench", *TINY, "--bits", "2x3", "--comparators", "none", "--codes-out"])
    assert rc == 3
    assert "layer1.0.conv1: codes output differs from quantize(float output)" in capsys.readouterr().err


def test_parse_kernelwise_and_channel_bits():
    assert parse_kernelwise("1,1,1,4x2") == ([1, 1, 1, 4], 2)
    assert parse_kernelwise(" 2, 3 X 1") == ([2, 3], 1)
    for bad in ("1x2", "2,2x2", "1,9x2", "1,2", "1,2x0", "1;2x2"):
        with pytest.raises(ValueError, match="--kernelwise"):
            parse_kernelwise(bad)
    contiguous, interleaved = kernelwise_bits([1, 1, 4], 12, seed=0)
    assert contiguous == [1] * 8 + [4] * 4
    assert sorted(interleaved) == sorted(contiguous) and interleaved != contiguous
    assert kernelwise_bits([1, 1, 4], 12, seed=0)[1] == interleaved          # seeded


def test_bench_kernelwise(tmp_path, capsys):
    """--kernelwise times each layer at the mix (contiguous and interleaved channels) and at each of
    its bits uniformly; ratios are over the channel-weighted average of the uniform times."""
    res = run_json(tmp_path, "--bits", "2x2", "--comparators", "none", "--kernelwise", "1,1,3x2")
    for r in res["layers"]:
        kw = r["kernelwise"]
        assert (kw["mix"], kw["a_bits"], sorted(kw["uniform_s"])) == ([1, 1, 3], 2, ["1", "3"])
        cout = r["layer"]["cout"]
        contiguous = kernelwise_bits([1, 1, 3], cout, seed=0)[0]
        assert kw["average_s"] == pytest.approx(sum(kw["uniform_s"][str(b)] for b in contiguous) / cout)
        for key in ("contiguous", "interleaved"):
            assert kw[key]["ratio"] == pytest.approx(kw[key]["median_s"] / kw["average_s"])
            assert sum(int(p.split(":")[1]) for p in kw[key]["panels"]) == cout
    out = capsys.readouterr().out
    assert "kernel-wise: weight bits 1,1,3 on equal parts of the output channels, 2-bit activations" in out
    assert sum(line.startswith(("layer1.0.conv1 ", "layer3.0.conv1 ")) for line in out.splitlines()) == 4


def test_bench_kernelwise_runs_are_checked(monkeypatch):
    """Every kernel-wise configuration goes through the reference check: a wrong per-channel result
    stops the run."""
    from bitconv.bench import Options, WrongResult, harness, run_bench

    real = harness.checked_bitconv

    def corrupt_per_channel(layer, bits, **kw):
        return real(layer, bits, **{**kw, "corrupt": isinstance(bits.w_bits, list)})

    monkeypatch.setattr(harness, "checked_bitconv", corrupt_per_channel)
    opts = Options(suite="resnet20", layers="layer1.0.conv1", bits="2x2", repeat=1, warmup=0, threads=1,
                   comparators="none", kernelwise="1,2x2", progress=False)
    with pytest.raises(WrongResult, match="layer1.0.conv1"):
        run_bench(opts)


def test_bench_kernelwise_usage_error(capsys):
    assert main(["bench", *TINY, "--bits", "2x2", "--comparators", "none", "--kernelwise", "2x2"]) == 2
    assert "--kernelwise expects" in capsys.readouterr().err


def test_binary_activations_bits(tmp_path):
    # 1x1b: the {-1, +1} activation encoding, checked against the int64 reference of that encoding
    # (not the unsigned one, whose results differ); the float path quantizes x >= 0.
    res = run_json(tmp_path, "--bits", "1x1b", "--comparators", "numpy", "--float-path")
    for r in res["layers"]:
        assert (r["a_encoding"], r["bits"], r["checked"]) == ("binary", "1x1b", True)
        assert r["bitconv_float_nchw"]["median_s"] > 0 and "numpy" in r["comparators"]


def test_float_path_and_progress(tmp_path, capsys):
    res = run_json(tmp_path, "--bits", "3x2", "--comparators", "none", "--float-path", "--progress")
    assert all(r["bitconv_float_nchw"]["median_s"] > 0 for r in res["layers"])
    assert re.search(r"\[[^\]]*\] \d+/\d+ ", capsys.readouterr().err)     # the bar went to stderr


def test_comparator_results_agree_with_reference():
    """The comparators compute the same layer: numpy fp32 equals the int64 reference exactly here."""
    from bitconv.bench.harness import make_case
    from bitconv.reference.int64 import conv2d_int64

    lay = load_suite("resnet20").layer("layer2.0.conv1")
    case = make_case(lay, LayerBits(3, 2), batch=1, threads=1, seed=1)
    ref = conv2d_int64(case.codes_nchw, case.qweight, stride=lay.stride, padding=lay.padding)
    np.testing.assert_array_equal(C.NumpyFp32().prepare(case)(), ref.astype(np.float32))
    if C.OrtFp32().unavailable() is None:
        np.testing.assert_array_equal(C.OrtFp32().prepare(case)()[0], ref.astype(np.float32))


def test_comparator_names_match_the_classes():
    """comparator_names.py (read by the command line without numpy) names every comparator class
    once: the registry is built from it, so a class it leaves out would never run."""
    from bitconv.bench.comparator_base import Comparator
    from bitconv.bench.comparator_names import DEFAULT, OPTIONAL

    def concrete(cls):
        for sub in cls.__subclasses__():
            if sub.name and sub.__module__.startswith("bitconv.bench."):
                yield sub
            yield from concrete(sub)

    assert sorted(cls.name for cls in set(concrete(Comparator))) == sorted(DEFAULT + OPTIONAL)


# --------------------------------------------------------------------------------------- probe
def test_probe_cli(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["probe", "--seconds", "0.02", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "binary AND+popcount" in text and "w\\a" in text
    r = json.loads(out.read_text())
    assert r["binary_macs_per_second"] > 0 and r["int8_macs_per_second"] >= 0
    assert r["isa"] == bitconv.get_isa()
    table = r["bitserial_ceiling_macs_per_s"]
    assert len(table) == 8 and all(len(row) == 8 for row in table)
    assert table[0][0] == pytest.approx(r["binary_macs_per_second"])
    assert table[1][3] == pytest.approx(r["binary_macs_per_second"] / 8)


def test_probe_every_isa_and_cache(tmp_path):
    from bitconv import _native
    from bitconv.bench.probe import get_probe

    for isa in bitconv.available_isas():
        r = _native.run_probe(isa, 0.01)
        assert r["isa"] == isa and r["binary_macs_per_second"] > 0
    first = get_probe("", 0.01)
    assert first["cached"] is False
    assert get_probe("", 0.01)["cached"] == "process"
    from bitconv.bench import probe

    probe._PROCESS_CACHE.clear()
    again = get_probe("", 0.01)
    assert again["cached"] == "file" and again["binary_macs_per_second"] == first["binary_macs_per_second"]
    with pytest.raises(ValueError, match="probe: unknown ISA 'nosuch'"):
        _native.run_probe("nosuch", 0.01)


def test_probe_cache_shorter_than_asked_is_not_reused():
    """The autouse fixture gives this test its own cache dir and an empty process cache."""
    from bitconv import _native
    from bitconv.bench import probe

    short = probe.get_probe("", 0.01)
    assert short["cached"] is False and short["probe_seconds"] == 0.01
    longer = probe.get_probe("", 0.05)            # the 0.01 s probe in the process cache is too short
    assert longer["cached"] is False and longer["probe_seconds"] == 0.05
    assert probe.get_probe("", 0.01)["cached"] == "process"   # a longer one answers a shorter request
    probe._PROCESS_CACHE.clear()
    assert probe.get_probe("", 0.05)["cached"] == "file"
    probe._PROCESS_CACHE.clear()
    assert probe.get_probe("", 0.01, refresh=True)["cached"] is False   # `bitconv probe` overwrites the file
    probe._PROCESS_CACHE.clear()
    again = probe.get_probe("", 0.05)             # the file's 0.01 s probe is too short as well
    assert again["cached"] is False and again["probe_seconds"] == 0.05
    # A rebuilt extension has a new mtime, hence a new key; the build is the key's last field.
    assert probe._cache_key(bitconv.get_isa()).rpartition("|")[2] == str(os.stat(_native.__file__).st_mtime_ns)


def test_probe_cache_drops_earlier_builds(tmp_path):
    """A rebuilt extension has a new cache key; the old build's entry (same machine and ISA) is dropped,
    and so are entries of earlier cache versions; other ISAs' entries and a later version's are kept."""
    from bitconv import _native
    from bitconv.bench import probe

    key = probe._cache_key("avx2")
    parts = key.split("|")
    # Found here by value, not from probe's own layout of the key.
    b, i = parts.index(str(os.stat(_native.__file__).st_mtime_ns)), parts.index("avx2")
    old_build, other_isa = list(parts), list(parts)
    old_build[b] = "1"
    other_isa[b], other_isa[i] = "1", "scalar"     # an earlier build too, but of another ISA
    old_build, other_isa = "|".join(old_build), "|".join(other_isa)
    entry = {"binary_macs_per_second": 1.0, "probe_seconds": 1.0}
    earlier, later = (f"v{probe.CACHE_VERSION + d}|" + key.partition("|")[2] + "x" for d in (-1, 1))
    for k in (old_build, other_isa, earlier, later, "a key of no version"):
        probe._write_file_cache(k, entry)
    probe._write_file_cache(key, dict(entry, binary_macs_per_second=2.0))
    assert set(probe._read_file_cache()) == {key, other_isa, later}


def test_probe_source_in_header():
    from bitconv.bench.report import probe_source

    when = "2025-01-02T03:04:05+00:00"
    p = {"isa": "avx512", "probe_seconds": 0.2, "measured_at": when}
    assert probe_source(dict(p, cached=False)) == "probe avx512, 0.2 s, measured now"
    assert probe_source(dict(p, cached="file")) == f"probe avx512, 0.2 s, cached in file, measured {when}"


def test_numpy_thread_limit_is_outside_the_timed_call(monkeypatch):
    """threadpoolctl's set-up is not timed: the comparator returns it from limits(), run() does not enter it.
    A stand-in module, so the check runs where threadpoolctl (a bench extra) is not installed."""
    import sys
    import types

    from bitconv.bench.harness import make_case

    threadpoolctl = types.ModuleType("threadpoolctl")
    monkeypatch.setitem(sys.modules, "threadpoolctl", threadpoolctl)

    entered = []

    class Limits:
        def __init__(self, **kw):
            entered.append(kw)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    threadpoolctl.threadpool_limits = Limits
    case = make_case(load_suite("resnet20").layer("layer1.0.conv1"), LayerBits(1, 1), batch=1, threads=1, seed=0)
    run = C.NumpyFp32().prepare(case)
    run()
    assert entered == []
    with C.NumpyFp32().limits(case):
        pass
    assert entered == [{"limits": 1, "user_api": "blas"}]
    with C.OrtInt8().limits(case):   # the default: nothing to set up
        pass
    assert len(entered) == 1
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)   # not installed: no limit, no error
    with C.NumpyFp32().limits(case):
        pass
    assert len(entered) == 1


def test_python_m_bench_help():
    r = subprocess.run([sys.executable, "-m", "bitconv.bench", "--help"], capture_output=True, text=True,
                       cwd=os.path.dirname(__file__))  # not the checkout: import the installed package
    assert r.returncode == 0 and "--suite" in r.stdout and "--sweep" in r.stdout



def test_missing_torch_names_its_own_install(monkeypatch):
    """torch is not in the bench extra: its comparators' hint says pip install torch, the others'
    the extra."""
    from bitconv.bench import comparator_base

    real = comparator_base.importlib.import_module

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(comparator_base.importlib, "import_module", no_torch)
    for cls in (C.TorchFp32, C.TorchInt8):
        assert "pip install torch" in cls().unavailable()
    assert "'.[bench]'" in comparator_base._missing("no_such_module_for_bitconv")


def test_bench_help_states_each_default_once(capsys):
    """Options without a default (None), whose help says what happens then, get no '(default: ...)'."""
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text
    assert "may run on) (default" not in text and "numba) (default" not in text
    assert "(default: resnet18)" in text and "(default: 20)" in text
