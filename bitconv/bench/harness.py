"""`bitconv bench`: run a suite's conv layers under a plan, check them, time them and the comparators."""
from __future__ import annotations

import datetime as _dt
import os
import platform
from typing import Dict, List

import numpy as np

from ..weight_levels import default_w_encoding
from . import comparators as C
from . import plans as P
from .probe import bitserial_ceiling, cpu_model, get_probe
from .progress import Progress
from .suites import Layer, load_suite, select_layers
from .timing import time_call

CORRUPT_ENV = "BITCONV_BENCH_CORRUPT"


class BenchError(RuntimeError):
    """The run must stop (a wrong result, a bad option): message for the user, non-zero exit."""


class WrongResult(BenchError):
    """A bitconv result disagreed with the int64 reference (`bitconv bench` exits with status 3)."""


class Options:
    """Everything `bitconv bench` takes; defaults as the CLI's."""

    def __init__(self, **kw):
        self.suite = "resnet18"
        self.plan = None
        self.bits = None
        self.threads = None
        self.batch = 1
        self.repeat = 20
        self.warmup = 3
        self.layers = None
        self.comparators = None
        self.quick = False
        self.sweep = False
        self.sweep_layer = None
        self.float_path = False
        self.codes_out = False
        self.kernelwise = None       # "W1,W2,...xA": also time kernel-wise layers against uniform ones
        self.isa = None
        self.seed = 0
        self.probe_seconds = 0.2
        self.fresh_probe = False
        self.corrupt = None          # test hook: layer names whose first bitconv result gets corrupted
        self.progress = None
        for k, v in kw.items():
            if not hasattr(self, k):
                raise TypeError(f"unknown bench option {k!r}")
            setattr(self, k, v)


def hardware_threads() -> int:
    try:
        from bitconv import _native

        return int(_native.hardware_threads())
    except Exception:
        return os.cpu_count() or 1


