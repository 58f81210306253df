"""`bitconv bench` and `bitconv probe`."""
from __future__ import annotations

import argparse
import json
import sys

EXIT_WRONG = 3   # a bitconv result disagreed with the int64 reference
EXIT_USAGE = 2


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends each option's default, except to options without one (None), whose help says what
    happens when they are left out."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def add_parsers(sub):
    from .comparator_names import DEFAULT, OPTIONAL
    from .suites import SUITES

    p = sub.add_parser(
        "bench", help="benchmark a network's conv layers under a plan against fp32/int8 libraries",
        description="Runs the conv layers of a network suite under a plan, checks each against the int64 "
                    "reference, and reports median latency, GOPS, speed-up over each comparator and efficiency "
                    "as a percentage of this machine's popcount ceiling. With no arguments: ResNet-18 under the "
                    "shipped mixed-precision example plan.",
        formatter_class=_DefaultsFormatter)
    p.add_argument("--suite", default="resnet18", help=f"layer table: {', '.join(SUITES)} or a suite .json")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--plan", metavar="FILE", help="plan file (bitconv plan formats)")
    g.add_argument("--bits", metavar="WxA", help="uniform weight x activation bits, e.g. 2x2; 1x1b: binary "
                   "{-1,+1} activations")
    p.add_argument("--threads", type=int, default=None, help="threads for bitconv and every comparator "
                                                             "(default: every CPU the process may run on)")
    p.add_argument("--batch", type=int, default=1, help="images per call")
    p.add_argument("--repeat", type=int, default=20, help="timed repetitions per layer and method")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls before timing")
    p.add_argument("--layers", metavar="NAMES", help="comma-separated layer names or glob patterns")
    p.add_argument("--comparators", metavar="LIST",
                   help=f"comma-separated from {', '.join(DEFAULT + OPTIONAL)}; 'all' for every one, 'none' "
                        f"for bitconv only (default: {','.join(DEFAULT)})")
    p.add_argument("--json", metavar="FILE", help="write every figure and the machine description as JSON")
    p.add_argument("--csv", metavar="FILE", help="write one row per layer (and a TOTAL row) as CSV")
    p.add_argument("--plot", metavar="FILE.png", help="speed-up per layer (and the --sweep heatmap) as PNG")
    p.add_argument("--sweep", action="store_true",
                   help="also time one layer at every (w_bits, a_bits) in 1..8 x 1..8 against int8")
    p.add_argument("--sweep-layer", metavar="NAME", help="layer for --sweep (default: the suite's, or the "
                                                          "first --layers match)")
    p.add_argument("--quick", action="store_true", help="few repetitions, short probe, no numba reference")
    p.add_argument("--float-path", action="store_true", help="also time the float32 NCHW path (quantize+conv+scale)")
    p.add_argument("--codes-out", action="store_true",
                   help="also time uint8 codes out (requantized for a next layer, as QLinearConv returns)")
    p.add_argument("--kernelwise", metavar="W1,W2,...xA",
                   help="also time each layer with per-channel weight bits (e.g. 1,1,1,4x2: those weight bits on "
                        "equal parts of the output channels, 2-bit activations), in contiguous runs and "
                        "interleaved, against the channel-weighted average of its uniform-bit times")
    p.add_argument("--isa", help="pin bitconv to one ISA for this run (see bitconv.available_isas())")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and activations")
    p.add_argument("--fresh-probe", action="store_true", help="re-measure the ceiling instead of using the cache")
    p.add_argument("--progress", dest="progress", action="store_const", const=True, default=None,
                   help="force the progress bar (default: only on a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_const", const=False)
    p.set_defaults(func=bench_main)

    q = sub.add_parser("probe", help="measure this CPU's popcount and int8 ceilings",
                       description="Measures the sustained AND+popcount rate (binary MACs/s per core) with the best "
                                   "kernel available and the int8 dot-product rate, and prints the bit-serial "
                                   "ceiling for each (w_bits, a_bits).")
    q.add_argument("--isa", default="", help="probe this ISA's kernel ('all' for each available; default: active)")
    q.add_argument("--seconds", type=float, default=0.2, help="time per measurement")
    q.add_argument("--json", metavar="FILE", help="write the result as JSON")
    q.add_argument("--cached", action="store_true", help="reuse the cached result if there is one")
    q.set_defaults(func=probe_main)


def bench_main(args) -> int:
    from . import report
    from .harness import BenchError, Options, WrongResult, run_bench

    opts = Options(suite=args.suite, plan=args.plan, bits=args.bits, threads=args.threads, batch=args.batch,
                   repeat=args.repeat, warmup=args.warmup, layers=args.layers, comparators=args.comparators,
                   quick=args.quick, sweep=args.sweep, sweep_layer=args.sweep_layer, float_path=args.float_path,
                   codes_out=args.codes_out, kernelwise=args.kernelwise, isa=args.isa, seed=args.seed,
                   fresh_probe=args.fresh_probe, progress=args.progress)
    try:
        res = run_bench(opts)
    except BenchError as e:
        print(f"bitconv bench: error: {e}", file=sys.stderr)
        return EXIT_WRONG if isinstance(e, WrongResult) else EXIT_USAGE
    print(report.format_table(res))
    if args.json:
        report.write_json(res, args.json)
    if args.csv:
        report.write_csv(res, args.csv)
    if args.plot:
        try:
            report.write_plot(res, args.plot)
        except ImportError as e:
            print(f"bitconv bench: --plot needs matplotlib (pip install '.[bench]'): {e}", file=sys.stderr)
            return EXIT_USAGE
    return 0


def probe_main(args) -> int:
    import bitconv

    from .probe import ceiling_table, format_probe, get_probe

    avail = bitconv.available_isas()
    isas = avail if args.isa == "all" else [args.isa or bitconv.get_isa()]
    out = []
    for i, isa in enumerate(isas):
        if isa not in avail:
            print(f"bitconv probe: error: ISA {isa!r} is not available here (available: {', '.join(avail)})",
                  file=sys.stderr)
            return EXIT_USAGE
        r = get_probe(isa, args.seconds, refresh=not args.cached)
        if i:
            print()
        print(format_probe(r, avail))
        r = dict(r, bitserial_ceiling_macs_per_s=ceiling_table(r), ceiling_index="[w_bits - 1][a_bits - 1]")
        out.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out if len(out) > 1 else out[0], f, indent=1)
            f.write("\n")
    return 0
