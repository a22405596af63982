"""A comparison of models side by side: counts, memory, ratios to the first, and a generated explanation.

The explanation makes the write-up's argument for any set of models: time on most deployment
hardware follows memory traffic at least as much as arithmetic, so a model that does fewer MACs
but moves as much memory is not faster. It names the model that moves the most memory per MAC
and, for every model with fewer MACs than the first, how its traffic compares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from howfast import units
from howfast.report.measurements import BenchmarkResult
from howfast.report.report import SCHEMA_VERSION, Report, conventions_dict

# (key, title, value of a report, human formatter)
COLUMNS: tuple[tuple[str, str, Callable[[Report], int], Callable[[float], str]], ...] = (
    ("params", "Params", lambda r: r.totals.params, units.params),
    ("param_bytes", "Model size", lambda r: r.totals.param_bytes, units.nbytes),
    ("macs", "MACs", lambda r: r.totals.macs, units.count),
    ("flops", "FLOPs", lambda r: r.totals.flops, units.count),
    ("mem_accesses", "Accesses", lambda r: _accesses(r), units.count),
    ("bytes_moved", "Bytes moved", lambda r: r.totals.bytes_read + r.totals.bytes_written, units.nbytes),
    ("peak_activation_bytes", "Peak act. mem", lambda r: r.totals.peak_activation_bytes, units.nbytes),
)


def _accesses(report: Report) -> int:
    """Element accesses under the report's memory model."""
    return report.totals.traffic(report.memory_model).get("elements", report.totals.mem_accesses)


@dataclass(slots=True)
class ModelTiming:
    """A compared model's measured latency: median, frames per second (batch / median), the median of
    each interleaved round, and the benchmark it comes from."""

    median_s: float
    fps: float
    round_medians_s: list[float]
    result: BenchmarkResult

    def to_dict(self) -> dict[str, Any]:
        return {"median_s": self.median_s, "fps": self.fps, "round_medians_s": list(self.round_medians_s),
                "benchmark": self.result.to_dict(include_times=False)}


@dataclass(slots=True)
class Comparison:
    """Reports of several models on the same input, with side-by-side rows."""

    labels: list[str]
    reports: list[Report]
    explanation: list[str] = field(default_factory=list)
    benchmarks: list[ModelTiming] = field(default_factory=list)
    measurement_notes: list[str] = field(default_factory=list)  # ties and unsteady measurements (--bench)

    def rows(self) -> list[dict[str, Any]]:
        first = self.reports[0]
        rows = []
        for label, report in zip(self.labels, self.reports):
            row: dict[str, Any] = {"model": label, "truncated_at": report.model.truncated_at}
            for key, _, value, _ in COLUMNS:
                row[key] = value(report)
                reference = value(first)
                row[f"{key}_ratio"] = (row[key] / reference) if reference else None
            row["accesses_per_mac"] = (row["mem_accesses"] / row["macs"]) if row["macs"] else None
            rows.append(row)
        timings = self.benchmarks
        for row, bench in zip(rows, timings):
            row["latency_s"], row["fps"] = bench.median_s, bench.fps
            row["latency_s_ratio"] = bench.median_s / timings[0].median_s
            row["fps_ratio"] = bench.fps / timings[0].fps
        return rows

    def render(self, fmt: str = "table", width: int | None = None, color: bool = False) -> str:
        """The comparison as text: table, md, csv, json or html."""
        from howfast.report.render.comparison import render_comparison

        return render_comparison(self, fmt, width=width, color=color)

    def __repr__(self) -> str:
        """One line per model: its totals and ratios to the first (``render()`` for the table)."""
        lines = [f"Comparison of {len(self.reports)} models (ratios to {self.labels[0] if self.labels else 'the first'}):"]
        for row in self.rows():
            lines.append(f"  {row['model']}: {units.params(row['params'])} params, {units.count(row['macs'])} MACs "
                         f"({row['macs_ratio'] or 0:.2f}x), {units.nbytes(row['bytes_moved'])} moved ({row['bytes_moved_ratio'] or 0:.2f}x)")
        lines.extend(self.explanation[:1])
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        return "<pre>" + html.escape(repr(self)) + "</pre>"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        """The comparison a ``to_dict()`` document (``howfast compare -f json``) describes."""
        from howfast.report.load import comparison_from_dict

        return comparison_from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "comparison": self.rows(),
            "explanation": self.explanation,
            "measurement_notes": self.measurement_notes,
            "benchmarks": [b.to_dict() for b in self.benchmarks] or None,
            "conventions": conventions_dict(self.reports[0].conventions) if self.reports else {},
            "reports": [r.to_dict(include_ops=False) for r in self.reports],
        }


def explain(labels: list[str], reports: list[Report]) -> list[str]:
    """Sentences on which model moves the most memory per MAC and what that means for speed.

    Two measures of memory: the report's memory model (accesses, write-up by default, dominated
    by conv inputs re-read per MAC) and the bytes that must cross the memory bus at least once
    (compulsory model: every tensor read and written once), which is what bandwidth limits.
    """
    if not reports:
        return []
    moved = [_bytes_moved(r) for r in reports]
    per_mac = [(b / r.totals.macs if r.totals.macs else float("inf")) for b, r in zip(moved, reports)]
    worst = max(range(len(reports)), key=lambda i: per_mac[i])
    lines = [f"{labels[worst]} moves the most memory per MAC: {per_mac[worst]:.3f} bytes per MAC "
             "(compulsory traffic: " + ", ".join(f"{lab} {p:.3f}" for lab, p in zip(labels, per_mac)) + ")."]
    base, base_label = reports[0], labels[0]
    for label, report, nbytes in zip(labels[1:], reports[1:], moved[1:]):
        macs = report.totals.macs / base.totals.macs if base.totals.macs else 1.0
        traffic = nbytes / moved[0] if moved[0] else 1.0
        accesses = _accesses(report) / _accesses(base) if _accesses(base) else 1.0
        peak = report.totals.peak_activation_bytes / base.totals.peak_activation_bytes if base.totals.peak_activation_bytes else 1.0
        facts = (f"moves {_change(traffic)} bytes ({units.nbytes(nbytes)} vs {units.nbytes(moved[0])}), "
                 f"{_change(accesses, countable=True)} accesses ({units.count(_accesses(report))}) and needs {peak:.2f}x the peak activation memory")
        if macs < 1.0:
            verdict = ("where memory bandwidth limits speed (phones, CPUs at batch 1) it will not be proportionally faster"
                       if traffic > macs * 1.1 else "its memory traffic falls with its MACs")
            lines.append(f"{label} does {100 * (1 - macs):.0f}% fewer MACs than {base_label} but {facts}: {verdict}.")
        else:
            lines.append(f"{label} does {macs:.2f}x the MACs of {base_label}; it {facts}.")
    lines.append("Speed comparisons only hold on the same hardware and software; measure with `howfast bench` "
                 "or predict with a device profile (roofline) to see which layers are memory-bound.")
    return lines


def _bytes_moved(report: Report) -> int:
    return report.totals.bytes_read + report.totals.bytes_written


def _change(ratio: float, countable: bool = False) -> str:
    if abs(ratio - 1.0) < 0.05:
        return "about as many" if countable else "about as much"
    less = "fewer" if countable else "less"
    return f"{100 * (ratio - 1):.0f}% more" if ratio > 1 else f"{100 * (1 - ratio):.0f}% {less}"


