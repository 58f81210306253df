"""pytest-benchmark suites for bitconv's kernels. BITCONV_BENCH_QUICK=1 shrinks them to a CI smoke
run (a few shapes and bit pairs, few rounds); add --benchmark-disable to run each case once."""
import os

QUICK = os.environ.get("BITCONV_BENCH_QUICK", "") not in ("", "0")
