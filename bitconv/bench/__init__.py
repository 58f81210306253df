"""Benchmark harness: `bitconv bench` (network suites under a plan vs fp32/int8 libraries) and
`bitconv probe` (this machine's popcount and int8 ceilings). See docs/bench.md."""
from .harness import BenchError, Options, run_bench
from .probe import bitserial_ceiling, ceiling_table, get_probe
from .suites import SUITES, Layer, load_suite

__all__ = ["run_bench", "Options", "BenchError", "get_probe", "ceiling_table", "bitserial_ceiling", "load_suite",
           "Layer", "SUITES"]
