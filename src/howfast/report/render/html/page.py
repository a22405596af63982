"""The page shell: head (style, Content-Security-Policy), body, and the inline data and scripts.

The data goes in a ``<script type="application/json">`` element (``json_for_script``), then the page
script (``report/assets/report.js``), then plotly.js (once) and the call that draws the charts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from howfast.errors import UsageError
from howfast.report.render.html.escape import escape

ASSETS = Path(__file__).resolve().parents[2] / "assets"

# Nothing may be fetched: the page is self-contained (inline scripts and styles, data: images).
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
                           "style-src 'unsafe-inline'; img-src data: blob:; font-src data:")
FOOTER = '<footer><p>Made by <a href="#top">howfast</a>. Everything on this page is in this one file.</p></footer>'


def page(title: str, body: list[str], payload: dict[str, Any]) -> str:
    """The whole page: ``body`` (escaped HTML sections) in ``<main>``, ``payload`` as the page's data."""
    return "\n".join([
        *_head(title),
        "<body>",
        "<main>",
        *body,
        FOOTER,
        "</main>",
        *_scripts(payload),
        "</body>",
        "</html>",
        "",
    ])


def _head(title: str) -> list[str]:
    return [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
        f"<title>{escape(title)}</title>",
        f"<style>\n{asset('report.css')}\n</style>",
        "</head>",
    ]


def _scripts(payload: dict[str, Any]) -> list[str]:
    # Data, then the tables (drawn before the 4.8 MB plotly.js is parsed), then plotly.js and the charts.
    return [
        f'<script type="application/json" id="howfast-data">{json_for_script(payload)}</script>',
        f"<script>\n{script_safe(asset('report.js'))}\n</script>",
        f"<script>\n{script_safe(plotly_js())}\n</script>",
        "<script>window.howfastDrawCharts();</script>",
    ]


def json_for_script(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>``, ``&`` and U+2028/9 as ``\\u`` escapes."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def script_safe(code: str) -> str:
    """``code`` safe inside an inline script, which ends at the first ``</script``."""
    # Neither plotly.js nor ours has one, but be sure.
    return code.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def plotly_js() -> str:
    """The plotly.js library's source (plotly is imported here, on use: the plot extra)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:
        raise UsageError("the html format needs plotly: pip install 'howfast[plot]'") from exc
    return get_plotlyjs()


def asset(name: str) -> str:
    """The text of ``report/assets/<name>``."""
    return (ASSETS / name).read_text(encoding="utf-8")
