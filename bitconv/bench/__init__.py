"""Benchmark harness: `bitconv bench` (network suites under a plan vs fp32/int8 libraries) and
`bitconv probe` (this machine's popcount and int8 ceilings). See docs/bench.md."""
import importlib

# Loaded on first use: building the `bitconv` command line (e.g. for `bitconv plan ...`) must not
# import the harness.
_EXPORTS = {"run_bench": "harness", "Options": "harness", "BenchError": "harness", "WrongResult": "harness",
            "get_probe": "probe", "ceiling_table": "probe", "bitserial_ceiling": "probe", "load_suite": "suites",
            "Layer": "suites", "SUITES": "suites"}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bitconv.bench' has no attribute {name!r}")
