"""Calibrate this machine: micro-benchmarks that become a hardware profile (``howfast calibrate``).

Three stages: ``measure`` (the micro-benchmarks and the timed representative layers, whose table
is in ``representatives``; the int8 and fp8 peaks in ``integer``, the quantized layers in
``quantized_layers``), ``fit`` (the per-class least-squares fit, pure) and ``assemble``
(``calibrate(...)``: runs the stages and assembles the sourced ``HardwareProfile``).

What is measured (``docs/roofline.md``, "Calibration"), each as the median (or, with
``statistic="min"``, the fastest) of timed runs after warm-up, with ``torch.set_num_threads(threads)``
in effect, on the wall clock or (``clock="cpu"``, one thread) the thread's CPU time:

* ``peak_flops.<dtype>``: ``torch.mm`` of two n x n matrices (n doubled from 256 until one call
  takes 50 ms, at most 4096; that n and n/2 timed, the faster kept), ``2 n^3`` FLOPs / time; fp32,
  and bf16/fp16 when they run.
* ``peak_flops.int8``: ``quantized::linear`` (PyTorch's quantized engine in effect, x86 = FBGEMM)
  of an n x n quint8 input by an n x n per-channel qint8 weight, n doubled from 512 until one call
  takes 2 ms (at most 2048), n and n/2 timed: ``2 n^3`` integer ops / time. ``peak_flops.fp8``:
  ``torch._scaled_mm`` of float8_e4m3fn matrices the same way, where it runs. Where either does not
  run, ``CalibrationResult.notes`` says so ("no int8 kernel on this machine ...").
* ``memory.bandwidth``: ``Tensor.copy_`` between two buffers of 4 x the last-level cache (64 MiB
  at least, 512 MiB at most): (bytes read + bytes written) / time.
* ``memory.cache_bandwidth``: the same copy with buffers of 1/8 of the last-level cache.
* ``overhead.per_op_s``: ``Tensor.add`` of two one-element tensors, time per call over loops of
  1000 calls: the fixed cost of dispatching one op.
* ``classes.<class>``: for each op class of the roofline pass, a few representative layers from
  the zoo's models (a 3x3 conv at 56x56, a depthwise conv at 112x112, batch norm, GELU...) are
  analysed by howfast (FLOPs and compulsory bytes, the same formulas as any report), their plain
  roofline time ``r`` computed on the figures above (``howfast.hardware.roofline.op_figures``), and
  timed as modules in five passes over all of them (median of the passes; one with ``quick``),
  each call after an untimed copy of 8 x the L2 cache (``Evictor``: the traffic
  of the layers around it in a network, without which a layer in a tight loop keeps its weights
  and code hot and runs faster than inside a model). ``t = r / efficiency + overhead`` (plus
  ``weight bytes x weight_s_per_byte`` for convolutions, whose kernels re-lay out their weights
  on every call) is fitted to them by least squares on relative error, through the per-op time of
  the class's chain of 16 tiny layers run in a row (``fit_pinned``: the overhead is what one small
  op of the class costs, not a free parameter). The efficiency can exceed 1 where a kernel beats
  the GEMM used for the peak. Data movement (permute + contiguous, channel shuffle, cat, pad,
  roll) has representatives of its own (``data``).
* ``classes.int8_conv`` and ``classes.int8_gemm``: the same for quantized Conv2d and Linear
  modules (``quantized_layers``: per-channel qint8 weights, quint8 channels-last inputs), their
  roofline time at the int8 peak, when the int8 peak was measured.

The timing loops' garbage collections run with the objects alive at the start frozen
(``frozen_heap``): with torch imported a full collection takes 0.1 s, once per timed layer.
"""

from __future__ import annotations

from howfast.bench.calibrate.assemble import (
    DTYPES,
    FORMULAS,
    WEIGHT_CLASSES,
    CalibrationResult,
    ClassFit,
    Measurement,
    Progress,
    calibrate,
)
from howfast.bench.calibrate.fit import fit_class, fit_efficiency, fit_pinned, fit_with_weights
from howfast.bench.calibrate.integer import LOW_PRECISION, LowPrecisionPeak, int8_engine, low_precision_peak
from howfast.bench.calibrate.measure import (
    STATISTICS,
    Evictor,
    TimedSample,
    class_samples,
    copy_bandwidth,
    cpu_caches,
    frozen_heap,
    gemm_flops,
    gemm_rate,
    last_level_cache_bytes,
    op_overhead,
    prepare_layers,
    time_call,
    time_layers,
)
from howfast.bench.calibrate.quantized_layers import int8_representatives
from howfast.bench.calibrate.representatives import QuantizedInput, Representative, representatives

__all__ = ["DTYPES", "FORMULAS", "LOW_PRECISION", "STATISTICS", "WEIGHT_CLASSES", "CalibrationResult", "ClassFit", "Evictor",
           "LowPrecisionPeak", "Measurement", "Progress", "QuantizedInput", "Representative", "TimedSample", "calibrate",
           "class_samples", "copy_bandwidth", "cpu_caches", "fit_class", "fit_efficiency", "fit_pinned", "fit_with_weights",
           "frozen_heap",
           "gemm_flops", "gemm_rate", "int8_engine", "int8_representatives", "last_level_cache_bytes", "low_precision_peak",
           "op_overhead", "prepare_layers", "representatives", "time_call", "time_layers"]
