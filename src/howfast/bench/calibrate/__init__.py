"""Calibrate this machine: micro-benchmarks that become a hardware profile (``howfast calibrate``).

Three stages: ``measure`` (the micro-benchmarks and the timed representative layers, whose table
is in ``representatives``), ``fit`` (the per-class least-squares fit, pure) and ``assemble``
(``calibrate(...)``: runs the stages and assembles the sourced ``HardwareProfile``).

What is measured (``docs/roofline.md``, "Calibration"), each as the median (or, with
``statistic="min"``, the fastest) of timed runs after warm-up, with ``torch.set_num_threads(threads)``
in effect, on the wall clock or (``clock="cpu"``, one thread) the thread's CPU time:

* ``peak_flops.<dtype>``: ``torch.mm`` of two n x n matrices (n doubled from 256 until one call
  takes 50 ms, at most 4096; that n and n/2 timed, the faster kept), ``2 n^3`` FLOPs / time; fp32,
  and bf16/fp16 when they run.
* ``memory.bandwidth``: ``Tensor.copy_`` between two buffers of 4 x the last-level cache (64 MiB
  at least, 512 MiB at most): (bytes read + bytes written) / time.
* ``memory.cache_bandwidth``: the same copy with buffers of 1/8 of the last-level cache.
* ``overhead.per_op_s``: ``Tensor.add`` of two one-element tensors, time per call over loops of
  1000 calls: the fixed cost of dispatching one op.
* ``classes.<class>``: for each op class of the roofline pass, a few representative layers from
  the zoo's models (a 3x3 conv at 56x56, a depthwise conv at 112x112, batch norm, GELU...) are
  analysed by howfast (FLOPs and compulsory bytes, the same formulas as any report), their plain
  roofline time ``r`` computed on the figures above (``howfast.hardware.roofline.op_figures``), and
  timed as modules in three passes over all of them (median of the passes; one with ``quick``),
  each call after an untimed copy of 8 x the L2 cache (``Evictor``: the traffic
  of the layers around it in a network, without which a layer in a tight loop keeps its weights
  and code hot and runs faster than inside a model). ``t = r / efficiency + overhead`` (plus
  ``weight bytes x weight_s_per_byte`` for convolutions, whose kernels re-lay out their weights
  on every call) is fitted to them by least squares on relative error. The efficiency can exceed
  1 where a kernel beats the GEMM used for the peak.
"""

from __future__ import annotations

from howfast.bench.calibrate.assemble import FORMULAS, WEIGHT_CLASSES, CalibrationResult, ClassFit, Measurement, Progress, calibrate
from howfast.bench.calibrate.fit import fit_class, fit_efficiency, fit_with_weights
from howfast.bench.calibrate.measure import (
    STATISTICS,
    Evictor,
    TimedSample,
    class_samples,
    copy_bandwidth,
    cpu_caches,
    gemm_flops,
    last_level_cache_bytes,
    op_overhead,
    prepare_layers,
    time_call,
    time_layers,
)
from howfast.bench.calibrate.representatives import Representative, representatives

__all__ = ["FORMULAS", "STATISTICS", "WEIGHT_CLASSES", "CalibrationResult", "ClassFit", "Evictor", "Measurement", "Progress", "Representative",
           "TimedSample", "calibrate", "class_samples", "copy_bandwidth", "cpu_caches", "fit_class", "fit_efficiency",
           "fit_with_weights", "gemm_flops", "last_level_cache_bytes", "op_overhead", "prepare_layers", "representatives", "time_call",
           "time_layers"]
