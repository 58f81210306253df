"""Wall-clock timing: warm-up, then repetitions; median and spread."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np


def summarize(times) -> dict:
    t = np.asarray(times, dtype=np.float64)
    q1, med, q3 = np.percentile(t, [25, 50, 75])
    return {"median_s": float(med), "q1_s": float(q1), "q3_s": float(q3), "min_s": float(t.min()),
            "max_s": float(t.max()), "n": int(t.size)}


SETTLE_S = 0.1


def time_call(fn: Callable[[], object], *, warmup: int, repeat: int, max_seconds: float = 0.0) -> dict:
    """Runs fn `warmup` times untimed, then up to `repeat` timed calls (fewer if `max_seconds` > 0 and
    the timed calls have used it up; at least one). Returns summarize() of the timed calls.

    Sleeps SETTLE_S first: thread pools of the library timed before (OpenMP, ONNX Runtime, bitconv's
    own) spin for a while after their last call, and would otherwise take cores from this one."""
    time.sleep(SETTLE_S)
    for _ in range(max(0, warmup)):
        fn()
    times = []
    spent = 0.0
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if max_seconds > 0 and spent >= max_seconds:
            break
    return summarize(times)
