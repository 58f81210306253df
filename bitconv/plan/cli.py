"""`bitconv plan show|validate|convert`."""
import json
import sys

from .core import PlanError


def add_parser(sub):
    p = sub.add_parser("plan", help="show, validate and convert bitwidth plans",
                       description="Read a plan written by bitconv or a searcher (HAQ, HAWQ-V3/OMPQ, NNCF, "
                                   "AIMET, kernel-wise lists) and show, validate or convert it.")
    psub = p.add_subparsers(dest="plan_command", required=True)

    def common(q):
        q.add_argument("file", help="plan file (.json, or a HAWQ/OMPQ bit_config .py)")
        q.add_argument("--format", "-f", default=None,
                       help="bitconv, haq, hawq (hawq-v3, ompq), nncf, aimet, kernelwise (autoq); detected if omitted")
        q.add_argument("--names", default=None,
                       help="HAQ: layer names, a suite name (resnet18, mobilenetv2) or a JSON file with a list")
        q.add_argument("--config", default=None, help="HAWQ/OMPQ: which bit config of the file")
        q.add_argument("--a-bits", type=int, default=None,
                       help="activation bits for layers whose source gives none (NNCF, AIMET, HAWQ, kernel-wise)")
        q.add_argument("--rename", default=None, help="JSON file mapping source layer names to new names")
        g = q.add_mutually_exclusive_group()
        g.add_argument("--suite", default=None, help="layer shapes of a shipped model: resnet18, mobilenetv2")
        g.add_argument("--shapes", default=None, help="layer shapes JSON file (see docs/plans.md)")

    q = psub.add_parser("show", help="per-layer table, averages and bit-operations")
    common(q)
    q.set_defaults(func=_show)
    q = psub.add_parser("validate", help="exit 0 and print 'ok', or exit 1 with the error")
    common(q)
    q.set_defaults(func=_validate)
    q = psub.add_parser("convert", help="write the plan in bitconv's own format")
    common(q)
    q.add_argument("-o", "--output", required=True, help="output .json")
    q.set_defaults(func=_convert)


def _load(args):
    """The plan and its layer table (None without --suite/--shapes), checked against each other."""
    from .loader import load_plan
    from .shapes import load_shapes
    opts = {}
    if args.names is not None:
        names = args.names
        if names.endswith(".json"):
            try:
                with open(names, encoding="utf-8") as f:
                    names = json.load(f)
            except (OSError, json.JSONDecodeError) as e:
                raise PlanError(f"cannot read names: {e}", source=args.names, field="names") from None
        opts["names"] = names
    if args.config is not None:
        opts["config"] = args.config
    if args.a_bits is not None:
        opts["a_bits"] = args.a_bits
    if args.rename is not None:
        try:
            with open(args.rename, encoding="utf-8") as f:
                opts["rename"] = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise PlanError(f"cannot read the rename mapping: {e}", source=args.rename, field="rename") from None
    plan = load_plan(args.file, format=args.format, **opts)
    spec = args.suite or args.shapes
    shapes = load_shapes(spec) if spec else None
    if shapes is not None:
        plan.check_shapes(shapes)
    return plan, shapes


def _reports_plan_errors(command):
    """A PlanError becomes its message on stderr and exit code 1 (no traceback)."""
    def run(args):
        try:
            return command(args)
        except PlanError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return run


@_reports_plan_errors
def _show(args):
    plan, shapes = _load(args)
    print(plan.table(shapes=shapes))
    return 0


@_reports_plan_errors
def _validate(args):
    plan, _ = _load(args)
    print("ok")
    print(f"{args.file}: format {plan.format}, {len(plan)} layers ({len(plan.skipped)} kept in float, "
          f"{len(plan.unmapped)} source entries not mapped)", file=sys.stderr)
    return 0


@_reports_plan_errors
def _convert(args):
    plan, _ = _load(args)
    try:
        plan.save(args.output)
    except OSError as e:
        raise PlanError(f"cannot write: {e.strerror or e}", source=args.output, field="output") from None
    print(f"wrote {args.output}: {len(plan)} layers from {plan.format} ({args.file})")
    for k, r in plan.unmapped:
        print(f"not mapped: {k}: {r}", file=sys.stderr)
    return 0
