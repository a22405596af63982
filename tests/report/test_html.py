"""The HTML report as text: self-contained, escaped, with the data the page script needs."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from howfast.cli.app import main
from howfast.errors import UsageError
from howfast.report.render import plots
from howfast.report.render.html import json_for_script, render_comparison_html, render_html

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
    assert shares["ops"][0] == "convolution"


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
    layers = data["figures"]["layers"]["data"]
    assert len(layers) == 4  # MACs and bytes per model
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
