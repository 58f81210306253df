"""The thread pool: results do not depend on the thread count, and a forked child (multiprocessing's
default start method on Linux, e.g. data-loader workers) can still run multi-threaded convolutions."""
import multiprocessing as mp
import sys

import numpy as np
import pytest

bitconv = pytest.importorskip("bitconv")


def _layer():
    rng = np.random.default_rng(0)
    qw = 2 * rng.integers(0, 2, size=(64, 64, 3, 3)) - 1
    plan = bitconv.ConvPlan.from_quantized(qw, 1.0, w_bits=1, a_bits=1, padding=1)
    x = rng.integers(0, 2, size=(1, 16, 16, 64)).astype(np.uint8)
    return plan, x


def _child(queue):
    plan, x = _layer()
    queue.put(bitconv.conv2d(x, plan, out="int32", layout="NHWC", threads=2))


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_thread_counts_agree(threads):
    from bitconv.reference import conv2d_int64

    plan, x = _layer()
    ref = conv2d_int64(x.transpose(0, 3, 1, 2), plan.qweight, padding=1).transpose(0, 2, 3, 1)
    assert np.array_equal(bitconv.conv2d(x, plan, out="int32", layout="NHWC", threads=threads), ref)


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_forked_child_runs_threads():
    plan, x = _layer()
    ref = bitconv.conv2d(x, plan, out="int32", layout="NHWC", threads=2)  # the parent's pool is running
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    try:
        got = queue.get(timeout=60)  # before join: the child exits only once its result is read
    except Exception:
        got = None
    proc.join(10)
    if proc.is_alive():
        proc.kill()
    assert got is not None, "conv2d with threads=2 hung in a forked child"
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("geom", ["3x3", "1x1/2", "stem 7x7/2", "3x3 @210"])
def test_large_inputs_exact_across_threads(threads, geom):
    """Inputs of more than 64K codes pack on several threads (every case here), and more than 128K
    window sums are added on several (the 210 x 210 case; the others stay on one): all give the
    reference result, for the padded grid, the strided 1x1 grid and row windows, codes NHWC and
    float NCHW. The 210 x 210 case runs on the best ISA without int8 kernels: int8 panels need no
    window sums, and its 2-channel W2A2 layer is int8 where those exist. (Exactness only: which
    split ran is not observed here.)"""
    from bitconv.reference import conv2d_int64, quantize_activations

    if geom == "3x3 @210":
        bitconv.set_isa(next(i for i in bitconv.available_isas() if not i.endswith(("-vnni", "-dot"))))
    try:
        _large_input_case(threads, geom, conv2d_int64, quantize_activations)
    finally:
        bitconv.set_isa("auto")


def _large_input_case(threads, geom, conv2d_int64, quantize_activations):
    rng = np.random.default_rng(7)
    cin, cout, k, stride, pad, hw = {"3x3": (64, 16, 3, 1, 1, 36), "1x1/2": (64, 16, 1, 2, 0, 36),
                                     "stem 7x7/2": (3, 8, 7, 2, 3, 160), "3x3 @210": (2, 8, 3, 1, 1, 210)}[geom]
    qw = rng.integers(-2, 2, size=(cout, cin, k, k))
    plan = bitconv.ConvPlan.from_quantized(qw, 1.0, w_bits=2, a_bits=2, a_scale=0.5, a_zero_point=1,
                                           stride=stride, padding=pad)
    if geom == "3x3 @210":
        assert plan.kernels()[0]["kernel"] == "bit-serial", plan.kernels()
    x = rng.integers(0, 4, size=(1, hw, hw, cin)).astype(np.uint8)
    ref = conv2d_int64(x.transpose(0, 3, 1, 2), plan.qweight, a_zero_point=1, stride=stride, padding=pad)
    got = bitconv.conv2d(x, plan, out="int32", layout="NHWC", threads=threads)
    assert np.array_equal(got, ref.transpose(0, 2, 3, 1))
    xf = (rng.standard_normal((1, cin, hw, hw)) * 1.5).astype(np.float32)
    codes_f = quantize_activations(xf, a_bits=2, a_scale=0.5, a_zero_point=1)
    ref_f = conv2d_int64(codes_f, plan.qweight, a_zero_point=1, stride=stride, padding=pad)
    assert np.array_equal(bitconv.conv2d(xf, plan, out="int32", threads=threads), ref_f)


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_default_threads_follow_the_affinity_mask(tmp_path):
    # threads=None must count the CPUs the process may run on (taskset, a container's cpuset), not the
    # machine's: more threads than CPUs time-slice one core. A fresh interpreter, since the count is
    # taken once; run outside the checkout, whose bitconv/ has no built module, importing the package
    # these tests use.
    import os
    import subprocess
    from pathlib import Path

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs at least 2 CPUs to restrict the mask to fewer")
    code = ("import os; os.sched_setaffinity(0, {%d}); import bitconv._native as n; print(n.hardware_threads())"
            % cpus[0])
    path = os.pathsep.join(p for p in (str(Path(bitconv.__file__).parent.parent), os.environ.get("PYTHONPATH")) if p)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env=dict(os.environ, PYTHONPATH=path))
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == 1
