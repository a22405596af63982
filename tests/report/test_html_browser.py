"""The HTML report in a real browser (headless Chromium driven by Playwright).

Skipped only when no Chromium is installed (Debian's ``chromium``; ``.ci/run`` installs it). Each
page must load with no console error and no network request, show one table row per layer, sort on
a header click, fold a module's descendants, and draw every chart, each labelled with the report's
module names or op types. Every button of every chart's toolbar is hovered and clicked (the image
downloads accepted), and still nothing is fetched and nothing is logged as an error. A screenshot
of each page is saved under pytest's tmp path (set ``HOWFAST_SCREENSHOTS=DIR`` to keep them elsewhere).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from howfast.report.render import plots
from howfast.report.render.html import render_comparison_html, render_html
from howfast.report.render.html.figures import tick_names
from howfast.report.render.html.totals import TOTALS
from howfast.report.render.opdisplay import aten_label, friendly

from .conftest import EVIL_MODEL, EVIL_NAME, EVIL_TYPE, ODD_NAME, UNCOUNTED_OP

LOCAL_SCHEMES = ("data:", "blob:")  # in-page URLs (an image download): no network

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    """Debian's chromium (or HOWFAST_CHROMIUM); None when there is none."""
    candidates = [os.environ.get("HOWFAST_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium): the browser tests need it")
    from playwright.sync_api import sync_playwright  # the test extra's dependency

    with tempfile.TemporaryDirectory(prefix="howfast-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(profile, executable_path=executable, headless=True, args=LAUNCH_ARGS,
                                                       viewport={"width": 1400, "height": 900})
        try:
            yield context
        finally:
            context.close()


class Page:
    """One loaded report page with what the browser said while loading it."""

    def __init__(self, context, path: Path) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.downloads: list[str] = []
        self.url = path.resolve().as_uri()
        page = context.new_page()
        page.on("request", self._request)
        page.on("console", lambda msg: self.errors.append(f"console {msg.type}: {msg.text}") if msg.type in ("error", "assert") else None)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("dialog", self._dialog)
        page.route("**/*", self._route)
        page.goto(self.url, wait_until="load")
        page.wait_for_selector("html[data-howfast-ready]", timeout=30_000)
        assert page.get_attribute("html", "data-howfast-ready") == "1"
        self.page = page

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request) -> None:
        # Every request the page makes, routed or not (the route below does not see every scheme).
        url = request.url
        if url != self.url and not url.startswith(LOCAL_SCHEMES) and url not in self.requests:
            self.requests.append(url)

    def _route(self, route) -> None:
        url = route.request.url
        if url == self.url:
            route.continue_()
        else:
            if url not in self.requests:
                self.requests.append(url)
            route.abort()

    def rows(self, table: str = "#layers-0") -> list[dict]:
        """The table's rows in document order: index, depth, hidden, name."""
        return self.page.eval_on_selector_all(
            f"{table} tbody tr",
            "trs => trs.map(tr => ({i: +tr.dataset.index, d: +tr.dataset.depth, hidden: tr.hidden,"
            " name: tr.querySelector('.layer-name').textContent}))")

    def header(self, title: str, table: str = "#layers-0"):
        return self.page.locator(f"{table} thead th", has_text=title).first

    def screenshot(self, tmp_path: Path, name: str) -> Path:
        folder = Path(os.environ.get("HOWFAST_SCREENSHOTS") or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        return path

    def close(self) -> None:
        assert self.errors == [], self.errors
        assert self.requests == [], f"the page tried to fetch {self.requests}"
        assert self.dialogs == [], f"a script ran: {self.dialogs}"
        self.page.close()


def open_page(browser, tmp_path: Path, name: str, html: str) -> Page:
    path = tmp_path / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    return Page(browser, path)


def check_charts(page: Page, expected: set[str]) -> None:
    charts = page.page.eval_on_selector_all(
        ".chart",
        """divs => divs.map(d => {
            const box = d.getBoundingClientRect();
            return {name: d.dataset.chart, traces: (d.data || []).length,
                    points: (d.data || []).reduce((n, t) => n + ((t.x && t.x.length) || 0), 0),
                    drawn: d.querySelectorAll('.main-svg g.trace').length, svg: d.querySelectorAll('.main-svg').length,
                    width: box.width, height: box.height};
        })""")
    assert {c["name"] for c in charts} == expected
    for chart in charts:
        assert chart["traces"] > 0 and chart["points"] > 0, chart
        assert chart["svg"] > 0 and chart["drawn"] > 0, chart
        assert chart["width"] > 300 and chart["height"] > 200, chart


def check_table(page: Page, report, table: str = "#layers-0") -> None:
    rows = page.rows(table)
    # one row per layer, in tree order, the names as written
    assert len(rows) == len(report.layers)
    assert [r["name"] for r in rows] == [layer.name or "(model)" for layer in report.layers]

    # collapsing a module hides all its descendants; unfolding shows its children again
    page.page.click(f"{table} .expand-all")
    target = next(i for i, layer in enumerate(report.layers)
                  if layer.depth == 1 and any(other.name.startswith(layer.name + ".") for other in report.layers))
    prefix = report.layers[target].name + "."
    descendants = {i for i, layer in enumerate(report.layers) if layer.name.startswith(prefix)}
    assert all(not r["hidden"] for r in page.rows(table))
    page.page.click(f'{table} tr[data-index="{target}"] .toggle')
    after = {r["i"]: r["hidden"] for r in page.rows(table)}
    assert all(after[i] for i in descendants)
    assert sum(after.values()) == len(descendants)
    assert page.page.get_attribute(f'{table} tr[data-index="{target}"] .toggle', "aria-expanded") == "false"
    page.page.click(f'{table} tr[data-index="{target}"] .toggle')
    assert not any(r["hidden"] for r in page.rows(table))

    # sorting by MACs reorders rows: siblings by MACs, descending, under their parent
    before = [r["i"] for r in page.rows(table)]
    page.header("MACs", table).click()
    order = [r["i"] for r in page.rows(table)]
    assert sorted(order) == sorted(before)
    children_of_root = [i for i in order if report.layers[i].depth == 1]
    macs = [report.layers[i].macs for i in children_of_root]
    assert macs == sorted(macs, reverse=True)
    assert page.page.get_attribute(f'{table} thead th[data-key="macs"]', "aria-sort") == "descending"
    if [report.layers[i].macs for i in before if report.layers[i].depth == 1] != macs:
        assert order != before
    # a second click sorts ascending
    page.header("MACs", table).click()
    children_of_root = [i for i in (r["i"] for r in page.rows(table)) if report.layers[i].depth == 1]
    assert [report.layers[i].macs for i in children_of_root] == sorted(report.layers[i].macs for i in children_of_root)
    # flat list: every row sorted together
    page.page.check(f"{table} .flat-toggle")
    page.header("Params", table).click()
    flat = [report.layers[r["i"]].params for r in page.rows(table)]
    assert flat == sorted(flat, reverse=True)
    page.page.uncheck(f"{table} .flat-toggle")

    # filtering by type shows the matching rows (with their ancestors, dimmed)
    page.page.click(f"{table} .tree-order")
    kind = "Linear" if any(layer.type == "Linear" for layer in report.layers) else report.layers[-1].type
    page.page.select_option(f"{table} select.type-filter", kind)
    shown = [r for r in page.rows(table) if not r["hidden"]]
    matching = {i for i, layer in enumerate(report.layers) if layer.type == kind}
    assert matching <= {r["i"] for r in shown}
    assert all(r["i"] in matching or report.layers[r["i"]].depth < max(report.layers[m].depth for m in matching) for r in shown)
    page.page.select_option(f"{table} select.type-filter", "")


NETWORK_WORDS = ("cloud", "chart studio", "share", "plotly")  # toolbar titles that would leave the page


def exercise_toolbars(page: Page) -> dict[str, list[str]]:
    """Hover, then click, every toolbar (modebar) button of every chart, accepting the image downloads;
    then nothing may have been fetched and nothing logged as an error. Returns each chart's button titles."""
    p = page.page
    titles: dict[str, list[str]] = {}
    for chart in p.eval_on_selector_all(".chart", "divs => divs.map(d => d.id)"):
        box = p.locator(f"#{chart}")
        box.scroll_into_view_if_needed()
        box.hover()
        # no link out of the page: plotly's logo (a link to its site) is not drawn
        assert box.locator(".modebar a[href], .modebar-btn--logo").count() == 0, chart
        buttons = box.locator(".modebar-btn")
        assert buttons.count() > 0, chart
        names = []
        for i in range(buttons.count()):
            button = buttons.nth(i)
            button.hover()
            title = button.get_attribute("data-title") or ""
            names.append(title)
            if title.lower().startswith("download"):
                with p.expect_download() as info:
                    button.click()
                download = info.value
                assert download.failure() is None and download.suggested_filename.endswith(".png"), title
                page.downloads.append(download.suggested_filename)
                download.delete()
            else:
                button.click()
        assert not [t for t in names if any(word in t.lower() for word in NETWORK_WORDS)], (chart, names)
        titles[chart] = names
        box.dblclick()  # back to the initial view
    p.wait_for_timeout(300)  # anything a click started has had time to ask for the network
    assert page.requests == [], f"the page tried to fetch {page.requests}"
    assert page.errors == [], page.errors
    assert len(page.downloads) == len(titles)  # one PNG per chart
    return titles


def ticks(page: Page, chart: str) -> list[str]:
    """The x-axis tick labels drawn in ``chart``, as the browser shows them."""
    return page.page.eval_on_selector(f"#chart-{chart}",
                                      "d => Array.from(d.querySelectorAll('.xaxislayer-above text')).map(t => t.textContent)")


def mouse_hover(page: Page, chart: str, trace: int, point: int, subplot: str = "xy") -> str:
    """Move the mouse over bar ``point`` of the ``trace``-th bar trace of ``subplot``; the hover label's text."""
    bar = page.page.locator(f"#chart-{chart} .subplot.{subplot} .barlayer .trace").nth(trace).locator(".point").nth(point)
    page.page.mouse.move(0, 0)
    page.page.eval_on_selector(f"#chart-{chart}", "d => window.Plotly.Fx.unhover(d)")  # no label left from before
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    assert box is not None and box["height"] > 0, (chart, trace, point)
    page.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    label = page.page.locator(f"#chart-{chart} .hoverlayer .hovertext").first
    label.wait_for(state="attached", timeout=5_000)
    return label.text_content() or ""


def api_hover(page: Page, chart: str, trace: int, point: int) -> str:
    """The hover label plotly draws for ``point`` of trace ``trace`` (``Plotly.Fx.hover``)."""
    page.page.mouse.move(0, 0)
    return page.page.evaluate(
        """([id, trace, point]) => { const d = document.getElementById(id), t = d.data[trace];
             window.Plotly.Fx.unhover(d);
             const subplot = (t.xaxis || 'x') + (t.yaxis || 'y');
             window.Plotly.Fx.hover(d, [{curveNumber: trace, pointNumber: point}], subplot);
             const h = d.querySelector('.hoverlayer'); return h ? h.textContent : ''; }""", [f"chart-{chart}", trace, point])


def check_layer_chart(page: Page, report) -> None:
    """The per-layer chart names the report's leaf modules on its axis, and its hover their full name and type."""
    leaves = [report.layers[i] for i in plots.leaf_indices(report)]
    names = [layer.name or "(model)" for layer in leaves]
    shown = ticks(page, "layers")
    assert shown and set(shown) <= set(tick_names(names)), shown
    assert len(shown) >= min(8, len(names))
    heaviest = max(range(len(leaves)), key=lambda i: leaves[i].macs)
    text = mouse_hover(page, "layers", 0, heaviest)
    assert names[heaviest] in text and leaves[heaviest].type in text, text
    # the bytes panel's hover too, through plotly's API
    text = api_hover(page, "layers", 1, 0)
    assert names[0] in text and leaves[0].type in text, text


def check_op_type_chart(page: Page, report, trace: int = 1) -> None:
    """The op-type chart's axis names op types as people know them; each bar's hover carries the ATen names.

    ``trace``: the bytes trace of the report (every op type moves bytes; not all have MACs)."""
    shares = plots.op_type_shares(report)
    assert set(shares["ops"]) <= set(ticks(page, "op_types"))
    expected: dict[str, list[str]] = {}
    for row in report.op_types:
        expected.setdefault(friendly(row.op), []).append(aten_label(row.op))
    categories = page.page.eval_on_selector("#chart-op_types", "(d, t) => d.data[t].x", trace)
    for op in shares["ops"]:
        if op == plots.OTHER:
            continue
        text = api_hover(page, "op_types", trace, categories.index(op))
        assert op in text and all(name in text for name in expected[op][:8]), (op, text)
    widest = max(range(len(shares["ops"])), key=lambda k: shares["bytes"][k])
    text = mouse_hover(page, "op_types", trace, categories.index(shares["ops"][widest]))
    assert shares["ops"][widest] in text and expected.get(shares["ops"][widest], ["other"])[0] in text, text


def check_device_card(page: Page, report, card: str = "") -> None:
    """The device card leads with the predicted latency and shows no raw boolean."""
    dl = page.page.locator(f"{card} dl.device").first
    labels = dl.locator("dt").all_text_contents()
    values = dl.locator("dd").all_text_contents()
    assert labels[0] == "Predicted latency (roofline)"
    assert not [v for v in values if v in ("True", "False")]
    assert dict(zip(labels, values))["Peak compute"].endswith("FLOP/s")
    assert report.roofline.device.label in " ".join(values)


def test_mobilenet_page(browser, tmp_path, mobilenet_report):
    page = open_page(browser, tmp_path, "mobilenet_v2", render_html(mobilenet_report))
    try:
        # 213 layers: opens collapsed below depth 2, every row in the DOM
        rows = page.rows()
        assert len(rows) == len(mobilenet_report.layers)
        assert {r["d"] for r in rows if not r["hidden"]} == {0, 1, 2}
        # the heaviest layers' buttons unfold the tree down to them
        button = page.page.locator("#layers-0 .hot-list button.reveal").first
        index = int(button.get_attribute("data-index"))
        assert mobilenet_report.layers[index].depth > 2
        assert page.page.locator(f'#layers-0 tr[data-index="{index}"]').is_hidden()
        button.click()
        assert page.page.locator(f'#layers-0 tr[data-index="{index}"]').is_visible()
        check_table(page, mobilenet_report)
        check_charts(page, {"layers", "op_types", "memory", "roofline"})
        assert page.page.locator("tr.hot-macs").count() == 5 and page.page.locator("tr.hot-bytes").count() == 5
        assert page.page.locator("dl.facts", has_text="test <device> & co").first.is_visible()
        check_device_card(page, mobilenet_report)
        check_layer_chart(page, mobilenet_report)
        check_op_type_chart(page, mobilenet_report)
        assert {"conv", "batch norm"} <= set(ticks(page, "op_types"))
        page.page.click("#layers-0 .expand-all")
        page.screenshot(tmp_path, "mobilenet_v2")
        titles = exercise_toolbars(page)
        assert set(titles) == {"chart-layers", "chart-op_types", "chart-memory", "chart-roofline"}
    finally:
        page.close()


def test_gpt2_page(browser, tmp_path, gpt2_report):
    page = open_page(browser, tmp_path, "gpt2", render_html(gpt2_report))
    try:
        assert all(not r["hidden"] for r in page.rows())  # small: opens expanded
        check_table(page, gpt2_report)
        check_charts(page, {"layers", "op_types", "memory"})
        assert page.page.locator("#no-roofline").is_visible()
        check_layer_chart(page, gpt2_report)
        check_op_type_chart(page, gpt2_report)
        page.screenshot(tmp_path, "gpt2")
        exercise_toolbars(page)
    finally:
        page.close()


def test_comparison_page(browser, tmp_path, mobilenet_report, gpt2_report):
    labels = ["mobilenet_v2", "gpt2 (2 layers)"]
    html = render_comparison_html([mobilenet_report, gpt2_report], labels, explanation="MobileNetV2 against a small GPT-2.")
    page = open_page(browser, tmp_path, "compare", html)
    try:
        check_table(page, mobilenet_report, "#layers-0")
        check_table(page, gpt2_report, "#layers-1")
        check_charts(page, {"totals", "op_types", "memory", "roofline"})
        # models compared by totals and op type: no per-layer chart pairing layers by index
        assert page.page.locator("#chart-layers").count() == 0
        assert page.page.locator("#chart-totals").is_visible()
        check_totals_chart(page, [mobilenet_report, gpt2_report], labels)
        # the op-type chart groups each model's op types by their names
        traces = page.page.eval_on_selector("#chart-op_types", "d => d.data.map(t => t.name)")
        assert any("mobilenet_v2" in t for t in traces) and any("gpt2" in t for t in traces)
        assert {op for r in (mobilenet_report, gpt2_report) for op in plots.op_type_shares(r)["ops"]} <= set(ticks(page, "op_types"))
        check_op_type_chart(page, mobilenet_report, trace=1)
        assert page.page.locator(".card").count() == 2
        assert page.page.locator("#compare-totals tbody tr").count() >= 5
        check_device_card(page, mobilenet_report, ".card")
        page.screenshot(tmp_path, "compare")
        exercise_toolbars(page)
    finally:
        page.close()


def check_totals_chart(page: Page, reports, labels) -> None:
    """Each total of each model as a bar, in its own panel; the models' labels on the axes, the hover exact."""
    data = page.page.eval_on_selector("#chart-totals", "d => d.data.map(t => ({x: t.x[0], y: t.y[0], axis: t.xaxis}))")
    panels: dict[str, list[tuple[str, float]]] = {}
    for trace in data:
        panels.setdefault(trace["axis"], []).append((trace["x"], trace["y"]))
    shown = [t for t in TOTALS if any(t.value(r) is not None for r in reports)]
    assert len(panels) == len(shown)
    for values, total in zip(panels.values(), shown):
        assert values == [(label, total.value(r)) for r, label in zip(reports, labels) if total.value(r) is not None], total.title
    titles = page.page.eval_on_selector("#chart-totals", "d => Array.from(d.querySelectorAll('.infolayer g[class^=g-x] text')).map(t => t.textContent)")
    assert {t.title for t in shown} <= set(titles), titles
    assert set(labels) <= set(ticks(page, "totals"))
    text = mouse_hover(page, "totals", 0, 0)
    assert labels[0] in text and shown[0].human(shown[0].value(reports[0])) in text, text


def test_markup_names_render_as_text(browser, tmp_path, evil_report):
    page = open_page(browser, tmp_path, "evil", render_html(evil_report))
    try:
        p = page.page
        # the only scripts are the page's own four; nothing was injected by a name
        assert p.locator("script").count() == 4
        assert p.locator("img").count() == 0 and p.locator("main b").count() == 0
        cell = p.locator("#layers-0 .layer-name", has_text=EVIL_NAME)
        assert cell.count() == 1 and cell.is_visible() and cell.text_content() == EVIL_NAME
        assert p.locator("#layers-0 td", has_text=EVIL_TYPE).first.text_content() == EVIL_TYPE
        assert p.locator("h1").text_content() == f"howfast report: {EVIL_MODEL}"
        assert p.title() == f"howfast: {EVIL_MODEL}"
        # plotly shows the name as text too (hover labels and ticks)
        ticks = p.eval_on_selector("#chart-layers", "d => Array.from(d.querySelectorAll('.xaxislayer-above text')).map(t => t.textContent)")
        assert EVIL_NAME in ticks
        check_charts(page, {"layers", "op_types", "memory"})
        check_layer_chart(page, evil_report)
        uncounted = p.locator("table.uncounted")
        assert uncounted.is_visible() and UNCOUNTED_OP in uncounted.inner_text()
        assert f"h.0.{ODD_NAME}" in uncounted.inner_text()
        page.screenshot(tmp_path, "evil")
        exercise_toolbars(page)  # a download named after nothing in the model, no script run
    finally:
        page.close()
