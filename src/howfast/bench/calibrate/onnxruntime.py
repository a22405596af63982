"""Calibration for ONNX Runtime on the CPU (``calibrate_onnxruntime``): the figures of the runtime that
runs the exported model, not of PyTorch eager.

ONNX Runtime runs a different program with different kernels: the exporter folds batch norms into
the convolutions, the session fuses activations into them (``FusedConv``), and its MLAS GEMM and
convolution kernels use the CPU's widest vector units where PyTorch's MKL GEMM may not (measured
here: resnet18 fp32 in 14.5 ms CPU time under ORT, ~250 GFLOP/s, against a 91 GFLOP/s ``torch.mm``
peak). So every figure that depends on the kernels is measured through an ``InferenceSession``:

* ``peak_flops.fp32``: a one-node ``MatMul`` graph of n x n matrices, n doubled from 256 until one run
  takes 20 ms (50 ms without ``quick``; at most 4096), ``2 n^3 / t``;
* ``overhead.per_op_s``: the time per node of a chain of ``Add`` nodes on one-element tensors,
  (t(201 nodes) - t(1 node)) / 200: what ORT spends per node beyond the work;
* ``classes.<c>``: representative layers (``ORT_LAYERS``, by op class and shape range), each
  exported alone (``howfast.onnx.export.export_model``), analysed by howfast as the fused program
  (``analyze(..., fused=True)``: batch norms folded, element-wise chains fused, as ORT runs them),
  priced on the plain roofline of the figures above, timed in a session after the cache-evicting
  copy of the PyTorch calibration; ``t = roof / efficiency + overhead`` fitted per class. ORT packs
  weights once, when the session is made, so there is no per-call weight term.

Memory bandwidth, cache bandwidth and cache sizes are the machine's, measured as ``calibrate`` does.
The profile records ``calibration.runtime = "onnxruntime"``; ``analyze --runtime onnxruntime``
prices the fused program with it (docs/roofline.md, "ONNX Runtime").
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from howfast.bench.calibrate.assemble import CalibrationResult, ClassFit, Measurement, load_average, read_caches
from howfast.bench.calibrate.fit import fit_efficiency
from howfast.bench.calibrate.measure import (
    STATISTICS,
    Evictor,
    TimedSample,
    analysed_sample,
    copy_bandwidth,
    cpu_caches,
    frozen_heap,
    gemm_rate,
    measure_capacity,
    time_call,
)
from howfast.bench.calibrate.representatives import Representative
from howfast.bench.environment import device_name
from howfast.errors import DeviceError
from howfast.hardware.profiles import ClassFigures, Figure, HardwareProfile

PLAIN_FORMULA = "t = roof / efficiency + overhead"
CHAIN_NODES = 200


class _Add(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y


class _Gelu(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.gelu(x)


class _Softmax(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.softmax(-1)


class _Transpose(nn.Module):
    """A channels-to-tokens permute made contiguous (a Transpose node)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).contiguous()


def _conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> Callable[[], nn.Module]:
    return lambda: nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
                                 nn.ReLU()).eval()


