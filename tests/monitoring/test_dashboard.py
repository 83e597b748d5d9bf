"""The Grafana dashboard loads, has the four views, and queries only metrics that exist."""

from __future__ import annotations

import re
from typing import Any

import jsonschema

from domain import metrics
from tests.monitoring.expressions import (
    MONITORING,
    alert_rules,
    dashboard,
    dashboard_expressions,
    metric_names,
    panels,
)

HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
ROWS = ["Task execution", "Quality gates", "Resolution loops", "Resource usage"]

# What Grafana needs to import a dashboard and run its panels' Prometheus queries.
TARGET = {
    "type": "object",
    "required": ["refId", "expr", "datasource"],
    "properties": {"refId": {"type": "string"}, "expr": {"type": "string", "minLength": 1}},
}
GRID = {
    "type": "object",
    "required": ["h", "w", "x", "y"],
    "properties": {
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
    },
}
PANEL = {
    "type": "object",
    "required": ["id", "type", "title", "gridPos"],
    "properties": {
        "id": {"type": "integer"},
        "type": {"enum": ["row", "timeseries", "stat", "bargauge", "table", "gauge"]},
        "title": {"type": "string", "minLength": 1},
        "gridPos": GRID,
        "targets": {"type": "array", "items": TARGET},
    },
    "if": {"properties": {"type": {"not": {"const": "row"}}}},
    "then": {"required": ["targets", "datasource"], "properties": {"targets": {"minItems": 1}}},
}
SCHEMA = {
    "type": "object",
    "required": ["title", "uid", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "schemaVersion": {"type": "integer", "minimum": 30},
        "panels": {"type": "array", "items": PANEL, "minItems": 1},
    },
}


def known(name: str) -> bool:
    exported = set(metrics.EXPORTED.values())
    if name.startswith("temporal_"):
        return True  # Temporal's SDK metrics: the e2e scrape test checks they exist
    base = next((name.removesuffix(s) for s in HISTOGRAM_SERIES if name.endswith(s)), name)
    return name in exported or base in exported


def test_the_dashboard_is_valid() -> None:
    board: Any = dashboard()
    jsonschema.validate(board, SCHEMA)
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"


def test_the_four_views_are_rows_with_panels() -> None:
    board = dashboard()
    rows = [panel["title"] for panel in board["panels"] if panel["type"] == "row"]
    assert rows == ROWS


def test_every_panel_queries_a_known_metric() -> None:
    for title, expressions in dashboard_expressions(dashboard()).items():
        for expression in expressions:
            names = metric_names(expression)
            assert names, f"{title}: {expression} names no metric"
            assert all(known(name) for name in names), (title, names)


def test_every_autopilot_metric_is_on_the_dashboard() -> None:
    shown = {
        name
        for expressions in dashboard_expressions(dashboard()).values()
        for expression in expressions
        for name in metric_names(expression)
    }
    bases = {next((n.removesuffix(s) for s in HISTOGRAM_SERIES if n.endswith(s)), n) for n in shown}
    assert (
        set(metrics.EXPORTED.values()) - bases - {metrics.exported(metrics.STAGE_ENTERED)} == set()
    )


def test_the_readme_lists_every_metric_and_alert() -> None:
    readme = (MONITORING.parent / "README.md").read_text()
    listed = set(
        re.findall(r"^\| `(autopilot_[a-z_]+)` \| (?:counter|gauge|histogram) \|", readme, re.M)
    )
    assert listed == set(metrics.EXPORTED.values())
    for rule in alert_rules():
        assert f"| `{rule['alert']}` | {rule['labels']['severity']} |" in readme
