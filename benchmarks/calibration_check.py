"""Check ``howfast calibrate`` against an independent measurement in the same run (issue 5).

Run: ``python benchmarks/calibration_check.py [--threads 1] [--rounds 5] [--statistic median]``

In each round: ``howfast.bench.calibrate.calibrate`` (fp32 GEMM and copy bandwidth only, no
per-class layers), then independently with numpy: ``a @ b`` on n x n float32 matrices (n the size
the calibration chose; numpy's own BLAS, OpenBLAS) and ``np.copyto`` between two buffers of the
calibration's copy size (split across ``--threads`` Python threads when more than one; numpy
releases the GIL while copying). The same statistic (median or fastest of the timed runs) is used
on both sides, FLOP/s = 2 n^3 / time, bandwidth = (bytes read + bytes written) / time, and the
same clock (``--clock wall``, or ``cpu``: the thread's CPU time, with one thread, which the other
processes of a busy machine do not inflate).

Prints every figure, the ratio calibrate / numpy per round and the median over rounds; target:
within 15% (ratio in [0.85, 1.15]).

``--int8`` also checks ``peak_flops.int8`` (PyTorch's ``quantized::linear``, docs/roofline.md,
"Integer and fp8 compute") against ONNX Runtime's ``MatMulInteger`` (its own MLAS kernels) on the
same n x n uint8 x int8 product, ``2 n^3`` / time, the same statistic and clock; target within
15% as well. As a diagnostic the same ``quantized::linear`` is timed by
``torch.utils.benchmark.Timer``. As a diagnostic, the same ``torch.mm`` is also timed with
``torch.utils.benchmark.Timer``: numpy (OpenBLAS) and PyTorch (MKL) are different GEMM libraries,
so that ratio separates a library difference from a measurement error. The 1-minute load average is printed before and after: on a
shared machine other work makes both sides noisy (rounds interleave them so drift hits both).
``--threads`` sets torch's threads and numpy's BLAS threads (``OPENBLAS_NUM_THREADS`` etc., set
before numpy is imported).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for torch and numpy's BLAS (default 1)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--statistic", choices=["median", "min"], default="median")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall clock, or the thread's CPU time on both sides (--threads 1): steady on a busy machine")
    parser.add_argument("--int8", action="store_true", help="also check the int8 peak against ONNX Runtime's MatMulInteger")
    args = parser.parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    import torch
    import torch.utils.benchmark as tbench

    from howfast.bench.calibrate import calibrate

    torch.set_num_threads(args.threads)
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu needs --threads 1")
    pick = statistics.median if args.statistic == "median" else min
    tick = time.perf_counter if args.clock == "wall" else time.thread_time
    print(f"calibration check: {args.threads} thread(s), statistic {args.statistic}, clock {args.clock}, {args.rounds} rounds; "
          f"torch {torch.__version__}, numpy {np.__version__}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    def timed(call, min_runs: int = 5, min_time: float = 0.3) -> list[float]:
        call()
        times: list[float] = []
        start = time.perf_counter()
        while len(times) < min_runs or time.perf_counter() - start < min_time:
            t0 = tick()
            call()
            times.append(tick() - t0)
        return times

    rows = []
    int8_rows: list[tuple[float, float, float]] = []
    for k in range(args.rounds):
        result = calibrate(threads=args.threads, classes=False, dtypes=("fp32", "int8") if args.int8 else ("fp32",),
                           statistic=args.statistic, clock=args.clock)
        profile = result.profile
        gemm = profile.peak_flops["fp32"]
        n = int(re.search(r"torch\.mm (\d+)x", gemm.source).group(1))
        copy_mib = int(re.search(r"copy_ of (\d+) MiB", profile.bandwidth.source).group(1))
        rng = np.random.default_rng(k)
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), dtype=np.float32)
        np_flops = 2.0 * n ** 3 / pick(timed(lambda: np.matmul(a, b, out=c)))
        count = (copy_mib << 20) // 4
        src = np.ones(count, dtype=np.float32)
        dst = np.empty_like(src)
        if args.threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            bounds = np.linspace(0, count, args.threads + 1, dtype=np.int64)
            pool = ThreadPoolExecutor(args.threads)

            def copy() -> None:
                list(pool.map(lambda i: np.copyto(dst[bounds[i]:bounds[i + 1]], src[bounds[i]:bounds[i + 1]]), range(args.threads)))
        else:
            def copy() -> None:
                np.copyto(dst, src)
        np_bw = 2.0 * src.nbytes / pick(timed(copy))
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        timer = tbench.Timer("torch.mm(a, b)", globals={"torch": torch, "a": ta, "b": tb}, num_threads=args.threads)
        timer_flops = 2.0 * n ** 3 / timer.blocked_autorange(min_run_time=0.3).median
        rows.append((gemm.value, np_flops, profile.bandwidth.value, np_bw, n, copy_mib, timer_flops))
        if args.int8:
            int8_rows.append(check_int8(profile, args.threads, lambda call: pick(timed(call)), tbench, k))
        print(f"round {k + 1}: GEMM {n}x{n} fp32: calibrate {gemm.value / 1e9:8.1f} GFLOP/s, numpy {np_flops / 1e9:8.1f} GFLOP/s, "
              f"ratio {gemm.value / np_flops:.3f} | copy {copy_mib} MiB: calibrate {profile.bandwidth.value / 1e9:6.1f} GB/s, "
              f"numpy {np_bw / 1e9:6.1f} GB/s, ratio {profile.bandwidth.value / np_bw:.3f} | same torch.mm by "
              f"torch.utils.benchmark.Timer (wall) {timer_flops / 1e9:.1f} GFLOP/s")
    flops_ratio = statistics.median(r[0] / r[1] for r in rows)
    bw_ratio = statistics.median(r[2] / r[3] for r in rows)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"median over rounds: GEMM calibrate {statistics.median(r[0] for r in rows) / 1e9:.1f} vs numpy "
          f"{statistics.median(r[1] for r in rows) / 1e9:.1f} GFLOP/s, ratio {flops_ratio:.3f}; copy bandwidth calibrate "
          f"{statistics.median(r[2] for r in rows) / 1e9:.1f} vs numpy {statistics.median(r[3] for r in rows) / 1e9:.1f} GB/s, "
          f"ratio {bw_ratio:.3f}")
    ok = 0.85 <= flops_ratio <= 1.15 and 0.85 <= bw_ratio <= 1.15
    if int8_rows:
        int8_ratio = statistics.median(r[0] / r[1] for r in int8_rows)
        print(f"median over rounds: int8 calibrate {statistics.median(r[0] for r in int8_rows) / 1e9:.0f} vs onnxruntime "
              f"MatMulInteger {statistics.median(r[1] for r in int8_rows) / 1e9:.0f} G op/s, ratio {int8_ratio:.3f}; "
              f"calibrate over torch.utils.benchmark.Timer of the same kernel {statistics.median(r[0] / r[2] for r in int8_rows):.3f}")
        ok = ok and 0.85 <= int8_ratio <= 1.15
    print(f"target: both ratios within 15% of 1: {'PASS' if ok else 'FAIL'}")
    print(f"diagnostic: calibrate's GEMM over the same torch.mm timed by torch.utils.benchmark.Timer: "
          f"{statistics.median(r[0] / r[6] for r in rows):.3f} (numpy's OpenBLAS and PyTorch's MKL are different "
          f"libraries: a ratio to numpy far from 1 with this one near 1 is the libraries, not the measurement)")
    return 0 if ok else 1


def check_int8(profile, threads: int, rate_time, tbench, seed: int) -> tuple[float, float, float]:
    """(calibrate's int8 peak, ONNX Runtime MatMulInteger, the same quantized::linear by Timer) in op/s, same n."""
    import warnings

    import numpy as np
    import onnxruntime as ort

    from onnx import TensorProto, helper

    peak = profile.peak_flops["int8"]
    n = int(re.search(r"quantized::linear \(\w+ engine\) (\d+)x", peak.source).group(1))
    rng = np.random.default_rng(seed)
    weight = helper.make_tensor("b", TensorProto.INT8, [n, n], rng.integers(-127, 128, (n, n), dtype=np.int8).tobytes(), raw=True)
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b"], ["y"])], "int8_gemm",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [n, n])], initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {"a": rng.integers(0, 256, (n, n), dtype=np.uint8)}
    ort_ops = 2.0 * n ** 3 / rate_time(lambda: session.run(None, feed))
    from howfast.bench.calibrate.integer import int8_linear_call

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call = int8_linear_call(n)
    timer = tbench.Timer("call()", globals={"call": call}, num_threads=threads)
    timer_ops = 2.0 * n ** 3 / timer.blocked_autorange(min_run_time=0.3).median
    print(f"  int8 {n}x{n}: calibrate {peak.value / 1e9:.0f} G op/s, onnxruntime MatMulInteger {ort_ops / 1e9:.0f} G op/s, "
          f"ratio {peak.value / ort_ops:.3f} | same quantized::linear by torch.utils.benchmark.Timer {timer_ops / 1e9:.0f} G op/s")
    return peak.value, ort_ops, timer_ops


if __name__ == "__main__":
    sys.exit(main())