# (label, factory, input shapes): by op class and shape range (channels 16 to 1024, sides 7 to 112,
# rows 1 to 256), not copied from a model that is scored; the last of each class is a tiny shape that
# pins the fixed cost. Convolutions carry BN + ReLU, which ORT folds and fuses into them.
ORT_LAYERS: list[Representative] = [
    ("conv 3x3 16->16 @112x112", _conv(16, 16, 3), [(1, 16, 112, 112)]),
    ("conv 3x3 48->48 @64x64", _conv(48, 48, 3), [(1, 48, 64, 64)]),
    ("conv 3x3 96->192 /2 @40x40", _conv(96, 192, 3, 2), [(1, 96, 40, 40)]),
    ("conv 3x3 320->320 @12x12", _conv(320, 320, 3), [(1, 320, 12, 12)]),
    ("conv 3x3 768->768 @6x6", _conv(768, 768, 3), [(1, 768, 6, 6)]),
    ("conv 3x3 g8 192->192 @24x24", _conv(192, 192, 3, groups=8), [(1, 192, 24, 24)]),
    ("conv 3x3 8->8 @8x8", _conv(8, 8, 3), [(1, 8, 8, 8)]),
    ("pwconv 1x1 24->72 @96x96", _conv(24, 72, 1), [(1, 24, 96, 96)]),
    ("pwconv 1x1 160->480 @32x32", _conv(160, 480, 1), [(1, 160, 32, 32)]),
    ("pwconv 1x1 640->160 @16x16", _conv(640, 160, 1), [(1, 640, 16, 16)]),
    ("pwconv 1x1 1024->1024 @6x6", _conv(1024, 1024, 1), [(1, 1024, 6, 6)]),
    ("pwconv 1x1 16->16 @8x8", _conv(16, 16, 1), [(1, 16, 8, 8)]),
    ("dwconv 3x3 48 @96x96", _conv(48, 48, 3, groups=48), [(1, 48, 96, 96)]),
    ("dwconv 3x3 200 /2 @48x48", _conv(200, 200, 3, 2, groups=200), [(1, 200, 48, 48)]),
    ("dwconv 5x5 320 @20x20", _conv(320, 320, 5, groups=320), [(1, 320, 20, 20)]),
    ("dwconv 7x7 160 @40x40", _conv(160, 160, 7, groups=160), [(1, 160, 40, 40)]),
    ("dwconv 3x3 800 @8x8", _conv(800, 800, 3, groups=800), [(1, 800, 8, 8)]),
    ("dwconv 3x3 16 @8x8", _conv(16, 16, 3, groups=16), [(1, 16, 8, 8)]),
    ("linear 256x512 -> 512", lambda: nn.Linear(512, 512), [(256, 512)]),
    ("linear 96x640 -> 2560", lambda: nn.Linear(640, 2560), [(96, 640)]),
    ("linear 24x1536 -> 1536", lambda: nn.Linear(1536, 1536), [(24, 1536)]),
    ("linear 1x1536 -> 1536", lambda: nn.Linear(1536, 1536), [(1, 1536)]),
    ("linear 1x768 -> 3000", lambda: nn.Linear(768, 3000), [(1, 768)]),
    ("linear 8x64 -> 64", lambda: nn.Linear(64, 64), [(8, 64)]),
    ("linear 1x64 -> 64", lambda: nn.Linear(64, 64), [(1, 64)]),
    ("pool max 3x3/2 48 @96x96", lambda: nn.MaxPool2d(3, 2, 1), [(1, 48, 96, 96)]),
    ("pool avg global 640 @10x10", lambda: nn.AdaptiveAvgPool2d(1), [(1, 640, 10, 10)]),
    ("pool max 2x2 16 @8x8", lambda: nn.MaxPool2d(2), [(1, 16, 8, 8)]),
    ("norm layernorm 160x512", lambda: nn.LayerNorm(512), [(160, 512)]),
    ("norm layernorm 8x64", lambda: nn.LayerNorm(64), [(8, 64)]),
    ("add 80x48x48", _Add, [(1, 80, 48, 48), (1, 80, 48, 48)]),
    ("add 16x8x8", _Add, [(1, 16, 8, 8), (1, 16, 8, 8)]),
    ("gelu 160x2048", _Gelu, [(160, 2048)]),
    ("softmax 6x160x160", _Softmax, [(6, 160, 160)]),
    ("sigmoid 16x16", nn.Sigmoid, [(16, 16)]),
    ("transpose 96x40x40", _Transpose, [(1, 96, 40, 40)]),
    ("transpose 16x8x8", _Transpose, [(1, 16, 8, 8)]),
]

QUICK_LABELS = frozenset({"conv 3x3 48->48 @64x64", "conv 3x3 8->8 @8x8", "pwconv 1x1 160->480 @32x32",
                          "pwconv 1x1 16->16 @8x8", "dwconv 3x3 48 @96x96", "dwconv 3x3 16 @8x8", "linear 96x640 -> 2560",
                          "linear 1x1536 -> 1536", "linear 8x64 -> 64", "linear 1x64 -> 64", "pool max 3x3/2 48 @96x96", "pool max 2x2 16 @8x8",
                          "add 80x48x48", "add 16x8x8", "gelu 160x2048", "sigmoid 16x16"})


def ort_layers(quick: bool) -> list[Representative]:
    """The representative layers: all of ``ORT_LAYERS``, or with ``quick`` one realistic and one tiny per class."""
    return [rep for rep in ORT_LAYERS if not quick or rep[0] in QUICK_LABELS]


