"""The alert rules are valid, each alert has unit tests, and they watch documented metrics."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from domain import metrics
from tests.monitoring.expressions import ALERTS, ALERTS_TEST, alert_rules, metric_names

CRITICAL = {
    "AutopilotResolutionLoopBeyondBound",
    "AutopilotReviewQuorumNotReached",
    "AutopilotModelBreakerOpen",
    "AutopilotDiskAlmostFull",
}
WARNING = {
    "AutopilotResolutionLoopAtAttempt3",
    "AutopilotReviewRejectionSpike",
    "AutopilotBudgetAlmostSpent",
    "AutopilotBacklog",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: run devstack/host-packages.sh"
    return subprocess.run(
        [binary, *args], cwd=ALERTS.parent, capture_output=True, text=True, timeout=60
    )


def test_promtool_accepts_the_rules() -> None:
    checked = promtool("check", "rules", ALERTS.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_unit_tests_pass() -> None:
    tested = promtool("test", "rules", ALERTS_TEST.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_its_severity_and_a_firing_unit_test() -> None:
    severities = {rule["alert"]: rule["labels"]["severity"] for rule in alert_rules()}
    assert severities == {
        **dict.fromkeys(CRITICAL, "critical"),
        **dict.fromkeys(WARNING, "warning"),
    }
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(ALERTS_TEST.read_text())["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fired == set(severities), "alerts without a test that makes them fire"
    assert quiet == set(severities), "alerts without a test that keeps them quiet"


def test_rules_use_only_autopilot_metrics_that_exist() -> None:
    exported = set(metrics.EXPORTED.values())
    for rule in alert_rules():
        names = metric_names(rule["expr"])
        assert names and names <= exported, (rule["alert"], names - exported)