def machine_info(threads: int, comparator_versions: Dict[str, str]) -> dict:
    import bitconv

    try:
        from bitconv import _native

        features = dict(_native.cpu_features())
    except Exception:
        features = {}
    versions = {"bitconv": bitconv.__version__, "numpy": np.__version__, "python": platform.python_version()}
    versions.update(comparator_versions)
    return {
        "cpu_model": cpu_model(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "isa": bitconv.get_isa(),
        "available_isas": bitconv.available_isas(),
        "cpu_features": features,
        "hardware_threads": hardware_threads(),
        "threads": threads,
        "versions": versions,
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


# ----------------------------------------------------------------------------------- one layer
def make_case(layer: Layer, bits: P.LayerBits, *, batch: int, threads: int, seed: int) -> C.Case:
    """Random activation codes and weights in range for the layer's bits (same data for everyone)."""
    rng = np.random.default_rng([seed, layer.cin, layer.cout, layer.kh, layer.h, layer.stride, layer.groups])
    wl = bits.w_list(layer.cout)
    cg = layer.cin // layer.groups
    q = np.empty((layer.cout, cg, layer.kh, layer.kw), dtype=np.int8)
    encoding = default_w_encoding(wl)
    for b in sorted(set(wl)):
        idx = [k for k, bk in enumerate(wl) if bk == b]
        shape = (len(idx), cg, layer.kh, layer.kw)
        if b == 1:   # {-1, +1} whatever the layer's encoding
            vals = 2 * rng.integers(0, 2, size=shape) - 1
        else:
            vals = rng.integers(-(2 ** (b - 1)), 2 ** (b - 1), size=shape)
        q[idx] = vals.astype(np.int8)
    a_max = 2 ** bits.a_bits - 1
    codes = rng.integers(0, a_max + 1, size=(batch, layer.cin, layer.h, layer.w), dtype=np.uint8)
    return C.Case(layer, batch=batch, threads=threads, codes_nchw=codes, qweight=q, w_bits=wl, w_encoding=encoding,
                  a_bits=bits.a_bits, a_encoding=bits.a_encoding, a_zero_point=bits.a_zero_point)


def make_plan(case: C.Case):
    import bitconv

    lay = case.layer
    return bitconv.ConvPlan.from_quantized(
        case.qweight, np.full(lay.cout, 0.01, np.float32), w_bits=case.w_bits if len(set(case.w_bits)) > 1
        else case.w_bits[0], a_bits=case.a_bits, w_encoding=case.w_encoding, a_scale=0.05,
        a_zero_point=case.a_zero_point, a_encoding=case.a_encoding, stride=lay.stride, padding=lay.padding,
        groups=lay.groups)


def check_against_reference(case: C.Case, plan, got_nhwc: np.ndarray, corrupt: bool) -> None:
    """The first bitconv result of a layer against the int64 reference; WrongResult on any mismatch."""
    from bitconv.reference.int64 import conv2d_int64

    lay = case.layer
    got = np.array(got_nhwc.transpose(0, 3, 1, 2), dtype=np.int64)
    if corrupt:
        got.flat[got.size // 2] += 1
    ref = conv2d_int64(case.codes_nchw, plan.qweight, a_encoding=plan.a_encoding, a_zero_point=plan.a_zero_point,
                       stride=plan.stride, padding=plan.padding, dilation=plan.dilation, groups=plan.groups)
    if got.shape != ref.shape:
        raise WrongResult(f"layer {lay.name}: bitconv output shape {got.shape} != reference {ref.shape}")
    bad = np.argwhere(got != ref)
    if bad.size:
        first = tuple(int(i) for i in bad[0])
        raise WrongResult(
            f"layer {lay.name}: WRONG RESULT: bitconv int32 output differs from the int64 reference in "
            f"{len(bad)} of {ref.size} values (first at n,k,h,w={first}: got {got[first]}, expected {ref[first]}); "
            f"stopping the benchmark")


def _corrupt_set(opts: Options) -> set:
    names = set()
    for src in (opts.corrupt, os.environ.get(CORRUPT_ENV)):
        if src:
            names.update(s.strip() for s in (src.split(",") if isinstance(src, str) else src) if s.strip())
    return names


def checked_bitconv(layer: Layer, bits: P.LayerBits, *, opts: Options, threads: int, corrupt: bool):
    """Builds the layer's data and plan and checks bitconv's first result against the reference.
    Returns (case, plan, the call to time)."""
    import bitconv

    case = make_case(layer, bits, batch=opts.batch, threads=threads, seed=opts.seed)
    plan = make_plan(case)
    x = case.codes_nhwc

    def run():
        return bitconv.conv2d(x, plan, out="int32", layout="NHWC", threads=threads)

    check_against_reference(case, plan, run(), corrupt)
    return case, plan, run


def check_and_time_bitconv(layer: Layer, bits: P.LayerBits, *, opts: Options, threads: int, repeat: int,
                           warmup: int, corrupt: bool):
    """checked_bitconv, then the call timed. Returns (case, plan, timing statistics)."""
    case, plan, run = checked_bitconv(layer, bits, opts=opts, threads=threads, corrupt=corrupt)
    return case, plan, time_call(run, warmup=warmup, repeat=repeat)


def check_and_time_codes_out(case, plan, *, threads: int, repeat: int, warmup: int) -> dict:
    """Times codes NHWC in, the next layer's uint8 codes out (what ONNX Runtime's QLinearConv
    returns). The next quantizer is calibrated on this layer's float output, as a post-training
    quantizer would be: unsigned with zero point 0 (negative values clip to 0, like after a ReLU) and
    the 99.9th percentile at the top code. Checks the codes against quantize(float output)."""
    import bitconv

    x = case.codes_nhwc
    y = bitconv.conv2d(x, plan, out="float", layout="NHWC", threads=threads)
    top = float(np.percentile(y, 99.9))
    nxt = bitconv.ConvPlan.from_quantized(np.ones((1, plan.cout, 1, 1), np.int8), w_bits=2, a_bits=plan.a_bits,
                                          a_scale=top / ((1 << plan.a_bits) - 1) if top > 0 else 1.0)

    def run():
        return bitconv.conv2d(x, plan, out="codes", next_plan=nxt, layout="NHWC", threads=threads)

    if not np.array_equal(run(), bitconv.quantize(y, nxt)):
        raise WrongResult(f"layer {case.layer.name}: codes output differs from quantize(float output)")
    return time_call(run, warmup=warmup, repeat=repeat)


def run_layer(layer: Layer, bits: P.LayerBits, comps: List[C.Comparator], *, opts: Options, threads: int,
              repeat: int, warmup: int, probe: dict, cores: int, corrupt: bool, progress: Progress) -> dict:
    import bitconv

    progress.update(f"{layer.name} bitconv")
    case, plan, st = check_and_time_bitconv(layer, bits, opts=opts, threads=threads, repeat=repeat, warmup=warmup,
                                            corrupt=corrupt)
    macs = layer.macs(opts.batch)
    w_avg = bits.w_avg(layer.cout)
    med = st["median_s"]
    ceiling = bitserial_ceiling(probe, w_avg, bits.a_bits, cores)
    row = {
        "layer": layer.to_dict(),
        "name": layer.name,
        "shape": layer.shape_str(),
        "w_bits": bits.w_bits,
        "w_bits_avg": w_avg,
        "a_bits": bits.a_bits,
        "a_encoding": bits.a_encoding,
        "bits": bits.label(layer.cout),
        "marked": bits.marked,
        "kernel": "+".join(sorted({k["kernel"] for k in plan.kernels()})),
        "macs": macs,
        "checked": True,
        "bitconv": dict(st, gops=2 * macs / med / 1e9),
        "ceiling_macs_per_s": ceiling,
        "efficiency_pct": 100.0 * (macs / med) / ceiling,
        "comparators": {},
    }
    if opts.float_path:
        xf = np.ascontiguousarray(case.x_float if bits.a_encoding == "binary" else
                                  case.codes_nchw.astype(np.float32) * np.float32(plan.a_scale))
        progress.update(f"{layer.name} bitconv float")
        stf = time_call(lambda: bitconv.conv2d(xf, plan, out="float", layout="NCHW", threads=threads),
                        warmup=warmup, repeat=repeat)
        row["bitconv_float_nchw"] = dict(stf, gops=2 * macs / stf["median_s"] / 1e9)
    if opts.codes_out:
        progress.update(f"{layer.name} bitconv codes")
        stc = check_and_time_codes_out(case, plan, threads=threads, repeat=repeat, warmup=warmup)
        row["bitconv_codes_out"] = dict(stc, gops=2 * macs / stc["median_s"] / 1e9)
    for comp in comps:
        progress.update(f"{layer.name} {comp.name}")
        try:
            fn = comp.prepare(case)
            cw = warmup if comp.max_warmup < 0 else min(warmup, comp.max_warmup)
            cr = repeat if comp.max_repeat <= 0 else min(repeat, comp.max_repeat)
            with comp.limits(case):
                cs = time_call(fn, warmup=cw, repeat=cr, max_seconds=comp.max_seconds)
            row["comparators"][comp.name] = dict(cs, gops=2 * macs / cs["median_s"] / 1e9,
                                                 speedup=cs["median_s"] / med)
        except C.SkipLayer as e:
            row["comparators"][comp.name] = {"skipped": str(e)}
        except Exception as e:  # a comparator failing on one layer is a note, not a crash
            row["comparators"][comp.name] = {"skipped": f"error: {type(e).__name__}: {e}"}
    progress.update(layer.name, advance=1)
    return row


def totals(rows: List[dict], comp_names: List[str]) -> dict:
    t = sum(r["bitconv"]["median_s"] for r in rows)
    macs = sum(r["macs"] for r in rows)
    # Time the layers would take at their ceilings, over the time they took.
    at_ceiling = sum(r["macs"] / r["ceiling_macs_per_s"] for r in rows)
    out = {"median_s": t, "macs": macs, "gops": 2 * macs / t / 1e9 if t > 0 else 0.0,
           "efficiency_pct": 100.0 * at_ceiling / t if t > 0 else 0.0, "comparators": {}}
    for name in comp_names:
        got = [r["comparators"].get(name, {}) for r in rows]
        ok = [(g["median_s"], r["bitconv"]["median_s"]) for g, r in zip(got, rows) if "median_s" in g]
        if not ok:
            continue
        ct, bt = sum(a for a, _ in ok), sum(b for _, b in ok)
        out["comparators"][name] = {"median_s": ct, "speedup": ct / bt, "layers": len(ok),
                                    "complete": len(ok) == len(rows)}
    return out


KERNELWISE_ROUNDS = 3


def run_kernelwise(layer: Layer, mix: List[int], a_bits: int, *, opts: Options, threads: int, repeat: int,
                   warmup: int, corrupt: bool, progress: Progress) -> dict:
    """The kernel-wise target on one layer: its time with per-channel weight bits (mix in equal parts
    of the output channels, contiguous and interleaved) over the channel-weighted average of its
    uniform-bit times at those bits. The configurations are timed in alternating rounds, so that a
    drift of the machine's speed reaches all of them alike; each gets the median of its rounds'
    medians. Each configuration is built and checked against the int64 reference once, first."""
    contiguous, interleaved = P.kernelwise_bits(mix, layer.cout, opts.seed)
    configs = [(str(b), P.LayerBits(b, a_bits)) for b in sorted(set(mix))]
    configs += [("contiguous", P.LayerBits(contiguous, a_bits)), ("interleaved", P.LayerBits(interleaved, a_bits))]
    runs, panels = {}, {}
    for key, lb in configs:
        progress.update(f"{layer.name} kernel-wise {key}: check")
        _, plan, runs[key] = checked_bitconv(layer, lb, opts=opts, threads=threads, corrupt=corrupt)
        panels[key] = [f"{k['kernel']}:{k['channels']}" for k in plan.kernels()]
    times = {key: [] for key, _ in configs}
    for _ in range(KERNELWISE_ROUNDS):
        for key, _ in configs:
            progress.update(f"{layer.name} kernel-wise {key}")
            st = time_call(runs[key], warmup=warmup, repeat=max(1, repeat // KERNELWISE_ROUNDS))
            times[key].append(st["median_s"])
    med = {key: float(np.median(v)) for key, v in times.items()}
    average = float(np.mean([med[str(b)] for b in contiguous]))
    return {"mix": list(mix), "a_bits": a_bits, "rounds": KERNELWISE_ROUNDS,
            "uniform_s": {key: med[key] for key, _ in configs[:-2]}, "average_s": average,
            **{key: {"median_s": med[key], "ratio": med[key] / average, "panels": panels[key]}
               for key in ("contiguous", "interleaved")}}


def run_sweep(layer: Layer, comps: List[C.Comparator], *, opts: Options, threads: int, repeat: int, warmup: int,
              probe: dict, cores: int, corrupt: bool, progress: Progress) -> dict:
    """Speed-up over the fastest int8 comparator for every (w_bits, a_bits) in 1..8 x 1..8 on one layer."""
    int8 = [c for c in comps if c.kind == "int8"]
    base_case = make_case(layer, P.LayerBits(8, 8), batch=opts.batch, threads=threads, seed=opts.seed)
    int8_times = {}
    for c in int8:
        progress.update(f"sweep {layer.name} {c.name}")
        try:
            fn = c.prepare(base_case)
            with c.limits(base_case):
                int8_times[c.name] = time_call(fn, warmup=warmup, repeat=repeat)["median_s"]
        except Exception as e:
            int8_times[c.name] = None
            progress.update(f"sweep: {c.name} skipped ({e})")
    valid = {k: v for k, v in int8_times.items() if v}
    ref_name = min(valid, key=valid.get) if valid else None
    ref_t = valid[ref_name] if ref_name else None
    ms = [[0.0] * 8 for _ in range(8)]
    eff = [[0.0] * 8 for _ in range(8)]
    sp = [[None] * 8 for _ in range(8)]
    macs = layer.macs(opts.batch)
    for w in range(1, 9):
        for a in range(1, 9):
            progress.update(f"sweep {layer.name} {w}x{a}")
            _, _, st = check_and_time_bitconv(layer, P.LayerBits(w, a), opts=opts, threads=threads, repeat=repeat,
                                              warmup=warmup, corrupt=corrupt)
            t = st["median_s"]
            ms[w - 1][a - 1] = t
            eff[w - 1][a - 1] = 100.0 * macs / t / bitserial_ceiling(probe, w, a, cores)
            sp[w - 1][a - 1] = ref_t / t if ref_t else None
            progress.update(advance=1)
    return {"layer": layer.to_dict(), "name": layer.name, "int8_comparator": ref_name, "int8_median_s": ref_t,
            "int8_times_s": int8_times, "median_s": ms, "speedup_over_int8": sp, "efficiency_pct": eff,
            "index": "[w_bits - 1][a_bits - 1]"}


# ------------------------------------------------------------------------------------------ main
def run_bench(opts: Options) -> dict:
    """Runs the benchmark; returns the result document (what --json writes). Raises BenchError
    (WrongResult when a bitconv result is wrong)."""
    import bitconv

    if opts.quick:
        opts.repeat = min(opts.repeat, 5)
        opts.warmup = min(opts.warmup, 1)
        opts.probe_seconds = min(opts.probe_seconds, 0.05)
    if opts.batch < 1 or opts.repeat < 1 or opts.warmup < 0:
        raise BenchError("--batch and --repeat must be >= 1, --warmup >= 0")
    hw = hardware_threads()
    threads = opts.threads or hw
    if threads < 1:
        raise BenchError("--threads must be >= 1")
    cores = min(threads, hw)
    try:
        if opts.isa:
            try:
                bitconv.set_isa(opts.isa)
            except (ValueError, RuntimeError) as e:
                raise BenchError(f"--isa: {e}") from None
        try:
            suite = load_suite(opts.suite)
            layers = select_layers(suite, opts.layers)
            bits, plan_desc, notes = P.resolve_plan(suite_name=suite.name, layers=layers, bits=opts.bits,
                                                    plan_path=opts.plan, all_layers=suite.layers)
            comps = C.resolve(opts.comparators)
        except Exception as e:   # bad suite, layer filter, plan file (PlanError names file/layer/field)
            raise BenchError(str(e)) from None
        if opts.quick and opts.comparators is None:
            comps = [c for c in comps if c.name != "numba"]
            notes.append("--quick: numba reference left out (ask for it with --comparators)")
        skipped = {}
        active = []
        versions = {}
        for c in comps:
            why = c.unavailable()
            if why:
                skipped[c.name] = why
                notes.append(f"comparator {c.name} skipped: {why}")
            else:
                active.append(c)
                try:
                    versions.update(c.versions())
                except Exception:
                    pass
        if any(c.name == "numpy" for c in active):
            try:
                import threadpoolctl  # noqa: F401
            except ImportError:
                notes.append("threadpoolctl not installed: numpy's BLAS uses its own thread count, not --threads")
        kernelwise = None
        if opts.kernelwise:
            try:
                kernelwise = P.parse_kernelwise(opts.kernelwise)
            except ValueError as e:
                raise BenchError(str(e)) from None
        probe = get_probe(bitconv.get_isa(), opts.probe_seconds, refresh=opts.fresh_probe)
        corrupt = _corrupt_set(opts)
        sweep_layer = None
        if opts.sweep:
            name = opts.sweep_layer or (layers[0].name if opts.layers else suite.sweep_layer)
            try:
                sweep_layer = suite.layer(name)
            except KeyError as e:
                raise BenchError(str(e)) from None
        progress = Progress(len(layers) + (64 if sweep_layer else 0), enabled=opts.progress)
        rows = []
        try:
            for layer in layers:
                rows.append(run_layer(layer, bits[layer.name], active, opts=opts, threads=threads,
                                      repeat=opts.repeat, warmup=opts.warmup, probe=probe, cores=cores,
                                      corrupt=layer.name in corrupt, progress=progress))
                if kernelwise:
                    rows[-1]["kernelwise"] = run_kernelwise(layer, *kernelwise, opts=opts, threads=threads,
                                                            repeat=opts.repeat, warmup=opts.warmup,
                                                            corrupt=layer.name in corrupt, progress=progress)
            sweep = None
            if sweep_layer is not None:
                sweep = run_sweep(sweep_layer, active, opts=opts, threads=threads,
                                  repeat=min(opts.repeat, 5 if opts.quick else 10), warmup=min(opts.warmup, 1),
                                  probe=probe, cores=cores, corrupt=sweep_layer.name in corrupt, progress=progress)
        finally:
            progress.close()
        names = [c.name for c in active]
        return {
            "format": "bitconv-bench-result",
            "version": 1,
            "suite": suite.name,
            "plan": plan_desc,
            "config": {"threads": threads, "batch": opts.batch, "repeat": opts.repeat, "warmup": opts.warmup,
                       "layers": opts.layers, "quick": bool(opts.quick), "seed": opts.seed,
                       "timed_call": "bitconv.conv2d(uint8 codes NHWC, plan, out='int32', layout='NHWC', threads)",
                       "efficiency": "MACs/s x w_bits_avg x a_bits / (probe binary MACs/s per core x cores used)"},
            "machine": machine_info(threads, versions),
            "probe": probe,
            "comparators": {c.name: c.label for c in active},
            "skipped_comparators": skipped,
            "notes": notes,
            "layers": rows,
            "total": totals(rows, names),
            # The layers a plan quantizes below 8 bits: where a bit-serial kernel is meant to win.
            "total_low_bit": totals([r for r in rows if not r["marked"]], names)
            if any(not r["marked"] for r in rows) else None,
            "sweep": sweep,
        }
    finally:
        if opts.isa:
            bitconv.set_isa("auto")  # back to the default choice, not a pinned ISA