def _require_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise DeviceError("calibrating ONNX Runtime needs onnxruntime: pip install 'howfast[onnx]'") from exc
    return onnxruntime


class Session:
    """An ``InferenceSession`` on ``threads`` intra-op threads and its random feeds; calling it runs once."""

    def __init__(self, path: str | os.PathLike[str], feeds: dict[str, np.ndarray], threads: int) -> None:
        ort = _require_ort()
        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(os.fspath(path), sess_options=options, providers=["CPUExecutionProvider"])
        self.feeds = feeds

    def __call__(self) -> Any:
        return self.session.run(None, self.feeds)


def _graph_file(folder: Path, name: str, nodes: list[Any], inputs: list[Any], outputs: list[Any]) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(helper.make_graph(nodes, name, inputs, outputs), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / f"{name}.onnx"
    onnx.save(model, os.fspath(path))
    return path


def matmul_session(folder: Path, n: int, threads: int) -> Session:
    """A one-node ``MatMul`` of two random n x n float32 matrices."""
    from onnx import TensorProto, helper

    info = [helper.make_tensor_value_info(v, TensorProto.FLOAT, [n, n]) for v in ("a", "b", "c")]
    path = _graph_file(folder, f"matmul{n}", [helper.make_node("MatMul", ["a", "b"], ["c"])], info[:2], info[2:])
    rng = np.random.default_rng(0)
    return Session(path, {"a": rng.standard_normal((n, n), dtype=np.float32), "b": rng.standard_normal((n, n), dtype=np.float32)},
                   threads)


def add_chain_session(folder: Path, nodes: int, threads: int) -> Session:
    """``nodes`` chained ``Add`` nodes on one-element tensors (x + y, then + y again, ...)."""
    from onnx import TensorProto, helper

    graph_nodes = [helper.make_node("Add", ["x" if i == 0 else f"t{i}", "y"], [f"t{i + 1}" if i < nodes - 1 else "out"])
                   for i in range(nodes)]
    inputs = [helper.make_tensor_value_info(v, TensorProto.FLOAT, [1]) for v in ("x", "y")]
    output = [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1])]
    path = _graph_file(folder, f"add_chain{nodes}", graph_nodes, inputs, output)
    return Session(path, {"x": np.ones(1, np.float32), "y": np.ones(1, np.float32)}, threads)


def layer_session(folder: Path, label: str, module: nn.Module, inputs: tuple[torch.Tensor, ...], threads: int) -> Session:
    """``module`` exported alone and opened in a session fed with ``inputs``."""
    from howfast.onnx.export import export_model

    path = folder / f"layer{len(list(folder.iterdir()))}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_model(module, inputs, None, path)
    session = Session(path, {}, threads)
    session.feeds = {arg.name: t.numpy() for arg, t in zip(session.session.get_inputs(), inputs, strict=True)}
    return session


def _base_profile(name: str, threads: int, figures: dict[str, Measurement], caches: dict[str, Figure], stat: dict[str, Any],
                  ) -> HardwareProfile:
    ort = _require_ort()
    today = datetime.date.today().isoformat()
    cpu = device_name(torch.device("cpu"))
    return HardwareProfile(
        name=name, title=f"{cpu} (ONNX Runtime {ort.__version__}, {threads} thread{'s' if threads != 1 else ''}, calibrated {today})",
        kind="cpu", description=f"Measured by howfast calibrate --runtime onnxruntime on {platform.node() or 'this machine'}: "
                                f"ONNX Runtime CPU execution provider, {threads} intra-op thread(s).",
        peak_flops={"fp32": figures["peak"].figure()}, bandwidth=figures["bandwidth"].figure(),
        cache_bandwidth=figures["cache_bandwidth"].figure() if "cache_bandwidth" in figures else None, caches=caches,
        cache_capacity=figures["cache_capacity"].figure() if "cache_capacity" in figures else None,
        per_op_overhead=figures["overhead"].figure(),
        calibration={"date": today, "device": cpu, "runtime": "onnxruntime", "onnxruntime": ort.__version__, "threads": threads,
                     "torch": torch.__version__, "python": platform.python_version(), **stat, "load_average_1min": load_average()},
    )


