"""The metric names that the alert rules and the dashboard query, read from their files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
ALERTS = MONITORING / "prometheus" / "alerts.yml"
ALERTS_TEST = MONITORING / "prometheus" / "alerts_test.yml"
DASHBOARD = MONITORING / "grafana" / "autopilot.json"
# Autopilot's own metrics and Temporal's SDK metrics; functions and labels never match this.
METRIC = re.compile(r"\b((?:autopilot|temporal)_[a-zA-Z0-9_]+)")


def metric_names(expression: str) -> set[str]:
    # Label values and label names inside {...} are not metric names.
    without_matchers = re.sub(r"\{[^}]*\}", "", expression)
    return set(METRIC.findall(without_matchers))


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    found: list[dict[str, Any]] = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_expressions(board: dict[str, Any]) -> dict[str, list[str]]:
    """Each query panel's title and its PromQL expressions."""
    return {
        panel["title"]: [target["expr"] for target in panel["targets"]]
        for panel in panels(board)
        if panel["type"] != "row"
    }


def used_metrics() -> set[str]:
    names: set[str] = set()
    for rule in alert_rules():
        names |= metric_names(rule["expr"])
    for expressions in dashboard_expressions(dashboard()).values():
        for expression in expressions:
            names |= metric_names(expression)
    return names
