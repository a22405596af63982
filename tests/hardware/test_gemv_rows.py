"""Matrix products priced as weight streaming (gemv) by their rows on a calibrated profile
(``classes.gemv.max_rows``), by the ridge point otherwise (docs/roofline.md)."""

from __future__ import annotations

import dataclasses

from howfast.bench.calibrate import assemble
from howfast.hardware.profiles import ClassFigures, Figure, get_profile, loads_profile
from howfast.hardware.roofline import op_class
from howfast.report.report import OpRow


def product(rows: tuple[int, ...], k: int = 2048, n: int = 2048) -> OpRow:
    m = 1
    for r in rows:
        m *= r
    weights = 4 * k * n
    memory = {"compulsory": {"input": m * k, "weights": k * n, "output": m * n, "elements": m * k + k * n + m * n,
                             "input_bytes": 4 * m * k, "weights_bytes": weights, "output_bytes": 4 * m * n,
                             "bytes": 4 * (m * k + m * n) + weights}}
    return OpRow(op="aten.mm.default", op_class="gemm", flops=2 * m * k * n, macs=m * k * n, memory=memory,
                 output_shape=[[*rows, n]])


def test_rows_decide_the_class_on_a_calibrated_profile():
    for rows, expected in (((1,), "gemv"), ((3,), "gemv"), ((4,), "gemm"), ((2, 1), "gemv"), ((2, 2), "gemm")):
        assert op_class(product(rows), ridge=1e9, gemv_rows=3) == expected, rows


def test_without_the_figure_the_ridge_decides():
    thin = product((8,))  # 2 x 8 FLOPs per 4-byte weight: intensity about 4
    assert op_class(thin, ridge=10.0) == "gemv"
    assert op_class(thin, ridge=2.0) == "gemm"


def test_profile_reads_and_writes_max_rows():
    base = get_profile("xeon_8480")
    profile = dataclasses.replace(base, classes={"gemv": ClassFigures(max_rows=Figure(3.0, "measured"))})
    again = loads_profile(profile.to_toml())
    assert again.gemv_max_rows == 3 and base.gemv_max_rows is None
    assert not again.calibrated  # a row count is not a per-class efficiency


def test_calibration_rule_takes_the_rows_before_the_time_jumps(monkeypatch):
    monkeypatch.setattr(assemble, "product_row_times", lambda *a, **k: [1.0, 1.02, 1.3, 2.1, 2.9, 3.0, 3.2, 3.5])
    c = assemble.Conditions(device=None, device_text="cpu", quick=True, statistic="median", clock="wall", threads=1,  # type: ignore[arg-type]
                            today="2026-12-03")
    m = assemble.measure_gemv_rows(c)
    assert m.key == "classes.gemv.max_rows" and m.value == 3.0 and "1.5 x the time of one" in m.method
