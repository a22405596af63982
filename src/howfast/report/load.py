"""A saved JSON report read back into a typed ``Report``, to render it again in any format.

``read_report(path)`` checks the file (size, JSON, schema version) and ``report_from_dict(data)``
rebuilds the dataclasses field by field from their type hints: each field reads the JSON key of its
name, except the few the JSON spells differently (``RENAMED``) or spreads into its parent's object
(``SPREAD``). Keys the JSON has and the record lacks (derived figures such as ``coverage.share``)
are ignored; fields the JSON lacks keep their defaults. The benchmark section is merged from up to
three results in the JSON (``Benchmark.to_dict``), so it is split again by ``benchmark_from_dict``.
Nothing is executed or unpickled: a report file is plain JSON (``docs/json-schema.md``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any

from howfast.errors import BadFileError
from howfast.passes.fusion import FusedGroup
from howfast.report.comparison import Comparison, ModelTiming
from howfast.report.measurements import Benchmark, BenchmarkResult, Efficiency, Environment, LayerTimes, Stats, SweepPoint, SweepResult
from howfast.report.report import SCHEMA_VERSION, Phase, Report, Totals
from howfast.report.sections import Energy, EnergyLayer, RooflineOp

MAX_REPORT_BYTES = 1 << 30  # 1 GiB: a 70B model's report with every op is about 60 MB

# (record, field) -> the JSON key it is saved under.
RENAMED: dict[tuple[type, str], str] = {
    (Report, "timeline"): "activation_timeline",
    (Phase, "timeline"): "activation_timeline",
    (Report, "training"): "training_memory",
    (RooflineOp, "op_class"): "class",
}
# (record, field): a record whose keys are saved inline in its parent's JSON object.
SPREAD: set[tuple[type, str]] = {(Energy, "total"), (EnergyLayer, "energy")}
# Names the type hints of the report's modules refer to without importing them at run time.
HINT_NAMES: dict[str, Any] = {"Totals": Totals, "FusedGroup": FusedGroup}


def read_report(path: str | os.PathLike[str]) -> Report:
    """The report saved as JSON at ``path`` (``howfast analyze -f json``); ``BadFileError`` when the
    file is missing, over ``MAX_REPORT_BYTES``, not JSON, or not a howfast report of this schema."""
    return report_from_dict(read_json(path), source=str(path))


def read_saved(path: str | os.PathLike[str]) -> Report | Comparison:
    """The report or comparison (``howfast compare -f json``) saved as JSON at ``path``."""
    data = read_json(path)
    if isinstance(data, dict) and "comparison" in data:
        return comparison_from_dict(data, source=str(path))
    return report_from_dict(data, source=str(path))


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON document at ``path``, refused (``BadFileError``) when missing, too large or not JSON."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BadFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size > MAX_REPORT_BYTES:
        raise BadFileError(f"{path} is {size / 2**20:,.0f} MiB: larger than any howfast report ({MAX_REPORT_BYTES >> 20} MiB at most)")
    try:
        with path.open("rb") as stream:
            data = json.load(stream)
    except OSError as exc:
        raise BadFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise BadFileError(f"{path} is not a JSON file: {str(exc).splitlines()[0]}") from exc
    return data


def report_from_dict(data: Any, source: str = "the document") -> Report:
    """The ``Report`` a ``Report.to_dict()`` document describes (see the module docstring)."""
    check_document(data, source)
    try:
        document = {"ops": [], **data, "benchmark": None, "conventions": _conventions(data["conventions"]), "phases": _phases(data),
                    "environment": data.get("environment") or None}  # no environment is saved as {}
        report = read_record(Report, document)
        report.benchmark = benchmark_from_dict(data.get("benchmark"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadFileError(f"{source} is not a complete howfast report: {type(exc).__name__}: {exc}") from exc
    return report


def comparison_from_dict(data: Any, source: str = "the document") -> Comparison:
    """The ``Comparison`` a ``Comparison.to_dict()`` document describes."""
    if not isinstance(data, dict) or not isinstance(data.get("reports"), list) or not isinstance(data.get("comparison"), list):
        raise BadFileError(f"{source} is not a howfast comparison (no comparison and reports)")
    reports = [report_from_dict(r, source=f"{source} (report {k + 1})") for k, r in enumerate(data["reports"])]
    try:
        labels = [str(row["model"]) for row in data["comparison"]]
        timings = [ModelTiming(median_s=float(b["median_s"]), fps=float(b["fps"]), round_medians_s=list(b.get("round_medians_s") or []),
                               result=_result(b["benchmark"], read_record(Environment, b["benchmark"]["environment"])))
                   for b in data.get("benchmarks") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadFileError(f"{source} is not a complete howfast comparison: {type(exc).__name__}: {exc}") from exc
    return Comparison(labels=labels, reports=reports, explanation=list(data.get("explanation") or []), benchmarks=timings,
                      measurement_notes=list(data.get("measurement_notes") or []))


def check_document(data: Any, source: str) -> None:
    """Refuse what is not a howfast report of a schema this version reads (same major version)."""
    if not isinstance(data, dict) or "schema_version" not in data or "layers" not in data or "totals" not in data:
        raise BadFileError(f"{source} is not a howfast report (no schema_version, totals and layers): "
                           "save one with `howfast analyze MODEL -f json -o FILE`")
    version = str(data["schema_version"])
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise BadFileError(f"{source} has report schema {version}; this howfast reads schema {SCHEMA_VERSION.split('.')[0]}.x")


def read_record(cls: type, data: dict[str, Any]) -> Any:
    """An instance of dataclass ``cls`` from its JSON object ``data``."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} should be a JSON object, not {type(data).__name__}")
    hints = typing.get_type_hints(cls, localns=HINT_NAMES)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        if not spec.init:
            continue
        if (cls, spec.name) in SPREAD:
            values[spec.name] = read_value(hints[spec.name], data)
            continue
        key = RENAMED.get((cls, spec.name), spec.name)
        if key in data:
            values[spec.name] = read_value(hints[spec.name], data[key])
    return cls(**values)


