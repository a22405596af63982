"""ONNX Runtime int8 against fp32 on this CPU, measured and predicted side by side (issue 15).

Run: ``python benchmarks/quantized_latency.py [--models resnet18 mobilenet_v2] [--rounds 3]
[--budget 12] [--profile this_box.toml] [--json FILE]``

1. Each zoo model is exported to ONNX at 1x3x224x224 (``howfast.onnx.export.export_model``), with
   batch-norm statistics drawn at random (a fresh model's are all equal and the exporter would merge
   them), then pre-processed (``quant_pre_process``) and quantized by ``onnxruntime.quantization``:
   ``quantize_static`` in the QDQ and the QOperator format (two random calibration batches, the
   quantizer's defaults: QUInt8 activations, QInt8 weights, per tensor) and ``quantize_dynamic``.
2. Every file is timed with ``howfast.bench`` (``benchmark_onnx_file``: ``InferenceSession.run`` on
   one intra-op thread, the wall clock) in ``--rounds`` interleaved rounds, the order rotating per
   round; a file's latency is the median of all its timed runs.
3. Every file is analysed by ``howfast.analyze`` and priced on a calibrated profile (``--profile``,
   else ``howfast calibrate --threads 1`` run here first): predicted latency beside measured. The
   calibration times PyTorch eager kernels (FBGEMM for int8): ONNX Runtime's kernels are not what it
   measured, and the ratio column shows by how much that prediction misses ORT (issue 17 item 3 is
   the ORT-specific calibration).

The table: per model and format, MACs, int8 weight bytes, measured ms, predicted ms, predicted /
measured, and the int8 speed-up over fp32 measured and predicted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import howfast
from howfast.bench.runner import benchmark_onnx_file
from howfast.hardware.profiles import load_profile
from howfast.hardware.roofline import roofline
from howfast.onnx.export import export_model
from howfast.zoo import registry

SIZE = 224
FORMATS = ("fp32", "QDQ", "QOperator", "dynamic")


def random_statistics(model: nn.Module) -> nn.Module:
    """Distinct batch-norm statistics, as a trained model has."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=generator))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=generator))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=generator))
    return model.eval()


def quantized_files(name: str, folder: Path) -> dict[str, Path]:
    """The fp32 export and its three quantized forms."""
    from onnxruntime import quantization as q
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(q.CalibrationDataReader):
        def __init__(self, input_name: str) -> None:
            rng = np.random.default_rng(0)
            self.batches = iter([{input_name: rng.standard_normal((1, 3, SIZE, SIZE)).astype(np.float32)} for _ in range(2)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    model = random_statistics(registry.build(name, {}, device="cpu"))
    files = {"fp32": export_model(model, (torch.randn(1, 3, SIZE, SIZE),), None, folder / f"{name}.onnx")}
    pre = folder / f"{name}_pre.onnx"
    logging.disable(logging.WARNING)
    try:
        quant_pre_process(str(files["fp32"]), str(pre))
        import onnx
        input_name = onnx.load(str(pre), load_external_data=False).graph.input[0].name
        for fmt in ("QDQ", "QOperator"):
            files[fmt] = folder / f"{name}_{fmt}.onnx"
            q.quantize_static(str(pre), str(files[fmt]), Batches(input_name), quant_format=getattr(q.QuantFormat, fmt))
        files["dynamic"] = folder / f"{name}_dynamic.onnx"
        q.quantize_dynamic(str(pre), str(files["dynamic"]))
    finally:
        logging.disable(logging.NOTSET)
    return files


def calibrated_profile(folder: Path, given: str | None, keep: str | None) -> Any:
    if given:
        return load_profile(given)
    path = Path(keep) if keep else folder / "this_box.toml"
    subprocess.run([sys.executable, "-m", "howfast", "calibrate", "--threads", "1", "--output", str(path)],
                   check=True, stdout=subprocess.DEVNULL)
    return load_profile(path)


def measure(files: dict[tuple[str, str], Path], rounds: int, budget_s: float) -> dict[tuple[str, str], list[float]]:
    times: dict[tuple[str, str], list[float]] = {key: [] for key in files}
    keys = list(files)
    for r in range(rounds):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        for key in order:
            result = benchmark_onnx_file(str(files[key]), [f"1x3x{SIZE}x{SIZE}"], budget_s=budget_s / rounds, threads=1, warmup=3)
            times[key].extend(result.times_s)
        print(f"  round {r + 1}/{rounds} done, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=12.0, help="seconds of timed runs per file, over all rounds")
    parser.add_argument("--profile", help="a calibrated profile (.toml); default: calibrate here first")
    parser.add_argument("--save-profile", help="keep the calibration made here in this .toml file")
    parser.add_argument("--json", help="write every figure here")
    options = parser.parse_args(argv)
    registry._load_models()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"load {os.getloadavg()[0]:.1f}: exporting and quantizing", file=sys.stderr)
        files = {(name, fmt): path for name in options.models for fmt, path in quantized_files(name, folder).items()}
        print(f"load {os.getloadavg()[0]:.1f}: calibrating", file=sys.stderr)
        profile = calibrated_profile(folder, options.profile, options.save_profile)
        reports = {key: howfast.analyze(path) for key, path in files.items()}
        predicted = {key: roofline(report, profile).roofline.predicted_latency_s for key, report in reports.items()}
        print(f"load {os.getloadavg()[0]:.1f}: timing", file=sys.stderr)
        times = measure(files, options.rounds, options.budget)
    rows = []
    for (name, fmt), report in reports.items():
        measured = statistics.median(times[(name, fmt)])
        base = statistics.median(times[(name, "fp32")])
        rows.append({
            "model": name, "format": fmt, "macs": report.totals.macs, "params": sum(report.model.param_dtypes.values()),
            "param_dtype_bytes": report.model.param_dtype_bytes, "measured_s": measured, "predicted_s": predicted[(name, fmt)],
            "speedup_measured": base / measured, "speedup_predicted": predicted[(name, "fp32")] / predicted[(name, fmt)],
            "runs": len(times[(name, fmt)]),
        })
    peaks = {dtype: f"{figure.value / 1e9:.0f}" for dtype, figure in profile.peak_flops.items()}
    print(f"\nprofile {profile.name}: fp32 {peaks.get('fp32', '-')} GFLOP/s, int8 {peaks.get('int8', '-')} G op/s; "
          f"ONNX Runtime, 1 thread, wall clock, "
          f"load {os.getloadavg()[0]:.1f}\n")
    print("| model | format | MACs | weights (bytes by dtype) | measured ms | predicted ms | pred/meas | speed-up meas | speed-up pred |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|")
    for row in rows:
        dtypes = " + ".join(f"{n:,} {d}" for d, n in sorted(row["param_dtype_bytes"].items()))
        print(f"| {row['model']} | {row['format']} | {row['macs']:,} | {dtypes} | {row['measured_s'] * 1e3:.2f} | "
              f"{row['predicted_s'] * 1e3:.2f} | {row['predicted_s'] / row['measured_s']:.2f} | "
              f"{row['speedup_measured']:.2f}x | {row['speedup_predicted']:.2f}x |")
    if options.json:
        Path(options.json).write_text(json.dumps({"profile": profile.name, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
