"""The HTML report as text: self-contained, escaped, with the data the page script needs."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from howfast import units
from howfast.cli.app import main
from howfast.errors import UsageError
from howfast.report.render import plots
from howfast.report.render.html import json_for_script, render_comparison_html, render_html
from howfast.report.render.html.escape import plot_text
from howfast.report.render.html.facts import device_items
from howfast.report.render.html.figures import tick_names
from howfast.report.render.html.totals import TOTALS
from howfast.report.render.opdisplay import aten_label, friendly

from .conftest import EVIL_MODEL, EVIL_NAME, EVIL_TYPE, ODD_NAME, UNCOUNTED_OP


class _Scan(HTMLParser):
    """Start tags with their attributes, and the text of each script element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None
        self._text: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script, self._text = dict(attrs), []

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script is not None:
            self.scripts.append((self._in_script, "".join(self._text)))
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            self._text.append(data)
        else:
            self.text.append(data)


def scan(page: str) -> _Scan:
    parser = _Scan()
    parser.feed(page)
    parser.close()
    return parser


def page_data(page: str) -> dict:
    for attrs, text in scan(page).scripts:
        if attrs.get("id") == "howfast-data":
            return json.loads(text)
    raise AssertionError("no data script")


def test_json_for_script_escapes_markup():
    text = json_for_script({"a": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028"}


def test_page_is_self_contained(gpt2_report):
    page = render_html(gpt2_report)
    parsed = scan(page)
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    # data, the table script, plotly.js, the call that draws the charts; none loaded from elsewhere
    assert len(scripts) == 4 and all("src" not in attrs for attrs in scripts)
    assert not [tag for tag, _ in parsed.tags if tag in ("link", "iframe", "img", "object", "embed")]
    hrefs = [attrs.get("href") for _, attrs in parsed.tags if "href" in attrs]
    assert all(h.startswith("#") for h in hrefs)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "plotly.js v" in page  # inlined once
    assert page.count("plotly.js v") == 1


def test_page_header_and_sections(gpt2_report):
    page = render_html(gpt2_report)
    text = " ".join(scan(page).text)
    assert "GPT2" in text and "input0 1x128:int64" in text
    t = gpt2_report.totals
    from howfast import units

    for value in (units.count(t.params), units.count(t.macs), units.count(t.flops), units.nbytes(t.peak_activation_bytes)):
        assert value in text
    for described in gpt2_report.conventions.describe().values():
        assert described in text
    assert "No device profile" in text and 'id="no-roofline"' in page


def test_table_rows_parents_and_hot_layers(mobilenet_report):
    data = page_data(render_html(mobilenet_report))
    table = data["tables"][0]
    rows = table["rows"]
    assert len(rows) == len(mobilenet_report.layers)
    names = [r["n"] for r in rows]
    assert names == [layer.name for layer in mobilenet_report.layers]
    for r in rows:
        if r["n"] == "":
            assert r["p"] == -1
        else:
            parent = rows[r["p"]]["n"]
            assert r["n"].startswith(parent + ".") or parent == ""
    keys = [c["key"] for c in table["columns"]]
    macs = keys.index("macs")
    leaves = set(plots.leaf_indices(mobilenet_report))
    top = sorted((i for i in leaves), key=lambda i: -mobilenet_report.layers[i].macs)[:5]
    assert [i for i, r in enumerate(rows) if any(h.startswith("MACs") for h in r.get("hot", []))] == sorted(top)
    assert rows[top[0]]["v"][macs] == mobilenet_report.layers[top[0]].macs
    assert "MACs #1" in rows[top[0]]["hot"]
    # more than 150 layers: opens collapsed below depth 2; --depth overrides
    assert table["collapse_depth"] == 2
    assert page_data(render_html(mobilenet_report, depth=1))["tables"][0]["collapse_depth"] == 1
    # roofline columns joined by layer name
    assert {"bound", "intensity", "predicted_s"} <= set(keys)


def test_figures_present_and_non_empty(mobilenet_report, gpt2_report):
    for report in (mobilenet_report, gpt2_report):
        figures = page_data(render_html(report))["figures"]
        for name in ("layers", "op_types", "memory"):
            assert figures[name]["data"], name
            assert all(len(trace["x"]) for trace in figures[name]["data"])
    roofline = page_data(render_html(mobilenet_report))["figures"]["roofline"]
    assert roofline is not None and len(roofline["data"]) >= 2
    assert page_data(render_html(gpt2_report))["figures"]["roofline"] is None
    # time share from the benchmark's per-layer times
    op_types = page_data(render_html(gpt2_report))["figures"]["op_types"]
    assert any(trace.get("xaxis") == "x2" for trace in op_types["data"])


def test_memory_series_is_what_it_says(gpt2_report):
    r = gpt2_report
    # with a liveness timeline (live bytes after each op): drawn as it is, the largest marked
    timeline = [100 * (i % 7) for i in range(len(r.ops))]
    s = plots.memory_series(SimpleNamespace(totals=r.totals, ops=r.ops, timeline=timeline))
    assert s["kind"] == "live" and s["y"] == timeline and s["x"] == [op.index for op in r.ops]
    assert s["peak_bytes"] == 600 and s["y"][s["peak_position"]] == 600
    assert s["peak_live_bytes"] == r.totals.peak_activation_bytes
    # without one: the cumulative bytes written by op outputs, and says so
    s = plots.memory_series(SimpleNamespace(totals=r.totals, ops=r.ops, timeline=[]))
    assert s["kind"] == "cumulative" and "cumulative" in s["label"]
    assert len(s["x"]) == len(r.ops)
    assert s["y"][-1] == sum(s["step"]) == sum(op.memory["compulsory"]["output_bytes"] for op in r.ops)
    assert s["peak_bytes"] == max(s["step"])
    # the report's own timeline, when it has one, is the liveness pass's
    if getattr(r, "timeline", None):
        s = plots.memory_series(r)
        assert s["kind"] == "live" and max(s["y"]) <= r.totals.peak_activation_bytes
        caption = page_data(render_html(r))["figures"]["memory"]["caption"]
        assert "liveness pass" in caption and "no liveness timeline" not in caption


def test_op_type_shares_sum_to_one(mobilenet_report):
    shares = plots.op_type_shares(mobilenet_report)
    assert sum(shares["macs"]) == pytest.approx(1.0)
    assert sum(shares["bytes"]) == pytest.approx(1.0)
    assert len(shares["ops"]) <= plots.TOP_OP_TYPES + 1
    heaviest = max(mobilenet_report.op_types, key=lambda r: r.macs)
    assert shares["ops"][0] == friendly(heaviest.op) == "conv"
    assert aten_label(heaviest.op) in shares["aten"][0]


def test_markup_in_names_is_text(evil_report):
    page = render_html(evil_report)
    # No markup from the model gets into the page as markup.
    for raw in (EVIL_NAME, EVIL_MODEL, EVIL_TYPE, "alert(1)</script>", "<img", "<b onmouseover"):
        assert raw not in page
    parsed = scan(page)
    assert [tag for tag, _ in parsed.tags].count("script") == 4
    assert not [tag for tag, _ in parsed.tags if tag in ("img", "b")]
    assert not [attrs for _, attrs in parsed.tags if any(k.startswith("on") for k in attrs)]
    # the header shows the model name as text
    assert f"howfast report: {EVIL_MODEL}" in "".join(parsed.text)
    data = page_data(page)
    names = [r["n"] for r in data["tables"][0]["rows"]]
    assert EVIL_NAME in names  # the data keeps the name as written; the page script shows it as text
    assert EVIL_TYPE in data["tables"][0]["types"]
    # plotly reads a subset of HTML in labels: names are entity-escaped there
    hover = json.dumps(data["figures"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hover and EVIL_NAME not in hover


def test_uncounted_ops_are_listed_escaped(evil_report):
    # an op with no formula, in a module whose name is markup: listed by name and count, as text
    page = render_html(evil_report)
    text = " ".join(scan(page).text)
    assert UNCOUNTED_OP in text and f"h.0.{ODD_NAME}" in text
    assert "h.0.&lt;i&gt;x&lt;/i&gt;" in page and ODD_NAME not in page


def test_comparison_page(mobilenet_report, gpt2_report):
    labels = ["mnv2 <a>", "gpt2 & co"]
    page = render_comparison_html([mobilenet_report, gpt2_report], labels, explanation="why:\n<b>bold</b>")
    parsed = scan(page)
    text = "".join(parsed.text)
    assert "mnv2 <a> vs gpt2 & co" in text and "why:\n<b>bold</b>" in text
    assert "<b>bold" not in page and "mnv2 <a>" not in page
    data = page_data(page)
    assert data["labels"] == labels
    assert [len(t["rows"]) for t in data["tables"]] == [len(mobilenet_report.layers), len(gpt2_report.layers)]
    # models are compared by their totals, not layer index against layer index
    assert "layers" not in data["figures"] and 'id="chart-layers"' not in page
    assert data["figures"]["order"][0] == "totals" and 'id="chart-totals"' in page
    memory = [t for t in data["figures"]["memory"]["data"] if t["mode"] == "lines" and len(t["x"]) > 2]
    assert len(memory) == 2
    assert data["figures"]["roofline"] is not None  # one of them has a roofline
    assert 'id="compare-totals"' in page
    with pytest.raises(UsageError):
        render_comparison_html([mobilenet_report], ["a", "b"])
    with pytest.raises(UsageError):
        render_comparison_html([], [])


def test_write_plots(tmp_path, mobilenet_report, gpt2_report):
    written = plots.write_plots(mobilenet_report, tmp_path / "one", formats=("png",))
    assert sorted(p.name for p in written) == sorted(f"{n}.png" for n in plots.CHARTS)
    both = plots.write_plots([mobilenet_report, gpt2_report], tmp_path / "two", labels=["a", "b"], formats=("svg",))
    assert {p.stem for p in both} == set(plots.CHARTS)
    for path in written + both:
        head = path.read_bytes()[:8]
        assert head == b"\x89PNG\r\n\x1a\n" if path.suffix == ".png" else b"<?xml" in head or b"<svg" in head
        assert path.stat().st_size > 1000
    # without a roofline there is no roofline chart: see test_cli_html_and_plots


def test_cli_html_and_plots(tmp_path, capsys):
    out = tmp_path / "r.html"
    code = main(["analyze", "gpt2:layers=1", "--device", "meta", "--format", "html", "--output", str(out),
                 "--plots", str(tmp_path / "plots"), "--depth", "1"])
    assert code == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert page_data(out.read_text(encoding="utf-8"))["tables"][0]["collapse_depth"] == 1
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {f"{n}.{f}" for n in ("layers", "op_types", "memory") for f in ("png", "svg")}
    assert "wrote 6 plots" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- names and units


@pytest.mark.parametrize(("op", "name"), [
    ("aten.convolution.default", "conv"),
    ("aten.addmm.default", "linear"),
    ("aten.mm.default", "matmul"),
    ("aten.native_batch_norm.default", "batch norm"),
    ("aten._native_batch_norm_legit_no_training.default", "batch norm"),
    ("aten.native_layer_norm.default", "layer norm"),
    ("aten.relu_.default", "ReLU"),
    ("aten.relu.default", "ReLU"),
    ("aten.gelu.default", "GELU"),
    ("aten.add.Tensor", "add"),
    ("aten.mul.Tensor", "mul"),
    ("aten._softmax.default", "softmax"),
    ("aten.max_pool2d_with_indices.default", "max pool"),
    ("aten.adaptive_avg_pool2d.default", "adaptive avg pool"),
    ("aten.empty.memory_format", "empty (allocation)"),
    ("scaled_dot_product_attention", "attention (SDPA)"),
    ("onnx.Conv", "conv"),
    ("onnx.BatchNormalization", "batch norm"),
    ("onnx.MatMul", "matmul"),
    ("onnx.Gemm", "linear"),
    ("onnx.GlobalAveragePool", "global avg pool"),
    ("onnx.com.microsoft.FusedConv", "fused conv"),  # a custom domain; not in the table: its words
    ("aten.special_bessel_j0.default", "special bessel j0"),  # not in the table: the base, underscores as spaces
])
def test_op_types_have_the_names_people_know(op, name):
    assert friendly(op) == name


def test_aten_label_drops_only_the_default_overload():
    assert aten_label("aten.native_batch_norm.default") == "aten.native_batch_norm"
    assert aten_label("aten.relu_.default") == "aten.relu_"
    assert aten_label("aten.empty.memory_format") == "aten.empty.memory_format"
    assert aten_label("onnx.Conv") == "onnx.Conv"


def test_op_types_of_one_friendly_name_are_summed(gpt2_report):
    # two ATen ops with one friendly name (as aten.relu and aten.relu_ are): one entry, their sums
    report = copy.copy(gpt2_report)
    rows = list(gpt2_report.op_types)
    report.op_types = [replace(rows[0], op="aten.relu.default"), replace(rows[1], op="aten.relu_.default"), *rows[2:]]
    shares = plots.op_type_shares(report, top=len(rows))
    assert shares["ops"].count("ReLU") == 1
    k = shares["ops"].index("ReLU")
    assert sorted(shares["aten"][k]) == ["aten.relu", "aten.relu_"]
    total_macs = sum(r.macs for r in rows)
    if total_macs:
        assert shares["macs"][k] == pytest.approx((rows[0].macs + rows[1].macs) / total_macs)
    # ONNX op names are named too
    report.op_types = [replace(row, op=op) for row, op in zip(rows, ["onnx.Conv", "onnx.BatchNormalization"])]
    assert set(plots.op_type_shares(report)["ops"]) == {"conv", "batch norm"}


def test_per_layer_chart_names_the_modules(mobilenet_report):
    figure = page_data(render_html(mobilenet_report))["figures"]["layers"]
    leaves = [mobilenet_report.layers[i] for i in plots.leaf_indices(mobilenet_report)]
    names = [layer.name or "(model)" for layer in leaves]
    macs, nbytes = figure["data"]
    # a category axis of module names (unique), and the hover's full name and type
    assert macs["x"] == nbytes["x"] == [plot_text(t) for t in tick_names(names)]
    assert len(set(macs["x"])) == len(leaves)
    assert [c[0] for c in macs["customdata"]] == [plot_text(n) for n in names]
    assert [c[1] for c in macs["customdata"]] == [plot_text(layer.type) for layer in leaves]
    assert "%{customdata[0]}" in macs["hovertemplate"] and "%{customdata[1]}" in macs["hovertemplate"]
    assert macs["y"] == [layer.macs for layer in leaves]
    layout = figure["layout"]
    assert layout["xaxis2"]["type"] == "category"
    for key in ("yaxis", "yaxis2"):  # SI ticks (150M), never a 1e8 offset
        assert layout[key]["exponentformat"] == "SI" and layout[key]["showexponent"] == "all"


def test_tick_names_are_unique_and_short():
    long = "model.layers.31.self_attn.rotary_embedding.q_proj"
    ticks = tick_names(["a", "b", "a", long])
    assert ticks[:3] == ["a", "b", "a #2"]
    assert ticks[3].endswith("rotary_embedding.q_proj") and len(ticks[3]) <= 36


def test_op_type_chart_names_op_types_and_hovers_aten_names(mobilenet_report):
    figure = page_data(render_html(mobilenet_report))["figures"]["op_types"]
    shares = plots.op_type_shares(mobilenet_report)
    macs = figure["data"][0]
    assert macs["x"] == [plot_text(o) for o in shares["ops"]]
    for row in mobilenet_report.op_types:
        if friendly(row.op) in shares["ops"]:
            k = shares["ops"].index(friendly(row.op))
            assert plot_text(aten_label(row.op)) in macs["customdata"][k]
    assert "conv" in macs["x"] and "batch norm" in macs["x"]
    assert "%{customdata}" in macs["hovertemplate"]


def test_memory_chart_hover_names_the_op_and_module(gpt2_report):
    line = page_data(render_html(gpt2_report))["figures"]["memory"]["data"][0]
    ops = [op for op in gpt2_report.ops]
    if len(line["customdata"]) == len(ops):
        for custom, op in zip(line["customdata"], ops):
            assert custom[0] == plot_text(f"{friendly(op.op)} ({aten_label(op.op)})")
            assert custom[2] == plot_text(op.module or "(model)")


def test_comparison_charts_compare_totals_and_op_types(mobilenet_report, gpt2_report):
    reports, labels = [mobilenet_report, gpt2_report], ["mnv2", "gpt2"]
    figures = page_data(render_comparison_html(reports, labels))["figures"]
    assert "layers" not in figures and figures["order"] == ["totals", "op_types", "memory", "roofline"]
    totals = figures["totals"]["data"]
    axes = {}
    for trace in totals:
        axes.setdefault(trace["xaxis"], []).append(trace)
    shown = [t for t in TOTALS if any(t.value(r) is not None for r in reports)]
    assert len(axes) == len(shown) == 5  # MACs, FLOPs, bytes, params, and predicted time: mobilenet has a roofline
    for (name, traces), total in zip(axes.items(), shown):
        expected = [(plot_text(label), total.value(r)) for r, label in zip(reports, labels) if total.value(r) is not None]
        assert [(t["x"][0], t["y"][0]) for t in traces] == expected, name
    macs = next(iter(axes.values()))
    assert [t["y"][0] for t in macs] == [r.totals.macs for r in reports]
    assert [t["customdata"][0][0] for t in macs] == [units.count(r.totals.macs) for r in reports]
    predicted = axes["x5"]
    assert [t["y"][0] for t in predicted] == [mobilenet_report.roofline.predicted_latency_s]
    assert "gpt2" in figures["totals"]["caption"]  # says which model has no predicted time
    # the op-type chart: grouped by friendly op type, per model
    op_types = figures["op_types"]["data"]
    for label, report in zip(labels, reports):
        mine = [t for t in op_types if t["legendgroup"] == label and t["xaxis"] == "x"]
        assert len(mine) == 2  # MACs and bytes
        present = {x for x, y in zip(mine[0]["x"], mine[0]["y"])}
        assert {plot_text(o) for o in plots.op_type_shares(report)["ops"]} <= present


def test_comparison_page_inlines_plotly_once(mobilenet_report, gpt2_report):
    from plotly.offline import get_plotlyjs_version

    signature = f"plotly.js v{get_plotlyjs_version()}"
    for page in (render_html(mobilenet_report),
                 render_comparison_html([mobilenet_report, gpt2_report, mobilenet_report], ["a", "b", "c"])):
        assert page.count(signature) == 1
        assert page.count("Copyright 2012-") == 1  # plotly.js's licence banner


def test_chart_toolbar_has_no_network_buttons(gpt2_report):
    page = render_html(gpt2_report)
    for setting in ("displaylogo: false", "showLink: false", "showSendToCloud: false", "showEditInChartStudio: false",
                    'plotlyServerURL: ""'):
        assert setting in page
    for button in ("sendDataToCloud", "sendChartToCloud", "editInChartStudio"):
        assert f'"{button}"' in page.split("modeBarButtonsToRemove", 1)[1].split("]", 1)[0]


def test_device_card(mobilenet_report):
    items = device_items(mobilenet_report)
    device = mobilenet_report.roofline.device
    labels = [item[0] for item in items]
    values = dict((item[0], item[1]) for item in items)
    assert labels[0] == "Predicted latency (roofline)"
    assert values[labels[0]] == units.seconds(mobilenet_report.roofline.predicted_latency_s)
    assert values["Peak compute"] == units.flop_rate(device.peak_flops)  # 10 TFLOP/s, not 10000.0 GFLOP/s
    assert values["Memory bandwidth"] == units.byte_rate(device.bandwidth_bytes_per_s)
    assert not [v for v in values.values() if v in ("True", "False")]
    assert values["Calibrated"].startswith("yes" if device.calibrated else "no")
    assert values["Weights in cache"].startswith("yes" if device.weights_cached else "no")
    assert values["Fused program (roofline)"].startswith("yes" if mobilenet_report.roofline.fused else "no")
    # the exact figure is the tooltip
    assert dict((item[0], item[2]) for item in items)["Peak compute"] == f"{int(device.peak_flops):,}"
    page = render_html(mobilenet_report)
    text = " ".join(scan(page).text)
    assert "False" not in text and units.flop_rate(device.peak_flops) in text
    assert '<dl class="facts device">' in page


def test_static_plots_name_layers_and_use_si_ticks(mobilenet_report):
    leaves = [mobilenet_report.layers[i].name for i in plots.leaf_indices(mobilenet_report)]
    positions, names = plots.named_ticks(leaves)
    assert 0 < len(positions) <= plots.MAX_NAMED_TICKS
    assert positions[0] == 0 and positions == sorted(set(positions))
    assert all(n == leaves[p] or (n.startswith("…") and leaves[p].endswith(n[1:])) for p, n in zip(positions, names))
    assert plots.tail("a" * 50 + ".q_proj").endswith(".q_proj") and len(plots.tail("a" * 50)) == 40
    assert [plots.si_tick(v) for v in (0, 5, 1.5e8, 2e9, 1234)] == ["0", "5", "150M", "2G", "1.23k"]


def test_header_totals_lead_with_what_limits_speed(mobilenet_report):
    from howfast.report.render.html.facts import totals_items

    t = mobilenet_report.totals
    items = totals_items(mobilenet_report)
    labels = [item[0] for item in items]
    assert labels[:6] == ["Parameters", "Model size", "MACs", "FLOPs", "Bytes moved (read + written)",
                          "Peak live activation memory"]
    values = {item[0]: item[1] for item in items}
    assert values["Parameters"] == units.params(t.params)
    assert values["Bytes moved (read + written)"] == units.nbytes(t.bytes_read + t.bytes_written)
    # the write-up's element count is still there, under a name that says what it counts, after the bytes
    assert labels.index("Write-up accesses (elements)") > labels.index("Bytes written (compulsory model)")


def test_byte_axes_tick_in_binary_units():
    from howfast.report.render.html.ticks import byte_axis, byte_ticks, nice_step

    MiB = 1024**2
    # 165 MiB: the largest unit reached is MiB; 165/6 = 27.5 -> step 50 MiB; 4 intervals reach 200 MiB
    assert byte_ticks(165 * MiB) == ([0, 50 * MiB, 100 * MiB, 150 * MiB, 200 * MiB], ["0", "50 MiB", "100 MiB", "150 MiB", "200 MiB"])
    # 140e9 B = 130.4 GiB: step 50 GiB (130.4/6 = 21.7 -> 50), 3 intervals
    assert byte_ticks(140e9)[1] == ["0", "50 GiB", "100 GiB", "150 GiB"]
    assert byte_ticks(500) == ([0, 100, 200, 300, 400, 500], ["0", "100 B", "200 B", "300 B", "400 B", "500 B"])
    assert nice_step(7.3) == 2 and nice_step(6) == 1 and nice_step(0) == 1
    assert byte_axis([0, 0]) == {"rangemode": "tozero"}


def test_charts_give_bytes_in_the_units_of_the_header(mobilenet_report):
    from howfast.report.render.html.figures import build_figures

    figures = build_figures([mobilenet_report], ["m"])
    layers = figures["layers"]
    assert all(text.endswith("MiB") or text == "0" for text in layers["layout"]["yaxis2"]["ticktext"])
    bytes_trace = layers["data"][1]
    leaves = [mobilenet_report.layers[i] for i in plots.leaf_indices(mobilenet_report)]
    assert [c[2] for c in bytes_trace["customdata"]] == [units.nbytes(plots.traffic_bytes(layer)) for layer in leaves]
    memory = figures["memory"]
    assert memory["layout"]["yaxis"]["tickmode"] == "array"
    line = memory["data"][0]
    assert [c[3] for c in line["customdata"]] == [units.nbytes(y) for y in line["y"]]
