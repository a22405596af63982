"""The HTML report in a real browser (headless Chromium driven by Playwright).

Skipped only when no Chromium is installed (Debian's ``chromium``; ``.ci/run`` installs it). Each
page must load with no console error and no network request, show one table row per layer, sort on
a header click, fold a module's descendants, and draw every chart. A screenshot of each page is
saved under pytest's tmp path (set ``HOWFAST_SCREENSHOTS=DIR`` to keep them elsewhere).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from howfast.report.render.html import render_comparison_html, render_html

from .conftest import EVIL_MODEL, EVIL_NAME, EVIL_TYPE, ODD_NAME, UNCOUNTED_OP

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
        self.url = path.resolve().as_uri()
        page = context.new_page()
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

    def _route(self, route) -> None:
        url = route.request.url
        if url == self.url:
            route.continue_()
        else:
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
        page.page.click("#layers-0 .expand-all")
        page.screenshot(tmp_path, "mobilenet_v2")
    finally:
        page.close()


def test_gpt2_page(browser, tmp_path, gpt2_report):
    page = open_page(browser, tmp_path, "gpt2", render_html(gpt2_report))
    try:
        assert all(not r["hidden"] for r in page.rows())  # small: opens expanded
        check_table(page, gpt2_report)
        check_charts(page, {"layers", "op_types", "memory"})
        assert page.page.locator("#no-roofline").is_visible()
        page.screenshot(tmp_path, "gpt2")
    finally:
        page.close()


def test_comparison_page(browser, tmp_path, mobilenet_report, gpt2_report):
    labels = ["mobilenet_v2", "gpt2 (2 layers)"]
    html = render_comparison_html([mobilenet_report, gpt2_report], labels, explanation="MobileNetV2 against a small GPT-2.")
    page = open_page(browser, tmp_path, "compare", html)
    try:
        check_table(page, mobilenet_report, "#layers-0")
        check_table(page, gpt2_report, "#layers-1")
        check_charts(page, {"layers", "op_types", "memory", "roofline"})
        # the same chart overlays both models
        traces = page.page.eval_on_selector("#chart-layers", "d => d.data.map(t => t.name)")
        assert any("mobilenet_v2" in t for t in traces) and any("gpt2" in t for t in traces)
        assert page.page.locator(".card").count() == 2
        assert page.page.locator("#compare-totals tbody tr").count() >= 5
        page.screenshot(tmp_path, "compare")
    finally:
        page.close()


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
        uncounted = p.locator("table.uncounted")
        assert uncounted.is_visible() and UNCOUNTED_OP in uncounted.inner_text()
        assert f"h.0.{ODD_NAME}" in uncounted.inner_text()
        page.screenshot(tmp_path, "evil")
    finally:
        page.close()
