"""The `bitconv` command: subcommands are contributed by the packages that own them."""
import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(prog="bitconv", description="Bit-serial mixed-precision conv2d on CPUs")
    sub = parser.add_subparsers(dest="command", required=True)
    from .plan.cli import add_parser as add_plan_parser
    from .bench.cli import add_parsers as add_bench_parsers

    add_plan_parser(sub)      # bitconv plan show|validate|convert
    add_bench_parsers(sub)    # bitconv bench, bitconv probe
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
