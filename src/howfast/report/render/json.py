"""JSON renderer: the report's data as a versioned document (``schema_version``)."""

from __future__ import annotations

import json
from typing import Any

from howfast.report.report import Report


def render_json(report: Report, include_ops: bool = True, **_: Any) -> str:
    return json.dumps(report.to_dict(include_ops=include_ops), indent=2)