def read_value(hint: Any, value: Any) -> Any:
    """``value`` from JSON as type ``hint``: records, lists, dicts and optional values in turn."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return read_record(hint, value)
    if origin is typing.Union or origin is types.UnionType:
        return _read_union(typing.get_args(hint), value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [read_value(item, v) for v in _expect(list, value)]
    if origin is dict:
        key, item = typing.get_args(hint)
        return {read_value(key, k): read_value(item, v) for k, v in _expect(dict, value).items()}
    if hint is float and isinstance(value, int | float):
        return float(value)
    if hint is int and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)  # a dict key saved as text
    return value


def _read_union(options: tuple[Any, ...], value: Any) -> Any:
    if value is None:
        return None
    for option in options:
        if option is type(None):
            continue
        if typing.get_origin(option) is list and not isinstance(value, list):
            continue
        if typing.get_origin(option) is dict or dataclasses.is_dataclass(option):
            if isinstance(value, dict):
                return read_value(option, value)
            continue
        return read_value(option, value)
    return value


def _expect(kind: type, value: Any) -> Any:
    if not isinstance(value, kind):
        raise TypeError(f"expected a JSON {'array' if kind is list else 'object'}, not {type(value).__name__}")
    return value


def _conventions(data: dict[str, Any]) -> dict[str, Any]:
    # ``described`` is the sentences ``Conventions.describe()`` writes from the settings.
    return {k: v for k, v in _expect(dict, data).items() if k != "described"}


PHASE_COSTS = ("totals", "layers", "ops", "op_types", "uncounted_ops", "coverage", "activation_timeline", "fusion", "roofline")


def _phases(data: dict[str, Any]) -> list[dict[str, Any]]:
    # One phase is saved as its name, count and totals: its other figures are the report's.
    phases = _expect(list, data.get("phases") or [])
    if len(phases) == 1 and "layers" not in phases[0]:
        return [{"ops": [], **{key: data[key] for key in PHASE_COSTS if key in data}, **phases[0]}]
    return [{"ops": [], **phase} for phase in phases]  # saved without ops (a comparison's reports)


# ---------------------------------------------------------------------------------------------- benchmark


def benchmark_from_dict(data: dict[str, Any] | None) -> Benchmark | None:
    """The benchmark section split back into its result, sweep and per-layer times."""
    if not data:
        return None
    environment = read_record(Environment, data["environment"]) if data.get("environment") else None
    per_layer = read_record(LayerTimes, data["per_layer"]) if data.get("per_layer") else None
    result = _result(data, environment) if data.get("latency_s") else None
    sweep = _sweep(data, environment) if isinstance(data.get("sweep"), dict) and environment is not None else None
    return Benchmark(result=result, sweep=sweep, per_layer=per_layer, include_times=bool(data.get("times_s")))


def _result(data: dict[str, Any], environment: Environment | None) -> BenchmarkResult:
    if environment is None:
        raise KeyError("environment")
    return BenchmarkResult(
        stats=read_record(Stats, data["latency_s"]), times_s=[float(t) for t in data.get("times_s") or []],
        batch=int(data["batch"]), warmup=int(data["warmup"]), runs_requested=data.get("runs_requested"),
        budget_s=data.get("budget_s"), stopped_by=str(data["stopped_by"]), runtime=str(data["runtime"]),
        device=str(data["device"]), dtype=data.get("dtype"), threads=environment.threads, inputs=list(data.get("inputs") or []),
        environment=environment, model=data.get("model"), warnings=list(data.get("warnings") or []),
        workload=str(data.get("workload") or "forward"), loss=data.get("loss"), optimizer=data.get("optimizer"),
        efficiency=_efficiency(data))


def _efficiency(data: dict[str, Any]) -> Efficiency | None:
    """The achieved FLOP/s and peak of a benchmark (schema 1.2), None when the JSON has none."""
    if data.get("flops_per_run") is None:
        return None
    return Efficiency(flops=int(data["flops_per_run"]), seconds=float(data["latency_s"]["median"]),
                      dtype=str(data.get("peak_dtype") or "fp32"), peak_flops_per_s=data.get("peak_flops_per_s"),
                      profile=data.get("peak_profile"), source=str(data.get("peak_source") or ""),
                      uncounted_ops=int(data.get("uncounted_ops") or 0))


def _sweep(data: dict[str, Any], environment: Environment) -> SweepResult:
    sweep = data["sweep"]
    rows = [SweepPoint(batch=int(row["batch"]), size=row.get("size"), inputs=list(row.get("inputs") or []),
                       stats=read_record(Stats, row["latency_s"]), stopped_by=str(row["stopped_by"]),
                       warnings=list(row.get("warnings") or [])) for row in sweep["rows"]]
    knees: dict[int | None, int | None] = {entry["size"]: entry["batch"] for entry in sweep.get("knee") or []}
    return SweepResult(rows=rows, batches=sweep.get("batches"), sizes=sweep.get("sizes"), knees=knees,
                       warmup=int(data["warmup"]), runs_requested=data.get("runs_requested"), budget_s=data.get("budget_s"),
                       runtime=str(data["runtime"]), device=str(data["device"]), dtype=data.get("dtype"),
                       threads=environment.threads, environment=environment, model=data.get("model"))

