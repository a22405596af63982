"""The layer table's data: its columns, and per layer the raw values to sort by and the text to show.

The page script (``report/assets/report.js``) draws the table from it. Each row carries its name
(``n``), type (``t``), depth (``d``), parent row (``p``, -1 for the model), values (``v``), texts
(``h``) and, for the heaviest leaf layers, why they are highlighted (``hot``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from howfast import units
from howfast.report.render import plots, tree
from howfast.report.render.columns import LAYER_COLUMNS, Column
from howfast.report.report import LayerRow, Report
from howfast.report.sections import RooflineLayer

# Reports with more layers than this open with the tree collapsed below ``DEFAULT_COLLAPSE_DEPTH``.
LARGE_TREE_ROWS = 150
DEFAULT_COLLAPSE_DEPTH = 2
HOT_LAYERS = 5
TEXT_COLUMNS = ("name", "type", "output_shape")


@dataclass(frozen=True)
class TableColumn:
    """One column of the page's layer table: its header and how to read a layer's value and text."""

    key: str
    title: str
    num: bool
    raw: Callable[[LayerRow], Any]
    human: Callable[[LayerRow], str]
    tip: str = ""

    def spec(self) -> dict[str, Any]:
        """The column as the page script reads it: key, title, whether numeric, and its tooltip if any."""
        spec: dict[str, Any] = {"key": self.key, "title": self.title, "num": self.num}
        if self.tip:
            spec["tip"] = self.tip
        return spec


def layer_table(report: Report, container: str, depth: int | None) -> dict[str, Any]:
    """Columns and rows of one layer table: raw values to sort by, human text to show.

    ``container`` is the id of the element the table is drawn in; ``depth`` the depth the tree opens
    at (by default, collapsed below ``DEFAULT_COLLAPSE_DEPTH`` past ``LARGE_TREE_ROWS`` layers).
    """
    columns = table_columns(report)
    rows = table_rows(report, columns)
    collapse = depth if depth is not None else (DEFAULT_COLLAPSE_DEPTH if len(rows) > LARGE_TREE_ROWS else None)
    return {"container": container, "columns": [column.spec() for column in columns], "rows": rows,
            "collapse_depth": collapse, "types": sorted({row.type for row in report.layers})}


def table_columns(report: Report) -> list[TableColumn]:
    """The shared layer columns, bytes and calls; the roofline's and the measured time when the report has them."""
    columns = [_shared_column(column) for column in LAYER_COLUMNS]
    columns.append(TableColumn("bytes", "Bytes", True, plots.traffic_bytes, lambda r: units.nbytes(plots.traffic_bytes(r)),
                               tip=plots.BYTES_LABEL + " (the charts' bytes)"))
    columns.append(TableColumn("calls", "Calls", True, lambda r: r.calls, lambda r: f"{r.calls:,}"))
    roof = {layer.name: layer for layer in report.roofline.layers} if report.roofline is not None else {}
    if roof:
        columns.extend(roofline_columns(roof))
    times, time_what = plots.layer_times(report)
    if time_what == "measured time":
        columns.append(measured_column(times))
    return columns


def _shared_column(column: Column) -> TableColumn:
    # The output shape sorts by its element count.
    raw = (lambda r: shape_elements(r.output_shape)) if column.key == "output_shape" else column.raw
    return TableColumn(column.key, column.title, column.key not in TEXT_COLUMNS, raw, column.human)


def roofline_columns(roof: dict[str, RooflineLayer]) -> list[TableColumn]:
    """Bound, arithmetic intensity and predicted time, joined to the layers by name."""
    return [
        TableColumn("bound", "Bound", False, lambda r: _bound(roof.get(r.name)), lambda r: _bound(roof.get(r.name)),
                    tip="roofline: memory- or compute-bound"),
        TableColumn("intensity", "FLOP/B", True, lambda r: _num(_intensity(roof.get(r.name))),
                    lambda r: _fmt_opt(_intensity(roof.get(r.name)), lambda v: f"{v:.3g}"), tip="arithmetic intensity (roofline)"),
        TableColumn("predicted_s", "Predicted", True, lambda r: _num(_predicted(roof.get(r.name))),
                    lambda r: _fmt_opt(_predicted(roof.get(r.name)), units.seconds), tip="predicted time (roofline)"),
    ]


def measured_column(times: dict[str, float]) -> TableColumn:
    """The measured time per layer (benchmark), 0 to sort by where a layer has none."""
    return TableColumn("measured_s", "Measured", True, lambda r: times.get(r.name, 0.0),
                       lambda r: _fmt_opt(times.get(r.name), units.seconds), tip="measured time (benchmark)")


def _bound(layer: RooflineLayer | None) -> str:
    return str(layer.bound) if layer is not None else ""


def _intensity(layer: RooflineLayer | None) -> float | None:
    return layer.intensity if layer is not None else None


def _predicted(layer: RooflineLayer | None) -> float | None:
    return layer.predicted_s if layer is not None else None


def table_rows(report: Report, columns: list[TableColumn]) -> list[dict[str, Any]]:
    """One entry per layer, in the report's order, with each column's value and text."""
    parent = tree.parents(report)
    hot = hot_layers(report)
    rows = []
    for i, row in enumerate(report.layers):
        entry: dict[str, Any] = {
            "n": row.name,
            "t": row.type,
            "d": int(row.depth),
            "p": parent[i],
            "v": [_jsonable(column.raw(row)) for column in columns],
            "h": [str(column.human(row)) for column in columns],
        }
        if i in hot:
            entry["hot"] = hot[i]
        rows.append(entry)
    return rows


def hot_layers(report: Report) -> dict[int, list[str]]:
    """The top ``HOT_LAYERS`` leaf layers by MACs and by bytes: row index to its ranks (``MACs #1``...)."""
    leaves = tree.leaf_indices(report)
    by_macs = sorted((i for i in leaves if report.layers[i].macs > 0), key=lambda i: -report.layers[i].macs)[:HOT_LAYERS]
    by_bytes = sorted((i for i in leaves if plots.traffic_bytes(report.layers[i]) > 0),
                      key=lambda i: -plots.traffic_bytes(report.layers[i]))[:HOT_LAYERS]
    hot: dict[int, list[str]] = {}
    for rank, i in enumerate(by_macs, 1):
        hot.setdefault(i, []).append(f"MACs #{rank}")
    for rank, i in enumerate(by_bytes, 1):
        hot.setdefault(i, []).append(f"bytes #{rank}")
    return hot


def shape_elements(shapes: list[list[int]]) -> int:
    """The number of elements in all of ``shapes``."""
    return sum(math.prod(s) for s in shapes) if shapes else 0


def _num(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _fmt_opt(value: object, fmt: Callable[[float], str]) -> str:
    return fmt(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _jsonable(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