def _measure_figures(folder: Path, threads: int, quick: bool, statistic: str, clock: str) -> dict[str, Measurement]:
    pick = STATISTICS[statistic]
    stat = ("median" if statistic == "median" else "fastest") + (" CPU time" if clock == "cpu" else "")
    where = f"--runtime onnxruntime ({threads} thread{'s' if threads != 1 else ''})"
    rate, n, times = gemm_rate(lambda size: matmul_session(folder, size, threads), max_n=2048 if quick else 4096,
                               target_s=0.02 if quick else 0.05, min_time_s=0.1 if quick else 0.3, statistic=statistic, clock=clock)
    figures = {"peak": Measurement("peak_flops.fp32", rate, "FLOP/s", f"measured by howfast calibrate {where}: ONNX Runtime MatMul "
                                   f"{n}x{n} @ {n}x{n} fp32, 2n^3 FLOPs / {stat} of {len(times)} runs", times)}
    bw, nbytes, bw_times = copy_bandwidth(min_time_s=0.1 if quick else 0.3, statistic=statistic, clock=clock)
    figures["bandwidth"] = Measurement("memory.bandwidth", bw, "B/s", f"measured by howfast calibrate {where}: Tensor.copy_ of "
                                       f"{nbytes >> 20} MiB, (bytes read + written) / {stat} of {len(bw_times)} runs", bw_times)
    llc = max((size for _, size in cpu_caches().values()), default=0)
    if llc:
        cbw, cbytes, c_times = copy_bandwidth(nbytes=max(llc // 8, 64 << 10), min_time_s=0.05 if quick else 0.15,
                                              statistic=statistic, clock=clock)
        figures["cache_bandwidth"] = Measurement("memory.cache_bandwidth", cbw, "B/s", f"measured by howfast calibrate {where}: "
                                                 f"Tensor.copy_ of {cbytes >> 10} KiB (1/8 of the last-level cache), {stat}", c_times)
        capacity, text = measure_capacity("cpu", llc, cbw, bw, 0.025 if quick else 0.075, statistic, clock)
        figures["cache_capacity"] = Measurement("memory.cache_capacity", capacity, "B",
                                                f"measured by howfast calibrate {where}: {text} ({stat})")
    one, chain = add_chain_session(folder, 1, threads), add_chain_session(folder, CHAIN_NODES + 1, threads)
    t_one = pick(time_call(one, warmup=20, min_runs=50, min_time_s=0.05, clock=clock))
    t_chain = pick(time_call(chain, warmup=5, min_runs=20, min_time_s=0.1, clock=clock))
    per_node = max((t_chain - t_one) / CHAIN_NODES, 0.0)
    figures["overhead"] = Measurement("overhead.per_op_s", per_node, "s", f"measured by howfast calibrate {where}: a chain of "
                                      f"{CHAIN_NODES + 1} Add nodes on one-element tensors against one node, ({t_chain * 1e6:.1f} - "
                                      f"{t_one * 1e6:.1f} us) / {CHAIN_NODES}, {stat}")
    return figures


def _time_samples(folder: Path, reps: list[Representative], profile: HardwareProfile, threads: int, statistic: str, clock: str,
                  passes: int) -> tuple[list[TimedSample], float]:
    """Each layer's fused sample and its time per run (median of ``passes`` pass statistics), and the time
    of a run of a one-node session in the same conditions (after the same copy): the per-run cost."""
    timed: list[tuple[TimedSample, Session]] = []
    for label, factory, shapes in reps:
        module = factory()
        inputs = tuple(torch.randn(*shape) for shape in shapes)  # type: ignore[misc]
        sample = analysed_sample(label, module, inputs, profile, fused=True)
        if sample is not None:
            timed.append((sample, layer_session(folder, label, module, inputs, threads)))
    l2 = profile.caches.get("l2")
    llc = profile.last_level_cache_bytes
    evict = Evictor(torch.device("cpu"), int(l2.value) if l2 else None, int(llc) if llc else None)
    run = add_chain_session(folder, 1, threads)  # what one run of any session costs beyond its nodes
    run_s: list[float] = []
    with frozen_heap():
        for _ in range(passes):
            run_s.append(STATISTICS[statistic](time_call(run, warmup=3, min_runs=7, min_time_s=0.04, clock=clock, before=evict)))
            for sample, session in timed:
                times = time_call(session, warmup=3, min_runs=7, min_time_s=0.08, clock=clock, before=evict)
                sample.pass_s.append(STATISTICS[statistic](times))
    per_run = float(np.median(run_s))
    for sample, _ in timed:
        sample.measured_s = float(np.median(sample.pass_s))
    return [sample for sample, _ in timed], per_run


def _fit(samples: list[TimedSample], floor_s: float, per_run_s: float,
         ) -> tuple[dict[str, ClassFigures], dict[str, ClassFit], list[Measurement]]:
    """``t - per_run = roof / efficiency + overhead`` per class: a layer timed alone pays a session run's
    fixed cost (``per_run_s``), which a model pays once, not once per op."""
    groups: dict[str, list[TimedSample]] = {}
    for s in samples:
        groups.setdefault(s.op_class, []).append(s)
    figures: dict[str, ClassFigures] = {}
    fits: dict[str, ClassFit] = {}
    measurements: list[Measurement] = []
    for cls, items in groups.items():
        eff, o = fit_efficiency([(s.roof_s, max(s.measured_s - per_run_s, 0.1 * s.measured_s)) for s in items], floor_s=floor_s)
        labels = "; ".join(f"{s.label} {s.measured_s * 1e6:.0f} us" for s in items)
        method = (f"fitted by howfast calibrate --runtime onnxruntime: {PLAIN_FORMULA} over {len(items)} layer(s) exported "
                  f"alone and timed in ONNX Runtime, less a session run's {per_run_s * 1e6:.1f} us: {labels}")
        figures[cls] = ClassFigures(efficiency=Figure(eff, method), overhead_s=Figure(o, method))
        fits[cls] = ClassFit(cls, eff, o, items, 0.0, PLAIN_FORMULA, "exported alone, timed in ONNX Runtime")
        measurements += [Measurement(f"classes.{cls}.efficiency", eff, "", method), Measurement(f"classes.{cls}.overhead_s", o, "s", method)]
    return figures, fits, measurements


def calibrate_onnxruntime(*, threads: int = 1, quick: bool = False, classes: bool = True, name: str = "this_machine_ort",
                          statistic: str = "median", clock: str = "wall") -> CalibrationResult:
    """Measure ONNX Runtime on this CPU (module docstring) and return a profile for ``analyze --runtime onnxruntime``."""
    if threads < 1:
        raise DeviceError(f"threads must be at least 1, got {threads}")
    if statistic not in STATISTICS:
        raise DeviceError(f"statistic must be median or min, got {statistic!r}")
    if clock == "cpu" and threads != 1:
        raise DeviceError("the cpu clock (thread CPU time) needs threads=1: other threads' work would not be counted")
    _require_ort()
    start = time.perf_counter()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)  # the copies that measure bandwidth, and the cache-evicting copy, on as many threads
    try:
        return _calibrate(threads, quick, classes, name, statistic, clock, start)
    finally:
        torch.set_num_threads(previous)


def _calibrate(threads: int, quick: bool, classes: bool, name: str, statistic: str, clock: str, start: float) -> CalibrationResult:
    with tempfile.TemporaryDirectory(prefix="howfast-ort-") as tmp:
        folder = Path(tmp)
        figures = _measure_figures(folder, threads, quick, statistic, clock)
        profile = _base_profile(name, threads, figures, read_caches(torch.device("cpu")), {"statistic": statistic, "clock": clock, "quick": quick})
        measurements = list(figures.values())
        fits: dict[str, ClassFit] = {}
        if classes:
            samples, per_run = _time_samples(folder, ort_layers(quick), profile, threads, statistic, clock, 1 if quick else 3)
            class_figures, fits, fitted = _fit(samples, figures["overhead"].value, per_run)
            measurements.append(Measurement("calibration.run_overhead_s", per_run, "s", "a one-node session's run after the "
                                            "cache-evicting copy: taken off every layer's time before the fits (paid once per model run)"))
            profile.calibration["run_overhead_s"] = per_run
            profile = dataclasses.replace(profile, classes=class_figures)
            measurements += fitted
    return CalibrationResult(profile=profile, measurements=measurements, fits=fits, elapsed_s=time.perf_counter() - start,
                             threads=threads)

