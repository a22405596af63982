"""How fast the HTML report of a 70B decoder loads in headless Chromium.

Analyses ``llama2_70b`` (built on the meta device: no weights) on a 1x2048 token input, renders the
HTML report, opens it in headless Chromium (Debian's ``chromium``, driven by Playwright) and prints,
for each of ``--runs`` fresh page loads, the times from navigation start to: the layer table built,
the load event (plotly.js parsed and every chart drawn, since the charts are drawn by an inline
script), and the charts' promise resolved. Then it times the table's interactions on all rows
(expand all, sort, flat sort, filter). Target: load event under 3 s (median of the runs); exits 1
when missed.

    python benchmarks/html_load.py [--runs 3] [--keep report.html]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 3.0
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]


def chromium() -> str | None:
    for path in (os.environ.get("HOWFAST_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if path and os.path.isfile(path):
            return path
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="also write the rendered page here")
    args = parser.parse_args()
    executable = chromium()
    if executable is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2

    import howfast
    from howfast.zoo import build

    start = time.perf_counter()
    report = howfast.analyze(build("llama2_70b", device="meta"), "1x2048:int64")
    analysed = time.perf_counter() - start
    start = time.perf_counter()
    page_text = report.render("html")
    rendered = time.perf_counter() - start
    print(f"llama2_70b 1x2048: {len(report.layers)} layers, {len(report.ops)} ops; analysis {analysed:.2f} s, "
          f"HTML render {rendered:.2f} s, page {len(page_text.encode()) / 2**20:.2f} MiB")

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="howfast-html-load-") as tmp:
        path = Path(tmp) / "llama2_70b.html"
        path.write_text(page_text, encoding="utf-8")
        if args.keep:
            shutil.copyfile(path, args.keep)
        loads = []
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(str(Path(tmp) / "profile"), executable_path=executable, headless=True,
                                                           args=LAUNCH_ARGS, viewport={"width": 1400, "height": 900})
            try:
                for run in range(args.runs):
                    page = context.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    page.goto(path.as_uri(), wait_until="load")
                    page.wait_for_selector("html[data-howfast-ready='1']", timeout=60_000)
                    t = page.evaluate("""() => {
                        const nav = performance.getEntriesByType('navigation')[0];
                        const h = window.howfastTimings;
                        const paint = performance.getEntriesByName('first-contentful-paint')[0];
                        return {table: h.table, plotly: h.plotlyLoaded, charts: h.charts, load: nav.loadEventEnd,
                                fcp: paint ? paint.startTime : null,
                                rows: document.querySelectorAll('#layers-0 tbody tr').length,
                                shown: document.querySelectorAll('#layers-0 tbody tr:not([hidden])').length};
                    }""")
                    loads.append(t["load"] / 1000)
                    fcp = f"first paint {t['fcp'] / 1000:.2f} s, " if t["fcp"] is not None else ""
                    print(f"run {run + 1}: table rendered {t['table'] / 1000:.2f} s, {fcp}plotly.js ready {t['plotly'] / 1000:.2f} s, "
                          f"load event {t['load'] / 1000:.2f} s, charts drawn {t['charts'] / 1000:.2f} s "
                          f"({t['rows']} rows, {t['shown']} shown at first){'; errors: ' + '; '.join(errors) if errors else ''}")
                    if run == args.runs - 1:
                        interactions(page)
                    page.close()
            finally:
                context.close()
    median = statistics.median(loads)
    verdict = "ok" if median < TARGET_S else "MISSED"
    load1, _, _ = os.getloadavg()
    print(f"load event, median of {len(loads)}: {median:.2f} s (target < {TARGET_S:.0f} s): {verdict} "
          f"[{os.cpu_count()} CPUs, load average {load1:.1f}: other work slows plotly.js's parse]")
    return 0 if median < TARGET_S else 1


def interactions(page) -> None:
    """Time the table's handlers (synchronous) on every row."""
    steps = [
        ("expand all", "#layers-0 .expand-all"),
        ("sort by MACs", "#layers-0 thead th[data-key='macs']"),
        ("sort by Bytes", "#layers-0 thead th[data-key='bytes']"),
        ("collapse all", "#layers-0 .collapse-all"),
    ]
    parts = []
    for name, selector in steps:
        ms = page.evaluate("""(sel) => { const t = performance.now(); document.querySelector(sel).click();
                                         return performance.now() - t; }""", selector)
        parts.append(f"{name} {ms:.0f} ms")
    ms = page.evaluate("""() => { const box = document.querySelector('#layers-0 .flat-toggle'); const t = performance.now();
                                  box.click(); return performance.now() - t; }""")
    parts.append(f"flat list {ms:.0f} ms")
    ms = page.evaluate("""() => { const s = document.querySelector('#layers-0 select.type-filter'); s.value = 'Linear';
                                  const t = performance.now(); s.dispatchEvent(new Event('change')); return performance.now() - t; }""")
    parts.append(f"filter Linear {ms:.0f} ms")
    print("interactions on all rows: " + ", ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
