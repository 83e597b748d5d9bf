"""The capacity benchmark, small: a few issues through its real path (dev server, a worker
process, the production sandbox, per-kind queues) and a report that adds up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
ISSUES = 3

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_the_benchmark_carries_every_issue_and_reports_json() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.capacity",
            "--issues",
            str(ISSUES),
            "--model-seconds",
            "0.2",
            "--ceiling-seconds",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["completed"] == ISSUES
    assert report["settings"]["issues_in_flight"] == ISSUES
    rss = report["worker_rss_mb"]
    assert 0 < rss["baseline"] <= rss["peak"]
    # A run and its two tasks: every activity scheduled appears in their histories.
    assert report["activities_per_issue"] > 10
    assert report["history_events_per_issue"] > 3 * report["activities_per_issue"]
    assert report["dev_server_raw_activities_per_second"] > 0
